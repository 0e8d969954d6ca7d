//! Exactly-once crediting over in-memory ports: duplicate and concurrent
//! deliveries, out-of-order outcomes, refunds, mismatches and the kill switch.

use std::sync::Arc;

use serde_json::json;
use shared::clock::ManualClock;
use shared::flags::{FeatureGuard, FlagCache, Snapshot};
use shared::ports::{
    AdminChange, AdminStore, RechargeCommit, ReviewStore, WalletStore, WebhookInbox,
};
use shared::review::CaseStatus;
use shared::wallet::fraud::Decision;
use shared::wallet::model::{Recharge, RechargeStatus, WalletProfile};
use shared::wallet::payments::{Applied, PaymentApplier};
use shared::webhook::event::{EventKind, ProviderEvent};
use testkit::memory::{MemoryMailer, MemoryStore};

const NOW: i64 = 1_900_000_000;

struct Harness {
    applier: Arc<PaymentApplier>,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
}

async fn harness() -> Harness {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::new(NOW));
    let owner = testkit::contract::sample_user("payer@example.test");
    let mut owner = owner;
    owner.user_id = "user-1".into();
    shared::ports::UserStore::create_user(&*store, &owner)
        .await
        .unwrap();
    let cache = Arc::new(FlagCache::new(store.clone(), clock.clone(), 0, 300));
    let applier = Arc::new(PaymentApplier {
        audit_keys: testkit::test_audit_keys(),
        wallet: store.clone(),
        inbox: store.clone(),
        reviews: store.clone(),
        users: store.clone(),
        mailer: mailer.clone(),
        guard: FeatureGuard::new(cache),
        clock,
    });
    let h = Harness {
        applier,
        store,
        mailer,
    };
    h.recharge("rc_1", RechargeStatus::PendingPayment).await;
    h
}

impl Harness {
    async fn recharge(&self, id: &str, status: RechargeStatus) {
        let audit = shared::audit::chain_after(
            &testkit::test_audit_keys(),
            None,
            shared::audit::AuditDraft {
                actor: "user-1".into(),
                ip: None,
                action: "recharge.allow".into(),
                target: id.into(),
                before: None,
                after: None,
            },
            NOW,
        );
        let existing = self
            .store
            .readings("user-1", "", &[], "")
            .await
            .unwrap()
            .profile;
        let mut profile = existing
            .clone()
            .unwrap_or_else(|| WalletProfile::new("user-1", NOW - 86_400));
        let expected = existing.map(|p| p.audit_seq);
        let audit = if let Some(seq) = expected {
            shared::audit::chain_after_head(
                &testkit::test_audit_keys(),
                profile
                    .audit_hash
                    .as_deref()
                    .filter(|_| seq > 0)
                    .map(|h| (seq, h)),
                shared::audit::AuditDraft {
                    actor: "user-1".into(),
                    ip: None,
                    action: "recharge.allow".into(),
                    target: id.into(),
                    before: None,
                    after: None,
                },
                NOW,
            )
        } else {
            audit
        };
        profile.audit_seq = audit.seq;
        profile.audit_hash = Some(audit.hash.clone());
        let recharge = Recharge {
            recharge_id: id.into(),
            user_id: "user-1".into(),
            amount: 2_000,
            currency: "EUR".into(),
            provider: "stripe".into(),
            provider_reference: "pay_x".into(),
            status,
            created_at: NOW,
            score: 10,
            reasons: vec![],
            decision: Decision::Allow,
            refunded: 0,
        };
        let commit = RechargeCommit {
            recharge,
            profile,
            expected_audit_seq: expected,
            audit,
            counters: vec![],
            device_account: None,
            idempotency: None,
        };
        self.store.commit_recharge(&commit).await.unwrap();
    }

    fn event(&self, id: &str, kind: EventKind, amount: i64) -> ProviderEvent {
        ProviderEvent {
            provider: "stripe".into(),
            event_id: id.into(),
            kind,
            recharge_id: Some("rc_1".into()),
            amount: Some(amount),
            currency: Some("EUR".into()),
            received_at: NOW,
        }
    }

