//! The KYC routes over in-memory ports, with multipart bodies built by a
//! real client library (reqwest) and delivered the way API Gateway does
//! (base64): validation by bytes, limits, age and country rules, the
//! one-open-submission race, the daily cap, kill switch and faults.

use std::sync::Arc;

use kyc_upload::App;
use serde_json::Value;
use shared::auth::model::Role;
use shared::clock::ManualClock;
use shared::flags::Snapshot;
use shared::kyc::files::samples::{jpeg, png, png_of_size};
use shared::kyc::model::{KycStatus, KycSubmission};
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::{pii_field, KycPorts};
use shared::ports::{AdminChange, KycDecisionCommit, KycStore};
use testkit::memory::MemoryStore;
use testkit::multipart::{multipart_body, FormPart};
use testkit::{
    commit_audited, event, invoke, signed_in_account, test_access_config, EventExt, Reply,
};

/// 2026-11-23T12:00:00Z.
const NOW: i64 = 1_795_435_200;
const MIB: usize = 1024 * 1024;

fn details(birth: &str, country: &str) -> Vec<FormPart> {
    vec![
        FormPart::Text("document_type", "passport".into()),
        FormPart::Text("issuing_country", country.into()),
        FormPart::Text("date_of_birth", birth.into()),
        FormPart::Text("document_number", "12AB 34567".into()),
    ]
}

fn with_files(mut fields: Vec<FormPart>, files: Vec<FormPart>) -> Vec<FormPart> {
    fields.extend(files);
    fields
}

fn front() -> FormPart {
    FormPart::File("front", jpeg(1200, 800), "front.jpg", "image/jpeg")
}

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    pii: PiiKeys,
    user_id: String,
    token: String,
}

impl Harness {
    async fn new(policy: KycPolicy) -> Self {
        Self::at(policy, NOW).await
    }

    async fn at(policy: KycPolicy, now: i64) -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(now));
        let (user_id, token) =
            signed_in_account(&*store, &*store, Role::User, &["pwd"], "203.0.113.10", now).await;
        let key = shared::auth::secrets::random_bytes::<32>();
        let keys = || PiiKeys::new("k1", vec![("k1".into(), key)]).unwrap();
        let ports = KycPorts {
            store: store.clone(),
            documents: store.clone(),
        };
        let app = App::new(
            shared::auth::liveness::SignedInCallers {
                access: test_access_config(),
                sessions: store.clone(),
            },
            ports,
            store.clone(),
            keys(),
            policy,
            clock,
            shared::flags::CacheTiming::default(),
        );
        Self {
            app,
            store,
            pii: keys(),
            user_id,
            token,
        }
    }

    async fn call(&self, event: Value) -> Reply {
        invoke(|req| kyc_upload::handle(&self.app, req), event).await
    }

    async fn submit(&self, fields: Vec<FormPart>) -> Reply {
        let (body, content_type) = multipart_body(fields).await;
        self.call(
            event("kyc-upload-submit")
                .bearer(&self.token)
                .binary_body(&body, &content_type),
        )
        .await
    }

    async fn status(&self) -> Reply {
        self.call(event("kyc-upload-status").bearer(&self.token))
            .await
    }

    async fn latest(&self) -> Option<KycSubmission> {
        self.store.latest_submission(&self.user_id).await.unwrap()
    }

    /// Decides the user's pending submission directly in the store.
    async fn decide(&self, status: KycStatus) {
        let mut sub = self.latest().await.unwrap();
        sub.status = status;
        sub.reason = Some("photo unreadable".into());
        commit_audited(
            &*self.store,
            &*self.store,
            AdminChange::DecideKyc(Box::new(KycDecisionCommit {
                submission: sub,
                profile: None,
            })),
            "kyc.decide",
            NOW,
        )
        .await
        .unwrap();
    }

    fn nothing_stored(&self) {
        assert!(self.store.document_keys().is_empty(), "no file was kept");
    }
}

#[tokio::test]
async fn a_complete_submission_is_stored_encrypted_under_server_names() {
    let h = Harness::new(KycPolicy::default()).await;
    let reply = h
        .submit(with_files(
            details("1990-04-12", "fr"),
            vec![
                front(),
                FormPart::File("back", png(1200, 800), "../../etc/passwd", "text/plain"),
                FormPart::File(
                    "selfie",
                    jpeg(640, 480),
                    "me.exe",
                    "application/x-msdownload",
                ),
            ],
        ))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    assert_eq!(reply.body["documents"], 3);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let id = reply.body["submission_id"].as_str().unwrap();
    assert_eq!(
        h.store.document_keys(),
        [
            format!("kyc/{id}/back.png"),
            format!("kyc/{id}/front.jpg"),
            format!("kyc/{id}/selfie.jpg"),
        ],
        "names and types come from the server and the bytes"
    );
    let stored = h.latest().await.unwrap();
    assert_eq!(stored.issuing_country, "FR");
    assert!(!stored.stricter_review);
    let record = serde_json::to_string(&stored).unwrap();
    assert!(!record.contains("1990-04-12") && !record.contains("12AB34567"));
    assert_eq!(
        h.pii
            .decrypt(&pii_field(id, "date_of_birth"), &stored.birth_date)
            .unwrap(),
        "1990-04-12"
    );
    assert_eq!(
        h.pii
            .decrypt(&pii_field(id, "document_number"), &stored.document_number)
            .unwrap(),
        "12AB34567"
    );
    let status = h.status().await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "pending");
    assert_eq!(status.body["can_submit"], false);
}

