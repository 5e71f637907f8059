//! Minimal logging to stderr, which hosts collect (the custom-handler host forwards it to
//! Azure Functions as Error lines). Callers never pass a token or password.

/// Writes one `level=error` line with an event name and a message.
pub fn error(event: &str, message: &str) {
    eprintln!("level=error event={event} message={message:?}");
}