    async fn delivered(&self, event: &ProviderEvent) -> Applied {
        self.store.record(event, NOW + 86_400).await.unwrap();
        self.applier.apply(event).await.unwrap()
    }

    async fn balance(&self) -> i64 {
        testkit::balance(&*self.store, "user-1", "EUR").await
    }

    async fn status(&self) -> RechargeStatus {
        self.store.recharge("rc_1").await.unwrap().unwrap().status
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_credit_once() {
    let h = harness().await;
    let event = h.event("evt_pay", EventKind::PaymentSucceeded, 2_000);
    h.store.record(&event, NOW + 86_400).await.unwrap();
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let applier = h.applier.clone();
            let event = event.clone();
            tokio::spawn(async move { applier.apply(&event).await })
        })
        .collect();
    let mut credited = 0;
    for worker in workers {
        if worker.await.unwrap().unwrap() == Applied::Credited {
            credited += 1;
        }
    }
    assert_eq!(credited, 1);
    assert_eq!(h.balance().await, 2_000);
    assert_eq!(h.status().await, RechargeStatus::Credited);
    let profile = h
        .store
        .readings("user-1", "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(profile.recent_entries.len(), 1);
    assert_eq!(h.mailer.sent().len(), 1, "one receipt");
    assert_eq!(
        h.store.record(&event, NOW + 86_400).await.unwrap(),
        shared::ports::InboxOutcome::Processed
    );
}

#[tokio::test]
async fn failed_then_succeeded_credits_and_a_late_failure_changes_nothing() {
    let h = harness().await;
    assert_eq!(
        h.delivered(&h.event("evt_fail", EventKind::PaymentFailed, 2_000))
            .await,
        Applied::MarkedFailed
    );
    assert_eq!(h.status().await, RechargeStatus::Failed);
    assert_eq!(
        h.delivered(&h.event("evt_ok", EventKind::PaymentSucceeded, 2_000))
            .await,
        Applied::Credited
    );
    assert_eq!(
        h.delivered(&h.event("evt_fail_late", EventKind::PaymentFailed, 2_000))
            .await,
        Applied::AlreadyApplied
    );
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::Credited, 2_000)
    );
}

#[tokio::test]
async fn a_mismatched_amount_is_reviewed_never_credited() {
    let h = harness().await;
    let mut wrong_currency = h.event("evt_usd", EventKind::PaymentSucceeded, 2_000);
    wrong_currency.currency = Some("USD".into());
    assert_eq!(
        h.delivered(&wrong_currency).await,
        Applied::Reviewed("AMOUNT_MISMATCH")
    );
    assert_eq!(
        h.delivered(&h.event("evt_less", EventKind::PaymentSucceeded, 1_999))
            .await,
        Applied::Reviewed("AMOUNT_MISMATCH")
    );
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::PendingPayment, 0)
    );
    assert_eq!(h.store.cases(CaseStatus::Open, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn refunds_debit_once_and_never_below_zero() {
    let h = harness().await;
    h.delivered(&h.event("evt_ok", EventKind::PaymentSucceeded, 2_000))
        .await;
    assert_eq!(
        h.delivered(&h.event("evt_refund", EventKind::Refunded, 2_000))
            .await,
        Applied::Debited
    );
    assert_eq!(
        h.delivered(&h.event("evt_refund", EventKind::Refunded, 2_000))
            .await,
        Applied::AlreadyApplied
    );
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::Refunded, 0)
    );

    let spent = harness().await;
    spent
        .delivered(&spent.event("evt_ok", EventKind::PaymentSucceeded, 2_000))
        .await;
    spent.store.set_balance_for_tests("user-1", "EUR", 500);
    assert_eq!(
        spent
            .delivered(&spent.event("evt_refund", EventKind::Refunded, 2_000))
            .await,
        Applied::Reviewed("REFUND_NOT_COVERED")
    );
    assert_eq!(spent.balance().await, 500, "never below zero");
}