#[tokio::test]
async fn the_type_is_decided_by_the_bytes_not_the_name_or_declared_type() {
    let h = Harness::new(KycPolicy::default()).await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![FormPart::File("front", html, "front.jpg", "image/jpeg")],
        ))
        .await;
    assert_eq!(reply.status, 415);
    assert_eq!(reply.code(), "UNSUPPORTED_FILE_TYPE");
    assert_eq!(reply.body["error"]["details"][0]["field"], "front");
    h.nothing_stored();
    assert!(h.latest().await.is_none());

    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![FormPart::File(
                "front",
                png(800, 600),
                "scan.pdf",
                "application/pdf",
            )],
        ))
        .await;
    assert_eq!(reply.status, 201, "a PNG named .pdf is a PNG");
    let stored = h.latest().await.unwrap();
    assert_eq!(stored.documents[0].content_type, "image/png");
    assert!(stored.documents[0].object_key.ends_with("/front.png"));
}

#[tokio::test]
async fn truncated_oversized_and_extra_parts_are_refused_before_anything_is_written() {
    let h = Harness::new(KycPolicy::default()).await;
    let mut truncated = jpeg(1200, 800);
    truncated.truncate(truncated.len() - 2);
    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![FormPart::File(
                "front",
                truncated,
                "front.jpg",
                "image/jpeg",
            )],
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["details"][0]["field"], "front");

    let oversize = png_of_size(800, 600, 5 * MIB + 1);
    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![FormPart::File("front", oversize, "front.png", "image/png")],
        ))
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.code(), "FILE_TOO_LARGE");

    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![
                front(),
                FormPart::File("extra", jpeg(10, 10), "x.jpg", "image/jpeg"),
            ],
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "UNEXPECTED_PART");

    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![front(), front()],
        ))
        .await;
    assert_eq!(reply.status, 400, "a fourth file as a repeated part");
    assert_eq!(reply.body["error"]["details"][0]["field"], "front");

    let flood = png(50_000, 50_000);
    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![FormPart::File("front", flood, "front.png", "image/png")],
        ))
        .await;
    assert_eq!(reply.status, 400, "a pixel flood");

    let json = h
        .call(
            event("kyc-upload-submit")
                .bearer(&h.token)
                .raw_body(r#"{"document_type":"passport"}"#),
        )
        .await;
    assert_eq!(json.status, 415);
    h.nothing_stored();
    assert!(h.latest().await.is_none());
    assert_eq!(
        h.submit(with_files(details("1990-04-12", "FR"), vec![front()]))
            .await
            .status,
        201,
        "refusals did not use up the daily cap"
    );
}

#[tokio::test]
async fn three_files_of_five_mebibytes_are_accepted() {
    let h = Harness::new(KycPolicy::default()).await;
    let big = || png_of_size(4000, 3000, 5 * MIB);
    let reply = h
        .submit(with_files(
            details("1990-04-12", "FR"),
            vec![
                FormPart::File("front", big(), "f.png", "image/png"),
                FormPart::File("back", big(), "b.png", "image/png"),
                FormPart::File("selfie", big(), "s.png", "image/png"),
            ],
        ))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(h.store.document_keys().len(), 3);
}

