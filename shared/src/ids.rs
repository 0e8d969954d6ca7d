//! Identifiers that travel through every area, each its own type so one
//! cannot be passed for another: a user, a device, a session and an
//! idempotency key. Each reads as its text (`Deref<Target = str>`); the ones
//! a client sends are parsed, and refused with a field issue, at the edge.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::validation::FieldIssue;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The text as the id, for ids the system issued itself (a new
            /// id, a verified token's claim, a stored record).
            pub fn issued(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_id!(
    /// A user's id (a token's `sub`).
    UserId
);
text_id!(
    /// A client device's id as the client sends it in `X-Device-Id`; tokens
    /// are bound to it (a token's `did`).
    DeviceId
);
text_id!(
    /// A session (refresh-token family) id (a token's `sid`).
    SessionId
);
text_id!(
    /// The `Idempotency-Key` a client sends with a request that moves money.
    IdempotencyKey
);

impl DeviceId {
    /// `X-Device-Id`: 8 to 128 characters of `[A-Za-z0-9._:-]`.
    pub fn parse(text: Option<&str>) -> Result<Self, FieldIssue> {
        let text = text.unwrap_or("");
        let valid = (8..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if valid {
            Ok(Self(text.to_string()))
        } else {
            Err(FieldIssue::new(
                "X-Device-Id",
                "header is required: 8 to 128 letters, digits, '.', '_', ':' or '-'",
            ))
        }
    }
}

impl IdempotencyKey {
    /// `Idempotency-Key`: 1 to 255 visible ASCII characters, required.
    pub fn parse(text: Option<&str>) -> Result<Self, FieldIssue> {
        let issue = |text: &str| FieldIssue::new("Idempotency-Key", text);
        let key = text.ok_or_else(|| issue("header is required"))?;
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(issue("1 to 255 visible ASCII characters"));
        }
        Ok(Self(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_8_to_128_safe_characters() {
        assert!(DeviceId::parse(Some("laptop-0001")).is_ok());
        assert!(DeviceId::parse(Some(&"a".repeat(128))).is_ok());
        for bad in [
            "short",
            "has space 0001",
            "semi;colon-01",
            &"a".repeat(129),
            "",
        ] {
            let issue = DeviceId::parse(Some(bad)).unwrap_err();
            assert_eq!(issue.field, "X-Device-Id", "{bad}");
        }
        assert!(DeviceId::parse(None).is_err());
    }

    #[test]
    fn idempotency_keys_are_1_to_255_visible_ascii_characters() {
        assert_eq!(
            IdempotencyKey::parse(Some("key-1")).unwrap().as_str(),
            "key-1"
        );
        assert!(IdempotencyKey::parse(Some(&"k".repeat(255))).is_ok());
        for bad in ["", "with space", "tab\there", "é", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            IdempotencyKey::parse(None).unwrap_err().issue,
            "header is required"
        );
    }

    #[test]
    fn ids_serialise_as_their_text_and_read_as_it() {
        let user = UserId::issued("u-1");
        assert_eq!(serde_json::to_string(&user).unwrap(), "\"u-1\"");
        let back: UserId = serde_json::from_str("\"u-1\"").unwrap();
        assert_eq!(back, user);
        assert_eq!(user.len(), 3, "reads as str");
        assert_eq!(user, "u-1");
    }
}
