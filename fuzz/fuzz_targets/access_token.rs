//! Access-token verification on arbitrary strings: never a panic, never an
//! accepted token (the fuzzer holds no key), and a real token with any one
//! byte changed is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::auth::model::Role;
use std::sync::OnceLock;

use shared::auth::tokens::{
    generate_private_key_pem, PublicKeySet, TokenSigner, TokenSubject, TokenVerifier,
};

const NOW: i64 = 1_900_000_000;

/// A key generated once per fuzzing run, and the verifier of its tokens.
fn keys() -> &'static (TokenSigner, TokenVerifier) {
    static KEYS: OnceLock<(TokenSigner, TokenVerifier)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (iss, aud) = ("https://auth.fuzz", "wallet-app");
        let signer = TokenSigner::from_pem("fuzz-1", &generate_private_key_pem(), iss, aud)
            .expect("a generated key parses");
        let set = PublicKeySet { keys: vec![signer.public_jwk()] };
        let verifier = TokenVerifier::new(&set, iss, aud).expect("a valid key set");
        (signer, verifier)
    })
}

fuzz_target!(|input: (&str, u16, u8)| {
    let (text, position, replacement) = input;
    let (signer, tokens) = keys();
    assert!(tokens.verify(text, NOW).is_err(), "accepted: {text:?}");

    let amr = vec!["pwd".to_string()];
    let real = signer.issue(
        &TokenSubject {
            user_id: "user-fuzz",
            session_id: "session-fuzz",
            device_id: "device-fuzz",
            role: Role::User,
            amr: &amr,
            ip: None,
        },
        NOW,
    );
    assert!(tokens.verify(&real, NOW).is_ok());
    let mut bytes = real.clone().into_bytes();
    let index = usize::from(position) % bytes.len();
    if bytes[index] != replacement {
        bytes[index] = replacement;
        let altered = String::from_utf8_lossy(&bytes);
        assert!(
            tokens.verify(&altered, NOW).is_err(),
            "byte {index} changed to {replacement} still verified"
        );
    }
});
