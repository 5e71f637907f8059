//! Picking a free loopback TCP port.

use std::net::{Ipv4Addr, TcpListener};

use anyhow::{Context, Result};

/// Returns a port that was free on 127.0.0.1 a moment ago. Another process can take it
/// before the server binds it, so callers retry with a new port when the bind fails.
pub fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("failed to bind 127.0.0.1:0 to find a free port")?;
    let port = listener
        .local_addr()
        .context("failed to read the port of a listener on 127.0.0.1")?
        .port();
    Ok(port)
}