#[tokio::test]
async fn under_eighteen_is_refused_and_nothing_is_kept() {
    let h = Harness::new(KycPolicy::default()).await;
    let reply = h
        .submit(with_files(details("2008-11-24", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.code(), "UNDERAGE");
    h.nothing_stored();
    assert!(h.latest().await.is_none());
    assert_eq!(h.status().await.body["status"], "none");

    let reply = h
        .submit(with_files(details("2008-11-23", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 201, "18 today");
    assert!(
        h.latest().await.unwrap().stricter_review,
        "18-21 gets stricter review"
    );
}

#[tokio::test]
async fn a_leap_day_birthday_is_eighteen_on_the_first_of_march() {
    let feb_28 = 1_772_280_000; // 2026-02-28T12:00:00Z
    let h = Harness::at(KycPolicy::default(), feb_28).await;
    let reply = h
        .submit(with_files(details("2009-02-29", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 400, "2009 has no 29 February");
    let reply = h
        .submit(with_files(details("2008-02-29", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.code(), "UNDERAGE", "not yet on 28 February 2026");
    let march_1 = Harness::at(KycPolicy::default(), feb_28 + 86_400).await;
    let reply = march_1
        .submit(with_files(details("2008-02-29", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn documents_from_denied_countries_are_refused() {
    let h = Harness::new(KycPolicy::default()).await;
    let reply = h
        .submit(with_files(details("1990-04-12", "kp"), vec![front()]))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.code(), "COUNTRY_NOT_SUPPORTED");
    h.nothing_stored();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_double_submission_leaves_one_open_submission() {
    let h = Arc::new(Harness::new(KycPolicy::default()).await);
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move {
                h.submit(with_files(details("1990-04-12", "FR"), vec![front()]))
                    .await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "{replies:?}");
    assert!(replies
        .iter()
        .filter(|r| r.status != 201)
        .all(|r| r.status == 409 && r.code() == "KYC_SUBMISSION_OPEN"));
    let id = created[0].body["submission_id"].as_str().unwrap();
    assert_eq!(
        h.store.document_keys(),
        [format!("kyc/{id}/front.jpg")],
        "the losers' files were removed"
    );
    assert_eq!(h.store.user_submissions(&h.user_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn resubmission_follows_a_rejection_and_the_daily_cap_bounds_uploads() {
    let policy = KycPolicy {
        daily_uploads: 2,
        ..KycPolicy::default()
    };
    let h = Harness::new(policy).await;
    let submit = || h.submit(with_files(details("1990-04-12", "FR"), vec![front()]));
    assert_eq!(submit().await.status, 201);
    let open = submit().await;
    assert_eq!(open.status, 409);
    assert_eq!(open.code(), "KYC_SUBMISSION_OPEN");
    h.decide(KycStatus::ResubmissionRequested).await;
    let status = h.status().await;
    assert_eq!(status.body["status"], "resubmission_requested");
    assert_eq!(status.body["reason"], "photo unreadable");
    assert_eq!(status.body["can_submit"], true);
    assert_eq!(submit().await.status, 201);
    h.decide(KycStatus::Rejected).await;
    let capped = submit().await;
    assert_eq!(capped.status, 429);
    assert_eq!(capped.code(), "KYC_DAILY_LIMIT");
    assert_eq!(capped.retry_after(), 12 * 3600, "until midnight UTC");
    assert_eq!(h.status().await.body["status"], "rejected");
}

#[tokio::test]
async fn an_approved_user_cannot_submit_again() {
    let h = Harness::new(KycPolicy::default()).await;
    let submit = || h.submit(with_files(details("1990-04-12", "FR"), vec![front()]));
    assert_eq!(submit().await.status, 201);
    h.decide(KycStatus::Approved).await;
    let again = submit().await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "KYC_ALREADY_APPROVED");
}

#[tokio::test]
async fn the_kill_switch_refuses_uploads_before_reading_them() {
    let h = Harness::new(KycPolicy::default()).await;
    let snapshot = Snapshot {
        version: 1,
        emergency: true,
        flags: Vec::new(),
    };
    commit_audited(
        &*h.store,
        &*h.store,
        AdminChange::SaveSnapshot {
            snapshot,
            expected_version: 0,
        },
        "emergency.disable",
        NOW,
    )
    .await
    .unwrap();
    let reply = h
        .submit(with_files(details("1990-04-12", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), "FEATURE_DISABLED");
    h.nothing_stored();
    assert_eq!(h.status().await.status, 200, "status stays readable");
}

#[tokio::test]
async fn callers_must_be_signed_in_on_their_own_device() {
    let h = Harness::new(KycPolicy::default()).await;
    let (body, content_type) =
        multipart_body(with_files(details("1990-04-12", "FR"), vec![front()])).await;
    let anonymous = h
        .call(
            event("kyc-upload-submit")
                .without_header("Authorization")
                .binary_body(&body, &content_type),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let other_device = h
        .call(
            event("kyc-upload-submit")
                .bearer(&h.token)
                .device("device-9999-stolen")
                .binary_body(&body, &content_type),
        )
        .await;
    assert_eq!(other_device.status, 401);
    h.nothing_stored();
}

#[tokio::test]
async fn storage_outages_fail_closed_and_leave_nothing_behind() {
    let h = Harness::new(KycPolicy::default()).await;
    h.store.set_documents_unavailable(true);
    let reply = h
        .submit(with_files(details("1990-04-12", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 503);
    assert!(h.latest().await.is_none(), "no record without its files");
    h.store.set_documents_unavailable(false);

    h.store.set_unavailable(true);
    let reply = h
        .submit(with_files(details("1990-04-12", "FR"), vec![front()]))
        .await;
    assert_eq!(reply.status, 503);
    assert_eq!(h.status().await.status, 503);
    h.store.set_unavailable(false);
    h.nothing_stored();
}
