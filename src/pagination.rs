//! Keyset pagination parameters for `GET /api/clients`: `limit` and the opaque `after`
//! cursor.
//!
//! The cursor is the last returned id, as decimal text, in unpadded base64url. Clients
//! treat it as opaque; the encoding lets the format change later without clients noticing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::problem::{Problem, quote};
use crate::query_string::parse_query;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;

/// Largest accepted `limit`.
pub const MAX_LIMIT: u32 = 500;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRequest {
    /// Number of rows to return, 1 to `MAX_LIMIT`.
    pub limit: u32,
    /// Return only ids greater than this one.
    pub after: Option<i64>,
}

/// Parses and validates the query string of a list request. Unknown or repeated
/// parameters are rejected so a typo (`limt=5`) does not silently fall back to defaults.
pub fn parse_page_request(query: Option<&str>) -> Result<PageRequest, Problem> {
    let mut limit = None;
    let mut after = None;

    for (name, value) in parse_query(query.unwrap_or(""))? {
        let slot = match name.as_str() {
            "limit" => &mut limit,
            "after" => &mut after,
            _ => {
                return Err(Problem::bad_request(format!(
                    "unknown query parameter {}: use limit and after",
                    quote(&name)
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(Problem::bad_request(format!(
                "query parameter {} is given more than once",
                quote(&name)
            )));
        }
    }

    Ok(PageRequest {
        limit: match limit {
            Some(text) => parse_limit(&text)?,
            None => DEFAULT_LIMIT,
        },
        after: after.map(|text| decode_cursor(&text)).transpose()?,
    })
}

/// Encodes the id of the last row on a page as the `next` cursor.
pub fn encode_cursor(last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(last_id.to_string())
}

fn parse_limit(text: &str) -> Result<u32, Problem> {
    match text.parse::<u32>() {
        Ok(limit)
            if (1..=MAX_LIMIT).contains(&limit) && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(limit)
        }
        _ => Err(Problem::bad_request(format!(
            "query parameter limit {} is invalid: use an integer from 1 to {MAX_LIMIT}",
            quote(text)
        ))),
    }
}

fn decode_cursor(text: &str) -> Result<i64, Problem> {
    let invalid = || {
        Problem::bad_request(format!(
            "query parameter after {} is not a valid cursor: pass the next value of a \
             previous page unchanged",
            quote(text)
        ))
    };

    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let digits = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    digits.parse::<i64>().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_query() {
        let page = parse_page_request(None).unwrap();
        assert_eq!(
            page,
            PageRequest {
                limit: 50,
                after: None
            }
        );
        assert_eq!(parse_page_request(Some("")).unwrap(), page);
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(parse_page_request(Some("limit=1")).unwrap().limit, 1);
        assert_eq!(parse_page_request(Some("limit=500")).unwrap().limit, 500);
        for bad in [
            "0",
            "501",
            "-1",
            "5x",
            "abc",
            "",
            "99999999999999999999",
            "1.5",
        ] {
            let problem = parse_page_request(Some(&format!("limit={bad}"))).unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
            assert!(
                problem.detail.contains(&format!("limit `{bad}`")),
                "{}",
                problem.detail
            );
        }
    }

    #[test]
    fn cursor_round_trip() {
        for id in [1, 42, i64::MAX] {
            let cursor = encode_cursor(id);
            let page = parse_page_request(Some(&format!("after={cursor}"))).unwrap();
            assert_eq!(page.after, Some(id));
        }
        assert_eq!(encode_cursor(7), "Nw");
    }

    #[test]
    fn invalid_cursors_rejected() {
        let not_digits = URL_SAFE_NO_PAD.encode("7x");
        let too_big = URL_SAFE_NO_PAD.encode("99999999999999999999");
        let negative = URL_SAFE_NO_PAD.encode("-3");
        for bad in [
            "!!",
            "7",
            "",
            not_digits.as_str(),
            too_big.as_str(),
            negative.as_str(),
        ] {
            let problem = parse_page_request(Some(&format!("after={bad}"))).unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
            assert!(
                problem.detail.contains("not a valid cursor"),
                "{}",
                problem.detail
            );
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_rejected() {
        let problem = parse_page_request(Some("limt=5")).unwrap_err();
        assert!(problem.detail.contains("`limt`"), "{}", problem.detail);
        let problem = parse_page_request(Some("limit=5&limit=6")).unwrap_err();
        assert!(
            problem.detail.contains("more than once"),
            "{}",
            problem.detail
        );
    }
}
