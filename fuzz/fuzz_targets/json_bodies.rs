//! JSON request bodies on arbitrary bytes: the shared body parser into the
//! recharge request and into a plain value, and the provider event readers.
//! Never a panic, every refusal a 4xx, and an accepted recharge request
//! serialises back to an equal value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use edge::http::parse_json_bytes;
use shared::wallet::service::RechargeRequest;
use shared::webhook::event::{parse_plain, parse_stripe};

const NOW: i64 = 1_900_000_000;

fuzz_target!(|body: &[u8]| {
    match parse_json_bytes::<RechargeRequest>(body) {
        Ok(request) => {
            let again: RechargeRequest =
                serde_json::from_value(serde_json::to_value(&request).expect("serialises"))
                    .expect("reads back");
            assert_eq!(again, request);
        }
        Err(err) => assert!(err.status.is_client_error(), "{}", err.status),
    }
    match parse_json_bytes::<Value>(body) {
        Ok(value) => {
            let _ = parse_stripe(&value, "stripe", NOW);
            let _ = parse_plain(&value, "acme", None, NOW);
            let _ = parse_plain(&value, "acme", Some("msg_fuzz"), NOW);
        }
        Err(err) => assert!(err.status.is_client_error(), "{}", err.status),
    }
});
