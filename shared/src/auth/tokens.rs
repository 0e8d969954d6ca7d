//! Access tokens: HS256 JWTs with pinned algorithm, type, issuer, audience and leeway.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::AuthError;
use super::model::Role;

/// Access token lifetime.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 30;
/// JOSE `typ` of access tokens (RFC 9068), so no other JWT passes as one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Session (refresh-token family) id.
    pub sid: String,
    /// Device id the token is bound to.
    pub did: String,
    pub role: Role,
    /// Authentication methods: `pwd`, and `otp` after a TOTP check.
    pub amr: Vec<String>,
    /// Sign-in IP, present on admin tokens, which are pinned to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// What a new access token says about its holder.
#[derive(Debug, Clone)]
pub struct TokenSubject<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub device_id: &'a str,
    pub role: Role,
    pub amr: &'a [String],
    pub ip: Option<&'a str>,
}

/// Signs and verifies access tokens.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    /// `secret` must already be validated as strong (see `config::secret`).
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked against the injected clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// A signed token for `subject`, valid for 15 minutes from `now`.
    pub fn issue(&self, subject: &TokenSubject<'_>, now: i64) -> String {
        let claims = AccessClaims {
            sub: subject.user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ACCESS_TTL_SECONDS,
            iat: now,
            nbf: now,
            jti: super::secrets::new_id(),
            sid: subject.session_id.to_string(),
            did: subject.device_id.to_string(),
            role: subject.role,
            amr: subject.amr.to_vec(),
            ip: subject.ip.map(str::to_string),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_string());
        encode(&header, &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// The claims of a genuine, current access token; anything else is `Unauthenticated`.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, AuthError> {
        if token.len() > 4096 {
            return Err(AuthError::Unauthenticated);
        }
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthError::Unauthenticated)?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || data.header.jwk.is_some()
            || data.header.jku.is_some()
            || data.header.x5u.is_some()
        {
            return Err(AuthError::Unauthenticated);
        }
        let claims = data.claims;
        let current = claims.exp + LEEWAY_SECONDS > now
            && claims.nbf - LEEWAY_SECONDS <= now
            && claims.iat - LEEWAY_SECONDS <= now
            && claims.exp - claims.iat <= ACCESS_TTL_SECONDS;
        if !current {
            return Err(AuthError::Unauthenticated);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const SECRET: &[u8] = b"test-only-signing-key-0123456789abcdef";

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(SECRET, "https://auth.test", "app")
    }

    fn token_at(now: i64) -> String {
        let amr = vec!["pwd".to_string()];
        issuer().issue(
            &TokenSubject {
                user_id: "u1",
                session_id: "s1",
                device_id: "d1",
                role: Role::User,
                amr: &amr,
                ip: None,
            },
            now,
        )
    }

    fn forge(header: &str, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature
        )
    }

    fn claims_of(token: &str) -> serde_json::Value {
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_fresh_token_verifies_with_all_claims() {
        let claims = issuer().verify(&token_at(1_000), 1_000).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.sid, "s1");
        assert_eq!(claims.did, "d1");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.amr, vec!["pwd"]);
    }

    #[test]
    fn expiry_and_not_before_hold_with_leeway() {
        let token = token_at(1_000);
        assert!(issuer().verify(&token, 1_000 + 900 + 29).is_ok());
        assert!(issuer().verify(&token, 1_000 + 900 + 30).is_err());
        assert!(issuer().verify(&token, 1_000 - 31).is_err());
    }

    #[test]
    fn alg_none_and_empty_signature_are_refused() {
        let claims = claims_of(&token_at(1_000));
        let none = forge(r#"{"alg":"none","typ":"at+jwt"}"#, &claims, "");
        assert_eq!(
            issuer().verify(&none, 1_000),
            Err(AuthError::Unauthenticated)
        );
        let token = token_at(1_000);
        let stripped = token.rsplit_once('.').unwrap().0.to_string() + ".";
        assert!(issuer().verify(&stripped, 1_000).is_err());
    }

    #[test]
    fn other_keys_issuers_audiences_and_types_are_refused() {
        let token = token_at(1_000);
        let other_key = TokenIssuer::new(
            b"another-test-key-abcdefghijklmnop0123",
            "https://auth.test",
            "app",
        );
        assert!(other_key.verify(&token, 1_000).is_err());
        let other_iss = TokenIssuer::new(SECRET, "https://evil.test", "app");
        assert!(other_iss.verify(&token, 1_000).is_err());
        let other_aud = TokenIssuer::new(SECRET, "https://auth.test", "other");
        assert!(other_aud.verify(&token, 1_000).is_err());

        let claims: AccessClaims = serde_json::from_value(claims_of(&token)).unwrap();
        let plain_jwt = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(
            issuer().verify(&plain_jwt, 1_000).is_err(),
            "typ must be at+jwt"
        );
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let token = token_at(1_000);
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims = claims_of(&token);
        claims["role"] = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(issuer().verify(&parts.join("."), 1_000).is_err());
    }
}
