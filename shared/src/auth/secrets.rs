//! Random identifiers and opaque tokens, and the hashes they are stored under.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new refresh token: `rt_` and 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("rt_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random identifier (UUID v4).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Hex SHA-256 of `value` under a domain label, for storing high-entropy
/// tokens and identifiers without keeping the value itself.
pub fn digest(label: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update([0u8]);
    hasher.update(value.as_bytes());
    hex::encode(hasher.finalize())
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_256_random_bits() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        let raw = URL_SAFE_NO_PAD.decode(a.trim_start_matches("rt_")).unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn digests_depend_on_label_and_value() {
        assert_ne!(digest("a", "x"), digest("b", "x"));
        assert_eq!(digest("a", "x"), digest("a", "x"));
        assert_eq!(digest("a", "x").len(), 64);
    }
}
