//! One JSON invocation from start to finish: translate, call the component, build the reply.

use std::future::Future;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};

use super::function_json::{FunctionApp, FunctionDefinition};
use super::request::{INVOCATION_ID_HEADER, component_request};
use super::response::{invalid_invocation_reply, invocation_reply};

/// Handles one JSON invocation of `function`: translates the invocation body into a
/// component request, passes it to `call_component`, and turns the component's response
/// into the reply for the Functions host.
///
/// An invocation that cannot be translated never reaches the component. It is logged, and
/// its reply is 400 (malformed invocation) or 500 (function the handler cannot serve).
pub async fn dispatch_json_invocation<Call, Reply>(
    app: &FunctionApp,
    function: &FunctionDefinition,
    invocation_headers: &HeaderMap,
    invocation_body: &[u8],
    call_component: Call,
) -> Response<Bytes>
where
    Call: FnOnce(Request<Bytes>) -> Reply,
    Reply: Future<Output = Response<Bytes>>,
{
    match component_request(app, function, invocation_headers, invocation_body) {
        Ok(request) => invocation_reply(function, call_component(request).await),
        Err(error) => {
            let invocation_id = invocation_headers
                .get(INVOCATION_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            tracing::warn!(
                function = %function.name,
                invocation_id,
                error = %error,
                "rejected a JSON invocation that cannot be translated"
            );
            invalid_invocation_reply(&error)
        }
    }
}