#[tokio::test]
async fn unknown_types_are_recorded_and_ignored() {
    let h = harness().await;
    let event = h.event("evt_other", EventKind::Other("customer.created".into()), 0);
    assert_eq!(h.delivered(&event).await, Applied::Ignored);
    assert_eq!(
        h.store.record(&event, NOW + 86_400).await.unwrap(),
        shared::ports::InboxOutcome::Processed
    );
}

#[tokio::test]
async fn the_crediting_kill_switch_defers_without_losing_the_event() {
    let h = harness().await;
    let entry = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        None,
        shared::audit::AuditDraft {
            actor: "ops".into(),
            ip: None,
            action: "emergency.disable".into(),
            target: "flags".into(),
            before: None,
            after: Some(json!({})),
        },
        NOW,
    );
    h.store
        .commit(
            &AdminChange::SaveSnapshot {
                snapshot: Snapshot {
                    version: 1,
                    emergency: true,
                    flags: vec![],
                },
                expected_version: 0,
            },
            &entry,
        )
        .await
        .unwrap();
    let event = h.event("evt_pay", EventKind::PaymentSucceeded, 2_000);
    h.store.record(&event, NOW + 86_400).await.unwrap();
    assert!(h.applier.apply(&event).await.is_err(), "left on the queue");
    assert_eq!(h.balance().await, 0);
    assert_eq!(h.status().await, RechargeStatus::PendingPayment);
    assert_eq!(
        h.store.record(&event, NOW + 86_400).await.unwrap(),
        shared::ports::InboxOutcome::Stored,
        "the event is kept, not marked processed"
    );

    let restore = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        Some(&entry),
        shared::audit::AuditDraft {
            actor: "ops".into(),
            ip: None,
            action: "emergency.restore".into(),
            target: "flags".into(),
            before: None,
            after: Some(json!({})),
        },
        NOW,
    );
    h.store
        .commit(
            &AdminChange::SaveSnapshot {
                snapshot: Snapshot {
                    version: 2,
                    emergency: false,
                    flags: vec![],
                },
                expected_version: 1,
            },
            &restore,
        )
        .await
        .unwrap();
    assert_eq!(
        h.applier.apply(&event).await.unwrap(),
        Applied::Credited,
        "the redelivery credits once the switch is restored"
    );
    assert_eq!(h.balance().await, 2_000);
    assert_eq!(h.status().await, RechargeStatus::Credited);
}

#[tokio::test]
async fn a_database_outage_is_retried_and_never_double_credits() {
    let h = harness().await;
    let event = h.event("evt_pay", EventKind::PaymentSucceeded, 2_000);
    h.store.record(&event, NOW + 86_400).await.unwrap();
    h.store.set_unavailable(true);
    assert!(h.applier.apply(&event).await.is_err());
    h.store.set_unavailable(false);
    assert_eq!(h.applier.apply(&event).await.unwrap(), Applied::Credited);
    assert_eq!(
        h.applier.apply(&event).await.unwrap(),
        Applied::AlreadyApplied
    );
    assert_eq!(h.balance().await, 2_000);
}

#[test]
fn retry_delays_grow_from_ten_seconds_to_fifteen_minutes() {
    use webhook_worker::retry_delay;
    let delays: Vec<i32> = (1..=9).map(retry_delay).collect();
    assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 640, 900, 900]);
}

