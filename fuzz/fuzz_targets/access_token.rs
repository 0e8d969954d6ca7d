//! Access-token verification on arbitrary strings: never a panic, never an
//! accepted token (the fuzzer holds no key), and a real token with any one
//! byte changed is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::auth::model::Role;
use shared::auth::tokens::{TokenIssuer, TokenSubject};

const NOW: i64 = 1_900_000_000;

fn issuer() -> TokenIssuer {
    TokenIssuer::new(b"fuzz-only-jwt-key-0123456789abcdef", "https://auth.fuzz", "wallet-app")
}

fuzz_target!(|input: (&str, u16, u8)| {
    let (text, position, replacement) = input;
    let tokens = issuer();
    assert!(tokens.verify(text, NOW).is_err(), "accepted: {text:?}");

    let amr = vec!["pwd".to_string()];
    let real = tokens.issue(
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
