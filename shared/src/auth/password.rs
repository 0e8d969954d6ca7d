//! Password policy and argon2id hashing (OWASP parameters: m=19 MiB, t=2, p=1).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::validation::FieldIssue;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have (at least 64 must be allowed).
pub const MAX_PASSWORD_CHARS: usize = 128;

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A hash of a random, discarded password with the same parameters, verified
/// against when the account does not exist so both failures cost the same.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$7BgxOKbk+4QRXiP2vEd4Kw$TuB3VxQSu0Y2xsoIyx7E81TnTGAsBDzpwV4xXcz/8eA";

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Hashes and verifies passwords.
pub struct PasswordHasher {
    argon: Argon2<'static>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    pub fn new() -> Self {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .expect("argon2 parameters are valid constants");
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        }
    }

    /// A PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing with valid parameters cannot fail")
            .to_string()
    }

    /// Whether `password` matches `phc`. With no stored hash it still runs a
    /// full verification against a dummy, and answers false.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let (target, real) = match phc {
            Some(p) => (p, true),
            None => (DUMMY_PHC, false),
        };
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let matched = self
            .argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matched && real
    }
}

/// Checks a new password: length bounds, not a common password, not the email.
pub fn check_password_policy(password: &str, email: &str) -> Result<(), FieldIssue> {
    let chars = password.chars().count();
    let issue = |text: &str| Err(FieldIssue::new("password", text));
    if chars < MIN_PASSWORD_CHARS {
        return issue("must have at least 8 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return issue("must have at most 128 characters");
    }
    let lower = password.to_lowercase();
    // "Password1!" and "Summer2026!" are sprayed as often as their base word.
    let core = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if COMMON_PASSWORDS
        .lines()
        .any(|common| common == lower || (!core.is_empty() && common == core))
    {
        return issue("is too common; choose another");
    }
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || (local.len() >= 4 && lower.contains(local)) {
        return issue("must not contain the email address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_with_owasp_parameters_and_random_salt() {
        let hasher = PasswordHasher::new();
        let a = hasher.hash("correct horse battery");
        let b = hasher.hash("correct horse battery");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts must differ");
        assert!(hasher.verify("correct horse battery", Some(&a)));
        assert!(!hasher.verify("correct horse batterY", Some(&a)));
    }

    #[test]
    fn dummy_hash_uses_the_same_parameters_and_never_matches() {
        assert!(DUMMY_PHC.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!PasswordHasher::new().verify("anything at all", None));
    }

    #[test]
    fn policy_bounds_length_and_refuses_common_and_email_passwords() {
        let email = "alice@example.com";
        assert!(check_password_policy("short1!", email).is_err());
        assert!(check_password_policy(&"x".repeat(129), email).is_err());
        assert!(
            check_password_policy(&"Ab1!".repeat(16), email).is_ok(),
            "64 chars allowed"
        );
        assert!(check_password_policy("Password123", email).is_err());
        assert!(check_password_policy("qwertyuiop", email).is_err());
        assert!(check_password_policy("alice-2024-spring", email).is_err());
        assert!(check_password_policy("violet tangerine 42", email).is_ok());
    }

    #[test]
    fn a_common_word_with_digits_and_symbols_appended_is_still_common() {
        let email = "bob@example.com";
        for sprayed in [
            "Password1!",
            "Summer2026!",
            "Welcome123!",
            "QWERTY2024",
            "Letmein!!",
        ] {
            assert!(check_password_policy(sprayed, email).is_err(), "{sprayed}");
        }
        for fine in ["Dragonfly2026!", "summer in lisbon 7", "12345678 tangerine"] {
            assert!(check_password_policy(fine, email).is_ok(), "{fine}");
        }
    }
}
