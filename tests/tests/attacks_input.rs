//! Hostile request bodies and headers against the money path (recharge,
//! in-memory ports): every one is refused with a 4xx naming no internals,
//! and nothing is written.

use std::sync::Arc;

use serde_json::json;
use shared::clock::{Clock, SystemClock};
use shared::memory::MemoryStore;
use shared::ports::WalletStore;
use shared::testing::{
    event, invoke, memory_wallet_ports, test_access_config, verified_wallet_user, EventExt,
};

#[tokio::test]
async fn hostile_bodies_and_headers_are_refused_without_side_effects() {
    let store = Arc::new(MemoryStore::new());
    let now = SystemClock.now();
    let (user_id, token) = verified_wallet_user(&store, now).await;
    let env = std::collections::HashMap::new();
    let app = recharge::App::new(
        test_access_config(),
        memory_wallet_ports(&store),
        store.clone(),
        recharge::policy_from_env(&env).unwrap(),
        Arc::new(SystemClock),
    );
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(
        r#"{{"amount": 2000, "currency": "EUR", "provider": "stripe", "payment_fingerprint": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let bodies: Vec<(&str, String)> = vec![
        ("oversized", huge),
        ("deeply-nested", deep),
        ("not-json", "amount=2000&currency=EUR".into()),
        ("empty", String::new()),
        (
            "duplicate-key",
            r#"{"amount": 1, "amount": 2000, "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "unknown-field",
            r#"{"amount": 2000, "currency": "EUR", "provider": "stripe", "credit_now": true}"#
                .into(),
        ),
        (
            "negative-amount",
            r#"{"amount": -2000, "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "zero-amount",
            r#"{"amount": 0, "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "huge-amount",
            r#"{"amount": 9223372036854775807, "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "overflowing-amount",
            r#"{"amount": 99999999999999999999999, "currency": "EUR", "provider": "stripe"}"#
                .into(),
        ),
        (
            "float-amount",
            r#"{"amount": 20.5, "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "string-amount",
            r#"{"amount": "2000", "currency": "EUR", "provider": "stripe"}"#.into(),
        ),
        (
            "lowercase-currency",
            r#"{"amount": 2000, "currency": "eur", "provider": "stripe"}"#.into(),
        ),
        (
            "unknown-currency",
            r#"{"amount": 2000, "currency": "XBT", "provider": "stripe"}"#.into(),
        ),
        (
            "currency-padding",
            r#"{"amount": 2000, "currency": "EUR ", "provider": "stripe"}"#.into(),
        ),
        (
            "currency-homoglyph",
            r#"{"amount": 2000, "currency": "ЕUR", "provider": "stripe"}"#.into(),
        ),
        (
            "unknown-provider",
            r#"{"amount": 2000, "currency": "EUR", "provider": "../stripe"}"#.into(),
        ),
        (
            "null-fields",
            r#"{"amount": null, "currency": null, "provider": null}"#.into(),
        ),
        (
            "array-body",
            r#"[{"amount": 2000, "currency": "EUR", "provider": "stripe"}]"#.into(),
        ),
    ];
    let mut cases = 0;
    for (case, body) in &bodies {
        let ev = event("recharge-start")
            .raw_body(body)
            .bearer(&token)
            .header("Idempotency-Key", &format!("input-{case}"));
        let reply = invoke(|req| recharge::handle(&app, req), ev).await;
        assert!(
            (400..500).contains(&reply.status) && reply.status != 401,
            "{case}: {} {}",
            reply.status,
            reply.body
        );
        let text = reply.body.to_string();
        assert!(
            !text.contains("serde") && !text.contains("line 1 column"),
            "{case}: {text}"
        );
        cases += 1;
    }
    let non_utf8 = event("recharge-start")
        .binary_body(&[0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d], "application/json")
        .bearer(&token)
        .header("Idempotency-Key", "input-non-utf8");
    let reply = invoke(|req| recharge::handle(&app, req), non_utf8).await;
    assert_eq!(reply.status, 400, "non-UTF-8: {}", reply.body);
    cases += 1;
    for (case, key) in [
        ("key-with-separator", "abc; X-Injected=1"),
        ("key-too-long", &"k".repeat(300)),
        ("key-empty", ""),
    ] {
        let ev = event("recharge-start").bearer(&token);
        let mut ev = ev;
        ev["headers"]["Idempotency-Key"] = json!(key);
        let reply = invoke(|req| recharge::handle(&app, req), ev).await;
        assert!(
            (400..500).contains(&reply.status),
            "{case}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.headers.get("x-injected").is_none(), "{case}");
        cases += 1;
    }
    let wrong_type = event("recharge-start")
        .raw_body(r#"{"amount": 2000, "currency": "EUR", "provider": "stripe"}"#)
        .header("Content-Type", "text/plain")
        .bearer(&token)
        .header("Idempotency-Key", "input-content-type");
    let reply = invoke(|req| recharge::handle(&app, req), wrong_type).await;
    assert_eq!(reply.status, 415);
    cases += 1;

    let readings = store.readings(&user_id, &[], "").await.unwrap();
    assert_eq!(
        readings.profile.unwrap().allowed_count,
        0,
        "nothing was recharged"
    );
    assert!(store.review_messages().is_empty());
    assert!(cases >= 24, "{cases} input attacks");
}
