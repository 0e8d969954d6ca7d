//! Field-level encryption of PII with AES-256-GCM under a key id, so keys
//! rotate: new values use the active key, old values stay readable with
//! theirs. Format: `v1.<key id>.<base64url(nonce || ciphertext || tag)>`, with
//! the key id and the field name bound as associated data.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::config::{required, ConfigError, Env};

/// Why a value could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("encrypted value is malformed")]
    Malformed,
    #[error("no key with that id")]
    UnknownKey,
    #[error("the value does not authenticate")]
    Tampered,
}

/// The PII keys: one active for new values, others kept to read old ones.
pub struct PiiKeys {
    active: String,
    keys: Vec<(String, LessSafeKey)>,
    /// HMAC key of keyed digests, derived from the active key.
    digest_key: [u8; 32],
}

/// A key for another use derived from `key` (HMAC-SHA256 of `purpose`), so
/// the encryption key itself is used for one thing only.
fn derived_key(key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

impl PiiKeys {
    /// Builds the key set from `(id, 32-byte key)` pairs.
    pub fn new(active: &str, keys: Vec<(String, [u8; 32])>) -> Option<Self> {
        let digest_key = keys
            .iter()
            .find(|(id, _)| id == active)
            .map(|(_, bytes)| derived_key(bytes, b"keyed-digest"))?;
        let keys: Vec<(String, LessSafeKey)> = keys
            .into_iter()
            .map(|(id, bytes)| {
                let key = UnboundKey::new(&AES_256_GCM, &bytes).ok()?;
                Some((id, LessSafeKey::new(key)))
            })
            .collect::<Option<_>>()?;
        keys.iter().any(|(id, _)| id == active).then(|| Self {
            digest_key,
            active: active.to_string(),
            keys,
        })
    }

    /// Reads `PII_KEYS` (`id:base64 32-byte key,...`) and `PII_ACTIVE_KEY_ID`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let weak = |reason: &str| ConfigError::Weak {
            var: "PII_KEYS".into(),
            reason: reason.into(),
        };
        let mut keys = Vec::new();
        for entry in required(env, "PII_KEYS")?
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| weak("entries are id:base64key"))?;
            if id.is_empty() || id.contains('.') {
                return Err(weak("key ids are non-empty and have no '.'"));
            }
            let bytes: [u8; 32] = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| weak("each key is 32 random bytes, base64"))?;
            keys.push((id.to_string(), bytes));
        }
        let active = required(env, "PII_ACTIVE_KEY_ID")?;
        Self::new(&active, keys).ok_or_else(|| ConfigError::Invalid {
            var: "PII_ACTIVE_KEY_ID".into(),
            reason: "names no key in PII_KEYS".into(),
        })
    }

    fn key(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys
            .iter()
            .find(|(kid, _)| kid == id)
            .map(|(_, key)| key)
    }

    /// Encrypts `plaintext` for `field` with the active key and a random nonce.
    pub fn encrypt(&self, field: &str, plaintext: &str) -> String {
        let key = self
            .key(&self.active)
            .expect("the active key exists by construction");
        let nonce_bytes = crate::auth::secrets::random_bytes::<NONCE_LEN>();
        let mut buffer = plaintext.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(format!("{}.{field}", self.active).as_bytes()),
            &mut buffer,
        )
        .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buffer);
        format!("v1.{}.{}", self.active, URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts a value made by `encrypt` for the same `field`.
    pub fn decrypt(&self, field: &str, value: &str) -> Result<String, PiiError> {
        let mut parts = value.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(PiiError::Malformed);
        };
        let key = self.key(kid).ok_or(PiiError::UnknownKey)?;
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| PiiError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(PiiError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| PiiError::Malformed)?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .open_in_place(
                nonce,
                Aad::from(format!("{kid}.{field}").as_bytes()),
                &mut buffer,
            )
            .map_err(|_| PiiError::Tampered)?;
        String::from_utf8(plain.to_vec()).map_err(|_| PiiError::Malformed)
    }

    /// A keyed digest (HMAC-SHA256, hex) of `value` under `label`: the same
    /// value gives the same digest while the active key stands, and nobody
    /// without the key can compute or reverse it.
    pub fn keyed_digest(&self, label: &str, value: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.digest_key)
            .expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The id new values are encrypted under.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(active: &str) -> PiiKeys {
        PiiKeys::new(
            active,
            vec![("k1".into(), [1u8; 32]), ("k2".into(), [2u8; 32])],
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_hides_the_value() {
        let k = keys("k1");
        let sealed = k.encrypt("document_number", "X1234567");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("X1234567"));
        assert_ne!(
            sealed,
            k.encrypt("document_number", "X1234567"),
            "random nonce"
        );
        assert_eq!(k.decrypt("document_number", &sealed).unwrap(), "X1234567");
    }

    #[test]
    fn rotation_reads_old_values_and_writes_with_the_new_key() {
        let old = keys("k1").encrypt("date_of_birth", "2000-02-29");
        let rotated = keys("k2");
        assert_eq!(
            rotated.decrypt("date_of_birth", &old).unwrap(),
            "2000-02-29"
        );
        assert!(rotated
            .encrypt("date_of_birth", "2000-02-29")
            .starts_with("v1.k2."));
        let retired = PiiKeys::new("k2", vec![("k2".into(), [2u8; 32])]).unwrap();
        assert_eq!(
            retired.decrypt("date_of_birth", &old),
            Err(PiiError::UnknownKey)
        );
    }

    #[test]
    fn tampering_another_field_or_a_swapped_key_id_is_refused() {
        let k = keys("k1");
        let sealed = k.encrypt("document_number", "X1234567");
        assert_eq!(
            k.decrypt("date_of_birth", &sealed),
            Err(PiiError::Tampered),
            "bound to its field"
        );
        let swapped = sealed.replacen("v1.k1.", "v1.k2.", 1);
        assert_eq!(
            k.decrypt("document_number", &swapped),
            Err(PiiError::Tampered)
        );
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            k.decrypt("document_number", &String::from_utf8(bytes).unwrap()),
            Err(PiiError::Tampered)
        );
        assert_eq!(
            k.decrypt("document_number", "v1.k1.short"),
            Err(PiiError::Malformed)
        );
        assert_eq!(
            k.decrypt("document_number", "plain text"),
            Err(PiiError::Malformed)
        );
    }

    #[test]
    fn configuration_names_the_variable() {
        use std::collections::HashMap;
        let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let good = STANDARD.encode([7u8; 32]);
        assert!(PiiKeys::from_env(&env(&[
            ("PII_KEYS", &format!("a:{good}")),
            ("PII_ACTIVE_KEY_ID", "a")
        ]))
        .is_ok());
        let short = PiiKeys::from_env(&env(&[
            ("PII_KEYS", "a:c2hvcnQ="),
            ("PII_ACTIVE_KEY_ID", "a"),
        ]));
        assert!(matches!(short, Err(ConfigError::Weak { var, .. }) if var == "PII_KEYS"));
        let missing = PiiKeys::from_env(&env(&[
            ("PII_KEYS", &format!("a:{good}")),
            ("PII_ACTIVE_KEY_ID", "b"),
        ]));
        assert!(
            matches!(missing, Err(ConfigError::Invalid { var, .. }) if var == "PII_ACTIVE_KEY_ID")
        );
    }
}
