//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s, window ±1), reporting the matched
//! time step so a step can be refused the second time.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;

/// A new 160-bit secret, base32 without padding.
pub fn new_secret() -> String {
    Secret::Raw(super::secrets::random_bytes::<20>().to_vec())
        .to_encoded()
        .to_string()
}

fn totp(secret_b32: &str, account: &str, issuer: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        bytes,
        Some(issuer.to_string()),
        account.to_string(),
    )
    .ok()
}

/// The `otpauth://` URI an authenticator app imports.
pub fn provisioning_uri(secret_b32: &str, account: &str, issuer: &str) -> Option<String> {
    totp(secret_b32, account, issuer).map(|t| t.get_url())
}

/// The time step `code` is valid for at `now` (±1 step), if any.
pub fn matching_step(secret_b32: &str, code: &str, now: i64) -> Option<u64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) || now < 0 {
        return None;
    }
    let totp = totp(secret_b32, "account", "issuer")?;
    let current = now as u64 / STEP_SECONDS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The code for `now`; used by tests and the local walk-through helper.
pub fn code_at(secret_b32: &str, now: i64) -> Option<String> {
    totp(secret_b32, "account", "issuer").map(|t| t.generate(now.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to 6 digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(&secret, 1_234_567_890).unwrap(), "005924");
        assert_eq!(code_at(&secret, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn window_is_one_step_either_side() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now).unwrap();
        let step = (now / 30) as u64;
        assert_eq!(matching_step(&secret, &code, now), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(step));
        assert_eq!(matching_step(&secret, &code, now - 30), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 60), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn provisioning_uri_names_the_account() {
        let uri = provisioning_uri(&new_secret(), "admin@example.com", "Wallet").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Wallet:admin%40example.com?"),
            "{uri}"
        );
    }
}
