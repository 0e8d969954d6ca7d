//! Webhook signature verification over the exact raw body: Stripe,
//! Standard Webhooks and a generic hex HMAC. Every comparison is constant
//! time (`Mac::verify_slice`), timestamps must be within the tolerance, and
//! any of several secrets may match, so secrets rotate without downtime.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature headers missing")]
    Missing,
    #[error("signature headers malformed")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// The `whsec_`-prefixed base64 secret of Standard Webhooks, decoded.
pub fn decode_standard_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|key| key.len() >= 16)
}

fn fresh(timestamp: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    // `abs_diff` cannot overflow, whatever timestamp a sender writes.
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        Err(SignatureError::Stale)
    } else {
        Ok(())
    }
}

/// Whether any secret's HMAC-SHA256 over `parts` equals any candidate.
fn any_matches(secrets: &[Vec<u8>], parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
    let mut matched = false;
    for secret in secrets {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
            continue;
        };
        for part in parts {
            mac.update(part);
        }
        for candidate in candidates {
            matched |= mac.clone().verify_slice(candidate).is_ok();
        }
    }
    matched
}

/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over `"{t}.{body}"`;
/// returns the signed timestamp.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Vec<u8>],
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            "v1" => {
                let bytes = hex::decode(value).map_err(|_| SignatureError::Malformed)?;
                if bytes.len() != 32 {
                    return Err(SignatureError::Malformed);
                }
                signatures.push(bytes);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Missing);
    }
    fresh(timestamp, now, tolerance)?;
    let stamp = timestamp.to_string();
    if any_matches(secrets, &[stamp.as_bytes(), b".", body], &signatures) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Standard Webhooks: `webhook-signature: v1,<base64> [v1,<base64> ...]` over
