//! The review worker over in-memory ports: one case per recharge whatever
//! the deliveries, only failed messages retried, reviewers emailed once.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use fraud_review_worker::{handle_batch, App};
use serde_json::{json, Value};
use shared::clock::ManualClock;
use shared::ports::{RechargeCommit, ReviewStore, WalletStore};
use shared::review::{CaseStatus, ReviewWorker};
use shared::wallet::fraud::Decision;
use shared::wallet::model::{Recharge, RechargeStatus, WalletProfile};
use testkit::event;
use testkit::memory::{MemoryMailer, MemoryStore};

const NOW: i64 = 1_900_000_000;

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
}

fn harness() -> Harness {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::new());
    let app = App {
        worker: ReviewWorker {
            reviews: store.clone(),
            wallet: store.clone(),
            mailer: mailer.clone(),
            reviewers: vec![
                "fraud-team@example.test".into(),
                "risk-lead@example.test".into(),
            ],
            clock: Arc::new(ManualClock::new(NOW)),
        },
        retries: store.clone(),
    };
    Harness { app, store, mailer }
}

/// Stores a recharge held for review; returns (recharge id, user id).
async fn held(h: &Harness, n: u32) -> (String, String) {
    let user = format!("user-{n}");
    let id = format!("rc_held_{n}");
    let audit = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        None,
        shared::audit::AuditDraft {
            actor: user.clone(),
            ip: None,
            action: "recharge.review".into(),
            target: id.clone(),
            before: None,
            after: None,
        },
        NOW,
    );
    let mut profile = WalletProfile::new(&user, NOW);
    profile.audit_seq = 1;
    let recharge = Recharge {
        recharge_id: id.clone(),
        user_id: user.clone(),
        amount: 2_000,
        currency: "EUR".into(),
        provider: "stripe".into(),
        provider_reference: "pay_x".into(),
        status: RechargeStatus::PendingReview,
        created_at: NOW,
        score: 70,
        reasons: vec!["NEW_DEVICE".into(), "SHARED_DEVICE".into()],
        decision: Decision::Review,
        refunded: 0,
    };
    let commit = RechargeCommit {
        recharge,
        profile,
        expected_audit_seq: None,
        audit,
        counters: vec![],
        device_account: None,
        idempotency: None,
    };
    h.store.commit_recharge(&commit).await.unwrap();
    (id, user)
}

/// A batch from the sample event with one record per body.
fn batch(bodies: &[Value]) -> SqsEvent {
    let sample = event("fraud-review-worker-batch");
    let template = sample["Records"][0].clone();
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("message-{i}"));
            record["body"] = json!(body.to_string());
            record
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn duplicate_deliveries_open_one_case_and_email_once() {
    let h = harness();
    let (id, user) = held(&h, 1).await;
    let message = json!({"recharge_id": id, "user_id": user});
    let first = handle_batch(&h.app, batch(&[message.clone(), message.clone()]), None).await;
    assert!(failures(&first).is_empty());
    let again = handle_batch(&h.app, batch(&[message]), None).await;
    assert!(failures(&again).is_empty());
    let open = h.store.cases(CaseStatus::Open, 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].case_id, id);
    assert!(open[0].notified);
    assert_eq!(
        h.mailer.sent().len(),
        2,
        "each reviewer once, whatever the deliveries"
    );
    assert!(
        !h.mailer.sent()[0].text.contains("70"),
        "the email carries reasons, not the score"
    );
}

#[tokio::test]
async fn a_failure_mid_batch_retries_only_the_failed_messages() {
    let h = harness();
    let (a, ua) = held(&h, 1).await;
    let (b, ub) = held(&h, 2).await;
    let response = handle_batch(
        &h.app,
        batch(&[
            json!({"recharge_id": a, "user_id": ua}),
            json!({"recharge_id": "rc_unknown", "user_id": "nobody"}),
            json!({"not": "a review message"}),
            json!({"recharge_id": b, "user_id": "someone-else"}),
            json!({"recharge_id": b, "user_id": ub}),
        ]),
        None,
    )
    .await;
    assert_eq!(
        failures(&response),
        vec!["message-1", "message-2", "message-3"]
    );
    assert_eq!(h.store.cases(CaseStatus::Open, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_email_outage_leaves_the_message_and_the_retry_notifies() {
    let h = harness();
    let (id, user) = held(&h, 1).await;
    let message = json!({"recharge_id": id, "user_id": user});
    h.mailer.set_unavailable(true);
    let failed = handle_batch(&h.app, batch(std::slice::from_ref(&message)), None).await;
    assert_eq!(failures(&failed), vec!["message-0"]);
    assert!(
        !h.store.case(&id).await.unwrap().unwrap().notified,
        "the case is kept, not lost"
    );
    h.mailer.set_unavailable(false);
    let retried = handle_batch(&h.app, batch(&[message]), None).await;
    assert!(failures(&retried).is_empty());
    assert!(h.store.case(&id).await.unwrap().unwrap().notified);
}

#[test]
fn retry_delays_grow_from_ten_seconds_to_fifteen_minutes_as_the_webhook_workers_do() {
    use fraud_review_worker::retry_delay;
    let delays: Vec<i32> = (1..=9).map(retry_delay).collect();
    assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 640, 900, 900]);
}

#[tokio::test]
async fn a_failed_message_is_reported_and_retried_later_each_time() {
    let h = harness();
    let (id, user) = held(&h, 1).await;
    let good = json!({"recharge_id": id, "user_id": user});
    let unknown = json!({"recharge_id": "rc_unknown", "user_id": "nobody"});
    let batch: SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "m-bad", "receiptHandle": "rh-bad", "body": unknown.to_string(), "attributes": {"ApproximateReceiveCount": "3"}},
        {"messageId": "m-good", "receiptHandle": "rh-good", "body": good.to_string(), "attributes": {"ApproximateReceiveCount": "1"}},
        {"messageId": "m-poison", "receiptHandle": "rh-poison", "body": "not json", "attributes": {"ApproximateReceiveCount": "1"}},
    ]}))
    .unwrap();
    let response = handle_batch(&h.app, batch, None).await;
    assert_eq!(
        failures(&response),
        vec!["m-bad", "m-poison"],
        "only the failed messages are retried"
    );
    assert_eq!(
        h.store.retries(),
        vec![("rh-bad".to_string(), 40), ("rh-poison".to_string(), 10)],
        "each failed message waits longer the more often it was received"
    );
}

