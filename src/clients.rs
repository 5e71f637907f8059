//! Handlers for the `clients` resource. Statements are parameterised; the id column is
//! `bigint`, so ids travel as `int64` values.

use serde_json::{Value as Json, json};

use crate::app::App;
use crate::backend::{RowSet, Scalar, Value};
use crate::client_input::ClientInput;
use crate::failure::statement_problem;
use crate::http::Response;
use crate::pagination::{encode_cursor, parse_page_request};
use crate::problem::Problem;
use crate::row_json::rows_to_json;

// `created_at` is formatted by the server in the same RFC 3339 form that `row_json` gives a
// `timestamptz` (UTC, six fractional digits), because Spin 4.0.x fails on every
// `timestamptz` result column. The JSON is the same under `handler` and under Spin.
macro_rules! client_columns {
    () => {
        "id, email, name, phone, \
         to_char(created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') as created_at, \
         attributes"
    };
}

const LIST_SQL: &str =
    concat!("select ", client_columns!(), " from clients where id > $1 order by id limit $2");

const GET_SQL: &str = concat!("select ", client_columns!(), " from clients where id = $1");

const INSERT_SQL: &str = concat!(
    "insert into clients (email, name, phone, attributes) values ($1, $2, $3, $4) returning ",
    client_columns!()
);

const UPDATE_SQL: &str = concat!(
    "update clients set email = $2, name = $3, phone = $4, attributes = $5 where id = $1 returning ",
    client_columns!()
);

const DELETE_SQL: &str = "delete from clients where id = $1";

/// `GET /api/clients`: one page in id order, with the cursor of the next page or `null`.
pub fn list(app: &App, query: Option<&str>) -> Result<Response, Problem> {
    let page = parse_page_request(query)?;
    let session = app.connect()?;

    // One row more than the limit shows whether another page exists.
    let limit = page.limit as usize;
    let params = [
        int64(page.after.unwrap_or(i64::MIN)),
        int64(i64::from(page.limit) + 1),
    ];
    let rows = session
        .connection
        .query(LIST_SQL, &params)
        .map_err(|err| statement_problem(&err))?;

    let mut items = rows_to_json(&rows);
    let next = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .and_then(|item| item["id"].as_i64())
            .map(encode_cursor)
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({ "items": items, "next": next }),
    ))
}

/// `GET /api/clients/{id}`.
pub fn get(app: &App, id: i64) -> Result<Response, Problem> {
    let session = app.connect()?;
    let rows = session
        .connection
        .query(GET_SQL, &[int64(id)])
        .map_err(|err| statement_problem(&err))?;
    let client = single_client(&rows, id)?;
    Ok(Response::json(200, &client))
}

/// `POST /api/clients`: 201 with the stored client and its `Location`.
pub fn create(app: &App, input: &ClientInput) -> Result<Response, Problem> {
    let session = app.connect()?;
    let params = input_params(input);
    let rows = session
        .connection
        .query(INSERT_SQL, &params)
        .map_err(|err| statement_problem(&err))?;

    let client = rows_to_json(&rows)
        .into_iter()
        .next()
        .ok_or_else(|| Problem::internal("the database returned no row for the inserted client"))?;
    let location = match client["id"].as_i64() {
        Some(id) => format!("/api/clients/{id}"),
        None => return Err(Problem::internal("the inserted client has no integer id")),
    };
    Ok(Response::json(201, &client).with_header("location", &location))
}

/// `PUT /api/clients/{id}`: replaces every writable field.
pub fn replace(app: &App, id: i64, input: &ClientInput) -> Result<Response, Problem> {
    let session = app.connect()?;
    let mut params = vec![int64(id)];
    params.extend(input_params(input));
    let rows = session
        .connection
        .query(UPDATE_SQL, &params)
        .map_err(|err| statement_problem(&err))?;
    let client = single_client(&rows, id)?;
    Ok(Response::json(200, &client))
}

/// `DELETE /api/clients/{id}`: 204, or 404 when no row had that id.
pub fn delete(app: &App, id: i64) -> Result<Response, Problem> {
    let session = app.connect()?;
    let deleted = session
        .connection
        .execute(DELETE_SQL, &[int64(id)])
        .map_err(|err| statement_problem(&err))?;
    if deleted == 0 {
        return Err(client_not_found(id));
    }
    Ok(Response::empty(204))
}

fn single_client(rows: &RowSet, id: i64) -> Result<Json, Problem> {
    rows_to_json(rows)
        .into_iter()
        .next()
        .ok_or_else(|| client_not_found(id))
}

fn client_not_found(id: i64) -> Problem {
    Problem::not_found(format!("no client with id {id}"))
}

/// Parameters `email, name, phone, attributes` in statement order.
fn input_params(input: &ClientInput) -> Vec<Value> {
    let phone = match &input.phone {
        Some(phone) => Scalar::Text(phone.clone()),
        None => Scalar::Null,
    };
    let attributes = Json::Object(input.attributes.clone()).to_string();
    vec![
        Value::Scalar(Scalar::Text(input.email.clone())),
        Value::Scalar(Scalar::Text(input.name.clone())),
        Value::Scalar(phone),
        Value::Scalar(Scalar::Jsonb(attributes)),
    ]
}

fn int64(value: i64) -> Value {
    Value::Scalar(Scalar::Int64(value))
}
