//! Faults injected into the local stand-in under the real AWS adapters:
//! throttling the SDK absorbs, throttling and errors that outlast its
//! retries, and a Lambda timing out mid-operation (the invocation dropped
//! while its write is held, then the write lost or landed). Auth and money
//! paths fail closed with 503, nothing is half-written, and a retry
//! completes the work exactly once.

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{load_sdk_config, DynamoInbox, SqsQueue};
use e2e::{
    clear_faults, endpoint, eventually, faults_used, inject_fault, unique_email, DynamoPayments,
    FaultMode, RechargeStack, EVENTUALLY,
};
use serde_json::{json, Value};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::config::ProcessEnv;
use shared::ports::WalletStore;
use shared::wallet::model::RechargeStatus;
use shared::wallet::payments::Applied;
use shared::wallet::service::IDEMPOTENCY_LOCK_SECONDS;
use shared::webhook::ingest::IngestPolicy;
use testkit::{event, invoke, EventExt, Reply};

/// How long the stand-in holds a stalled request: shorter than the SDK's
/// 2 s attempt timeout, so the request is still held (not retried) when the
/// invocation is cut.
const HELD_SECONDS: f64 = 1.5;

/// Runs `call` until the stand-in holds its request stalled under `key`,
/// then drops it there: the invocation dies mid-operation, as a Lambda that
/// times out does. Fails if the call ends first.
async fn cut_while_held<T>(key: &str, call: impl std::future::Future<Output = T>) {
    tokio::select! {
        _ = call => panic!("the call ended before its request was held"),
        _ = eventually("the stalled request reached the stand-in", EVENTUALLY, || async {
            faults_used(key) >= 1
        }) => {}
    }
}

/// Whether the recharge under `key` exists, and how many allowed recharges
/// the user's wallet profile counts (what the same commit writes besides it).
async fn written(stack: &RechargeStack, key: &str) -> (bool, Option<u32>) {
    let recharge_id = shared::wallet::service::recharge_id_for(&stack.user_id, key);
    let recharge = stack.wallet.recharge(&recharge_id).await.unwrap();
    let profile = stack
        .wallet
        .readings(&stack.user_id, "", &[], "")
        .await
        .unwrap()
        .profile;
    (recharge.is_some(), profile.map(|p| p.allowed_count))
}

fn assert_unavailable(reply: &Reply, case: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (503, "SERVICE_UNAVAILABLE"),
        "{case}: {}",
        reply.body
    );
    assert!(reply.headers.contains_key("retry-after"), "{case}");
}

