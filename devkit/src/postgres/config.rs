//! The server settings and client authentication rules the harness writes after `initdb`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::tls::TlsFiles;

/// Builds the lines appended to `postgresql.conf`. The port is not among them: it is passed
/// on the command line so a retry after a port clash needs no rewrite.
pub fn server_settings(tls: Option<&TlsFiles>, extra: &[(String, String)]) -> String {
    let mut settings: Vec<(&str, String)> = vec![
        ("listen_addresses", quote("127.0.0.1")),
        // No Unix socket: every client connects over TCP, where pg_hba demands SCRAM.
        ("unix_socket_directories", quote("")),
        ("password_encryption", quote("scram-sha-256")),
        // A failing statement can carry a password (CREATE ROLE ... PASSWORD), so the
        // server log records no statement text.
        ("log_min_error_statement", "panic".to_string()),
        ("log_connections", "on".to_string()),
        ("log_disconnections", "on".to_string()),
        // Throwaway data: skip the disk flushes that make a cluster slow to start and use.
        ("fsync", "off".to_string()),
        ("synchronous_commit", "off".to_string()),
        ("full_page_writes", "off".to_string()),
        // Small memory so several clusters can run side by side on a CI machine.
        ("shared_buffers", quote("16MB")),
        ("max_connections", "100".to_string()),
        ("dynamic_shared_memory_type", "mmap".to_string()),
    ];

    match tls {
        Some(files) => {
            settings.push(("ssl", "on".to_string()));
            settings.push(("ssl_cert_file", quote_path(&files.server_cert)));
            settings.push(("ssl_key_file", quote_path(&files.server_key)));
            settings.push(("ssl_ca_file", quote_path(&files.ca_cert)));
        }
        None => settings.push(("ssl", "off".to_string())),
    }

    let mut text = String::from("\n# Settings written by keyless-devkit\n");
    for (name, value) in settings {
        let _ = writeln!(text, "{name} = {value}");
    }
    for (name, value) in extra {
        let _ = writeln!(text, "{name} = {value}");
    }
    text
}

/// Returns the `pg_hba.conf` contents: SCRAM over loopback TCP, nothing else.
pub fn client_authentication() -> &'static str {
    "# Written by keyless-devkit: SCRAM over IPv4 loopback only.\n\
     # TYPE  DATABASE  USER  ADDRESS       METHOD\n\
     host    all       all   127.0.0.1/32  scram-sha-256\n"
}

/// Appends `settings` to the cluster's `postgresql.conf` and replaces its `pg_hba.conf`.
pub fn write_config(data_dir: &Path, settings: &str) -> Result<()> {
    let conf = data_dir.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)
        .with_context(|| format!("failed to read {}", conf.display()))?;
    text.push_str(settings);
    std::fs::write(&conf, text).with_context(|| format!("failed to write {}", conf.display()))?;

    let hba = data_dir.join("pg_hba.conf");
    std::fs::write(&hba, client_authentication())
        .with_context(|| format!("failed to write {}", hba.display()))?;
    Ok(())
}

/// Quotes a value as a `postgresql.conf` string literal.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}