#[tokio::test]
async fn a_failed_message_is_reported_and_retried_later_each_time() {
    use aws_lambda_events::event::sqs::SqsEvent;
    let h = harness().await;
    let app = webhook_worker::App {
        applier: Arc::try_unwrap(h.applier).ok().unwrap(),
        retries: h.store.clone(),
    };
    let mut unknown = ProviderEvent {
        provider: "stripe".into(),
        event_id: "evt_x".into(),
        kind: EventKind::PaymentSucceeded,
        recharge_id: Some("rc_missing".into()),
        amount: Some(1),
        currency: Some("EUR".into()),
        received_at: NOW,
    };
    unknown.recharge_id = Some("rc_missing".into());
    let good = ProviderEvent {
        event_id: "evt_good".into(),
        recharge_id: Some("rc_1".into()),
        amount: Some(2_000),
        ..unknown.clone()
    };
    let batch: SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "m-bad", "receiptHandle": "rh-bad", "body": serde_json::to_string(&unknown).unwrap(), "attributes": {"ApproximateReceiveCount": "3"}},
        {"messageId": "m-good", "receiptHandle": "rh-good", "body": serde_json::to_string(&good).unwrap(), "attributes": {"ApproximateReceiveCount": "1"}},
        {"messageId": "m-poison", "receiptHandle": "rh-poison", "body": "not json", "attributes": {"ApproximateReceiveCount": "1"}},
    ]}))
    .unwrap();
    let response = webhook_worker::handle_batch(&app, batch, None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["m-bad", "m-poison"],
        "only the failed messages are retried"
    );
    assert_eq!(
        h.store.retries(),
        vec![("rh-bad".to_string(), 40), ("rh-poison".to_string(), 10)]
    );
}

impl Harness {
    async fn credited(&self) {
        let paid = self.event("evt_ok", EventKind::PaymentSucceeded, 2_000);
        assert_eq!(self.delivered(&paid).await, Applied::Credited);
    }

    async fn refunded_total(&self) -> i64 {
        self.store.recharge("rc_1").await.unwrap().unwrap().refunded
    }

    async fn ledger_sum(&self) -> i64 {
        let profile = self
            .store
            .readings("user-1", "", &[], "")
            .await
            .unwrap()
            .profile
            .unwrap();
        profile.recent_entries.iter().map(|e| e.amount).sum()
    }
}

#[tokio::test]
async fn partial_refunds_debit_what_each_adds_to_the_refunded_total() {
    let h = harness().await;
    h.credited().await;
    let first = h.event("evt_r1", EventKind::Refunded, 100);
    assert_eq!(h.delivered(&first).await, Applied::Debited);
    assert_eq!(
        (
            h.status().await,
            h.balance().await,
            h.refunded_total().await
        ),
        (RechargeStatus::PartiallyRefunded, 1_900, 100)
    );
    assert_eq!(h.delivered(&first).await, Applied::AlreadyApplied);
    let rest = h.event("evt_r2", EventKind::Refunded, 2_000);
    assert_eq!(
        h.delivered(&rest).await,
        Applied::Debited,
        "the remaining 1900 of a cumulative 2000"
    );
    assert_eq!(
        (
            h.status().await,
            h.balance().await,
            h.refunded_total().await
        ),
        (RechargeStatus::Refunded, 0, 2_000)
    );
    assert_eq!(h.ledger_sum().await, 0, "credit 2000, debits 100 + 1900");
    let paid_again = h.event("evt_ok_late", EventKind::PaymentSucceeded, 2_000);
    assert_eq!(h.delivered(&paid_again).await, Applied::AlreadyApplied);
    assert_eq!(h.balance().await, 0);
}

#[tokio::test]
async fn a_stale_refund_arriving_after_a_larger_one_debits_nothing() {
    let h = harness().await;
    h.credited().await;
    let larger = h.event("evt_r2", EventKind::Refunded, 1_500);
    let stale = h.event("evt_r1", EventKind::Refunded, 500);
    assert_eq!(h.delivered(&larger).await, Applied::Debited);
    assert_eq!(h.delivered(&stale).await, Applied::AlreadyApplied);
    assert_eq!((h.balance().await, h.refunded_total().await), (500, 1_500));
}

#[tokio::test]
async fn a_refund_beyond_the_payment_or_in_another_currency_is_reviewed() {
    let h = harness().await;
    h.credited().await;
    let beyond = h.event("evt_big", EventKind::Refunded, 2_001);
    assert_eq!(
        h.delivered(&beyond).await,
        Applied::Reviewed("REFUND_AMOUNT_INVALID")
    );
    let mut foreign = h.event("evt_usd", EventKind::Refunded, 100);
    foreign.currency = Some("USD".into());
    assert_eq!(
        h.delivered(&foreign).await,
        Applied::Reviewed("REFUND_AMOUNT_INVALID")
    );
    assert_eq!((h.balance().await, h.refunded_total().await), (2_000, 0));
}