#[tokio::test]
async fn brief_dynamodb_throttling_is_absorbed_by_the_sdk_retries() {
    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let key = format!("throttle-brief-{}", stack.user_id);
    inject_fault("dynamodb:TransactWriteItems", &key, FaultMode::Throttle, 2);
    let reply = stack.recharge(&key, 2_000).await;
    assert_eq!(
        clear_faults(&key),
        2,
        "both throttled attempts were retried"
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(written(&stack, &key).await, (true, Some(1)));
    let replay = stack.recharge(&key, 2_000).await;
    assert_eq!(replay.body["recharge_id"], reply.body["recharge_id"]);
}

#[tokio::test]
async fn lasting_throttling_fails_the_recharge_closed_and_the_retry_completes() {
    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let key = format!("throttle-lasting-{}", stack.user_id);
    inject_fault("dynamodb:TransactWriteItems", &key, FaultMode::Throttle, 50);
    let refused = stack.recharge(&key, 2_000).await;
    assert!(clear_faults(&key) >= 3, "the SDK retried before giving up");
    assert_unavailable(&refused, "throttled commit");
    assert_eq!(
        written(&stack, &key).await,
        (false, None),
        "nothing written"
    );

    let retried = stack.recharge(&key, 2_000).await;
    assert_eq!(
        retried.status, 201,
        "the key was released: {}",
        retried.body
    );
    assert_eq!(written(&stack, &key).await, (true, Some(1)));
}

#[tokio::test]
async fn server_errors_on_the_key_claim_fail_closed_before_anything_is_decided() {
    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let key = format!("claim-errors-{}", stack.user_id);
    inject_fault("dynamodb:PutItem", &key, FaultMode::Fail, 50);
    let refused = stack.recharge(&key, 2_000).await;
    assert!(clear_faults(&key) >= 3);
    assert_unavailable(&refused, "idempotency claim failing");
    assert_eq!(written(&stack, &key).await, (false, None));
    assert_eq!(stack.recharge(&key, 2_000).await.status, 201);
}

#[tokio::test]
async fn a_timeout_before_the_commit_lands_leaves_nothing_and_the_retry_completes() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let stack = RechargeStack::new(&[], clock.clone()).await;
    let key = format!("timeout-before-{}", stack.user_id);
    inject_fault(
        "dynamodb:TransactWriteItems",
        &key,
        FaultMode::StallDrop(HELD_SECONDS),
        1,
    );
    cut_while_held(&key, stack.recharge(&key, 2_000)).await;
    // A dropped write never lands, so there is no condition to wait for:
    // this only lets the stand-in release it (a lower bound, never too short
    // on a loaded machine) before looking.
    tokio::time::sleep(Duration::from_secs_f64(HELD_SECONDS)).await;
    assert_eq!(clear_faults(&key), 1);
    assert_eq!(written(&stack, &key).await, (false, None), "nothing landed");

    let early = stack.recharge(&key, 2_000).await;
    assert_eq!(
        (early.status, early.code()),
        (409, "IDEMPOTENCY_IN_PROGRESS"),
        "the dead invocation's claim holds until its lock ends"
    );
    clock.advance(IDEMPOTENCY_LOCK_SECONDS + 1);
    let retried = stack.recharge(&key, 2_000).await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(written(&stack, &key).await, (true, Some(1)));
}

#[tokio::test]
async fn a_timeout_after_the_commit_landed_replays_the_answer_on_retry() {
    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let key = format!("timeout-after-{}", stack.user_id);
    inject_fault(
        "dynamodb:TransactWriteItems",
        &key,
        FaultMode::StallApply(HELD_SECONDS),
        1,
    );
    cut_while_held(&key, stack.recharge(&key, 2_000)).await;
    eventually("the held write landed", EVENTUALLY, || async {
        written(&stack, &key).await == (true, Some(1))
    })
    .await;
    assert_eq!(clear_faults(&key), 1);

    let retried = stack.recharge(&key, 2_000).await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(
        retried.body["recharge_id"],
        json!(shared::wallet::service::recharge_id_for(
            &stack.user_id,
            &key
        ))
    );
    assert_eq!(written(&stack, &key).await, (true, Some(1)), "once");
}

async fn login_app() -> login::App {
    endpoint();
    login::App::from_env(&ProcessEnv)
        .await
        .expect("tests/run.sh sets the configuration")
}

async fn login_call(app: &login::App, event: Value) -> Reply {
    invoke(|req| login::handle(app, req), event).await
}

const PASSWORD: &str = "violet tangerine 42";

#[tokio::test]
async fn a_throttled_user_table_fails_sign_in_closed_without_counting_failures() {
    let app = login_app().await;
    let email = unique_email("throttled");
    let register = event("login-register")
        .body(json!({"email": email, "password": PASSWORD}))
        .source_ip("192.0.2.101");
    assert_eq!(login_call(&app, register).await.status, 202);
    let attempt = |password: &str| {
        event("login-login")
            .body(json!({"email": email, "password": password}))
            .source_ip("192.0.2.102")
    };
    let matching = format!("EMAIL#{email}");
    inject_fault("dynamodb:GetItem", &matching, FaultMode::Throttle, 500);
    for i in 0..6 {
        let reply = login_call(&app, attempt("a wrong password")).await;
        assert_unavailable(&reply, &format!("sign-in {i} while throttled"));
    }
    let right = login_call(&app, attempt(PASSWORD)).await;
    assert_unavailable(&right, "never a 401 or a token without the store");
    assert!(
        clear_faults(&matching) >= 7 * 3,
        "every attempt was throttled, retries included"
    );

    let after = login_call(&app, attempt(PASSWORD)).await;
    assert_eq!(
        after.status, 200,
        "refused attempts were not counted as failures: {}",
        after.body
    );
}

