//! Hostile request bodies and headers against the money path (recharge,
//! in-memory ports): every one is refused with a 4xx naming no internals,
//! and nothing is written.

use std::sync::Arc;

use edge::http::MAX_JSON_DEPTH;
use serde_json::{json, Value};
use shared::auth::model::Role;
use shared::clock::{Clock, SystemClock};
use shared::ports::WalletStore;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    claims, event, invoke, memory_kyc_desk_ports, memory_wallet_ports, signed_in_account,
    test_access_config, test_audit_keys, test_pii_keys, verified_wallet_user, EventExt,
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
    }
    let non_utf8 = event("recharge-start")
        .binary_body(&[0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d], "application/json")
        .bearer(&token)
        .header("Idempotency-Key", "input-non-utf8");
    let reply = invoke(|req| recharge::handle(&app, req), non_utf8).await;
    assert_eq!(reply.status, 400, "non-UTF-8: {}", reply.body);
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
    }
    let wrong_type = event("recharge-start")
        .raw_body(r#"{"amount": 2000, "currency": "EUR", "provider": "stripe"}"#)
        .header("Content-Type", "text/plain")
        .bearer(&token)
        .header("Idempotency-Key", "input-content-type");
    let reply = invoke(|req| recharge::handle(&app, req), wrong_type).await;
    assert_eq!(reply.status, 415);

    let readings = store.readings(&user_id, "", &[], "").await.unwrap();
    assert_eq!(
        readings.profile.unwrap().allowed_count,
        0,
        "nothing was recharged"
    );
    assert!(store.review_messages().is_empty());

    // Positive control: the same user, token and route with a good body is
    // accepted and counted, so the refusals above were for their inputs.
    let good = event("recharge-start")
        .bearer(&token)
        .header("Idempotency-Key", "input-control");
    let reply = invoke(|req| recharge::handle(&app, req), good).await;
    assert_eq!(reply.status, 201, "control: {}", reply.body);
    let readings = store.readings(&user_id, "", &[], "").await.unwrap();
    assert_eq!(
        readings.profile.unwrap().allowed_count,
        1,
        "control counted"
    );
}

/// A flag definition whose `default_value` nests so that the whole body is
/// `levels` deep (the definition object is the first level).
fn flag_nested(levels: usize) -> String {
    let body = event("admin-flags-create")["body"]
        .as_str()
        .unwrap()
        .to_string();
    let arrays = levels - 1;
    let nested = format!("{}false{}", "[".repeat(arrays), "]".repeat(arrays));
    let replaced = body.replacen(
        r#""default_value": false"#,
        &format!(r#""default_value": {nested}"#),
        1,
    );
    assert_ne!(replaced, body, "the sample flag has a default value");
    replaced
}

#[tokio::test]
async fn a_body_is_refused_for_its_depth_only_beyond_the_limit() {
    // Flag values take any JSON, so the depth limit is what bounds them.
    let store = Arc::new(MemoryStore::new());
    let now = SystemClock.now();
    let ip = "203.0.113.10";
    let (_, token) =
        signed_in_account(&*store, &*store, Role::Admin, &["pwd", "otp"], ip, now).await;
    let device = claims(&token)["did"].as_str().unwrap().to_string();
    let app = admin::App::new(
        test_access_config(),
        memory_admin_ports(&store),
        Arc::new(SystemClock),
    );
    let depth_issue =
        json!({"field": "body", "issue": format!("nests deeper than {MAX_JSON_DEPTH} levels")});
    let mut replies = Vec::new();
    for levels in [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 10_000] {
        let ev = event("admin-flags-create")
            .raw_body(&flag_nested(levels))
            .header("X-Admin-Session", &token)
            .device(&device)
            .source_ip(ip);
        let reply = invoke(|req| admin::handle(&app, req), ev).await;
        let details: Vec<Value> = reply.body["error"]["details"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        replies.push((
            levels,
            reply.status,
            reply.code().to_string(),
            details.contains(&depth_issue),
        ));
    }
    assert_eq!(
        replies,
        vec![
            (MAX_JSON_DEPTH, 400, "VALIDATION_FAILED".to_string(), false),
            (
                MAX_JSON_DEPTH + 1,
                400,
                "VALIDATION_FAILED".to_string(),
                true
            ),
            (10_000, 400, "VALIDATION_FAILED".to_string(), true),
        ],
        "at the limit the body's nesting is no reason; one level more is"
    );
}

/// The admin function's ports over one in-memory store.
fn memory_admin_ports(store: &Arc<MemoryStore>) -> admin::AdminPorts {
    admin::AdminPorts {
        flags: store.clone(),
        audit: store.clone(),
        store: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        liveness: store.clone(),
        reviews: store.clone(),
        mailer: Arc::new(MemoryMailer::new()),
        kyc: memory_kyc_desk_ports(store.clone(), Arc::new(test_pii_keys())),
        audit_keys: test_audit_keys(),
    }
}
