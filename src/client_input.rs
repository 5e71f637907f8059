//! Validation of the JSON body of `POST /api/clients` and `PUT /api/clients/{id}`.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::problem::{Problem, quote};

/// Longest accepted email address in bytes (RFC 5321's path limit minus the brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Longest accepted name in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Longest accepted phone number in characters.
pub const MAX_PHONE_CHARS: usize = 50;

/// A validated client body. PUT replaces every field, so an omitted `phone` becomes NULL
/// and omitted `attributes` an empty object in both POST and PUT.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientInput {
    /// Email address, unique across clients.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Phone number, if any.
    pub phone: Option<String>,
    /// Free-form attributes.
    pub attributes: Map<String, Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFields {
    email: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default = "empty_object")]
    attributes: Json,
}

fn empty_object() -> Json {
    Json::Object(Map::new())
}

/// Parses and validates a client body. Every error is a 400 problem naming the field.
pub fn parse_client_input(body: &[u8]) -> Result<ClientInput, Problem> {
    let document: Json = serde_json::from_slice(body)
        .map_err(|err| Problem::bad_request(format!("request body is not valid JSON: {err}")))?;
    if !document.is_object() {
        return Err(Problem::bad_request(format!(
            "request body must be a JSON object with email and name, got {}",
            json_kind(&document)
        )));
    }

    let fields: ClientFields = serde_path_to_error::deserialize(document).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            Problem::bad_request(format!("invalid request body: {}", err.inner()))
        } else {
            Problem::bad_request(format!("invalid field {}: {}", quote(&path), err.inner()))
        }
    })?;

    validate_email(&fields.email)?;
    ensure_no_nul("name", &fields.name)?;
    validate_name(&fields.name)?;
    if let Some(phone) = &fields.phone {
        ensure_no_nul("phone", phone)?;
        validate_phone(phone)?;
    }
    let Json::Object(attributes) = fields.attributes else {
        return Err(Problem::bad_request(format!(
            "field `attributes` must be a JSON object, got {}",
            json_kind(&fields.attributes)
        )));
    };
    if attributes.iter().any(|(key, value)| key.contains('\0') || json_contains_nul(value)) {
        return Err(Problem::bad_request(
            "field `attributes` contains the character U+0000, which PostgreSQL cannot store; remove it",
        ));
    }

    Ok(ClientInput {
        email: fields.email,
        name: fields.name,
        phone: fields.phone,
        attributes,
    })
}

/// Rejects U+0000, which PostgreSQL `text` and `jsonb` cannot store.
fn ensure_no_nul(field: &str, text: &str) -> Result<(), Problem> {
    if text.contains('\0') {
        return Err(Problem::bad_request(format!(
            "field `{field}` contains the character U+0000, which PostgreSQL cannot store; remove it"
        )));
    }
    Ok(())
}

/// Returns whether any string or object key inside `value` contains U+0000.
fn json_contains_nul(value: &Json) -> bool {
    match value {
        Json::String(text) => text.contains('\0'),
        Json::Array(items) => items.iter().any(json_contains_nul),
        Json::Object(map) => map.iter().any(|(key, item)| key.contains('\0') || json_contains_nul(item)),
        _ => false,
    }
}

/// Accepts an address with exactly one `@`, text on both sides, no whitespace or control
/// characters, and at most `MAX_EMAIL_BYTES` bytes. Deliverability is not checked.
fn validate_email(email: &str) -> Result<(), Problem> {
    if email.len() > MAX_EMAIL_BYTES {
        return Err(Problem::bad_request(format!(
            "field `email` is {} bytes long: the maximum is {MAX_EMAIL_BYTES}",
            email.len()
        )));
    }

    let plausible = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if plausible {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "field `email` {} is not a valid email address: expected one @ with text on both \
             sides and no spaces",
            quote(email)
        )))
    }
}

fn validate_name(name: &str) -> Result<(), Problem> {
    if name.trim().is_empty() {
        return Err(Problem::bad_request("field `name` must not be empty"));
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(Problem::bad_request(format!(
            "field `name` is {length} characters long: the maximum is {MAX_NAME_CHARS}"
        )));
    }
    Ok(())
}