#[tokio::test]
async fn a_partial_refund_the_balance_cannot_cover_is_reviewed_not_debited() {
    let h = harness().await;
    h.credited().await;
    assert_eq!(
        h.delivered(&h.event("evt_r1", EventKind::Refunded, 400))
            .await,
        Applied::Debited
    );
    h.store.set_balance_for_tests("user-1", "EUR", 300);
    assert_eq!(
        h.delivered(&h.event("evt_r2", EventKind::Refunded, 1_000))
            .await,
        Applied::Reviewed("REFUND_NOT_COVERED")
    );
    assert_eq!(
        (h.balance().await, h.refunded_total().await),
        (300, 400),
        "never below zero, the total unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_refunds_debit_exactly_the_largest_total() {
    let h = harness().await;
    h.credited().await;
    let events: Vec<_> = (1..=10)
        .map(|i| h.event(&format!("evt_r{i}"), EventKind::Refunded, i * 200))
        .collect();
    for event in &events {
        h.store.record(event, NOW + 86_400).await.unwrap();
    }
    let workers: Vec<_> = events
        .iter()
        .chain(events.iter())
        .map(|event| {
            let applier = h.applier.clone();
            let event = event.clone();
            tokio::spawn(async move { applier.apply(&event).await })
        })
        .collect();
    for worker in workers {
        match worker.await.unwrap() {
            Ok(Applied::Debited | Applied::AlreadyApplied) => {}
            Err(busy) => assert_eq!(busy.0, "wallet busy", "only contention may defer"),
            Ok(other) => panic!("{other:?}"),
        }
    }
    for event in &events {
        let applied = h.applier.apply(event).await.unwrap();
        assert!(
            matches!(applied, Applied::Debited | Applied::AlreadyApplied),
            "a redelivery: {applied:?}"
        );
    }
    assert_eq!(
        (
            h.status().await,
            h.balance().await,
            h.refunded_total().await
        ),
        (RechargeStatus::Refunded, 0, 2_000)
    );
    assert_eq!(
        h.ledger_sum().await,
        0,
        "debits add up to the payment exactly"
    );
}

#[tokio::test]
async fn another_providers_event_is_reviewed_never_applied() {
    let h = harness().await;
    let mut paid = h.event("evt_gen", EventKind::PaymentSucceeded, 2_000);
    paid.provider = "generic".into();
    assert_eq!(
        h.delivered(&paid).await,
        Applied::Reviewed("PROVIDER_MISMATCH")
    );
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::PendingPayment, 0)
    );
    h.credited().await;
    let mut refund = h.event("evt_gen_refund", EventKind::Refunded, 2_000);
    refund.provider = "generic".into();
    assert_eq!(
        h.delivered(&refund).await,
        Applied::Reviewed("PROVIDER_MISMATCH")
    );
    assert_eq!(h.balance().await, 2_000);
    assert_eq!(h.store.cases(CaseStatus::Open, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_refund_without_a_readable_total_is_reviewed_not_taken_as_the_whole_payment() {
    let h = harness().await;
    h.credited().await;
    let mut unknown = h.event("evt_no_amount", EventKind::Refunded, 0);
    unknown.amount = None;
    assert_eq!(
        h.delivered(&unknown).await,
        Applied::Reviewed("REFUND_AMOUNT_INVALID")
    );
    assert_eq!((h.balance().await, h.refunded_total().await), (2_000, 0));
}

#[tokio::test]
async fn a_refund_before_its_payment_is_recorded_and_the_payment_credits_only_the_rest() {
    let h = harness().await;
    let early = h.event("evt_r_early", EventKind::Refunded, 500);
    assert_eq!(h.delivered(&early).await, Applied::RefundRecorded);
    assert_eq!(h.delivered(&early).await, Applied::AlreadyApplied);
    assert_eq!(
        (
            h.status().await,
            h.balance().await,
            h.refunded_total().await
        ),
        (RechargeStatus::PendingPayment, 0, 500)
    );
    let paid = h.event("evt_ok", EventKind::PaymentSucceeded, 2_000);
    assert_eq!(h.delivered(&paid).await, Applied::Credited);
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::PartiallyRefunded, 1_500),
        "2000 paid, 500 already returned"
    );
    assert!(h.mailer.sent().is_empty(), "no receipt for the full amount");
    assert_eq!(h.delivered(&paid).await, Applied::AlreadyApplied);
    let rest = h.event("evt_r_rest", EventKind::Refunded, 2_000);
    assert_eq!(h.delivered(&rest).await, Applied::Debited);
    assert_eq!((h.balance().await, h.refunded_total().await), (0, 2_000));
}

