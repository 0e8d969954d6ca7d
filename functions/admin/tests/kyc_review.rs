//! KYC review on the admin function over in-memory ports: paged lists, the
//! reviewer's view (PII decrypted, short-lived links), decisions taken
//! once (also under a race), audit, email, the age-verified mark, erasure.

mod common;

use std::sync::Arc;

use admin::App;
use serde_json::{json, Value};
use shared::audit::verify_chain;
use shared::auth::model::Role;
use shared::clock::ManualClock;
use shared::kyc::model::{KycStatus, StoredDocument, UploadReservation};
use shared::kyc::pii::PiiKeys;
use shared::kyc::service::pii_field;
use shared::ports::{AuditLog, DocumentStore, KycStore, UserStore, WalletStore};
use testkit::kyc_contract::sample_submission;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    event, invoke, signed_in_account, test_access_config, test_pii_keys, EventExt, Reply,
};

const NOW: i64 = 1_795_435_200;
const ADMIN_IP: &str = "203.0.113.10";

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    pii: Arc<PiiKeys>,
    token: String,
}

impl Harness {
    async fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock = Arc::new(ManualClock::new(NOW));
        let pii = Arc::new(test_pii_keys());
        let ports = common::memory_ports(&store, mailer.clone(), pii.clone());
        let app = App::new(test_access_config(), ports, clock.clone());
        let (_, token) = signed_in_account(
            &*store,
            &*store,
            Role::Admin,
            &["pwd", "otp"],
            ADMIN_IP,
            NOW,
        )
        .await;
        Self {
            app,
            store,
            mailer,
            pii,
            token,
        }
    }

    /// A user with a pending submission (front and back stored); returns
    /// `(user_id, submission_id)`.
    async fn applicant(&self, submitted_at: i64) -> (String, String) {
        let (user_id, _) = signed_in_account(
            &*self.store,
            &*self.store,
            Role::User,
            &["pwd"],
            "198.51.100.7",
            NOW,
        )
        .await;
        let mut sub = sample_submission(&user_id, submitted_at);
        let id = sub.submission_id.clone();
        sub.birth_date = self
            .pii
            .encrypt(&pii_field(&id, "date_of_birth"), "2005-01-15");
        sub.document_number = self
            .pii
            .encrypt(&pii_field(&id, "document_number"), "12AB34567");
        sub.stricter_review = true;
        sub.documents.push(StoredDocument {
            role: shared::kyc::model::DocumentRole::Back,
            object_key: format!("kyc/{id}/back.png"),
            content_type: "image/png".into(),
            bytes: 10,
            sha256: "11".repeat(32),
        });
        for doc in &sub.documents {
            self.store
                .put_document(
                    &doc.object_key,
                    bytes::Bytes::from_static(b"img"),
                    &doc.content_type,
                )
                .await
                .unwrap();
        }
        self.store.open_submission(&sub).await.unwrap();
        (user_id, id)
    }

    async fn call(&self, event: Value) -> Reply {
        invoke(
            |req| admin::handle(&self.app, req),
            event.header("X-Admin-Session", &self.token),
        )
        .await
    }

    async fn decide(&self, id: &str, body: Value) -> Reply {
        let path = format!("/admin/kyc/{id}/decision");
        self.call(event("admin-kyc-decision").path(&path).body(body))
            .await
    }

    async fn email_of(&self, user_id: &str) -> String {
        self.store.user_by_id(user_id).await.unwrap().unwrap().email
    }
}

