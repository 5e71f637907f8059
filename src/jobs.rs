//! The health check and the summary refresh job.

use serde_json::json;

use crate::app::App;
use crate::datetime::format_unix_seconds;
use crate::failure::statement_problem;
use crate::http::Response;
use crate::problem::Problem;
use crate::row_json::rows_to_json;

const REFRESH_SUMMARY_SQL: &str = "insert into client_summary (id, total, newest_created_at, refreshed_at) \
     select true, count(*), max(created_at), now() from clients \
     on conflict (id) do update set total = excluded.total, \
     newest_created_at = excluded.newest_created_at, refreshed_at = excluded.refreshed_at \
     returning total, newest_created_at, refreshed_at";

/// `GET /api/health`: gets a token, logs in and runs `select 1`. Reports the token's
/// expiry, never the token.
pub fn health(app: &App) -> Result<Response, Problem> {
    let session = app.connect()?;
    session
        .connection
        .query("select 1", &[])
        .map_err(|err| statement_problem(&err))?;
    Ok(Response::json(
        200,
        &json!({
            "status": "ok",
            "database": "ok",
            "token_expires_on": format_unix_seconds(session.token_expires_on),
        }),
    ))
}

/// `POST /internal/jobs/refresh-summary`: recomputes the single `client_summary` row from
/// `clients` and returns it.
pub fn refresh_summary(app: &App) -> Result<Response, Problem> {
    let session = app.connect()?;
    let rows = session
        .connection
        .query(REFRESH_SUMMARY_SQL, &[])
        .map_err(|err| statement_problem(&err))?;
    let summary = rows_to_json(&rows)
        .into_iter()
        .next()
        .ok_or_else(|| Problem::internal("the summary upsert returned no row"))?;
    Ok(Response::json(200, &summary))
}
