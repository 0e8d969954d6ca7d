//! Access tokens: EdDSA (Ed25519) JWTs with a key id. Only the login function
//! holds a private key ([`TokenSigner`]); every function verifies with the
//! published public keys ([`TokenVerifier`]), several at once during rotation.
//! Verification pins the algorithm, type, key id, issuer, audience and leeway.

use std::collections::HashMap;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header};
use jsonwebtoken::{TokenData, Validation};
use serde::{Deserialize, Serialize};

use super::error::AuthError;
use super::model::Role;
use crate::ids::{DeviceId, SessionId, UserId};

/// Access token lifetime.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 30;
/// JOSE `typ` of access tokens (RFC 9068), so no other JWT passes as one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Longest key id accepted, in a key set or a token header.
const MAX_KID_LEN: usize = 64;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub sub: UserId,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Session (refresh-token family) id.
    pub sid: SessionId,
    /// Device id the token is bound to.
    pub did: DeviceId,
    pub role: Role,
    /// Authentication methods: `pwd`, and `otp` after a TOTP check.
    pub amr: Vec<String>,
    /// Sign-in IP, present on admin tokens, which are pinned to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// When a second factor was last proved for this token (a sign-in with
    /// one, or a step-up); refreshed tokens carry none, so step-up actions
    /// need a recent proof, not a recent refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
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

/// Why a key or key set was refused; never carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key id must be 1 to 64 letters, digits, '.', '_' or '-'")]
    BadKeyId,
    #[error("the signing key is not an Ed25519 private key in PKCS#8 PEM")]
    BadPrivateKey,
    #[error("the key set is not a JWKS of Ed25519 public keys: {0}")]
    BadKeySet(String),
    #[error("the key set has no key with id {0}")]
    UnknownKeyId(String),
    #[error("the key set's key {0} is not the signing key's public half")]
    KeyMismatch(String),
}

/// One Ed25519 public key in JWK form (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub kid: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl PublicJwk {
    fn ed25519(kid: &str, public_key: &[u8]) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: kid.into(),
            x: URL_SAFE_NO_PAD.encode(public_key),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }
}

/// A JWKS of verification keys, as published for the verifying functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeySet {
    pub keys: Vec<PublicJwk>,
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Signs access tokens with the active private key, naming it by `kid`.
pub struct TokenSigner {
    kid: String,
    encoding: EncodingKey,
    public_key: Vec<u8>,
    issuer: String,
    audience: String,
}

impl TokenSigner {
    /// A signer from an Ed25519 private key in PKCS#8 PEM (as written by
    /// `openssl genpkey -algorithm ed25519`) and its key id.
    pub fn from_pem(kid: &str, pem: &str, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        if !valid_kid(kid) {
            return Err(KeyError::BadKeyId);
        }
        let block = pem::parse(pem.trim()).map_err(|_| KeyError::BadPrivateKey)?;
        if block.tag() != "PRIVATE KEY" {
            return Err(KeyError::BadPrivateKey);
        }
        Self::from_pkcs8(kid, block.contents(), issuer, audience)
    }

    /// A signer from an Ed25519 private key in PKCS#8 DER.
    pub fn from_pkcs8(
        kid: &str,
        der: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, KeyError> {
        if !valid_kid(kid) {
            return Err(KeyError::BadKeyId);
        }
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(Self {
            kid: kid.to_string(),
            encoding: EncodingKey::from_ed_der(der),
            public_key: pair.public_key().as_ref().to_vec(),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }

    /// The id of the key tokens are signed with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half of the signing key, as a JWK to publish.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::ed25519(&self.kid, &self.public_key)
    }

    /// Refuses a key set that would not verify this signer's tokens: it must
    /// hold this key id with this key's public half.
    pub fn check_published_in(&self, keys: &PublicKeySet) -> Result<(), KeyError> {
        let published = keys
            .keys
            .iter()
            .find(|jwk| jwk.kid == self.kid)
            .ok_or_else(|| KeyError::UnknownKeyId(self.kid.clone()))?;
        if published.x != self.public_jwk().x {
            return Err(KeyError::KeyMismatch(self.kid.clone()));
        }
        Ok(())
    }

    /// A signed token for `subject`, valid for 15 minutes from `now`.
    pub fn issue(&self, subject: &TokenSubject<'_>, now: i64) -> String {
        self.issue_proved(subject, now, None)
    }

    /// [`TokenSigner::issue`], stating when a second factor was proved.
    pub fn issue_proved(
        &self,
        subject: &TokenSubject<'_>,
        now: i64,
        auth_time: Option<i64>,
    ) -> String {
        let claims = AccessClaims {
            sub: UserId::issued(subject.user_id),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ACCESS_TTL_SECONDS,
            iat: now,
            nbf: now,
            jti: super::secrets::new_id(),
            sid: SessionId::issued(subject.session_id),
            did: DeviceId::issued(subject.device_id),
            role: subject.role,
            amr: subject.amr.to_vec(),
            ip: subject.ip.map(str::to_string),
            auth_time,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_string());
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &self.encoding).expect("a parsed Ed25519 key signs")
    }
}

/// Verifies access tokens against a set of public keys, chosen by `kid`.
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for the keys of `jwks` (JSON), for tokens of `issuer` and `audience`.
    pub fn from_jwks(jwks: &str, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let set: PublicKeySet =
            serde_json::from_str(jwks).map_err(|e| KeyError::BadKeySet(e.to_string()))?;
        Self::new(&set, issuer, audience)
    }

