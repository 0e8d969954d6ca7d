//! The account data export, through the handler and the export worker on
//! in-memory ports: the password (and a second factor) to ask, one a day
//! (two at once: one queued), a queue failure gives the day back, the
//! document holds the account and no secret, the link only once ready and
//! only for a day, a deleted account leaves no export behind.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use shared::export::worker::{ExportError, ExportOutcome, ExportWorker};
use shared::ports::{ExportJob, UserStore};

const EMAIL: &str = "curious@example.com";

async fn ask(h: &Harness, access: &str, body: Value) -> Reply {
    h.call(event("account-export").bearer(access).body(body))
        .await
}

async fn status(h: &Harness, access: &str) -> Reply {
    h.call(event("account-export-status").bearer(access)).await
}

async fn delete_account(h: &Harness, access: &str) -> Reply {
    let delete = event("delete-account").bearer(access);
    h.call(delete.body(json!({"password": PASSWORD}))).await
}

fn worker(h: &Harness) -> ExportWorker {
    ExportWorker {
        users: h.store.clone(),
        sessions: h.store.clone(),
        records: h.store.clone(),
        kyc: h.store.clone(),
        exports: h.store.clone(),
        documents: h.store.clone(),
        mailer: h.mailer.clone(),
        clock: h.clock.clone(),
        product_name: "Wallet".to_string(),
    }
}

/// Runs the worker on every queued job; answers its outcomes.
async fn run_worker(h: &Harness) -> Vec<ExportOutcome> {
    let worker = worker(h);
    let mut outcomes = Vec::new();
    for job in h.store.export_jobs() {
        let body = serde_json::to_string(&job).unwrap();
        outcomes.push(worker.handle(&body).await.expect("the worker handles it"));
    }
    outcomes
}

/// A fresh access token for the session of `pair` (access tokens live
/// minutes; the tests move the clock by days), and the pair to refresh next.
async fn refreshed(h: &Harness, pair: &Value) -> Value {
    let reply = h.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn document_of(h: &Harness, user_id: &str, export_id: &str) -> Option<Value> {
    h.store
        .document_bytes(&format!("exports/{user_id}/{export_id}.json"))
        .map(|bytes| serde_json::from_slice(&bytes).expect("the export is JSON"))
}

#[tokio::test]
async fn asking_needs_the_password_and_a_refusal_queues_nothing() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let none = status(&h, access).await;
    assert_eq!((none.status, code(&none)), (404, "NO_EXPORT"));
    let wrong = ask(&h, access, json!({"password": "not my password"})).await;
    assert_eq!((wrong.status, code(&wrong)), (401, "INVALID_CREDENTIALS"));
    let extra = ask(&h, access, json!({"password": PASSWORD, "all": true})).await;
    assert_eq!(extra.status, 400);
    let missing = ask(&h, access, json!({})).await;
    assert_eq!(missing.status, 400);
    assert!(h.store.export_jobs().is_empty());
    assert_eq!(status(&h, access).await.status, 404, "nothing was recorded");
    let unsigned = h
        .call(event("account-export").body(json!({"password": PASSWORD})))
        .await;
    assert_eq!(unsigned.status, 401);
}