#[tokio::test]
async fn throttled_email_does_not_fail_registration() {
    let app = login_app().await;
    let email = unique_email("ses-throttled");
    inject_fault("ses", &email, FaultMode::Throttle, 50);
    let register = event("login-register")
        .body(json!({"email": email, "password": PASSWORD}))
        .source_ip("192.0.2.103");
    let reply = login_call(&app, register).await;
    assert!(clear_faults(&email) >= 1, "the welcome email was throttled");
    assert_eq!(reply.status, 202, "email is best effort: {}", reply.body);
    let login = event("login-login")
        .body(json!({"email": email, "password": PASSWORD}))
        .source_ip("192.0.2.103");
    assert_eq!(
        login_call(&app, login).await.status,
        200,
        "the account exists"
    );
}

#[tokio::test]
async fn a_throttled_queue_is_503_and_the_providers_retry_queues_the_event() {
    endpoint();
    let sdk = load_sdk_config().await;
    let secret = "whsec_test_only_faults_0123456789";
    let env: std::collections::HashMap<String, String> = [
        ("WEBHOOK_PROVIDERS", "stripe=stripe"),
        ("WEBHOOK_SECRETS_STRIPE", secret),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let inbox = DynamoInbox::new(&sdk, DynamoInbox::table_from_env(&ProcessEnv).unwrap());
    let webhook_queue = std::env::var("WEBHOOK_QUEUE_URL").unwrap();
    let app = webhook::App::new(
        IngestPolicy::from_env(&env).unwrap(),
        Arc::new(inbox),
        Arc::new(SqsQueue::new(&sdk, webhook_queue.clone())),
        Arc::new(SystemClock),
    );
    let event_id = format!("evt_{}", shared::auth::secrets::new_id());
    let body = json!({"id": event_id, "type": "payment_intent.succeeded",
        "data": {"object": {"amount": 2000, "currency": "eur", "metadata": {"recharge_id": "rc_faults"}}}})
    .to_string();
    let now = SystemClock.now();
    let delivery = event("webhook-stripe").raw_body(&body).header(
        "Stripe-Signature",
        &testkit::stripe_signature_header(secret, &body, now),
    );

    inject_fault("sqs", &event_id, FaultMode::Throttle, 50);
    let refused = invoke(|req| webhook::handle(&app, req), delivery.clone()).await;
    assert!(clear_faults(&event_id) >= 1);
    assert_unavailable(&refused, "queue throttled");

    let retried = invoke(|req| webhook::handle(&app, req), delivery).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let copies = e2e::take_messages(&webhook_queue, &event_id, 5).await.len();
    assert_eq!(copies, 1, "queued once, by the retry");
}

#[tokio::test]
async fn a_worker_timing_out_mid_credit_is_redelivered_and_credits_once() {
    let payments = DynamoPayments::pending().await;
    let (applier, wallet) = (&payments.applier, &payments.wallet);
    let recharge_id = payments.recharge_id.clone();
    let event = payments.succeeded(SystemClock.now()).await;
    let before = payments.balance().await;

    inject_fault(
        "dynamodb:TransactWriteItems",
        &recharge_id,
        FaultMode::StallApply(HELD_SECONDS),
        1,
    );
    cut_while_held(&recharge_id, applier.apply(&event)).await;
    eventually(
        "the credit landed after the worker died",
        EVENTUALLY,
        || async {
            wallet.recharge(&recharge_id).await.unwrap().unwrap().status == RechargeStatus::Credited
        },
    )
    .await;
    assert_eq!(clear_faults(&recharge_id), 1);

    // SQS redelivers the message after its visibility timeout.
    let redelivered = applier.apply(&event).await.expect("applies");
    assert_eq!(redelivered, Applied::AlreadyApplied);
    assert_eq!(
        payments.balance().await,
        before + 2_000,
        "credited exactly once"
    );
}
