//! Recharges end to end on the local stand-in: the DynamoDB wallet adapter
//! keeps the port contract, truly concurrent duplicates make one recharge,
//! reviews reach the SQS queue, and the round trips are counted.

use std::collections::HashSet;
use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoWallet, WalletTables};
use e2e::{endpoint, RechargeStack};
use shared::clock::{Clock, SystemClock};
use shared::config::ProcessEnv;
use shared::ports::WalletStore;
use testkit::contract::{idempotency_contract, wallet_store_contract};
use testkit::EventExt;

async fn stack(overrides: &[(&str, &str)]) -> RechargeStack {
    RechargeStack::new(overrides, Arc::new(SystemClock)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_wallet_keeps_the_port_contract() {
    endpoint();
    let sdk = load_sdk_config().await;
    let wallet = Arc::new(DynamoWallet::new(
        &sdk,
        WalletTables::from_env(&ProcessEnv).unwrap(),
    ));
    idempotency_contract(wallet.clone()).await;
    wallet_store_contract(wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_make_exactly_one_recharge() {
    let stack = Arc::new(stack(&[]).await);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move { stack.recharge("same-key-for-all", 2_000).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => {
                ids.insert(reply.body["recharge_id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(reply.code(), "IDEMPOTENCY_IN_PROGRESS"),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(
        ids.len(),
        1,
        "one recharge, whatever the number of duplicates"
    );
    let replay = stack.recharge("same-key-for-all", 2_000).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
}

#[tokio::test]
async fn a_held_recharge_reaches_the_review_queue() {
    let stack = stack(&[("FRAUD_REVIEW_AT", "40"), ("FRAUD_BLOCK_AT", "90")]).await;
    let held = stack.recharge("review-me", 2_000).await;
    assert_eq!(held.status, 202, "{}", held.body);
    let id = held.body["recharge_id"].as_str().unwrap().to_string();
    let url = std::env::var("REVIEW_QUEUE_URL").unwrap();
    let found = !e2e::take_messages(&url, &id, 10).await.is_empty();
    assert!(found, "the review message for {id} is on the queue");
}

#[tokio::test]
async fn round_trips_per_decision() {
    // 10.00 each: two stay under the age threshold of the unverified user.
    let allow = stack(&[]).await;
    allow.recharge("warm-up", 1_000).await;
    let before = allow.calls();
    assert_eq!(allow.recharge("allowed", 1_000).await.status, 201);
    let allowed_calls = allow.calls() - before;

    let review = stack(&[("FRAUD_REVIEW_AT", "0"), ("FRAUD_BLOCK_AT", "90")]).await;
    review.recharge("warm-up", 1_000).await;
    let before = review.calls();
    assert_eq!(review.recharge("held", 1_000).await.status, 202);
    let review_calls = review.calls() - before;

    let block = stack(&[("FRAUD_REVIEW_AT", "0"), ("FRAUD_BLOCK_AT", "0")]).await;
    block.recharge("warm-up", 1_000).await;
    let before = block.calls();
    assert_eq!(block.recharge("blocked", 1_000).await.status, 403);
    let block_calls = block.calls() - before;

    println!("DynamoDB calls: allowed {allowed_calls}, review {review_calls} (+1 SQS send), blocked {block_calls}");
    assert_eq!(allowed_calls, 3, "claim key, batch read, one transaction");
    assert_eq!(
        review_calls, 4,
        "claim key, batch read, transaction, store reply"
    );
    assert_eq!(block_calls, 3);
}

/// What each wallet route pays in DynamoDB requests now that every one
/// checks the caller's session and account standing.
#[tokio::test]
async fn round_trips_of_the_session_checked_routes() {
    let stack = stack(&[]).await;
    let created = stack.recharge("trips", 1_000).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["recharge_id"].as_str().unwrap().to_string();
    let mut trips = Vec::new();
    for (what, method, path, body) in [
        ("GET /v1/wallet", "GET", "/v1/wallet".to_string(), None),
        (
            "GET /v1/wallet/recharges/{id}",
            "GET",
            format!("/v1/wallet/recharges/{id}"),
            None,
        ),
        (
            "PUT /v1/wallet/limits (lower)",
            "PUT",
            "/v1/wallet/limits".to_string(),
            Some(serde_json::json!({"daily": 1_000, "weekly": 2_000, "monthly": 3_000})),
        ),
    ] {
        let before = stack.calls();
        let reply = stack.call(method, &path, body).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        trips.push((what, stack.calls() - before));
    }
    let before = stack.calls();
    assert_eq!(stack.recharge("trips", 1_000).await.status, 201);
    trips.push(("POST /v1/wallet/recharge (replay)", stack.calls() - before));
    println!("DynamoDB calls per route: {trips:?}");
    assert_eq!(
        trips,
        vec![
            ("GET /v1/wallet", 1),
            ("GET /v1/wallet/recharges/{id}", 2),
            ("PUT /v1/wallet/limits (lower)", 2),
            ("POST /v1/wallet/recharge (replay)", 3),
        ],
        "the session is read in the batch each route already makes, or in one read of its \
         own (the recharge status; a replay: the refused claim, the stored answer, the session)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limits_change_racing_recharges_is_never_undone() {
    // Scoring out of the way: this race is about the limits.
    let stack = Arc::new(stack(&[("FRAUD_REVIEW_AT", "100"), ("FRAUD_BLOCK_AT", "100")]).await);
    for round in 0..4i64 {
        let daily = 30_000 - round * 1_000;
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let stack = stack.clone();
                tokio::spawn(async move {
                    let reply = stack.recharge(&format!("race-{round}-{i}"), 100).await;
                    (reply.status, reply.body)
                })
            })
            .collect();
        let limits = {
            let stack = stack.clone();
            tokio::spawn(async move {
                let ev = testkit::event("recharge-limits")
                    .body(serde_json::json!({"daily": daily, "weekly": 60_000, "monthly": 150_000}))
                    .bearer(&stack.token)
                    .device(&stack.device);
                testkit::invoke(|req| recharge::handle(&stack.app, req), ev).await
            })
        };
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, 201, "{body}");
        }
        let changed = limits.await.unwrap();
        assert_eq!(changed.status, 200, "{}", changed.body);
        let profile = stack
            .wallet
            .readings(&stack.user_id, "", &[], "")
            .await
            .unwrap()
            .profile
            .unwrap();
        let in_force = profile.limits.expect("limits stored");
        assert_eq!(
            in_force
                .effective(shared::clock::Clock::now(&SystemClock))
                .daily,
            daily,
            "round {round}: a recharge committed after the change put the old limits back"
        );
        let chain = profile.audit_seq;
        assert_eq!(
            chain,
            (round as u64 + 1) * 5,
            "four decisions and one change audited"
        );
    }
}

#[tokio::test]
async fn a_record_completed_in_the_previous_format_is_never_claimed_again() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::ports::{IdempotencyBegin, IdempotencyStore};
    endpoint();
    let sdk = load_sdk_config().await;
    let tables = WalletTables::from_env(&ProcessEnv).unwrap();
    let wallet = DynamoWallet::new(&sdk, tables.clone());
    let key = format!("legacy#{}", shared::auth::secrets::new_id());
    let now = SystemClock.now();
    let n = |v: i64| AttributeValue::N(v.to_string());
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&tables.wallet)
        .item("pk", AttributeValue::S(format!("IDEM#{key}")))
        .item("fingerprint", AttributeValue::S("fp".into()))
        .item("lock_until", n(now - 3_600))
        .item("ttl", n(now + 80_000))
        .item("response_status", n(201))
        .item("response_body", AttributeValue::S("{}".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        wallet
            .begin(&key, "fp", now, now + 60, now + 86_400)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress,
        "a completed request must not run again"
    );
    wallet.release(&key).await.unwrap();
    assert_eq!(
        wallet
            .begin(&key, "fp", now, now + 60, now + 86_400)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress,
        "nor be released"
    );
}
