//! What real DynamoDB does late or in parts, on the local stand-in under the
//! real adapters: items stay readable past their TTL (DynamoDB deletes them
//! up to two days late; moto never does), and batch reads leave keys
//! unprocessed. An expired lockout record is forgotten, and a recharge reads
//! every key it needs, pausing between rounds, or answers 503 unwritten.

use std::collections::HashMap;
use std::sync::Arc;

use aws_adapters::load_sdk_config;
use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{clear_faults, endpoint, inject_fault, unique_email, FaultMode, RechargeStack};
use serde_json::{json, Value};
use shared::auth::email::normalize_email;
use shared::auth::lockout::lockout_key;
use shared::clock::{Clock, SystemClock};
use shared::config::ProcessEnv;
use shared::ports::WalletStore;
use testkit::{event, invoke, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";

async fn login_app() -> login::App {
    endpoint();
    login::App::from_env(&ProcessEnv)
        .await
        .expect("tests/run.sh sets the configuration")
}

async fn call(app: &login::App, event: Value) -> Reply {
    invoke(|req| login::handle(app, req), event).await
}

/// Each test signs in from an address of its own, so the per-IP limit other
/// test binaries spend on the default address does not answer 429 here.
fn login_event(email: &str, password: &str, ip: &str) -> Value {
    event("login-login")
        .body(json!({"email": email, "password": password}))
        .source_ip(ip)
}

async fn register(app: &login::App, email: &str, ip: &str) {
    let reply = call(
        app,
        event("login-register")
            .body(json!({"email": email, "password": PASSWORD}))
            .source_ip(ip),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Writes the lockout record of `email` as a past burst of failures left it:
/// `failures` counted, at lock level 2, its lock and its TTL both passed.
async fn stale_lockout(email: &str, failures: i64) -> String {
    plant_lockout(email, failures, -7_200, -3_600).await
}

/// Writes the lockout record of `email` under the key the store uses, with
/// its lock and TTL `lock_in` and `ttl_in` seconds from now.
async fn plant_lockout(email: &str, failures: i64, lock_in: i64, ttl_in: i64) -> String {
    let sdk = load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("COUNTERS_TABLE").unwrap();
    let key = aws_adapters::keys::lockout(&lockout_key(&normalize_email(email).unwrap()));
    let now = SystemClock.now();
    let item = HashMap::from([
        ("pk".to_string(), AttributeValue::S(key.clone())),
        ("failures".to_string(), number(failures)),
        ("lock_level".to_string(), number(2)),
        ("locked_until".to_string(), number(now + lock_in)),
        ("ttl".to_string(), number(now + ttl_in)),
    ]);
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let kept = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(key.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item;
    assert!(
        kept.is_some(),
        "the stand-in keeps an item past its TTL, as DynamoDB may for two days"
    );
    key
}

/// The planted record is the one sign-in reads: the same record, still
/// live, locks the account.
#[tokio::test]
async fn a_live_lockout_record_planted_the_same_way_locks_the_account() {
    let app = login_app().await;
    let ip = "192.0.2.40";
    let email = unique_email("lag-live");
    register(&app, &email, ip).await;
    plant_lockout(&email, 0, 600, 3_600).await;

    let reply = call(&app, login_event(&email, PASSWORD, ip)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (423, "ACCOUNT_LOCKED"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_lockout_record_past_its_ttl_is_forgotten_and_the_right_password_signs_in() {
    let app = login_app().await;
    let ip = "192.0.2.41";
    let email = unique_email("lag-lock");
    register(&app, &email, ip).await;
    stale_lockout(&email, 10).await;

    let reply = call(&app, login_event(&email, PASSWORD, ip)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn failures_after_an_expired_lockout_record_count_from_one() {
    let app = login_app().await;
    let ip = "192.0.2.42";
    let email = unique_email("lag-count");
    register(&app, &email, ip).await;
    stale_lockout(&email, 4).await;

    for attempt in 1..=4 {
        let reply = call(&app, login_event(&email, "wrong password", ip)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "INVALID_CREDENTIALS"),
            "failure {attempt} of a fresh count: {}",
            reply.body
        );
    }
    let reply = call(&app, login_event(&email, PASSWORD, ip)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A recharge stack whose age check stays out of the way of two recharges.
async fn stack() -> RechargeStack {
    endpoint();
    RechargeStack::new(&[("AGE_CHECK_ABOVE", "100000")], Arc::new(SystemClock)).await
}

#[tokio::test]
async fn keys_left_unprocessed_once_are_read_again_after_a_pause() {
    let stack = stack().await;
    let first = stack
        .recharge(&format!("lag-first-{}", stack.user_id), 2_000)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);

    inject_fault(
        "dynamodb:BatchGetItem",
        &stack.user_id,
        FaultMode::Unprocessed,
        1,
    );
    let reply = stack
        .recharge(&format!("lag-once-{}", stack.user_id), 2_000)
        .await;
    assert_eq!(
        clear_faults(&stack.user_id),
        1,
        "the batch read was answered in part"
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let profile = stack
        .wallet
        .readings(&stack.user_id, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(
        profile.allowed_count, 2,
        "decided on the whole profile, committed once"
    );
    assert_eq!(
        stack.wallet.batch_pauses(),
        1,
        "the adapter paused once before asking for the unprocessed keys"
    );
}

#[tokio::test]
async fn keys_left_unprocessed_every_time_answer_503_and_write_nothing() {
    let stack = stack().await;
    inject_fault(
        "dynamodb:BatchGetItem",
        &stack.user_id,
        FaultMode::Unprocessed,
        100,
    );
    let key = format!("lag-always-{}", stack.user_id);
    let reply = stack.recharge(&key, 2_000).await;
    let rounds = clear_faults(&stack.user_id);
    assert_eq!(
        (reply.status, reply.code()),
        (503, "SERVICE_UNAVAILABLE"),
        "{}",
        reply.body
    );
    assert_eq!(
        stack.wallet.batch_pauses(),
        rounds - 1,
        "a pause between every two of the {rounds} rounds"
    );
    let recharge_id = shared::wallet::service::recharge_id_for(&stack.user_id, &key);
    assert!(stack.wallet.recharge(&recharge_id).await.unwrap().is_none());
    let profile = stack
        .wallet
        .readings(&stack.user_id, "", &[], "")
        .await
        .unwrap()
        .profile;
    assert_eq!(
        profile.map(|p| p.allowed_count).unwrap_or(0),
        0,
        "nothing committed"
    );
}
