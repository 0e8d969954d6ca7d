//! Email address normalisation and a conservative shape check.

use crate::validation::FieldIssue;

/// Lower-cases and trims `raw`, then checks it looks like a deliverable address.
pub fn normalize_email(raw: &str) -> Result<String, FieldIssue> {
    let email = raw.trim().to_ascii_lowercase();
    let bad = || FieldIssue::new("email", "must be a valid email address");
    if email.len() < 3 || email.len() > 254 {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_{|}~-".contains(c));
    let domain_ok = domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
    }

    #[test]
    fn refuses_malformed_and_injected_addresses() {
        for raw in [
            "",
            "no-at-sign",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example.com\r\nBcc: x@evil.test",
            "<a@example.com>",
            ".a@example.com",
            "a@-example.com",
        ] {
            assert!(normalize_email(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
