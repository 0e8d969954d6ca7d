//! The KYC port contract: submissions, the daily cap, the one-active rule,
//! decisions with their profile change, paging, erasure; and documents.
//! Fresh ids throughout, so it runs against shared tables and buckets.

use std::sync::Arc;

use shared::audit::{chain_after_head, AuditDraft};
use shared::auth::secrets::new_id;
use shared::kyc::model::{
    DocumentRole, DocumentType, KycStatus, KycSubmission, StoredDocument, UploadReservation,
};
use shared::ports::{
    AdminChange, AdminStore, AuditLog, DocumentStore, KycDecisionCommit, KycStore, ProfileChange,
    StoreError, WalletStore,
};
use shared::wallet::model::WalletProfile;

const NOW: i64 = 1_900_000_000;
const RETENTION: i64 = 30 * 86_400;

/// A pending submission of `user_id` with encrypted-looking PII.
pub fn sample_submission(user_id: &str, submitted_at: i64) -> KycSubmission {
    let id = new_id();
    KycSubmission {
        documents: vec![StoredDocument {
            role: DocumentRole::Front,
            object_key: format!("kyc/{id}/front.jpg"),
            content_type: "image/jpeg".into(),
            bytes: 1234,
            sha256: "00".repeat(32),
        }],
        submission_id: id,
        user_id: user_id.to_string(),
        status: KycStatus::Pending,
        document_type: DocumentType::Passport,
        issuing_country: "FR".into(),
        birth_date: "v1.k1.c2VhbGVkLWJpcnRoLWRhdGU".into(),
        document_number: "v1.k1.c2VhbGVkLW51bWJlcg".into(),
        stricter_review: false,
        submitted_at,
        decided_at: None,
        decided_by: None,
        reason: None,
        purge_after: None,
        purged_at: None,
    }
}

fn decided(sub: &KycSubmission, status: KycStatus) -> KycSubmission {
    let mut sub = sub.clone();
    sub.status = status;
    sub.decided_at = Some(NOW);
    sub.decided_by = Some("admin-1".into());
    sub.reason = (status != KycStatus::Approved).then(|| "blurred photo".to_string());
    sub.purge_after = Some(NOW + RETENTION);
    sub
}

async fn commit_decision(
    admin: &dyn AdminStore,
    audit: &dyn AuditLog,
    commit: KycDecisionCommit,
) -> Result<(), StoreError> {
    let action = format!("kyc.{}", commit.submission.status.as_str());
    super::commit_audited(
        admin,
        audit,
        AdminChange::DecideKyc(Box::new(commit)),
        &action,
        NOW,
    )
    .await
}

