//! Random tokens shaped like Entra ID access tokens.
//!
//! Real tokens are signed JWTs of 1 to 7 KB. These have the same shape (three base64url
//! parts separated by dots, a JSON header and payload) and are 1 to 2 KB long, so code
//! that handles tokens gets realistic sizes and characters. Nothing verifies the
//! signature, which is random bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

/// Random bytes in the `xms_pad` claim, chosen so tokens land between 1 and 2 KB.
const PADDING_BYTES: usize = 600;

/// Bytes of the fake RS256 signature.
const SIGNATURE_BYTES: usize = 256;

/// Builds a token for `audience` that expires at `expires_on` (Unix seconds).
pub fn random_token(audience: &str, subject: &str, issued_at: u64, expires_on: u64) -> String {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": "keyless-emulator" });
    let payload = json!({
        "aud": audience,
        "iss": "https://sts.windows.net/keyless-emulator/",
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires_on,
        "oid": subject,
        "sub": subject,
        "xms_pad": URL_SAFE_NO_PAD.encode(random_bytes(PADDING_BYTES)),
    });

    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(random_bytes(SIGNATURE_BYTES))
    )
}

fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(count + 32);
    while bytes.len() < count {
        bytes.extend_from_slice(&rand::random::<[u8; 32]>());
    }
    bytes.truncate(count);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_jwt_shaped_and_sized() {
        let token = random_token(
            "https://ossrdbms-aad.database.windows.net",
            "oid-1",
            1_800_000_000,
            1_800_003_600,
        );

        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            (1024..=2048).contains(&token.len()),
            "length {}",
            token.len()
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["exp"], 1_800_003_600);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token("a", "s", 1, 2), random_token("a", "s", 1, 2));
    }
}
