//! The three webhook signature schemes on arbitrary headers and bodies:
//! never a panic, never an acceptance of an unsigned delivery, and a
//! delivery signed with the secret is accepted exactly when its timestamp is
//! within the tolerance.

#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use shared::webhook::signature::{verify_generic, verify_standard, verify_stripe};

const NOW: i64 = 1_900_000_000;
const TOLERANCE: i64 = 300;
const SECRET: &[u8] = b"fuzz-only-webhook-secret-0000";

fn sign(parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|input: (&str, &str, &str, i64, &[u8])| {
    let (header, id, stamp, timestamp, body) = input;
    let secrets = vec![SECRET.to_vec()];

    // Arbitrary headers: the fuzzer cannot forge an HMAC, so nothing passes.
    assert!(verify_stripe(Some(header), body, &secrets, NOW, TOLERANCE).is_err());
    assert!(verify_standard(Some(id), Some(stamp), Some(header), body, &secrets, NOW, TOLERANCE).is_err());
    assert!(verify_generic(Some(header), body, &secrets).is_err());

    // Genuinely signed deliveries at an arbitrary timestamp.
    let fresh = (NOW as i128 - timestamp as i128).abs() <= TOLERANCE as i128;
    let t = timestamp.to_string();
    let stripe = format!("t={t},v1={}", hex::encode(sign(&[t.as_bytes(), b".", body])));
    assert_eq!(
        verify_stripe(Some(&stripe), body, &secrets, NOW, TOLERANCE).is_ok(),
        fresh,
        "stripe, t={t}"
    );
    let msg_id = "msg_fuzz";
    let standard = format!(
        "v1,{}",
        STANDARD.encode(sign(&[msg_id.as_bytes(), b".", t.as_bytes(), b".", body]))
    );
    assert_eq!(
        verify_standard(Some(msg_id), Some(&t), Some(&standard), body, &secrets, NOW, TOLERANCE)
            .is_ok(),
        fresh,
        "standard, t={t}"
    );
    let generic = hex::encode(sign(&[body]));
    assert!(verify_generic(Some(&generic), body, &secrets).is_ok());
});
