//! Parsing of `application/x-www-form-urlencoded` query strings.

use crate::problem::{Problem, quote};

/// Splits a query string into decoded `(name, value)` pairs. `+` is a space and `%XX` a
/// byte; a malformed escape or a result that is not UTF-8 is a 400 problem.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, Problem> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (raw_name, raw_value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(raw_name)?, percent_decode(raw_value)?));
    }
    Ok(pairs)
}

fn percent_decode(raw: &str) -> Result<String, Problem> {
    let invalid = || {
        Problem::bad_request(format!(
            "query string part {} is not valid percent-encoded UTF-8",
            quote(raw)
        ))
    };

    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes.get(index + 1..index + 3).ok_or_else(invalid)?;
                let hex = std::str::from_utf8(hex).map_err(|_| invalid())?;
                decoded.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        parse_query(query).unwrap()
    }

    #[test]
    fn plain_pairs() {
        assert_eq!(
            pairs("limit=5&after=abc"),
            vec![("limit".into(), "5".into()), ("after".into(), "abc".into())]
        );
    }

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(
            pairs("a=x%3Dy+z%C3%A9"),
            vec![("a".into(), "x=y zé".into())]
        );
    }

    #[test]
    fn empty_parts_and_missing_values() {
        assert_eq!(
            pairs("&&a&b="),
            vec![("a".into(), "".into()), ("b".into(), "".into())]
        );
        assert!(pairs("").is_empty());
    }

    #[test]
    fn malformed_escapes_rejected() {
        for bad in ["a=%", "a=%4", "a=%zz", "a=%FF", "a=%C3"] {
            let problem = parse_query(bad).unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
        }
    }

    #[test]
    fn multibyte_after_percent_does_not_panic() {
        assert_eq!(parse_query("a=%é").unwrap_err().status, 400);
        assert_eq!(parse_query("a=%aé").unwrap_err().status, 400);
    }
}