fn validate_phone(phone: &str) -> Result<(), Problem> {
    let length = phone.chars().count();
    if length > MAX_PHONE_CHARS {
        return Err(Problem::bad_request(format!(
            "field `phone` is {length} characters long: the maximum is {MAX_PHONE_CHARS}"
        )));
    }
    Ok(())
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Json) -> Result<ClientInput, Problem> {
        parse_client_input(body.to_string().as_bytes())
    }

    fn rejection(body: Json) -> String {
        let problem = parse(body).unwrap_err();
        assert_eq!(problem.status, 400);
        problem.detail
    }

    #[test]
    fn minimal_body_gets_defaults() {
        let input = parse(json!({"email": "a@example.com", "name": "Ada"})).unwrap();
        assert_eq!(input.email, "a@example.com");
        assert_eq!(input.name, "Ada");
        assert_eq!(input.phone, None);
        assert!(input.attributes.is_empty());
    }

    #[test]
    fn full_body_accepted() {
        let input = parse(json!({
            "email": "b@example.com",
            "name": "Bo",
            "phone": "+46 70 123 45 67",
            "attributes": {"tier": "gold", "tags": [1, 2]},
        }))
        .unwrap();
        assert_eq!(input.phone.as_deref(), Some("+46 70 123 45 67"));
        assert_eq!(input.attributes["tier"], "gold");
    }

    #[test]
    fn null_phone_accepted() {
        let input = parse(json!({"email": "a@x", "name": "A", "phone": null})).unwrap();
        assert_eq!(input.phone, None);
    }

    #[test]
    fn unknown_field_named() {
        let detail = rejection(json!({"email": "a@x", "name": "A", "nickname": "z"}));
        assert!(detail.contains("unknown field `nickname`"), "{detail}");
    }

    #[test]
    fn server_assigned_fields_rejected() {
        let detail = rejection(json!({"id": 5, "email": "a@x", "name": "A"}));
        assert!(detail.contains("unknown field `id`"), "{detail}");
        let detail = rejection(json!({"created_at": "x", "email": "a@x", "name": "A"}));
        assert!(detail.contains("unknown field `created_at`"), "{detail}");
    }

    #[test]
    fn missing_fields_named() {
        let detail = rejection(json!({"name": "A"}));
        assert!(detail.contains("missing field `email`"), "{detail}");
        let detail = rejection(json!({"email": "a@x"}));
        assert!(detail.contains("missing field `name`"), "{detail}");
    }

    #[test]
    fn wrong_type_names_field() {
        let detail = rejection(json!({"email": 5, "name": "A"}));
        assert!(detail.starts_with("invalid field `email`"), "{detail}");
        let detail = rejection(json!({"email": "a@x", "name": "A", "phone": 12}));
        assert!(detail.starts_with("invalid field `phone`"), "{detail}");
    }

    #[test]
    fn implausible_emails_rejected() {
        for bad in [
            "", "plain", "@x", "a@", "a@b@c", "a b@x", "a@x\n", "\u{7}a@x",
        ] {
            let detail = rejection(json!({"email": bad, "name": "A"}));
            assert!(detail.contains("field `email`"), "{bad:?}: {detail}");
        }
    }

    #[test]
    fn email_length_limit() {
        let at_limit = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 12));
        assert_eq!(at_limit.len(), MAX_EMAIL_BYTES);
        assert!(parse(json!({"email": at_limit, "name": "A"})).is_ok());
        let over = format!("a{at_limit}");
        let detail = rejection(json!({"email": over, "name": "A"}));
        assert!(detail.contains("255 bytes"), "{detail}");
    }

    #[test]
    fn name_rules() {
        assert!(
            rejection(json!({"email": "a@x", "name": ""})).contains("`name` must not be empty")
        );
        assert!(rejection(json!({"email": "a@x", "name": "   "})).contains("`name`"));
        assert!(parse(json!({"email": "a@x", "name": "é".repeat(200)})).is_ok());
        let detail = rejection(json!({"email": "a@x", "name": "é".repeat(201)}));
        assert!(detail.contains("201 characters"), "{detail}");
    }

    #[test]
    fn phone_length_limit() {
        assert!(parse(json!({"email": "a@x", "name": "A", "phone": "1".repeat(50)})).is_ok());
        let detail = rejection(json!({"email": "a@x", "name": "A", "phone": "1".repeat(51)}));
        assert!(detail.contains("`phone`"), "{detail}");
    }

    #[test]
    fn nul_characters_rejected() {
        let name = rejection(json!({"email": "a@x.org", "name": "A\u{0}B"}));
        assert!(name.contains("field `name`"), "{name}");

        let phone = rejection(json!({"email": "a@x.org", "name": "A", "phone": "1\u{0}"}));
        assert!(phone.contains("field `phone`"), "{phone}");

        let nested = rejection(json!({"email": "a@x.org", "name": "A", "attributes": {"k": ["\u{0}"]}}));
        assert!(nested.contains("field `attributes`"), "{nested}");

        let key = rejection(json!({"email": "a@x.org", "name": "A", "attributes": {"k\u{0}": 1}}));
        assert!(key.contains("field `attributes`"), "{key}");
    }

    #[test]
    fn attributes_must_be_object() {
        for (bad, kind) in [
            (json!([1]), "an array"),
            (json!("x"), "a string"),
            (Json::Null, "null"),
        ] {
            let detail = rejection(json!({"email": "a@x", "name": "A", "attributes": bad}));
            assert!(
                detail.contains("`attributes` must be a JSON object"),
                "{detail}"
            );
            assert!(detail.contains(kind), "{detail}");
        }
    }

    #[test]
    fn body_must_be_object() {
        let detail = rejection(json!([{"email": "a@x"}]));
        assert!(detail.contains("got an array"), "{detail}");
    }

    #[test]
    fn invalid_json_and_utf8_rejected() {
        for body in [
            &b""[..],
            b"{",
            b"{\"email\": \"\xff\xfe\"}",
            b"\xc3\x28",
            b"nul",
        ] {
            let problem = parse_client_input(body).unwrap_err();
            assert_eq!(problem.status, 400);
            assert!(
                problem.detail.starts_with("request body is not valid JSON"),
                "{}",
                problem.detail
            );
        }
    }
}