#[tokio::test]
async fn an_export_is_linked_once_ready_for_a_day_and_holds_no_secret() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();

    let asked = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(asked.body["status"], "pending");
    assert_eq!(asked.body["requested_at"], START);
    assert_eq!(asked.body["next_request_at"], START + 86_400);
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    assert_eq!(
        h.store.export_jobs(),
        vec![ExportJob {
            user_id: user_id.clone(),
            export_id: export_id.clone()
        }]
    );
    let pending = status(&h, access).await;
    assert_eq!(
        (pending.status, &pending.body["status"]),
        (200, &json!("pending"))
    );
    assert!(pending.body.get("download_url").is_none());

    h.clock.advance(30);
    let outcomes = run_worker(&h).await;
    assert!(
        matches!(outcomes[..], [ExportOutcome::Produced { .. }]),
        "{outcomes:?}"
    );
    assert_eq!(
        h.subjects_to(EMAIL).last().map(String::as_str),
        Some("Wallet: your data export is ready")
    );
    assert!(
        !h.mailer.sent().last().unwrap().text.contains("exports/"),
        "the email carries no link"
    );

    h.clock.advance(60);
    let ready = status(&h, access).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["ready_at"], START + 30);
    let url = ready.body["download_url"].as_str().unwrap();
    assert!(
        url.contains(&format!("exports/{user_id}/{export_id}.json"))
            && url.contains("expires_in=600"),
        "{url}"
    );
    assert_eq!(ready.body["download_expires_at"], START + 90 + 600);

    let document = document_of(&h, &user_id, &export_id).expect("the document is stored");
    assert_eq!(document["format"], "wallet-account-export/1");
    assert_eq!(document["profile"]["email"], EMAIL);
    assert_eq!(document["profile"]["user_id"], user_id.as_str());
    assert_eq!(document["profile"]["email_verified"], true);
    let sessions = document["sessions"].as_array().unwrap();
    assert!(sessions
        .iter()
        .any(|s| s["session_id"] == claims(access)["sid"] && s["active"] == true));
    for section in ["devices", "wallet", "recharges", "ledger", "kyc", "audit"] {
        assert!(document.get(section).is_some(), "{section} is exported");
    }
    let text = String::from_utf8(
        h.store
            .document_bytes(&format!("exports/{user_id}/{export_id}.json"))
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let stored = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    assert!(!text.contains(&stored.password_hash) && !text.contains("argon2"));

    h.clock.advance(86_400);
    let pair = refreshed(&h, &pair).await;
    let expired = status(&h, pair["access_token"].as_str().unwrap()).await;
    assert_eq!(expired.body["status"], "expired");
    assert!(expired.body.get("download_url").is_none());
}

#[tokio::test]
async fn one_export_a_day_and_a_new_one_replaces_the_old() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let first = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(first.status, 202);
    run_worker(&h).await;

    h.clock.advance(86_399);
    let pair = refreshed(&h, &pair).await;
    let access = pair["access_token"].as_str().unwrap();
    let again = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!((again.status, code(&again)), (429, "RATE_LIMITED"));
    assert_eq!(again.retry_after(), 1);
    assert_eq!(h.store.export_jobs().len(), 1, "nothing more queued");

    h.clock.advance(1);
    let next = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(next.status, 202, "{}", next.body);
    let old = first.body["export_id"].as_str().unwrap();
    assert!(
        document_of(&h, &user_id, old).is_none(),
        "the replaced export is deleted"
    );
    let outcomes = run_worker(&h).await;
    assert_eq!(
        outcomes[0],
        ExportOutcome::Dropped("not current"),
        "the old job finds its request replaced"
    );
    assert!(matches!(outcomes[1], ExportOutcome::Produced { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_requests_at_once_queue_one_export() {
    let h = Arc::new(Harness::new());
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap().to_string();
    let calls = (0..4).map(|_| {
        let (h, access) = (h.clone(), access.clone());
        tokio::spawn(async move { ask(&h, &access, json!({"password": PASSWORD})).await })
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![202, 429, 429, 429]);
    assert_eq!(h.store.export_jobs().len(), 1);
}

#[tokio::test]
async fn an_enrolled_account_asks_with_a_second_factor_spent_once() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let (_, codes) = h.enrol_totp(access).await;
    let backup = codes[0].clone();

    let without = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!((without.status, code(&without)), (401, "TOTP_REQUIRED"));
    let with = ask(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": backup}),
    )
    .await;
    assert_eq!(with.status, 202, "{}", with.body);
    h.clock.advance(86_400);
    let pair = refreshed(&h, &pair).await;
    let access = pair["access_token"].as_str().unwrap();
    let replayed = ask(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": backup}),
    )
    .await;
    assert_eq!(
        (replayed.status, code(&replayed)),
        (401, "TOTP_INVALID"),
        "{}",
        replayed.body
    );
    assert_eq!(h.store.export_jobs().len(), 1);
}

#[tokio::test]
async fn a_queue_failure_answers_503_and_gives_the_day_back() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    h.store.set_queue_unavailable(true);
    let down = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(down.status, 503);
    assert_eq!(
        status(&h, access).await.status,
        404,
        "the request was withdrawn"
    );
    h.store.set_queue_unavailable(false);
    let up = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(up.status, 202, "{}", up.body);
}

#[tokio::test]
async fn an_unreachable_store_fails_closed() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    h.store.set_unavailable(true);
    assert_eq!(
        ask(&h, access, json!({"password": PASSWORD})).await.status,
        503
    );
    assert_eq!(status(&h, access).await.status, 503);
}

#[tokio::test]
async fn an_ended_session_can_neither_ask_nor_fetch() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        ask(&h, access, json!({"password": PASSWORD})).await.status,
        202
    );
    let out = h.call(event("logout").bearer(access)).await;
    assert_eq!(out.status, 204, "{}", out.body);
    let fetch = status(&h, access).await;
    assert_eq!((fetch.status, code(&fetch)), (401, "SESSION_REVOKED"));
    let again = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!((again.status, code(&again)), (401, "SESSION_REVOKED"));
}

