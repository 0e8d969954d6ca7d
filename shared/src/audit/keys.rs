//! The audit MAC keys: HMAC-SHA256 keys by key id, one of them signing new
//! entries, the others kept so older entries still verify (rotation). Only
//! the audit writers and the verifier hold them, so someone with write
//! access to the table but no key cannot rewrite an entry and re-chain it.
//! With them, the last sequence number an unkeyed legacy entry may hold
//! (`AUDIT_LEGACY_MAX_SEQ`): anyone can compute a legacy hash, so past that
//! cutoff a chain rewritten in the legacy format does not verify.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{parsed_or, required, ConfigError, Env};

/// Shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The audit MAC keys, the id of the one that signs new entries, and the
/// last sequence number a legacy (unkeyed) entry may hold.
#[derive(Clone)]
pub struct AuditKeys {
    signing: String,
    keys: BTreeMap<String, Vec<u8>>,
    legacy_max_seq: u64,
}

impl fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKeys")
            .field("signing", &self.signing)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("legacy_max_seq", &self.legacy_max_seq)
            .finish()
    }
}

/// Whether `kid` is a usable key id: 1 to 64 of `[A-Za-z0-9._-]`.
fn valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl AuditKeys {
    /// Builds the set from `(kid, key)` pairs; `signing` must name one of
    /// them, every kid must be valid and every key at least 32 bytes. No
    /// legacy entry is accepted ([`Self::with_legacy_max_seq`]).
    pub fn new(signing: &str, keys: Vec<(String, Vec<u8>)>) -> Option<Self> {
        let mut set = BTreeMap::new();
        for (kid, key) in keys {
            if !valid_kid(&kid) || key.len() < MIN_KEY_BYTES {
                return None;
            }
            set.insert(kid, key);
        }
        set.contains_key(signing).then(|| Self {
            signing: signing.to_string(),
            keys: set,
            legacy_max_seq: 0,
        })
    }

    /// Accepts legacy (unkeyed) entries up to sequence number `seq`, the
    /// last one written before the keys existed; 0 accepts none.
    pub fn with_legacy_max_seq(mut self, seq: u64) -> Self {
        self.legacy_max_seq = seq;
        self
    }

    /// Reads `AUDIT_HMAC_KEYS` (a JSON object, kid → base64 key of at least
    /// 32 bytes), `AUDIT_HMAC_KID` (the kid that signs new entries) and
    /// `AUDIT_LEGACY_MAX_SEQ` (the last sequence number of the legacy prefix
    /// of an upgraded chain; unset or 0: no legacy entry is accepted).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let weak = |reason: &str| ConfigError::Weak {
            var: "AUDIT_HMAC_KEYS".into(),
            reason: reason.into(),
        };
        let encoded: BTreeMap<String, String> =
            serde_json::from_str(&required(env, "AUDIT_HMAC_KEYS")?)
                .map_err(|_| weak("must be a JSON object of kid to base64 key"))?;
        let mut keys = Vec::new();
        for (kid, key) in encoded {
            if !valid_kid(&kid) {
                return Err(weak("key ids are 1 to 64 of A-Z a-z 0-9 . _ -"));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .ok()
                .filter(|b| b.len() >= MIN_KEY_BYTES)
                .ok_or_else(|| weak("each key is at least 32 random bytes, base64"))?;
            keys.push((kid, bytes));
        }
        let signing = required(env, "AUDIT_HMAC_KID")?;
        let legacy_max_seq =
            parsed_or::<u64>(env, "AUDIT_LEGACY_MAX_SEQ", 0).map_err(|_| ConfigError::Invalid {
                var: "AUDIT_LEGACY_MAX_SEQ".into(),
                reason: "must be a whole number from 0 (the last seq of the legacy entries)".into(),
            })?;
        let keys = Self::new(&signing, keys).ok_or_else(|| ConfigError::Invalid {
            var: "AUDIT_HMAC_KID".into(),
            reason: "names no key in AUDIT_HMAC_KEYS".into(),
        })?;
        Ok(keys.with_legacy_max_seq(legacy_max_seq))
    }

    /// The kid new entries are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signing
    }

    /// The last sequence number a legacy (unkeyed) entry may hold.
    pub fn legacy_max_seq(&self) -> u64 {
        self.legacy_max_seq
    }

    /// Whether `kid` names one of the keys.
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// HMAC-SHA256 (hex) of `message` under key `kid`; `None` for an unknown kid.
    pub fn mac(&self, kid: &str, message: &[u8]) -> Option<String> {
        let key = self.keys.get(kid)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(message);
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `tag` (hex) is the MAC of `message` under `kid`, compared in
    /// constant time; false for an unknown kid or a malformed tag.
    pub fn verifies(&self, kid: &str, message: &[u8], tag: &str) -> bool {
        let (Some(key), Ok(tag)) = (self.keys.get(kid), hex::decode(tag)) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{chain_after, legacy_hash, verify_chain, AuditDraft, AuditEntry};
    use std::collections::HashMap;

    fn env(pairs: &[(&str, String)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn key() -> String {
        STANDARD.encode(crate::auth::secrets::random_bytes::<32>())
    }

    #[test]
    fn keys_are_read_from_the_environment() {
        let keys = AuditKeys::from_env(&env(&[
            (
                "AUDIT_HMAC_KEYS",
                format!(r#"{{"a1":"{}","a2":"{}"}}"#, key(), key()),
            ),
            ("AUDIT_HMAC_KID", "a2".into()),
        ]))
        .unwrap();
        assert_eq!(keys.signing_kid(), "a2");
        let tag = keys.mac("a1", b"m").unwrap();
        assert!(keys.verifies("a1", b"m", &tag));
        assert!(!keys.verifies("a2", b"m", &tag));
        assert!(!keys.verifies("a3", b"m", &tag));
        assert!(!format!("{keys:?}").contains(&tag));
    }

    /// `legacy` entries without a kid, hashed in plain SHA-256, then
    /// `keyed` entries MACed under `keys`.
    fn legacy_then_keyed(keys: &AuditKeys, legacy: u32, keyed: u32) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for i in 0..legacy + keyed {
            let draft = AuditDraft {
                actor: "admin-1".into(),
                ip: None,
                action: "flag.update".into(),
                target: format!("flag:f{i}"),
                before: None,
                after: None,
            };
            let mut entry = chain_after(keys, entries.last(), draft, 1_000 + i64::from(i));
            if i < legacy {
                entry.kid = None;
                entry.hash = legacy_hash(&entry);
            }
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn legacy_entries_are_accepted_only_up_to_the_configured_seq() {
        let with_cutoff = |cutoff: Option<&str>| {
            let mut vars = vec![
                ("AUDIT_HMAC_KEYS", format!(r#"{{"a1":"{}"}}"#, key())),
                ("AUDIT_HMAC_KID", "a1".to_string()),
            ];
            if let Some(cutoff) = cutoff {
                vars.push(("AUDIT_LEGACY_MAX_SEQ", cutoff.to_string()));
            }
            AuditKeys::from_env(&env(&vars))
        };

        // A new stack: no legacy entry at all.
        let keys = with_cutoff(None).unwrap();
        let report = verify_chain(&keys, &legacy_then_keyed(&keys, 1, 2));
        assert_eq!(
            (report.intact, report.first_broken_seq, report.reason),
            (false, Some(1), Some("legacy-after-cutoff"))
        );
        assert!(verify_chain(&keys, &legacy_then_keyed(&keys, 0, 3)).intact);

        // An upgraded stack whose last legacy entry was seq 3.
        let keys = with_cutoff(Some("3")).unwrap();
        let report = verify_chain(&keys, &legacy_then_keyed(&keys, 3, 2));
        assert!(report.intact, "{report:?}");
        let report = verify_chain(&keys, &legacy_then_keyed(&keys, 5, 0));
        assert_eq!(
            (report.intact, report.first_broken_seq, report.reason),
            (false, Some(4), Some("legacy-after-cutoff"))
        );

        for bad in ["-1", "three", "3.5", "18446744073709551616"] {
            let err = with_cutoff(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("AUDIT_LEGACY_MAX_SEQ"), "{err}");
        }
    }

    #[test]
    fn short_keys_bad_kids_and_an_unknown_signing_kid_are_refused() {
        let short = STANDARD.encode([7u8; 16]);
        for (keys, kid) in [
            (format!(r#"{{"a1":"{short}"}}"#), "a1"),
            (format!(r#"{{"a 1":"{}"}}"#, key()), "a 1"),
            (format!(r#"{{"a1":"{}"}}"#, key()), "a2"),
            ("a1:abc".to_string(), "a1"),
        ] {
            let err = AuditKeys::from_env(&env(&[
                ("AUDIT_HMAC_KEYS", keys),
                ("AUDIT_HMAC_KID", kid.into()),
            ]))
            .unwrap_err();
            assert!(!err.to_string().contains(&short), "{err}");
        }
    }
}
