//! Separation of duties: an admin cannot decide a KYC submission or a fraud
//! review case about their own account. The attempt is refused with 403
//! `SELF_DECISION_FORBIDDEN`, changes nothing, and is audited.

mod common;

use std::sync::Arc;

use admin::App;
use serde_json::{json, Value};
use shared::audit::AuditEntry;
use shared::auth::model::Role;
use shared::clock::ManualClock;
use shared::kyc::model::KycStatus;
use shared::ports::{AuditLog, KycStore, ReviewStore};
use shared::review::{CaseStatus, ReviewCase};
use testkit::kyc_contract::sample_submission;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    event, invoke, signed_in_account, test_access_config, test_pii_keys, EventExt, Reply,
};

const NOW: i64 = 1_900_000_000;
const ADMIN_IP: &str = "203.0.113.10";

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
}

/// An admin signed in with TOTP: `(user_id, session token)`.
async fn admin_account(store: &MemoryStore) -> (String, String) {
    signed_in_account(store, store, Role::Admin, &["pwd", "otp"], ADMIN_IP, NOW).await
}

impl Harness {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let ports = common::memory_ports(&store, mailer.clone(), Arc::new(test_pii_keys()));
        let app = App::new(test_access_config(), ports, Arc::new(ManualClock::new(NOW)));
        Self { app, store, mailer }
    }

    async fn call(&self, token: &str, event: Value) -> Reply {
        invoke(
            |req| admin::handle(&self.app, req),
            event.header("X-Admin-Session", token),
        )
        .await
    }

    /// Every audit entry, oldest first, after checking the chain is intact.
    async fn audit(&self, token: &str) -> Vec<AuditEntry> {
        let verified = self.call(token, event("admin-audit-verify")).await;
        assert_eq!(verified.body["intact"], true, "{}", verified.body);
        self.store.all().await.unwrap()
    }
}

fn kyc_decision(id: &str) -> Value {
    event("admin-kyc-decision")
        .path(&format!("/admin/kyc/{id}/decision"))
        .body(json!({"decision": "approve"}))
}

fn review_decision(id: &str) -> Value {
    event("admin-reviews-decision")
        .path(&format!("/admin/reviews/{id}/decision"))
        .body(json!({"decision": "approve", "note": "looks fine"}))
}

fn assert_refused_and_audited(reply: &Reply, audit: &[AuditEntry], admin_id: &str, target: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (403, "SELF_DECISION_FORBIDDEN"),
        "{}",
        reply.body
    );
    let last = audit.last().expect("the refused attempt is audited");
    assert_eq!(last.actor, admin_id);
    assert_eq!(last.ip.as_deref(), Some(ADMIN_IP));
    assert_eq!(last.target, target);
    assert!(last.action.ends_with(".self_decision_refused"), "{last:?}");
    assert_eq!(
        last.after.as_ref().unwrap()["refused"],
        "SELF_DECISION_FORBIDDEN"
    );
}

#[tokio::test]
async fn an_admin_cannot_decide_their_own_kyc_submission() {
    let h = Harness::new();
    let (admin_id, token) = admin_account(&h.store).await;
    let sub = sample_submission(&admin_id, NOW - 60);
    h.store.open_submission(&sub).await.unwrap();

    let reply = h.call(&token, kyc_decision(&sub.submission_id)).await;

    let audit = h.audit(&token).await;
    assert_refused_and_audited(
        &reply,
        &audit,
        &admin_id,
        &format!("kyc:{}", sub.submission_id),
    );
    assert_eq!(audit.len(), 1, "only the refusal is recorded");
    let stored = h.store.submission(&sub.submission_id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&sub), "the submission is unchanged");
    assert!(h.mailer.sent().is_empty(), "nobody is told of a decision");

    let (_, other_admin) = admin_account(&h.store).await;
    let decided = h.call(&other_admin, kyc_decision(&sub.submission_id)).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let stored = h.store.submission(&sub.submission_id).await.unwrap();
    assert_eq!(stored.unwrap().status, KycStatus::Approved);
}

#[tokio::test]
async fn an_admin_cannot_decide_a_review_case_about_their_own_recharge() {
    let h = Harness::new();
    let (admin_id, token) = admin_account(&h.store).await;
    let case = ReviewCase {
        case_id: "rc_own_case".into(),
        kind: shared::review::CaseKind::HeldRecharge,
        user_id: admin_id.clone(),
        amount: 2_000,
        currency: "EUR".into(),
        score: 70,
        reasons: vec!["NEW_DEVICE".into()],
        status: CaseStatus::Open,
        opened_at: NOW,
        notified: true,
        decided_by: None,
        note: None,
    };
    h.store.open_case(&case).await.unwrap();

    let reply = h.call(&token, review_decision(&case.case_id)).await;

    let audit = h.audit(&token).await;
    assert_refused_and_audited(&reply, &audit, &admin_id, "recharge:rc_own_case");
    assert_eq!(audit.len(), 1, "only the refusal is recorded");
    let stored = h.store.case(&case.case_id).await.unwrap();
    assert_eq!(stored, Some(case), "the case is still open, undecided");
    assert!(h.mailer.sent().is_empty());
}
