//! Minimal logging to stderr, which hosts collect (the custom-handler host forwards it to
//! Azure Functions as Error lines). Callers never pass a token or password.

/// Writes one `level=error` line with an event name and a message.
pub fn error(event: &str, message: &str) {
    eprintln!("level=error event={event} message={message:?}");
}

/// Writes one `level=error` line for a request that ended in a 5xx problem.
pub fn request_failed(method: &str, path: &str, invocation_id: &str, status: u16, detail: &str) {
    eprintln!(
        "level=error event=request_failed method={method:?} path={path:?} \
         invocation_id={invocation_id:?} status={status} detail={detail:?}"
    );
}
