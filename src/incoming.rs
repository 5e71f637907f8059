//! The `wasi:http/incoming-handler` export: converts the WASI request to a plain
//! `Request`, runs the `App` over the host imports and writes the plain `Response` back.

use crate::app::App;
use crate::exports::wasi::http::incoming_handler::Guest;
use crate::host_backend::{HostDatabase, HostTokens};
use crate::http::{MAX_BODY_BYTES, Request, Response};
use crate::problem::Problem;
use crate::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::wasi::io::streams::StreamError;

/// `blocking-write-and-flush` accepts at most 4096 bytes per call.
const WRITE_CHUNK_BYTES: usize = 4096;

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let env = |name: &str| std::env::var(name).ok();
        let response = match read_request(&request) {
            Ok(plain) => App::new(&HostDatabase, &HostTokens, &env).handle(&plain),
            Err(problem) => problem.into_response(),
        };
        send_response(response, response_out);
    }
}

// The export symbol name contains `:` and `/`, which native linkers reject in a
// version script, so the export exists only in the wasm build.
#[cfg(target_arch = "wasm32")]
crate::export!(Component with_types_in crate);

fn read_request(request: &IncomingRequest) -> Result<Request, Problem> {
    Ok(Request {
        method: method_name(request.method()),
        path_with_query: request.path_with_query().unwrap_or_else(|| "/".to_string()),
        headers: request.headers().entries(),
        body: read_body(request)?,
    })
}

fn method_name(method: Method) -> String {
    let name = match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => return other,
    };
    name.to_string()
}

/// Reads at most `MAX_BODY_BYTES + 1` bytes: enough for the router to tell that a body is
/// over the limit without buffering all of it.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Problem> {
    let unreadable = || Problem::bad_request("the request body could not be read");
    let body = request.consume().map_err(|()| unreadable())?;
    let stream = body.stream().map_err(|()| unreadable())?;

    let mut bytes = Vec::new();
    while bytes.len() <= MAX_BODY_BYTES {
        let remaining = (MAX_BODY_BYTES + 1 - bytes.len()) as u64;
        match stream.blocking_read(remaining) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
        }
    }

    // The stream is a child of the body and must go before the body is finished.
    drop(stream);
    drop(crate::wasi::http::types::IncomingBody::finish(body));
    Ok(bytes)
}

/// Writes status, headers and body. Failures after the response head is sent cannot be
/// reported to the client any more, so they end the body early.
fn send_response(response: Response, response_out: ResponseOutparam) {
    let headers = Fields::new();
    for (name, value) in &response.headers {
        let _ = headers.append(name, value.as_bytes());
    }
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);

    let body = outgoing.body();
    ResponseOutparam::set(response_out, Ok(outgoing));
    let Ok(body) = body else {
        return;
    };

    if let Ok(stream) = body.write() {
        for chunk in response.body.chunks(WRITE_CHUNK_BYTES) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}
