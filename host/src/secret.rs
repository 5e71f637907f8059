//! A string that contains a credential.

use std::fmt;

/// A credential such as an access token or a password.
///
/// `Debug` and `Display` print `[redacted]`, so a `Secret` can sit inside structs that
/// derive `Debug` and inside error types without leaking. Read the value only where it
/// is handed to the database or compared.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the credential itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_and_display_hide_value() {
        let secret = Secret::new("eyJ0eXAiOiJKV1QiLCJhbGciOi");

        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose(), "eyJ0eXAiOiJKV1QiLCJhbGciOi");
    }
}
