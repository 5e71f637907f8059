//! Request routing and the per-request database session.

use crate::backend::{ConnectParams, Connection, Database, Tokens};
use crate::client_input::{ClientInput, parse_client_input};
use crate::config::Config;
use crate::failure::{open_problem, token_problem};
use crate::http::{MAX_BODY_BYTES, Request, Response};
use crate::problem::{Problem, quote};
use crate::{clients, jobs, log};

/// Header in which the Azure Functions host sends the invocation id, logged with failures.
const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// The application: routes plain requests, using `database` and `tokens` for every
/// request that touches the database.
pub struct App<'a> {
    database: &'a dyn Database,
    tokens: &'a dyn Tokens,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// An open connection for one request, plus the expiry of the token that opened it.
pub struct Session {
    /// The connection, authenticated with the current token.
    pub connection: Box<dyn Connection>,
    /// Expiry of the token used as the password, as Unix seconds.
    pub token_expires_on: u64,
}

/// The resources the API serves, matched from the path alone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Route<'p> {
    ClientCollection,
    Client(&'p str),
    Health,
    RefreshSummary,
}

impl Route<'_> {
    /// Methods for the `Allow` header.
    fn allow(self) -> &'static str {
        match self {
            Route::ClientCollection => "GET, POST",
            Route::Client(_) => "GET, PUT, DELETE",
            Route::Health => "GET",
            Route::RefreshSummary => "POST",
        }
    }
}

impl<'a> App<'a> {
    /// Builds an application over a database, a token source and an environment lookup
    /// (`std::env::var` in the component, a map in tests).
    pub fn new(
        database: &'a dyn Database,
        tokens: &'a dyn Tokens,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> App<'a> {
        App {
            database,
            tokens,
            env,
        }
    }

    /// Handles one request. Every failure becomes a problem response, and server-side
    /// failures (5xx) are also logged.
    pub fn handle(&self, request: &Request) -> Response {
        let problem = match self.dispatch(request) {
            Ok(response) => return response,
            Err(problem) => problem,
        };

        if problem.status >= 500 {
            let invocation_id = request
                .header(INVOCATION_ID_HEADER)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            log::request_failed(
                &request.method,
                request.path(),
                &invocation_id,
                problem.status,
                &problem.detail,
            );
        }
        problem.into_response()
    }

    fn dispatch(&self, request: &Request) -> Result<Response, Problem> {
        let path = request.path();
        let route = match_route(path)
            .ok_or_else(|| Problem::not_found(format!("no resource at {}", quote(path))))?;

        match (route, request.method.as_str()) {
            (Route::ClientCollection, "GET") => clients::list(self, request.query()),
            (Route::ClientCollection, "POST") => clients::create(self, &client_body(request)?),
            (Route::Client(id), "GET") => clients::get(self, parse_client_id(id)?),
            (Route::Client(id), "PUT") => {
                let id = parse_client_id(id)?;
                clients::replace(self, id, &client_body(request)?)
            }
            (Route::Client(id), "DELETE") => clients::delete(self, parse_client_id(id)?),
            (Route::Health, "GET") => jobs::health(self),
            (Route::RefreshSummary, "POST") => jobs::refresh_summary(self),
            (route, method) => Err(Problem::method_not_allowed(method, path, route.allow())),
        }
    }

    /// Reads the configuration, gets a token for its scope and opens a connection with the
    /// token as the password.
    pub fn connect(&self) -> Result<Session, Problem> {
        let config = Config::from_lookup(self.env)?;
        let token = self
            .tokens
            .get_token(std::slice::from_ref(&config.token_scope))
            .map_err(|err| token_problem(&err))?;

        let params = ConnectParams {
            host: config.host.clone(),
            port: config.port,
            database: config.database.clone(),
            user: config.user.clone(),
            password: token.secret().to_string(),
            ssl_mode: config.ssl_mode,
        };
        let connection = self
            .database
            .open(&params)
            .map_err(|err| open_problem(&err, &config))?;

        Ok(Session {
            connection,
            token_expires_on: token.expires_on,
        })
    }
}

fn match_route(path: &str) -> Option<Route<'_>> {
    match path {
        "/api/clients" => Some(Route::ClientCollection),
        "/api/health" => Some(Route::Health),
        "/internal/jobs/refresh-summary" => Some(Route::RefreshSummary),
        _ => {
            let id = path.strip_prefix("/api/clients/")?;
            (!id.is_empty() && !id.contains('/')).then_some(Route::Client(id))
        }
    }
}