/// `"{id}.{timestamp}.{body}"`.
pub fn verify_standard(
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[Vec<u8>],
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let (id, timestamp, signature) = match (id, timestamp, signature) {
        (Some(i), Some(t), Some(s)) => (i, t, s),
        _ => return Err(SignatureError::Missing),
    };
    if id.is_empty() || id.len() > 256 || id.contains('.') {
        return Err(SignatureError::Malformed);
    }
    let stamp: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let mut candidates = Vec::new();
    for item in signature.split(' ').filter(|s| !s.is_empty()) {
        let (version, encoded) = item.split_once(',').ok_or(SignatureError::Malformed)?;
        if version == "v1" {
            let bytes = STANDARD
                .decode(encoded)
                .map_err(|_| SignatureError::Malformed)?;
            candidates.push(bytes);
        }
    }
    if candidates.is_empty() {
        return Err(SignatureError::Missing);
    }
    fresh(stamp, now, tolerance)?;
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    if any_matches(secrets, &parts, &candidates) {
        Ok(stamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A generic provider: the hex HMAC-SHA256 of the body in one header.
pub fn verify_generic(
    signature: Option<&str>,
    body: &[u8],
    secrets: &[Vec<u8>],
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?;
    let hex_text = signature
        .trim()
        .strip_prefix("sha256=")
        .unwrap_or(signature.trim());
    let bytes = hex::decode(hex_text).map_err(|_| SignatureError::Malformed)?;
    if bytes.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    if any_matches(secrets, &[body], &[bytes]) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const TOLERANCE: i64 = 300;

    fn vectors() -> Value {
        let path = format!(
            "{}/../tests/vectors/webhook_vectors.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn text<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap()
    }

    fn stripe_secret(v: &Value) -> Vec<Vec<u8>> {
        vec![text(&v["stripe"], "secret").as_bytes().to_vec()]
    }

    fn standard_secret(v: &Value) -> Vec<Vec<u8>> {
        vec![decode_standard_secret(text(&v["standard"], "secret")).unwrap()]
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic_or_a_wrap() {
        // Found by the `webhook_signatures` fuzz target: `now - t` overflowed
        // for very negative `t` (a panic with overflow checks; without them
        // `t = i64::MIN + now` wrapped to a difference that passed as fresh).
        let now = 1_900_000_000;
        let secrets = vec![b"test-only-regression-key-0001".to_vec()];
        for t in [i64::MIN, i64::MIN + now, i64::MIN + now + 1, -1, i64::MAX] {
            let stamp = t.to_string();
            let mut mac = HmacSha256::new_from_slice(&secrets[0]).unwrap();
            mac.update(format!("{stamp}.{{}}").as_bytes());
            let header = format!("t={stamp},v1={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(
                verify_stripe(Some(&header), b"{}", &secrets, now, TOLERANCE),
                Err(SignatureError::Stale),
                "t={t}"
            );
            let mut mac = HmacSha256::new_from_slice(&secrets[0]).unwrap();
            mac.update(format!("msg_1.{stamp}.{{}}").as_bytes());
            let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
            assert_eq!(
                verify_standard(
                    Some("msg_1"),
                    Some(&stamp),
                    Some(&signature),
                    b"{}",
                    &secrets,
                    now,
                    TOLERANCE
                ),
                Err(SignatureError::Stale),
                "t={t}"
            );
        }
    }

    #[test]
    fn stripe_library_signatures_verify() {
        let v = vectors();
        for case in v["stripe"]["cases"].as_array().unwrap() {
            let now = case["timestamp"].as_i64().unwrap();
            let result = verify_stripe(
                Some(text(case, "header")),
                text(case, "body").as_bytes(),
                &stripe_secret(&v),
                now,
                TOLERANCE,
            );
            assert_eq!(result, Ok(now), "{case}");
        }
    }

    #[test]
    fn standard_webhooks_library_signatures_verify() {
        let v = vectors();
        for case in v["standard"]["cases"].as_array().unwrap() {
            let now = case["timestamp"].as_i64().unwrap();
            let stamp = now.to_string();
            let result = verify_standard(
                Some(text(case, "id")),
                Some(&stamp),
                Some(text(case, "signature")),
                text(case, "body").as_bytes(),
                &standard_secret(&v),
                now,
                TOLERANCE,
            );
            assert_eq!(result, Ok(now), "{case}");
        }
    }

    #[test]
    fn stripe_tampering_is_refused() {
        let v = vectors();
        let case = &v["stripe"]["cases"][0];
        let header = text(case, "header");
        let body = text(case, "body").as_bytes();
        let now = case["timestamp"].as_i64().unwrap();
        let secrets = stripe_secret(&v);
        let mut altered = body.to_vec();
        altered[10] ^= 1;
        assert_eq!(
            verify_stripe(Some(header), &altered, &secrets, now, TOLERANCE),
            Err(SignatureError::Mismatch),
            "body byte"
        );
        let shifted = header.replace("t=1900000000", "t=1900000001");
        assert_eq!(
            verify_stripe(Some(&shifted), body, &secrets, now, TOLERANCE),
            Err(SignatureError::Mismatch),
            "timestamp"
        );
        assert_eq!(
            verify_stripe(
                Some(header),
                body,
                &[b"whsec_another_secret_value_123".to_vec()],
                now,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch),
            "secret"
        );
        let v0 = header.replace("v1=", "v0=");
        assert_eq!(
            verify_stripe(Some(&v0), body, &secrets, now, TOLERANCE),
            Err(SignatureError::Missing),
            "scheme prefix"
        );
        let (t, sig) = header.split_once(',').unwrap();
        let reordered = format!("{sig},{t}");
        assert_eq!(
            verify_stripe(Some(&reordered), body, &secrets, now, TOLERANCE),
            Ok(now),
            "order of items does not matter"
        );
        let doubled = format!("{header},t=1900000000");
        assert_eq!(
            verify_stripe(Some(&doubled), body, &secrets, now, TOLERANCE),
            Err(SignatureError::Malformed),
            "duplicate timestamp"
        );
        assert_eq!(
            verify_stripe(Some(header), body, &secrets, now + 301, TOLERANCE),
            Err(SignatureError::Stale),
            "stale"
        );
        assert_eq!(
            verify_stripe(Some(header), body, &secrets, now - 301, TOLERANCE),
            Err(SignatureError::Stale),
            "future-dated"
        );
        assert_eq!(
            verify_stripe(Some(header), body, &secrets, now + 300, TOLERANCE),
            Ok(now),
            "at the tolerance"
        );
        assert_eq!(
            verify_stripe(None, body, &secrets, now, TOLERANCE),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe(Some("garbage"), body, &secrets, now, TOLERANCE),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn standard_tampering_is_refused() {
        let v = vectors();
        let case = &v["standard"]["cases"][1];
        let (id, sig, body) = (
            text(case, "id"),
            text(case, "signature"),
            text(case, "body").as_bytes(),
        );
        let now = case["timestamp"].as_i64().unwrap();
        let stamp = now.to_string();
        let secrets = standard_secret(&v);
        let check = |id: &str, stamp: &str, sig: &str, body: &[u8], now: i64| {
            verify_standard(
                Some(id),
                Some(stamp),
                Some(sig),
                body,
                &secrets,
                now,
                TOLERANCE,
            )
        };
        assert_eq!(check(id, &stamp, sig, body, now), Ok(now));
        assert_eq!(
            check("msg_other", &stamp, sig, body, now),
            Err(SignatureError::Mismatch),
            "id"
        );
        assert_eq!(
            check(id, &(now + 1).to_string(), sig, body, now),
            Err(SignatureError::Mismatch),
            "timestamp"
        );
        assert_eq!(
            check(id, &stamp, sig, b"{}", now),
            Err(SignatureError::Mismatch),
            "body"
        );
        assert_eq!(
            check(id, &stamp, &sig.replace("v1,", "v2,"), body, now),
            Err(SignatureError::Missing),
            "scheme prefix"
        );
        let several = format!("v1,AAAA {sig}");
        assert_eq!(
            check(id, &stamp, &several, body, now),
            Ok(now),
            "any listed signature"
        );
        assert_eq!(
            check(id, &stamp, sig, body, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            check(id, "soon", sig, body, now),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn rotation_accepts_either_secret() {
        let v = vectors();
        let case = &v["stripe"]["cases"][2];
        let now = case["timestamp"].as_i64().unwrap();
        let mut secrets = vec![b"whsec_the_new_secret_not_yet_used".to_vec()];
        secrets.extend(stripe_secret(&v));
        assert_eq!(
            verify_stripe(
                Some(text(case, "header")),
                text(case, "body").as_bytes(),
                &secrets,
                now,
                TOLERANCE
            ),
            Ok(now)
        );
    }

    #[test]
    fn generic_hex_hmac_verifies_and_refuses_tampering() {
        let secret = b"test-only-generic-provider-key-42".to_vec();
        let body = br#"{"event":"payment.succeeded","id":"g_1"}"#;
        let mut mac = HmacSha256::new_from_slice(&secret).unwrap();
        mac.update(body);
        let signature = hex::encode(mac.finalize().into_bytes());
        let secrets = vec![secret];
        assert_eq!(verify_generic(Some(&signature), body, &secrets), Ok(()));
        assert_eq!(
            verify_generic(Some(&format!("sha256={signature}")), body, &secrets),
            Ok(())
        );
        assert_eq!(
            verify_generic(Some(&signature), b"{}", &secrets),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_generic(Some("zz"), body, &secrets),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_generic(None, body, &secrets),
            Err(SignatureError::Missing)
        );
    }
}
