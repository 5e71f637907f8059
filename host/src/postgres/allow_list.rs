//! The list of database servers the component may connect to.
//!
//! Entries are `host:port` (`[addr]:port` for IPv6 addresses) and match the host name or
//! address the component passes, compared without case, and its port exactly. Names are
//! not resolved, so allowing `db.example.com:5432` does not allow its IP address. Unix
//! socket paths are never allowed.

use std::fmt;

/// Name of the setting that fills the allow-list, used in error messages.
pub const ALLOWED_DB_HOSTS_VAR: &str = "KEYLESS_ALLOWED_DB_HOSTS";

/// Allowed `host:port` pairs.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    entries: Vec<(String, u16)>,
}

impl AllowList {
    /// Parses `host:port` entries. The error names the entry and the expected form.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let entries = entries
            .iter()
            .map(|entry| entry.as_ref().trim())
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Whether the list is empty, which rejects every connect.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns an error naming `host:port` and the setting unless the pair is allowed.
    pub fn ensure_allowed(&self, host: &str, port: u16) -> Result<(), String> {
        let target = format_host_port(host, port);
        if host.starts_with('/') {
            return Err(format!("{target} is a Unix socket path; only TCP hosts can be allowed"));
        }

        let host = normalize_host(host);
        if self
            .entries
            .iter()
            .any(|(allowed, allowed_port)| *allowed == host && *allowed_port == port)
        {
            return Ok(());
        }
        Err(format!(
            "database host {target} is not allowed; add it to {ALLOWED_DB_HOSTS_VAR} (--allowed-db-hosts), a comma-separated list of host:port"
        ))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self
            .entries
            .iter()
            .map(|(host, port)| format_host_port(host, *port))
            .collect();
        f.write_str(&entries.join(","))
    }
}

fn parse_entry(entry: &str) -> Result<(String, u16), String> {
    let invalid = |reason: &str| {
        format!(
            "invalid {ALLOWED_DB_HOSTS_VAR} entry {entry:?}: {reason}; expected host:port such as db.example.com:5432"
        )
    };

    let (host, port) = entry.rsplit_once(':').ok_or_else(|| invalid("the port is missing"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port is not a number from 1 to 65535"))?;
    if port == 0 {
        return Err(invalid("the port is not a number from 1 to 65535"));
    }

    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.contains(':') && !bracketed {
        return Err(invalid("write IPv6 addresses in brackets, as [::1]:5432"));
    }
    let host = normalize_host(host);
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    Ok((host, port))
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

fn format_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::AllowList;

    #[test]
    fn allow_list_matches_host_and_port() {
        let list = AllowList::parse(&["DB.example.com:5432", "127.0.0.1:6543", "[::1]:5432"]).unwrap();
        assert!(list.ensure_allowed("db.example.com", 5432).is_ok());
        assert!(list.ensure_allowed("127.0.0.1", 6543).is_ok());
        assert!(list.ensure_allowed("::1", 5432).is_ok());
        assert!(list.ensure_allowed("[::1]", 5432).is_ok());
        assert!(list.ensure_allowed("db.example.com", 5433).is_err());
        assert!(list.ensure_allowed("127.0.0.1", 5432).is_err());
    }

    #[test]
    fn rejection_names_target_and_setting() {
        let list = AllowList::parse(&["127.0.0.1:5432"]).unwrap();
        let error = list.ensure_allowed("10.1.2.3", 5432).unwrap_err();
        assert!(error.contains("10.1.2.3:5432"), "{error}");
        assert!(error.contains("KEYLESS_ALLOWED_DB_HOSTS"), "{error}");
    }

    #[test]
    fn unix_sockets_are_rejected() {
        let list = AllowList::parse(&["/var/run/postgresql:5432"]).unwrap();
        assert!(list.ensure_allowed("/var/run/postgresql", 5432).is_err());
    }

    #[test]
    fn invalid_entries_are_named() {
        for entry in ["db.example.com", "db:abc", "db:0", ":5432", "::1:5432"] {
            let error = AllowList::parse(&[entry]).unwrap_err();
            assert!(error.contains(&format!("{entry:?}")), "{error}");
        }
    }

    #[test]
    fn empty_entries_are_skipped() {
        let list = AllowList::parse(&["", " 127.0.0.1:5432 "]).unwrap();
        assert_eq!(list.to_string(), "127.0.0.1:5432");
        assert!(AllowList::parse::<&str>(&[]).unwrap().is_empty());
    }
}