#[tokio::test]
async fn the_worker_drops_what_is_not_current_and_refuses_malformed_messages() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let worker = worker(&h);
    assert_eq!(worker.handle("{}").await, Err(ExportError::Malformed));
    let stranger = json!({"user_id": user_id, "export_id": "exp-forged"}).to_string();
    assert_eq!(
        worker.handle(&stranger).await,
        Ok(ExportOutcome::Dropped("not current"))
    );
    assert_eq!(
        ask(&h, access, json!({"password": PASSWORD})).await.status,
        202
    );
    assert_eq!(
        worker.handle(&stranger).await,
        Ok(ExportOutcome::Dropped("not current"))
    );
    let job = serde_json::to_string(&h.store.export_jobs()[0]).unwrap();
    assert!(matches!(
        worker.handle(&job).await,
        Ok(ExportOutcome::Produced { .. })
    ));
    assert_eq!(
        worker.handle(&job).await,
        Ok(ExportOutcome::Dropped("done")),
        "a redelivered message is done once"
    );
    assert_eq!(
        h.subjects_to(EMAIL)
            .iter()
            .filter(|s| s.contains("data export"))
            .count(),
        1
    );
    h.clock.advance(86_400);
    let pair = refreshed(&h, &pair).await;
    let access = pair["access_token"].as_str().unwrap();
    h.store.set_documents_unavailable(true);
    let refused = ask(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(
        refused.status, 503,
        "the old export cannot be deleted: fail closed"
    );
    assert_eq!(h.store.export_jobs().len(), 1, "nothing queued");
    h.store.set_documents_unavailable(false);
    assert_eq!(
        ask(&h, access, json!({"password": PASSWORD})).await.status,
        202
    );
    h.store.set_documents_unavailable(true);
    let job = serde_json::to_string(&h.store.export_jobs()[1]).unwrap();
    assert!(
        matches!(worker.handle(&job).await, Err(ExportError::Unavailable(_))),
        "a storage failure is retried"
    );
    h.store.set_documents_unavailable(false);
    assert!(matches!(
        worker.handle(&job).await,
        Ok(ExportOutcome::Produced { .. })
    ));
}

#[tokio::test]
async fn a_deleted_account_leaves_no_export_and_a_late_job_writes_none() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let asked = ask(&h, access, json!({"password": PASSWORD})).await;
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    run_worker(&h).await;
    assert!(document_of(&h, &user_id, &export_id).is_some());
    let deleted = delete_account(&h, access).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(
        document_of(&h, &user_id, &export_id).is_none(),
        "the finished export went with the account"
    );

    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        ask(&h, access, json!({"password": PASSWORD})).await.status,
        202
    );
    let deleted = delete_account(&h, access).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        run_worker(&h).await,
        vec![ExportOutcome::Dropped("not current")]
    );
    assert!(h.store.document_keys().is_empty());
}

/// Signs up, verifies and enrols TOTP: the pair and the backup codes.
async fn enrolled(h: &Harness) -> (Value, Vec<String>) {
    let pair = h.verified(EMAIL).await;
    let (_, codes) = h.enrol_totp(pair["access_token"].as_str().unwrap()).await;
    (pair, codes)
}

