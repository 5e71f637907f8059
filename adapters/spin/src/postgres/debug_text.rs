//! Server errors that Spin 4.0 returns flattened into text.
//!
//! When a statement fails while its rows are read (for example a unique violation in
//! `insert ... returning`), Spin 4.0's `query` formats its own structured error with
//! `Debug` and returns that as `query-error::text`, such as
//! `Error::QueryFailed(QueryError::DbError(DbError { as-text: "...", severity: "ERROR",
//! code: "23505", message: "...", detail: Some("..."), extras: [("constraint", "...")] }))`.
//! This module reads the fields back from that text.

use super::wit::DbError;

const START: &str = "QueryError::DbError(DbError { as-text: ";

/// Recovers the server error from Spin's `Debug` text, or `None` if `text` has another form.
pub fn db_error_in_debug_text(text: &str) -> Option<DbError> {
    let start = text.find(START)? + START.len();
    let mut cursor = Cursor { rest: &text[start..] };

    cursor.string()?;
    cursor.literal(", severity: ")?;
    let severity = cursor.string()?;
    cursor.literal(", code: ")?;
    let code = cursor.string()?;
    cursor.literal(", message: ")?;
    let message = cursor.string()?;
    cursor.literal(", detail: ")?;
    let detail = cursor.optional_string()?;
    cursor.literal(", extras: [")?;
    let extras = cursor.pairs()?;

    let extra = |name: &str| extras.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    Some(DbError {
        hint: extra("hint"),
        constraint: extra("constraint"),
        code,
        severity,
        message,
        detail,
    })
}

/// A position in Rust `Debug` output.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn literal(&mut self, expected: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    /// Reads a `Debug`-quoted string and undoes its escapes.
    fn string(&mut self) -> Option<String> {
        self.literal("\"")?;
        let mut value = String::new();
        let mut characters = self.rest.char_indices();
        while let Some((index, character)) = characters.next() {
            match character {
                '"' => {
                    self.rest = &self.rest[index + 1..];
                    return Some(value);
                }
                '\\' => {
                    let (_, escaped) = characters.next()?;
                    match escaped {
                        'n' => value.push('\n'),
                        'r' => value.push('\r'),
                        't' => value.push('\t'),
                        '0' => value.push('\0'),
                        'u' => {
                            let (_, brace) = characters.next()?;
                            if brace != '{' {
                                return None;
                            }
                            let mut hex = String::new();
                            for (_, digit) in characters.by_ref() {
                                if digit == '}' {
                                    break;
                                }
                                hex.push(digit);
                            }
                            value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        other => value.push(other),
                    }
                }
                other => value.push(other),
            }
        }
        None
    }

    fn optional_string(&mut self) -> Option<Option<String>> {
        if self.literal("None").is_some() {
            return Some(None);
        }
        self.literal("Some(")?;
        let value = self.string()?;
        self.literal(")")?;
        Some(Some(value))
    }

    /// Reads `("key", "value"), ...]`, up to and including the closing bracket.
    fn pairs(&mut self) -> Option<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        if self.literal("]").is_some() {
            return Some(pairs);
        }
        loop {
            self.literal("(")?;
            let key = self.string()?;
            self.literal(", ")?;
            let value = self.string()?;
            self.literal(")")?;
            pairs.push((key, value));
            if self.literal("]").is_some() {
                return Some(pairs);
            }
            self.literal(", ")?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text Spin 4.0.2 returned for a duplicate email in `insert ... returning`.
    const UNIQUE_VIOLATION: &str = r#"Error::QueryFailed(QueryError::DbError(DbError { as-text: "Error { kind: Db, cause: Some(DbError { severity: \"ERROR\", code: SqlState(E23505), message: \"duplicate key value violates unique constraint \\\"clients_email_key\\\"\" }) }", severity: "ERROR", code: "23505", message: "duplicate key value violates unique constraint \"clients_email_key\"", detail: Some("Key (email)=(ana.souza@example.com) already exists."), extras: [("constraint", "clients_email_key"), ("routine", "_bt_check_unique"), ("hint", "a \u{e9} hint"), ("line", "664")] }))"#;

    #[test]
    fn unique_violation_is_recovered() {
        let error = db_error_in_debug_text(UNIQUE_VIOLATION).expect("recognised");
        assert_eq!(error.code, "23505");
        assert_eq!(error.severity, "ERROR");
        assert_eq!(error.message, "duplicate key value violates unique constraint \"clients_email_key\"");
        assert_eq!(error.detail.as_deref(), Some("Key (email)=(ana.souza@example.com) already exists."));
        assert_eq!(error.constraint.as_deref(), Some("clients_email_key"));
        assert_eq!(error.hint.as_deref(), Some("a é hint"));
    }

    #[test]
    fn missing_detail_and_extras_are_none() {
        let text = r#"Error::QueryFailed(QueryError::DbError(DbError { as-text: "x", severity: "ERROR", code: "42P01", message: "relation \"nope\" does not exist", detail: None, extras: [] }))"#;
        let error = db_error_in_debug_text(text).expect("recognised");
        assert_eq!(error.code, "42P01");
        assert_eq!(error.message, "relation \"nope\" does not exist");
        assert_eq!(error.detail, None);
        assert_eq!(error.constraint, None);
    }

    #[test]
    fn other_text_is_not_recognised() {
        assert!(db_error_in_debug_text("connection closed").is_none());
        assert!(db_error_in_debug_text("QueryError::DbError(DbError { as-text: \"unterminated").is_none());
    }
}