/// `batch` with every record at its `receives`-th delivery.
fn delivered(bodies: &[Value], receives: u32) -> SqsEvent {
    let mut event = batch(bodies);
    for record in &mut event.records {
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), receives.to_string());
    }
    event
}

#[tokio::test]
async fn a_refused_reviewer_address_does_not_hold_the_review() {
    let h = harness();
    let (id, user) = held(&h, 1).await;
    h.mailer.refuse("fraud-team@example.test");
    let response = handle_batch(
        &h.app,
        batch(&[json!({"recharge_id": id, "user_id": user})]),
        None,
    )
    .await;
    assert!(
        failures(&response).is_empty(),
        "a refusal never heals by retrying: the message must not wait for the dead-letter queue"
    );
    let case = h.store.case(&id).await.unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Open);
    assert!(case.notified);
    let sent: Vec<String> = h.mailer.sent().into_iter().map(|m| m.to).collect();
    assert_eq!(
        sent,
        vec!["risk-lead@example.test"],
        "the other reviewer is still told"
    );
}

#[tokio::test]
async fn an_email_outage_stops_holding_the_review_after_its_attempts() {
    use fraud_review_worker::NOTIFY_ATTEMPTS;
    let h = harness();
    let (id, user) = held(&h, 1).await;
    let message = json!({"recharge_id": id, "user_id": user});
    h.mailer.set_unavailable(true);
    let early = handle_batch(
        &h.app,
        delivered(std::slice::from_ref(&message), NOTIFY_ATTEMPTS - 1),
        None,
    )
    .await;
    assert_eq!(
        failures(&early),
        vec!["message-0"],
        "retried while attempts remain"
    );
    let last = handle_batch(&h.app, delivered(&[message], NOTIFY_ATTEMPTS), None).await;
    assert!(
        failures(&last).is_empty(),
        "acknowledged before the queue's receive limit sends it to the dead-letter queue"
    );
    let case = h.store.case(&id).await.unwrap().unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Open,
        "the case waits in the console"
    );
    assert!(!case.notified, "and does not claim the reviewers were told");
}

#[tokio::test]
async fn a_case_no_reviewer_could_be_told_about_is_not_marked_notified() {
    let h = harness();
    let (id, user) = held(&h, 1).await;
    h.mailer.refuse("fraud-team@example.test");
    h.mailer.refuse("risk-lead@example.test");
    let response = handle_batch(
        &h.app,
        batch(&[json!({"recharge_id": id, "user_id": user})]),
        None,
    )
    .await;
    assert!(
        failures(&response).is_empty(),
        "refusals never heal by retrying"
    );
    let case = h.store.case(&id).await.unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Open);
    assert!(!case.notified, "nobody was told");
}

/// A mail service that never answers.
struct HangingMailer;

#[async_trait::async_trait]
impl shared::ports::Mailer for HangingMailer {
    async fn send(
        &self,
        _email: &shared::ports::OutgoingEmail,
    ) -> Result<(), shared::ports::MailError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_hanging_mail_service_cannot_send_a_late_delivery_to_the_dead_letter_queue() {
    use fraud_review_worker::NOTIFY_ATTEMPTS;
    let mut h = harness();
    let (id, user) = held(&h, 1).await;
    h.app.worker.mailer = Arc::new(HangingMailer);
    let deadline = edge::deadline::Deadline::after(std::time::Duration::from_secs(10));
    let response = handle_batch(
        &h.app,
        delivered(
            &[json!({"recharge_id": id, "user_id": user})],
            NOTIFY_ATTEMPTS,
        ),
        Some(deadline),
    )
    .await;
    assert!(
        failures(&response).is_empty(),
        "acknowledged without waiting out the mail service"
    );
    let case = h.store.case(&id).await.unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Open);
    assert!(!case.notified);
}