#[tokio::test]
async fn a_refused_or_failed_request_keeps_its_second_factor() {
    let h = Harness::new();
    let (pair, codes) = enrolled(&h).await;
    let access = pair["access_token"].as_str().unwrap();
    h.store.set_queue_unavailable(true);
    let down = ask(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": codes[0]}),
    )
    .await;
    assert_eq!(down.status, 503);
    h.store.set_queue_unavailable(false);
    let up = ask(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": codes[0]}),
    )
    .await;
    assert_eq!(up.status, 202, "the backup code was not spent: {}", up.body);
    let user = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    assert_eq!(
        user.totp.backup_codes.len(),
        9,
        "spent once, by the request that went through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_requests_at_once_the_refused_one_keeps_its_backup_code() {
    let h = Arc::new(Harness::new());
    let (pair, codes) = enrolled(&h).await;
    let access = pair["access_token"].as_str().unwrap().to_string();
    let calls: Vec<_> = codes[..2]
        .iter()
        .map(|code| {
            let (h, access, code) = (h.clone(), access.clone(), code.clone());
            tokio::spawn(async move {
                ask(
                    &h,
                    &access,
                    json!({"password": PASSWORD, "backup_code": code}),
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![202, 429]);
    let user = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    assert_eq!(
        user.totp.backup_codes.len(),
        9,
        "only the queued request spent its code"
    );
}

#[tokio::test]
async fn the_document_holds_no_second_factor_secret() {
    let h = Harness::new();
    let (pair, codes) = enrolled(&h).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let asked = ask(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": codes[3]}),
    )
    .await;
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    run_worker(&h).await;
    let key = format!("exports/{user_id}/{export_id}.json");
    let text = String::from_utf8(h.store.document_bytes(&key).unwrap().to_vec()).unwrap();
    let user = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    let sealed = user.totp.secret.clone().unwrap();
    assert!(
        !text.contains(&sealed),
        "the sealed TOTP secret is not exported"
    );
    for hash in &user.totp.backup_codes {
        assert!(
            !text.contains(hash.as_str()),
            "no backup code hash is exported"
        );
    }
    for code in &codes {
        assert!(!text.contains(code.as_str()), "no backup code is exported");
    }
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["profile"]["mfa_enabled"], true);
    assert_eq!(document["profile"]["backup_codes_left"], 9);
}

#[tokio::test]
async fn a_deletion_while_the_worker_writes_leaves_no_export() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let asked = ask(&h, access, json!({"password": PASSWORD})).await;
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    let key = format!("exports/{user_id}/{export_id}.json");
    // The worker stored the document but has not marked it ready yet.
    shared::ports::DocumentStore::put_document(&*h.store, &key, "{}".into(), "application/json")
        .await
        .unwrap();
    let deleted = delete_account(&h, access).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(
        h.store.document_keys().is_empty(),
        "the half-written export went"
    );
    assert_eq!(
        shared::ports::ExportStore::export_request(&*h.store, &user_id)
            .await
            .unwrap(),
        None,
        "the request went too"
    );
    // The worker writes again after the deletion's clean-up, then finds
    // its request gone: it deletes what it wrote.
    shared::ports::DocumentStore::put_document(&*h.store, &key, "{}".into(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        run_worker(&h).await,
        vec![ExportOutcome::Dropped("not current")]
    );
    assert!(h.store.document_keys().is_empty());
}

#[tokio::test]
async fn admin_decisions_on_the_accounts_review_cases_and_kyc_are_exported() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let case_id = "rc_event~0123456789ab".to_string();
    shared::ports::ReviewStore::open_case(
        &*h.store,
        &testkit::export_contract::payment_event_case(&case_id, &user_id),
    )
    .await
    .unwrap();
    let submission = testkit::kyc_contract::sample_submission(&user_id, START);
    shared::ports::KycStore::open_submission(&*h.store, &submission)
        .await
        .unwrap();
    let entry = |seq: u64, action: &str, target: String| shared::audit::AuditEntry {
        actor: "admin-1".into(),
        ip: Some("203.0.113.9".into()),
        after: Some(json!({"note": "internal"})),
        ..testkit::export_contract::admin_entry(seq, START + seq as i64, action, &target)
    };
    for e in [
        entry(1, "review.approve", format!("recharge:{case_id}")),
        entry(
            2,
            "kyc.rejected",
            format!("kyc:{}", submission.submission_id),
        ),
        entry(3, "user.unlock", "user:someone-else".into()),
    ] {
        shared::ports::AdminStore::commit(&*h.store, &shared::ports::AdminChange::RecordOnly, &e)
            .await
            .unwrap();
    }
    let asked = ask(&h, access, json!({"password": PASSWORD})).await;
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    run_worker(&h).await;
    let document = document_of(&h, &user_id, &export_id).unwrap();
    let audit: Vec<(&str, &str)> = document["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        audit,
        vec![("review.approve", "staff"), ("kyc.rejected", "staff")]
    );
    let text = serde_json::to_string(&document).unwrap();
    assert!(
        !text.contains("admin-1") && !text.contains("203.0.113.9") && !text.contains("internal"),
        "no admin identity, address or note"
    );
    assert_eq!(
        document["kyc"][0]["submission_id"],
        submission.submission_id.as_str()
    );
}