#[tokio::test]
async fn a_full_refund_before_the_payment_leaves_nothing_to_credit() {
    let h = harness().await;
    let refund = h.event("evt_r_all", EventKind::Refunded, 2_000);
    assert_eq!(h.delivered(&refund).await, Applied::RefundRecorded);
    let paid = h.event("evt_ok", EventKind::PaymentSucceeded, 2_000);
    assert_eq!(h.delivered(&paid).await, Applied::Credited);
    assert_eq!(
        (h.status().await, h.balance().await),
        (RechargeStatus::Refunded, 0)
    );
    assert_eq!(h.ledger_sum().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_racing_its_payment_leaves_the_same_balance_whichever_lands_first() {
    for round in 0..20 {
        let h = harness().await;
        let refund = h.event("evt_r", EventKind::Refunded, 2_000);
        let paid = h.event("evt_ok", EventKind::PaymentSucceeded, 2_000);
        for event in [&refund, &paid] {
            h.store.record(event, NOW + 86_400).await.unwrap();
        }
        let workers: Vec<_> = [refund, paid]
            .into_iter()
            .map(|event| {
                let applier = h.applier.clone();
                tokio::spawn(async move { applier.apply(&event).await })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap().unwrap();
        }
        assert_eq!(
            (h.status().await, h.balance().await, h.ledger_sum().await),
            (RechargeStatus::Refunded, 0, 0),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn a_batch_near_its_deadline_applies_nothing_and_reports_every_message() {
    use aws_lambda_events::event::sqs::SqsEvent;
    let h = harness().await;
    let store = h.store.clone();
    let app = webhook_worker::App {
        applier: Arc::try_unwrap(h.applier).ok().unwrap(),
        retries: store.clone(),
    };
    let event = ProviderEvent {
        provider: "stripe".into(),
        event_id: "evt_late".into(),
        kind: EventKind::PaymentSucceeded,
        recharge_id: Some("rc_1".into()),
        amount: Some(2_000),
        currency: Some("EUR".into()),
        received_at: NOW,
    };
    store.record(&event, NOW + 86_400).await.unwrap();
    let body = serde_json::to_string(&event).unwrap();
    let batch: SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "m-1", "receiptHandle": "rh-1", "body": body, "attributes": {"ApproximateReceiveCount": "1"}},
        {"messageId": "m-2", "receiptHandle": "rh-2", "body": body, "attributes": {"ApproximateReceiveCount": "1"}},
    ]}))
    .unwrap();
    let in_time = batch.clone();
    let near = edge::deadline::Deadline::after(
        edge::deadline::WORKER_START_RESERVE - std::time::Duration::from_secs(1),
    );
    let response = webhook_worker::handle_batch(&app, batch, Some(near)).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-1", "m-2"]);
    assert_eq!(
        testkit::balance(&*store, "user-1", "EUR").await,
        0,
        "nothing credited"
    );
    assert!(
        store.retries().is_empty(),
        "left to the queue's visibility timeout"
    );

    let later = edge::deadline::Deadline::after(std::time::Duration::from_secs(30));
    let redelivered = webhook_worker::handle_batch(&app, in_time, Some(later)).await;
    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(
        testkit::balance(&*store, "user-1", "EUR").await,
        2_000,
        "redelivered in time, credited once"
    );
}