/// The KYC store, with decisions through the admin store. `audit` must be
/// the admin store's log; `wallet` shares its profile table.
pub async fn kyc_store_contract(
    kyc: Arc<dyn KycStore>,
    admin: Arc<dyn AdminStore>,
    audit: Arc<dyn AuditLog>,
    wallet: Arc<dyn WalletStore>,
) {
    let user = new_id();
    let day = format!("2030-01-{}", &new_id()[..6]);
    let reserve = |day: String, cap: u32| {
        let (kyc, user) = (kyc.clone(), user.clone());
        async move {
            kyc.reserve_upload(&user, &day, cap, NOW + 86_400)
                .await
                .unwrap()
        }
    };
    assert_eq!(reserve(day.clone(), 2).await, UploadReservation::Reserved);
    assert_eq!(reserve(day.clone(), 2).await, UploadReservation::Reserved);
    assert_eq!(
        reserve(day.clone(), 2).await,
        UploadReservation::DailyCapReached
    );
    assert_eq!(
        kyc.latest_submission(&user).await.unwrap(),
        None,
        "nothing submitted yet"
    );

    let first = sample_submission(&user, 100);
    kyc.open_submission(&first).await.unwrap();
    assert_eq!(
        kyc.submission(&first.submission_id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        kyc.latest_submission(&user).await.unwrap(),
        Some(first.clone())
    );
    let other_day = format!("{day}b");
    assert_eq!(
        reserve(other_day.clone(), 1).await,
        UploadReservation::Blocked,
        "one active submission"
    );
    assert_eq!(
        kyc.open_submission(&sample_submission(&user, 101)).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        kyc.open_submission(&first).await,
        Err(StoreError::AlreadyExists)
    );

    let rejected = decided(&first, KycStatus::Rejected);
    let reject = KycDecisionCommit {
        submission: rejected.clone(),
        profile: None,
    };
    commit_decision(&*admin, &*audit, reject.clone())
        .await
        .unwrap();
    assert_eq!(
        commit_decision(&*admin, &*audit, reject).await,
        Err(StoreError::Conflict),
        "decided once"
    );
    assert_eq!(
        kyc.latest_submission(&user).await.unwrap(),
        Some(rejected.clone())
    );
    assert_eq!(
        reserve(other_day, 1).await,
        UploadReservation::Reserved,
        "a refused reservation was not counted; a rejection frees the user"
    );

    let second = sample_submission(&user, 102);
    kyc.open_submission(&second).await.unwrap();
    let mut profile = WalletProfile::new(&user, NOW - 86_400);
    let entry = chain_after_head(
        &crate::test_audit_keys(),
        None,
        AuditDraft {
            actor: "admin-1".into(),
            ip: None,
            action: "kyc.age_verified".into(),
            target: format!("user:{user}"),
            before: None,
            after: None,
        },
        NOW,
    );
    profile.age_verified = true;
    profile.country = Some("FR".into());
    profile.audit_seq = entry.seq;
    profile.audit_hash = Some(entry.hash.clone());
    let approved = decided(&second, KycStatus::Approved);
    let approve = |expected| KycDecisionCommit {
        submission: approved.clone(),
        profile: Some(ProfileChange {
            profile: profile.clone(),
            expected_audit_seq: expected,
            audit: entry.clone(),
        }),
    };
    assert_eq!(
        commit_decision(&*admin, &*audit, approve(Some(7))).await,
        Err(StoreError::Conflict),
        "the profile condition is part of the decision"
    );
    assert_eq!(
        kyc.submission(&second.submission_id).await.unwrap(),
        Some(second.clone()),
        "nothing changed"
    );
    commit_decision(&*admin, &*audit, approve(None))
        .await
        .unwrap();
    let stored = wallet.readings(&user, "", &[], "").await.unwrap().profile;
    assert!(stored.is_some_and(|p| p.age_verified && p.country.as_deref() == Some("FR")));
    assert_eq!(
        reserve(format!("{day}c"), 1).await,
        UploadReservation::Blocked,
        "an approved user stays blocked"
    );

    let subs = kyc.user_submissions(&user).await.unwrap();
    assert_eq!(subs, vec![rejected.clone(), approved.clone()]);

    let listed = collect_status(&*kyc, KycStatus::Rejected, &[&first.submission_id]).await;
    assert_eq!(listed, std::slice::from_ref(&first.submission_id));
    assert_eq!(
        kyc.submissions(KycStatus::Pending, 10, Some("not-a-cursor"))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );

    let due = kyc
        .due_for_purge(NOW + RETENTION, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.user_id == user)
        .count();
    assert_eq!(due, 2, "both decided submissions are due at retention end");
    let early = kyc.due_for_purge(NOW + RETENTION - 1, 100).await.unwrap();
    assert!(early.iter().all(|s| s.user_id != user), "not before");
    kyc.erase(&first.submission_id, NOW + RETENTION)
        .await
        .unwrap();
    let erased = kyc.submission(&first.submission_id).await.unwrap().unwrap();
    assert!(erased.birth_date.is_empty() && erased.document_number.is_empty());
    assert!(erased.documents.is_empty());
    assert_eq!(erased.purged_at, Some(NOW + RETENTION));
    let still_due: Vec<String> = kyc
        .due_for_purge(NOW + RETENTION, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.submission_id)
        .collect();
    assert!(!still_due.contains(&first.submission_id), "erased once");
    assert!(still_due.contains(&second.submission_id));

    kyc.forget_user(&user).await.unwrap();
    assert_eq!(kyc.latest_submission(&user).await.unwrap(), None);
}

/// Pages through `status` two at a time, returning the ids among `wanted`
/// in the order listed.
async fn collect_status(kyc: &dyn KycStore, status: KycStatus, wanted: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..500 {
        let (page, next) = kyc.submissions(status, 2, cursor.as_deref()).await.unwrap();
        assert!(page.len() <= 2);
        assert!(page.iter().all(|s| s.status == status));
        found.extend(
            page.into_iter()
                .map(|s| s.submission_id)
                .filter(|id| wanted.contains(&id.as_str())),
        );
        match next {
            Some(next) => cursor = Some(next),
            None => return found,
        }
    }
    panic!("paging did not end");
}

/// Two concurrent submissions for one user: exactly one is stored.
pub async fn kyc_open_race_contract(kyc: Arc<dyn KycStore>) {
    let user = new_id();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let kyc = kyc.clone();
            let sub = sample_submission(&user, 200 + i);
            tokio::spawn(async move { kyc.open_submission(&sub).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => stored += 1,
            Err(err) => assert_eq!(err, StoreError::Conflict),
        }
    }
    assert_eq!(stored, 1);
}

/// Document files: stored, linked, deleted (idempotently).
pub async fn document_store_contract(documents: Arc<dyn DocumentStore>) {
    let key = format!("kyc/{}/front.png", new_id());
    assert!(!documents.document_exists(&key).await.unwrap());
    documents
        .put_document(
            &key,
            bytes::Bytes::from_static(b"contract bytes"),
            "image/png",
        )
        .await
        .unwrap();
    assert!(documents.document_exists(&key).await.unwrap());
    let link = documents
        .document_link(&key, "front.png", 300)
        .await
        .unwrap();
    assert!(link.contains(&key), "the link names the object");
    documents.delete_document(&key).await.unwrap();
    assert!(!documents.document_exists(&key).await.unwrap());
    documents.delete_document(&key).await.unwrap();
}