    /// A verifier for the keys of `set`.
    pub fn new(set: &PublicKeySet, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        if set.keys.is_empty() {
            return Err(KeyError::BadKeySet("it holds no key".into()));
        }
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let bad = |why: &str| KeyError::BadKeySet(format!("key {}: {why}", jwk.kid));
            if !valid_kid(&jwk.kid) {
                return Err(KeyError::BadKeyId);
            }
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(bad("only OKP Ed25519 keys are accepted"));
            }
            if jwk.alg.as_deref().is_some_and(|alg| alg != "EdDSA")
                || jwk.key_use.as_deref().is_some_and(|u| u != "sig")
            {
                return Err(bad("must be an EdDSA signature key"));
            }
            let raw = URL_SAFE_NO_PAD
                .decode(&jwk.x)
                .map_err(|_| bad("x is not base64url"))?;
            let point: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| bad("x must be 32 bytes"))?;
            // A small-order point verifies forged signatures (R = identity,
            // S = 0) for any message; a point off the curve verifies nothing.
            let strong =
                ed25519_dalek::VerifyingKey::from_bytes(&point).is_ok_and(|key| !key.is_weak());
            if !strong {
                return Err(bad("x is not a valid Ed25519 public key"));
            }
            if keys
                .insert(jwk.kid.clone(), DecodingKey::from_ed_der(&raw))
                .is_some()
            {
                return Err(bad("the key id appears twice"));
            }
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked against the injected clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Self { keys, validation })
    }

    /// The claims of a genuine, current access token; anything else is `Unauthenticated`.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, AuthError> {
        if token.len() > 4096 {
            return Err(AuthError::Unauthenticated);
        }
        let header = decode_header(token).map_err(|_| AuthError::Unauthenticated)?;
        // Only `alg`, `typ` and `kid` are ever written; any other header
        // field (keys, certificates, critical extensions) is refused.
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.cty.is_some()
            || header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.x5t.is_some()
            || header.x5t_s256.is_some()
            || header.crit.is_some()
            || header.enc.is_some()
            || header.zip.is_some()
        {
            return Err(AuthError::Unauthenticated);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(AuthError::Unauthenticated)?;
        let data: TokenData<AccessClaims> =
            decode(token, key, &self.validation).map_err(|_| AuthError::Unauthenticated)?;
        let claims = data.claims;
        if !is_current(&claims, now) {
            return Err(AuthError::Unauthenticated);
        }
        Ok(claims)
    }
}

/// Whether a token's times describe a live access token at `now`: issued
/// no later than it becomes valid or expires, living exactly the access
/// lifetime, within the leeway. Checked arithmetic: extreme values from a
/// signed token are refused, never wrapped.
fn is_current(claims: &AccessClaims, now: i64) -> bool {
    let lifetime = claims.exp.checked_sub(claims.iat);
    let expires = claims.exp.checked_add(LEEWAY_SECONDS);
    let starts = claims.nbf.checked_sub(LEEWAY_SECONDS);
    let issued = claims.iat.checked_sub(LEEWAY_SECONDS);
    claims.iat >= 0
        && claims.nbf >= claims.iat
        && lifetime == Some(ACCESS_TTL_SECONDS)
        && expires.is_some_and(|t| t > now)
        && starts.is_some_and(|t| t <= now)
        && issued.is_some_and(|t| t <= now)
}

