//! Self-service account deletion, through the handler: the password and a
//! second factor when enrolled; KYC erased; the confirmation sent before
//! the address goes; sign-in and every token refused at once; the address
//! free to sign up again.

mod common;

use common::*;
use serde_json::json;
use shared::ports::{KycStore, UserStore};
use testkit::kyc_contract::sample_submission;

const EMAIL: &str = "leaving@example.com";

async fn delete(h: &Harness, access: &str, body: serde_json::Value) -> Reply {
    h.call(event("delete-account").bearer(access).body(body))
        .await
}

#[tokio::test]
async fn deletion_needs_the_password_and_refusals_change_nothing() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let wrong = delete(&h, access, json!({"password": "not my password"})).await;
    assert_eq!((wrong.status, code(&wrong)), (401, "INVALID_CREDENTIALS"));
    let extra = delete(&h, access, json!({"password": PASSWORD, "force": true})).await;
    assert_eq!(extra.status, 400);
    assert_eq!(h.me(access).await.status, 200);
    assert_eq!(h.login(EMAIL, PASSWORD).await.status, 200);
    assert!(!h
        .subjects_to(EMAIL)
        .contains(&"Wallet: your account was deleted".to_string()));
}

#[tokio::test]
async fn a_deleted_account_is_gone_at_once_and_its_address_free() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let user_id = claims(access)["sub"].as_str().unwrap().to_string();
    let submission = sample_submission(&user_id, START);
    h.store.open_submission(&submission).await.unwrap();

    let deleted = delete(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        h.subjects_to(EMAIL).last().map(String::as_str),
        Some("Wallet: your account was deleted"),
        "the confirmation went to the address before it was erased"
    );
    let me = h.me(access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
    assert_eq!(
        h.refresh(pair["refresh_token"].as_str().unwrap())
            .await
            .status,
        401
    );
    assert_eq!(h.login(EMAIL, PASSWORD).await.status, 401);
    assert_eq!(h.store.user_by_id(&user_id).await.unwrap(), None);
    let kyc = h
        .store
        .submission(&submission.submission_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        kyc.purged_at.is_some() && !kyc.birth_date.contains("sealed"),
        "the KYC PII is erased: {kyc:?}"
    );

    let again = h.signed_in(EMAIL).await;
    let new_id = claims(again["access_token"].as_str().unwrap())["sub"].clone();
    assert_ne!(new_id, json!(user_id), "a new account, a new id");
}

#[tokio::test]
async fn an_enrolled_account_is_deleted_with_a_second_factor() {
    let h = Harness::new();
    let pair = h.verified(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let (_, codes) = h.enrol_totp(access).await;
    let backup = codes[0].clone();
    let without = delete(&h, access, json!({"password": PASSWORD})).await;
    assert_eq!((without.status, code(&without)), (401, "TOTP_REQUIRED"));
    let with = delete(
        &h,
        access,
        json!({"password": PASSWORD, "backup_code": backup}),
    )
    .await;
    assert_eq!(with.status, 204, "{}", with.body);
}