#[tokio::test]
async fn pending_submissions_are_listed_in_pages_without_pii() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(h.applicant(NOW - 100 + i).await.1);
    }
    let first = h.call(event("admin-kyc-list")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let page = |reply: &Reply| -> Vec<String> {
        reply.body["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["submission_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(page(&first), ids, "oldest first");
    assert!(!first.body.to_string().contains("v1."), "no PII in lists");

    let limited = h
        .call(with_query(
            event("admin-kyc-list"),
            &[("status", "pending"), ("limit", "2")],
        ))
        .await;
    assert_eq!(page(&limited), ids[..2]);
    let cursor = limited.body["next_cursor"].as_str().unwrap();
    let rest = h
        .call(with_query(
            event("admin-kyc-list"),
            &[("status", "pending"), ("limit", "2"), ("cursor", cursor)],
        ))
        .await;
    assert_eq!(page(&rest), ids[2..]);
    assert!(rest.body.get("next_cursor").is_none());

    let bad = h
        .call(with_query(event("admin-kyc-list"), &[("cursor", "forged")]))
        .await;
    assert_eq!(bad.status, 400);
    let bad_status = h
        .call(with_query(event("admin-kyc-list"), &[("status", "open")]))
        .await;
    assert_eq!(bad_status.status, 400);
}

fn with_query(mut event: Value, pairs: &[(&str, &str)]) -> Value {
    let query: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    event["rawQueryString"] = json!(pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&"));
    event["queryStringParameters"] = Value::Object(query);
    event
}

#[tokio::test]
async fn the_reviewer_sees_decrypted_pii_and_short_lived_links() {
    let h = Harness::new().await;
    let (user_id, id) = h.applicant(NOW - 10).await;
    let reply = h
        .call(event("admin-kyc-get").path(&format!("/admin/kyc/{id}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user_id"], user_id);
    assert_eq!(reply.body["date_of_birth"], "2005-01-15");
    assert_eq!(reply.body["document_number"], "12AB34567");
    assert_eq!(reply.body["age"], 21);
    assert_eq!(reply.body["stricter_review"], true);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let links = reply.body["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert!(links[0]["url"]
        .as_str()
        .unwrap()
        .contains(&format!("kyc/{id}/front.jpg")));
    assert_eq!(links[0]["expires_in"], 300);

    let missing = h
        .call(event("admin-kyc-get").path("/admin/kyc/no-such-submission"))
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn approval_is_decided_once_audited_emailed_and_marks_the_account() {
    let h = Harness::new().await;
    let (user_id, id) = h.applicant(NOW - 10).await;
    let approved = h.decide(&id, json!({"decision": "approve"})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert!(approved.body.get("date_of_birth").is_none());

    let again = h
        .decide(
            &id,
            json!({"decision": "reject", "reason": "second thoughts"}),
        )
        .await;
    assert_eq!((again.status, again.code()), (409, "KYC_ALREADY_DECIDED"));

    let profile = h
        .store
        .readings(&user_id, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert!(profile.age_verified);
    assert_eq!(profile.country.as_deref(), Some("FR"));
    let money = h.store.money_audit();
    assert!(money
        .iter()
        .any(|e| e.action == "kyc.age_verified" && e.target == format!("user:{user_id}")));

    let chain = h.store.all().await.unwrap();
    assert!(verify_chain(&testkit::test_audit_keys(), &chain).intact);
    let entry = chain.last().unwrap();
    assert_eq!(entry.action, "kyc.approved");
    assert_eq!(entry.target, format!("kyc:{id}"));

    let mail = h.mailer.sent();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, h.email_of(&user_id).await);
    assert_eq!(mail[0].subject, "Your identity is verified");
    assert!(!mail[0].text.contains("12AB34567"));
    assert_eq!(
        h.store
            .reserve_upload(&user_id, "2026-11-23", 3, NOW + 86_400)
            .await
            .unwrap(),
        UploadReservation::Blocked,
        "an approved user has nothing more to submit"
    );
}

#[tokio::test]
async fn rejection_needs_a_reason_tells_the_user_and_allows_resubmission() {
    let h = Harness::new().await;
    let (user_id, id) = h.applicant(NOW - 10).await;
    let no_reason = h.decide(&id, json!({"decision": "reject"})).await;
    assert_eq!(no_reason.status, 400);
    let approve_with_reason = h
        .decide(&id, json!({"decision": "approve", "reason": "fine"}))
        .await;
    assert_eq!(approve_with_reason.status, 400);
    let unknown = h
        .decide(&id, json!({"decision": "maybe", "reason": "x"}))
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        h.mailer.sent().is_empty(),
        "refused requests change nothing"
    );

    let asked = h
        .decide(
            &id,
            json!({"decision": "request_resubmission", "reason": "The photo is blurred."}),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.body["status"], "resubmission_requested");
    let mail = h.mailer.sent();
    assert_eq!(mail[0].subject, "Please send your identity documents again");
    assert!(mail[0].text.contains("The photo is blurred."));
    let profile = h
        .store
        .readings(&user_id, "", &[], "")
        .await
        .unwrap()
        .profile;
    assert!(profile.is_none_or(|p| !p.age_verified));
    assert_eq!(
        h.store
            .reserve_upload(&user_id, "2026-11-23", 3, NOW + 86_400)
            .await
            .unwrap(),
        UploadReservation::Reserved
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_decisions_settle_on_exactly_one() {
    let h = Arc::new(Harness::new().await);
    let (_, id) = h.applicant(NOW - 10).await;
    let bodies = [
        json!({"decision": "approve"}),
        json!({"decision": "reject", "reason": "forged"}),
        json!({"decision": "approve"}),
        json!({"decision": "request_resubmission", "reason": "blurred"}),
    ];
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (h, id) = (h.clone(), id.clone());
            tokio::spawn(async move { h.decide(&id, body).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409));
    let decisions = h
        .store
        .all()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("kyc."))
        .count();
    assert_eq!(decisions, 1, "one audit entry");
    assert_eq!(h.mailer.sent().len(), 1, "one email");
}

#[tokio::test]
async fn account_erasure_removes_documents_and_pii_and_is_audited() {
    let h = Harness::new().await;
    let (user_id, id) = h.applicant(NOW - 10).await;
    let reply = h
        .call(event("admin-users-kyc-erasure").path(&format!("/admin/users/{user_id}/kyc-erasure")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"submissions": 1, "documents": 2}));
    assert!(h.store.document_keys().is_empty());
    let erased = h.store.submission(&id).await.unwrap().unwrap();
    assert!(erased.birth_date.is_empty() && erased.document_number.is_empty());
    assert_eq!(erased.purged_at, Some(NOW));
    let entry = h.store.head().await.unwrap().unwrap();
    assert_eq!(
        (entry.action.as_str(), entry.target.as_str()),
        ("kyc.erase", format!("user:{user_id}").as_str())
    );
    let decide = h.decide(&id, json!({"decision": "approve"})).await;
    assert_eq!((decide.status, decide.code()), (409, "KYC_ERASED"));
    let detail = h
        .call(event("admin-kyc-get").path(&format!("/admin/kyc/{id}")))
        .await;
    assert_eq!(detail.body["date_of_birth"], Value::Null);
    assert_eq!(detail.body["purged"], true);
}

#[tokio::test]
async fn kyc_routes_need_an_admin_with_totp() {
    let h = Harness::new().await;
    let (_, id) = h.applicant(NOW - 10).await;
    let (_, user_token) =
        signed_in_account(&*h.store, &*h.store, Role::User, &["pwd"], ADMIN_IP, NOW).await;
    let reply = invoke(
        |req| admin::handle(&h.app, req),
        event("admin-kyc-get")
            .path(&format!("/admin/kyc/{id}"))
            .header("X-Admin-Session", &user_token)
            .device("device-0001-sample"),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(!reply.body.to_string().contains("12AB34567"));
    let (_, no_totp) =
        signed_in_account(&*h.store, &*h.store, Role::Admin, &["pwd"], ADMIN_IP, NOW).await;
    let reply = invoke(
        |req| admin::handle(&h.app, req),
        event("admin-kyc-decision")
            .path(&format!("/admin/kyc/{id}/decision"))
            .header("X-Admin-Session", &no_totp),
    )
    .await;
    assert_eq!((reply.status, reply.code()), (403, "TOTP_REQUIRED"));
    assert_eq!(
        h.store.submission(&id).await.unwrap().unwrap().status,
        KycStatus::Pending
    );
}
