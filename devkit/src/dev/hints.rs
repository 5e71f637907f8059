//! Ready-to-paste commands printed once the handler is up.

use std::path::Path;

/// Returns curl commands for every route of the API on `base_url`.
pub fn curl_lines(base_url: &str) -> Vec<String> {
    let json = "-H 'content-type: application/json'";
    vec![
        format!("curl -i {base_url}/api/health"),
        format!("curl -i '{base_url}/api/clients?limit=10'"),
        format!("curl -i {base_url}/api/clients/1"),
        format!(
            "curl -i -X POST {base_url}/api/clients {json} -d '{{\"email\": \"new.client@example.com\", \"name\": \"New Client\", \"phone\": \"+1 555 0100\", \"attributes\": {{\"tier\": \"bronze\"}}}}'"
        ),
        format!(
            "curl -i -X PUT {base_url}/api/clients/1 {json} -d '{{\"email\": \"ana.souza@example.com\", \"name\": \"Ana Souza\", \"phone\": null, \"attributes\": {{\"tier\": \"platinum\"}}}}'"
        ),
        format!("curl -i -X DELETE {base_url}/api/clients/1"),
    ]
}

/// Returns a psql command that connects as `role`, reading the password from
/// `token_file` so the token itself is not printed. With `ca_file` the connection uses
/// `verify-full` against that CA, otherwise no TLS.
pub fn psql_line(
    port: u16,
    database: &str,
    role: &str,
    token_file: &Path,
    ca_file: Option<&Path>,
) -> String {
    let tls = match ca_file {
        Some(ca) => format!("sslmode=verify-full sslrootcert={}", ca.display()),
        None => "sslmode=disable".to_string(),
    };
    format!(
        "PGPASSWORD=$(cat {}) psql 'host=127.0.0.1 port={port} dbname={database} user={role} {tls}'",
        token_file.display()
    )
}

/// Returns the lines that describe the identity endpoint emulator at `endpoint`, which
/// issues tokens that live `lifetime_secs` seconds.
pub fn emulator_lines(endpoint: &str, lifetime_secs: u64) -> Vec<String> {
    vec![
        format!(
            "Tokens come from the identity endpoint emulator at {endpoint}, each valid for \
             {lifetime_secs} s."
        ),
        format!(
            "The handler fetches a new one every {} s (half the lifetime) and logs \
             \"access token refreshed\" each time; this tool logs \"identity emulator issued \
             a token\" for every token. The psql command reads the newest token.",
            lifetime_secs / 2
        ),
    ]
}

/// Prints the commands to stdout, followed by `notes` when there are any.
pub fn print(base_url: &str, psql: &str, notes: &[String]) {
    println!();
    println!("keyless is running at {base_url}. Try:");
    println!();
    for line in curl_lines(base_url) {
        println!("  {line}");
    }
    println!();
    println!("Database shell:");
    println!();
    println!("  {psql}");
    println!();
    for note in notes {
        println!("{note}");
    }
    if !notes.is_empty() {
        println!();
    }
    println!(
        "Press Ctrl-C to stop the handler, PostgreSQL and any emulator, and remove the \
         temporary files."
    );
    println!();
}
