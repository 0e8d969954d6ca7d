//! Deadlines from the Lambda context under the real AWS adapters: a
//! dependency that stalls past the invocation's deadline ends in a 503
//! before it (not in a killed invocation), nothing is half-written, and the
//! client's retry completes the work exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::{clear_faults, inject_fault, FaultMode, RechargeStack};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::ports::WalletStore;
use shared::wallet::service::IDEMPOTENCY_LOCK_SECONDS;

/// The invocation's time: shorter than the SDK's worst case for one
/// stalled request (three 2 s attempts with backoff).
const DEADLINE: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_recharge_whose_commit_stalls_answers_503_before_its_deadline() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let stack = RechargeStack::new(&[], clock.clone()).await;
    let key = format!("deadline-{}", stack.user_id);
    inject_fault(
        "dynamodb:TransactWriteItems",
        &key,
        FaultMode::StallDrop(5.0),
        3,
    );
    let started = Instant::now();
    let reply = stack.recharge_within(&key, 2_000, DEADLINE).await;
    let answered_after = started.elapsed();
    assert_eq!(
        (reply.status, reply.code()),
        (503, "SERVICE_UNAVAILABLE"),
        "{}",
        reply.body
    );
    assert!(
        answered_after < DEADLINE,
        "answered {answered_after:?} in: after the invocation's {DEADLINE:?} deadline"
    );
    assert!(clear_faults(&key) >= 1, "the commit was really stalled");

    let recharge_id = shared::wallet::service::recharge_id_for(&stack.user_id, &key);
    assert!(
        stack.wallet.recharge(&recharge_id).await.unwrap().is_none(),
        "nothing landed"
    );
    clock.advance(IDEMPOTENCY_LOCK_SECONDS + 1);
    let retried = stack.recharge_within(&key, 2_000, DEADLINE).await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    let profile = stack
        .wallet
        .readings(&stack.user_id, "", &[], "")
        .await
        .unwrap()
        .profile
        .expect("the profile was written");
    assert_eq!(profile.allowed_count, 1, "counted once");
}

#[tokio::test]
async fn a_recharge_in_time_is_not_touched_by_its_deadline() {
    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let key = format!("deadline-ok-{}", stack.user_id);
    let reply = stack.recharge_within(&key, 2_000, DEADLINE).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}
