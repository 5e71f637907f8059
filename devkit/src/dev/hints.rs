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

/// Prints the commands to stdout.
pub fn print(base_url: &str, psql: &str) {
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
    println!("Press Ctrl-C to stop the handler and PostgreSQL and remove the temporary files.");
    println!();
}