/// A new Ed25519 private key in PKCS#8 PEM, for key generation and tests.
pub fn generate_private_key_pem() -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let der = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system RNG works");
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://auth.test";
    const AUD: &str = "app";

    fn signer(kid: &str) -> TokenSigner {
        TokenSigner::from_pem(kid, &generate_private_key_pem(), ISS, AUD).unwrap()
    }

    fn verifier(signers: &[&TokenSigner]) -> TokenVerifier {
        let set = PublicKeySet {
            keys: signers.iter().map(|s| s.public_jwk()).collect(),
        };
        TokenVerifier::new(&set, ISS, AUD).unwrap()
    }

    fn token(signer: &TokenSigner, now: i64) -> String {
        let amr = vec!["pwd".to_string()];
        signer.issue(
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

    fn part(token: &str, n: usize) -> serde_json::Value {
        let part = token.split('.').nth(n).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_fresh_token_verifies_with_all_claims_and_names_its_key() {
        let k1 = signer("k1");
        let token = token(&k1, 1_000);
        assert_eq!(part(&token, 0)["alg"], "EdDSA");
        assert_eq!(part(&token, 0)["kid"], "k1");
        let claims = verifier(&[&k1]).verify(&token, 1_000).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.sid, "s1");
        assert_eq!(claims.did, "d1");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.amr, vec!["pwd"]);
    }

    #[test]
    fn expiry_and_not_before_hold_with_leeway() {
        let k1 = signer("k1");
        let token = token(&k1, 1_000);
        let verifier = verifier(&[&k1]);
        assert!(verifier.verify(&token, 1_000 + 900 + 29).is_ok());
        assert!(verifier.verify(&token, 1_000 + 900 + 30).is_err());
        assert!(verifier.verify(&token, 1_000 - 31).is_err());
    }

    #[test]
    fn during_rotation_both_keys_verify_and_a_retired_key_does_not() {
        let old = signer("2026-11");
        let new = signer("2026-12");
        let both = verifier(&[&old, &new]);
        assert!(both.verify(&token(&old, 1_000), 1_000).is_ok());
        assert!(both.verify(&token(&new, 1_000), 1_000).is_ok());
        let after = verifier(&[&new]);
        assert_eq!(
            after.verify(&token(&old, 1_000), 1_000),
            Err(AuthError::Unauthenticated)
        );
    }

    #[test]
    fn an_unknown_or_missing_kid_is_refused() {
        let k1 = signer("k1");
        let verifier = verifier(&[&k1]);
        let genuine = token(&k1, 1_000);
        let (_, rest) = genuine.split_once('.').unwrap();
        for header in [
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k2"}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt"}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"../k1"}"#,
        ] {
            let swapped = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header));
            assert!(verifier.verify(&swapped, 1_000).is_err(), "{header}");
        }
        // A key of the same id from another set never verifies.
        let impostor = signer("k1");
        assert!(verifier.verify(&token(&impostor, 1_000), 1_000).is_err());
    }

    #[test]
    fn alg_none_hmac_with_the_public_key_and_empty_signatures_are_refused() {
        let k1 = signer("k1");
        let verifier = verifier(&[&k1]);
        let genuine = token(&k1, 1_000);
        let claims = part(&genuine, 1);
        let none = forge(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#, &claims, "");
        assert_eq!(
            verifier.verify(&none, 1_000),
            Err(AuthError::Unauthenticated)
        );
        let hs = forge(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#, &claims, "");
        let input = hs.trim_end_matches('.');
        let public = URL_SAFE_NO_PAD.decode(&k1.public_jwk().x).unwrap();
        let mac = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &public),
            input.as_bytes(),
        );
        let confused = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert!(verifier.verify(&confused, 1_000).is_err());
        let stripped = genuine.rsplit_once('.').unwrap().0.to_string() + ".";
        assert!(verifier.verify(&stripped, 1_000).is_err());
    }

    #[test]
    fn other_issuers_audiences_and_types_are_refused() {
        let k1 = signer("k1");
        let token = token(&k1, 1_000);
        let set = PublicKeySet {
            keys: vec![k1.public_jwk()],
        };
        assert!(TokenVerifier::new(&set, "https://evil.test", AUD)
            .unwrap()
            .verify(&token, 1_000)
            .is_err());
        assert!(TokenVerifier::new(&set, ISS, "other")
            .unwrap()
            .verify(&token, 1_000)
            .is_err());
        let claims: AccessClaims = serde_json::from_value(part(&token, 1)).unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let pem = generate_private_key_pem();
        let plain_jwt = encode(
            &header,
            &claims,
            &EncodingKey::from_ed_der(pem::parse(&pem).unwrap().contents()),
        )
        .unwrap();
        assert!(verifier(&[&k1]).verify(&plain_jwt, 1_000).is_err());
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let k1 = signer("k1");
        let token = token(&k1, 1_000);
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims = part(&token, 1);
        claims["role"] = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(verifier(&[&k1]).verify(&parts.join("."), 1_000).is_err());
    }

    #[test]
    fn key_sets_hold_only_well_formed_ed25519_signature_keys() {
        let k1 = signer("k1");
        let good = serde_json::to_value(PublicKeySet {
            keys: vec![k1.public_jwk()],
        })
        .unwrap();
        assert!(TokenVerifier::from_jwks(&good.to_string(), ISS, AUD).is_ok());
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v["keys"][0]);
            TokenVerifier::from_jwks(&v.to_string(), ISS, AUD).err()
        };
        assert!(edit(&|k| k["kty"] = "oct".into()).is_some());
        assert!(edit(&|k| k["crv"] = "X25519".into()).is_some());
        assert!(edit(&|k| k["alg"] = "HS256".into()).is_some());
        assert!(edit(&|k| k["x"] = "c2hvcnQ".into()).is_some());
        assert!(edit(&|k| k["kid"] = "".into()).is_some());
        assert!(edit(&|k| k["k"] = "c2VjcmV0".into()).is_some());
        assert!(TokenVerifier::from_jwks(r#"{"keys":[]}"#, ISS, AUD).is_err());
        let twice = serde_json::json!({"keys": [good["keys"][0], good["keys"][0]]});
        assert!(TokenVerifier::from_jwks(&twice.to_string(), ISS, AUD).is_err());
    }

    #[test]
    fn small_order_and_off_curve_public_keys_are_refused() {
        let k1 = signer("k1");
        let mut set = serde_json::to_value(PublicKeySet {
            keys: vec![k1.public_jwk()],
        })
        .unwrap();
        // The identity point (order 1), the all-zero encoding (order 4), and
        // a y coordinate with no point on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        for x in [
            {
                let mut identity = [0u8; 32];
                identity[0] = 1;
                identity
            },
            [0u8; 32],
            off_curve,
        ] {
            set["keys"][0]["x"] = URL_SAFE_NO_PAD.encode(x).into();
            assert!(
                TokenVerifier::from_jwks(&set.to_string(), ISS, AUD).is_err(),
                "{x:?}"
            );
        }
    }

    #[test]
    fn a_signed_token_with_extreme_times_is_refused_not_wrapped() {
        let pem = generate_private_key_pem();
        let k1 = TokenSigner::from_pem("k1", &pem, ISS, AUD).unwrap();
        let verifier = verifier(&[&k1]);
        let key = EncodingKey::from_ed_der(pem::parse(&pem).unwrap().contents());
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some("k1".into());
        let genuine = part(&token(&k1, 1_000), 1);
        // The test signs like the login function: unchanged claims verify.
        assert!(verifier
            .verify(&encode(&header, &genuine, &key).unwrap(), 1_000)
            .is_ok());
        for (exp, iat, nbf) in [
            (i64::MAX - 100, -1_000, 0),
            (i64::MAX, i64::MAX - 900, i64::MAX - 900),
            (1_800, 1_000, 1_000),
            (1_901, 1_000, 1_000),
            (1_000 + 900, 1_000, 2_000),
            (-100, -1_000, -1_000),
        ] {
            let mut claims = genuine.clone();
            claims["exp"] = exp.into();
            claims["iat"] = iat.into();
            claims["nbf"] = nbf.into();
            let token = encode(&header, &claims, &key).unwrap();
            for now in [1_000, 1_500, i64::MAX - 1_000, -500] {
                assert!(
                    verifier.verify(&token, now).is_err(),
                    "exp {exp} iat {iat} nbf {nbf} at {now}"
                );
            }
        }
    }

    #[test]
    fn a_signer_checks_its_key_is_published() {
        let k1 = signer("k1");
        let other = signer("k1");
        let published = PublicKeySet {
            keys: vec![k1.public_jwk()],
        };
        assert_eq!(k1.check_published_in(&published), Ok(()));
        assert_eq!(
            other.check_published_in(&published),
            Err(KeyError::KeyMismatch("k1".into()))
        );
        let k2 = signer("k2");
        assert_eq!(
            k2.check_published_in(&published),
            Err(KeyError::UnknownKeyId("k2".into()))
        );
        assert!(TokenSigner::from_pem("k1", "not a key", ISS, AUD).is_err());
        assert!(TokenSigner::from_pem("bad kid!", &generate_private_key_pem(), ISS, AUD).is_err());
    }
}