/// Parses the `{id}` path segment: a positive decimal integer that fits in `bigint`.
fn parse_client_id(text: &str) -> Result<i64, Problem> {
    let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i64>() {
        Ok(id) if valid && id > 0 => Ok(id),
        _ => Err(Problem::bad_request(format!(
            "client id {} in the path is invalid: use a positive integer up to {}",
            quote(text),
            i64::MAX
        ))),
    }
}

/// Checks the size and media type of a JSON body, then validates it as a client.
fn client_body(request: &Request) -> Result<ClientInput, Problem> {
    if request.body.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            413,
            format!("request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
        ));
    }
    ensure_json_content_type(request)?;
    parse_client_input(&request.body)
}

/// Accepts `application/json`, with parameters such as `charset=utf-8`, in any case.
fn ensure_json_content_type(request: &Request) -> Result<(), Problem> {
    let value = request
        .header("content-type")
        .map(|raw| String::from_utf8_lossy(raw).into_owned());
    let is_json = value.as_deref().is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or("").trim();
        media_type.eq_ignore_ascii_case("application/json")
    });
    if is_json {
        return Ok(());
    }

    let received = match &value {
        Some(value) => format!("content type {}", quote(value)),
        None => "no content type".to_string(),
    };
    Err(Problem::new(
        415,
        format!("request has {received}: send the body as application/json"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exact_paths() {
        assert_eq!(match_route("/api/clients"), Some(Route::ClientCollection));
        assert_eq!(match_route("/api/clients/7"), Some(Route::Client("7")));
        assert_eq!(match_route("/api/health"), Some(Route::Health));
        assert_eq!(
            match_route("/internal/jobs/refresh-summary"),
            Some(Route::RefreshSummary)
        );
    }

    #[test]
    fn near_miss_paths_do_not_match() {
        for path in [
            "",
            "/",
            "/api",
            "/api/",
            "/api/clients/",
            "/api/clients//7",
            "/api/clients/7/",
            "/api/clients/7/x",
            "/API/clients",
            "/api/healthz",
            "/internal/jobs",
        ] {
            assert_eq!(match_route(path), None, "{path}");
        }
    }

    #[test]
    fn client_ids_validated() {
        assert_eq!(parse_client_id("1"), Ok(1));
        assert_eq!(parse_client_id("9223372036854775807"), Ok(i64::MAX));
        for bad in [
            "0",
            "-1",
            "+1",
            "1.0",
            "abc",
            "9223372036854775808",
            "1e3",
            " 1",
            "%31",
        ] {
            let problem = parse_client_id(bad).unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
            assert!(
                problem.detail.contains(&format!("`{bad}`")),
                "{}",
                problem.detail
            );
        }
    }

    #[test]
    fn json_content_type_variants() {
        for value in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
        ] {
            let request = Request::new("POST", "/").with_header("content-type", value);
            assert!(ensure_json_content_type(&request).is_ok(), "{value}");
        }
        for value in [
            "text/plain",
            "application/jsonx",
            "application/problem+json",
            "",
        ] {
            let request = Request::new("POST", "/").with_header("content-type", value);
            assert_eq!(
                ensure_json_content_type(&request).unwrap_err().status,
                415,
                "{value}"
            );
        }
        let missing = Request::new("POST", "/");
        let problem = ensure_json_content_type(&missing).unwrap_err();
        assert!(
            problem.detail.contains("no content type"),
            "{}",
            problem.detail
        );
    }
}
