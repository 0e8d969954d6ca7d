//! Email verification and password reset, driven through the handler:
//! tokens are single use, bound to their purpose, superseded, expiring;
//! refusals change nothing; forgot answers alike for known and unknown
//! addresses.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;
use shared::ports::UserStore;

const NEW_PASSWORD: &str = "saffron lighthouse 77";

#[tokio::test]
async fn sign_up_emails_a_verification_token_that_works_once() {
    let h = Harness::new();
    let pair = h.signed_in("vera@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(h.me(access).await.body["email_verified"], false);
    let token = h.emailed_token("vera@example.com", "ev_").unwrap();
    assert!(token.len() >= 3 + 22, "at least 128 bits: {token}");

    assert_eq!(h.verify_email(&token).await.status, 204);
    assert_eq!(h.me(access).await.body["email_verified"], true);
    let again = h.verify_email(&token).await;
    assert_eq!((again.status, code(&again)), (400, "TOKEN_INVALID"));
}

#[tokio::test]
async fn tokens_are_stored_hashed_never_as_sent() {
    let h = Harness::new();
    h.signed_in("hash@example.com").await;
    let token = h.emailed_token("hash@example.com", "ev_").unwrap();
    let stored = format!("{:?}", h.store.user_by_email("hash@example.com").await);
    assert!(!stored.contains(&token));
    assert!(!stored.contains(token.trim_start_matches("ev_")));
}

#[tokio::test]
async fn a_wrong_foreign_or_expired_token_is_refused_and_changes_nothing() {
    let h = Harness::new();
    let pair = h.signed_in("wendy@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let token = h.emailed_token("wendy@example.com", "ev_").unwrap();

    for bad in [
        "ev_not-a-token".to_string(),
        format!("{token}x"),
        token.replacen("ev_", "pr_", 1),
    ] {
        let reply = h.verify_email(&bad).await;
        assert_eq!(
            (reply.status, code(&reply)),
            (400, "TOKEN_INVALID"),
            "{bad}"
        );
    }
    let oversized = h.verify_email(&"a".repeat(129)).await;
    assert_eq!(oversized.status, 400);
    assert_eq!(h.me(access).await.body["email_verified"], false);

    h.clock.advance(24 * 3600);
    let expired = h.verify_email(&token).await;
    assert_eq!((expired.status, code(&expired)), (400, "TOKEN_INVALID"));
}

#[tokio::test]
async fn a_reset_token_does_not_verify_and_a_verification_token_does_not_reset() {
    let h = Harness::new();
    h.signed_in("purpose@example.com").await;
    let verify = h.emailed_token("purpose@example.com", "ev_").unwrap();
    assert_eq!(h.forgot("purpose@example.com").await.status, 202);
    let reset = h.emailed_token("purpose@example.com", "pr_").unwrap();

    let crossed = h.verify_email(&reset).await;
    assert_eq!(code(&crossed), "TOKEN_INVALID");
    let crossed = h.reset(&verify, NEW_PASSWORD).await;
    assert_eq!(code(&crossed), "TOKEN_INVALID");
    assert_eq!(h.login("purpose@example.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn resending_supersedes_the_old_token_and_is_rate_limited() {
    let h = Harness::new();
    let pair = h.signed_in("rita@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let first = h.emailed_token("rita@example.com", "ev_").unwrap();
    let resend = || h.call(event("resend-verification").bearer(access));
    for _ in 0..3 {
        assert_eq!(resend().await.status, 202);
    }
    let limited = resend().await;
    assert_eq!((limited.status, code(&limited)), (429, "RATE_LIMITED"));
    assert!(limited.headers.contains_key("retry-after"));

    let newest = h.emailed_token("rita@example.com", "ev_").unwrap();
    assert_ne!(first, newest);
    assert_eq!(code(&h.verify_email(&first).await), "TOKEN_INVALID");
    assert_eq!(h.verify_email(&newest).await.status, 204);
    let done = resend().await;
    assert_eq!((done.status, code(&done)), (409, "EMAIL_ALREADY_VERIFIED"));
}

#[tokio::test]
async fn forgot_answers_alike_for_known_and_unknown_addresses() {
    let h = Harness::new();
    h.signed_in("known@example.com").await;
    let known = h.forgot("known@example.com").await;
    let unknown = h.forgot("nobody@example.com").await;
    assert_eq!(known.status, 202);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert!(h.emailed_token("known@example.com", "pr_").is_some());
    assert_eq!(
        h.subjects_to("nobody@example.com"),
        vec!["Wallet: password reset requested"],
        "the unknown address is told there is no account"
    );
    assert!(h.emailed_token("nobody@example.com", "pr_").is_none());
}

#[tokio::test]
async fn forgot_is_limited_per_address_silently_and_per_ip_openly() {
    let h = Harness::with_env(&[("RECOVERY_IP_LIMIT_PER_HOUR", "5")]);
    h.signed_in("flood@example.com").await;
    for _ in 0..4 {
        assert_eq!(h.forgot("flood@example.com").await.status, 202);
    }
    let resets = h
        .subjects_to("flood@example.com")
        .into_iter()
        .filter(|s| s.contains("reset your password"))
        .count();
    assert_eq!(resets, 3, "the fourth request in the hour sends nothing");
    assert_eq!(h.forgot("other@example.com").await.status, 202);
    let limited = h.forgot("third@example.com").await;
    assert_eq!((limited.status, code(&limited)), (429, "RATE_LIMITED"));
}

#[tokio::test]
async fn a_reset_ends_every_session_clears_the_lock_and_sends_a_notice() {
    let h = Harness::new();
    let pair = h.signed_in("reset@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();
    for _ in 0..5 {
        h.login("reset@example.com", "wrong password here").await;
    }
    let locked = h.login("reset@example.com", PASSWORD).await;
    assert_eq!(locked.status, 423);

    assert_eq!(h.forgot("reset@example.com").await.status, 202);
    let token = h.emailed_token("reset@example.com", "pr_").unwrap();
    assert_eq!(h.reset(&token, NEW_PASSWORD).await.status, 204);

    let me = h.me(access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
    assert_eq!(h.refresh(refresh).await.status, 401);
    assert_eq!(h.login("reset@example.com", PASSWORD).await.status, 401);
    let fresh = h.login("reset@example.com", NEW_PASSWORD).await;
    assert_eq!(fresh.status, 200, "unlocked, new password: {}", fresh.body);
    assert!(h
        .subjects_to("reset@example.com")
        .contains(&"Wallet: your password was reset".to_string()));
    let spent = h.reset(&token, "another fine passphrase 9").await;
    assert_eq!(code(&spent), "TOKEN_INVALID");
}

#[tokio::test]
async fn a_refused_reset_changes_nothing_and_keeps_the_token() {
    let h = Harness::new();
    h.signed_in("weak@example.com").await;
    h.forgot("weak@example.com").await;
    let token = h.emailed_token("weak@example.com", "pr_").unwrap();
    let weak = h.reset(&token, "short").await;
    assert_eq!((weak.status, code(&weak)), (400, "VALIDATION_FAILED"));
    let unknown_field = h
        .call(
            event("reset-password")
                .body(json!({"token": token, "password": NEW_PASSWORD, "admin": true})),
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    assert_eq!(h.login("weak@example.com", PASSWORD).await.status, 200);
    assert_eq!(h.reset(&token, NEW_PASSWORD).await.status, 204);
}

#[tokio::test]
async fn a_newer_reset_token_supersedes_and_tokens_expire_after_30_minutes() {
    let h = Harness::new();
    h.signed_in("twice@example.com").await;
    h.forgot("twice@example.com").await;
    let first = h.emailed_token("twice@example.com", "pr_").unwrap();
    h.forgot("twice@example.com").await;
    let second = h.emailed_token("twice@example.com", "pr_").unwrap();
    assert_eq!(code(&h.reset(&first, NEW_PASSWORD).await), "TOKEN_INVALID");
    h.clock.advance(30 * 60);
    assert_eq!(code(&h.reset(&second, NEW_PASSWORD).await), "TOKEN_INVALID");
    assert_eq!(h.login("twice@example.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn two_resets_with_one_token_at_once_one_wins() {
    let h = Arc::new(Harness::new());
    h.signed_in("race@example.com").await;
    h.forgot("race@example.com").await;
    let token = h.emailed_token("race@example.com", "pr_").unwrap();
    let racers: Vec<_> = ["first racing passphrase 1", "second racing passphrase 2"]
        .into_iter()
        .map(|password| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move { (password, h.reset(&token, password).await.status) })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (password, status) = racer.await.unwrap();
        if status == 204 {
            winners.push(password);
        } else {
            assert_eq!(status, 400);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one reset wins");
    assert_eq!(h.login("race@example.com", winners[0]).await.status, 200);
}

async fn change_email(h: &Harness, access: &str, new_email: &str, password: &str) -> Reply {
    h.call(
        event("change-email")
            .bearer(access)
            .body(json!({"new_email": new_email, "password": password})),
    )
    .await
}

#[tokio::test]
async fn the_address_changes_once_the_new_one_is_verified_and_the_old_one_is_told() {
    let h = Harness::new();
    let pair = h.verified("old@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let wrong = change_email(&h, access, "new@example.com", "not my password").await;
    assert_eq!((wrong.status, code(&wrong)), (401, "INVALID_CREDENTIALS"));
    assert!(
        h.subjects_to("new@example.com").is_empty(),
        "a refusal sends nothing"
    );

    let asked = change_email(&h, access, "New@Example.com", PASSWORD).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert!(h
        .subjects_to("old@example.com")
        .contains(&"Wallet: address change requested".to_string()));
    assert_eq!(
        h.login("old@example.com", PASSWORD).await.status,
        200,
        "nothing changes until the new address is verified"
    );
    let token = h.emailed_token("new@example.com", "ev_").unwrap();
    assert_eq!(h.verify_email(&token).await.status, 204);
    assert_eq!(h.login("old@example.com", PASSWORD).await.status, 401);
    assert_eq!(h.login("new@example.com", PASSWORD).await.status, 200);
    let me = h.me(access).await;
    assert_eq!(
        (
            me.body["email"].as_str(),
            me.body["email_verified"].as_bool()
        ),
        (Some("new@example.com"), Some(true)),
        "the session lives on with the new address"
    );
    assert!(h
        .subjects_to("old@example.com")
        .contains(&"Wallet: your address was changed".to_string()));
    assert_eq!(code(&h.verify_email(&token).await), "TOKEN_INVALID");
}

#[tokio::test]
async fn a_taken_address_is_refused_when_verified_and_changes_nothing() {
    let h = Harness::new();
    h.verified("taken@example.com").await;
    let pair = h.verified("mover@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let asked = change_email(&h, access, "taken@example.com", PASSWORD).await;
    assert_eq!(asked.status, 202, "no hint that the address is taken");
    let token = h.emailed_token("taken@example.com", "ev_").unwrap();
    let refused = h.verify_email(&token).await;
    assert_eq!((refused.status, code(&refused)), (409, "EMAIL_TAKEN"));
    assert_eq!(h.login("mover@example.com", PASSWORD).await.status, 200);
    assert_eq!(h.login("taken@example.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn an_enrolled_account_changes_its_address_with_a_second_factor() {
    let h = Harness::new();
    let pair = h.verified("factor@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let started = h.call(event("totp-enroll").bearer(access)).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let code_now = shared::auth::totp::code_at(&secret, START).unwrap();
    let confirmed = h
        .call(
            event("totp-confirm")
                .bearer(access)
                .body(json!({ "password": PASSWORD, "code": code_now })),
        )
        .await;
    assert_eq!(confirmed.status, 200);
    let without = change_email(&h, access, "factor2@example.com", PASSWORD).await;
    assert_eq!((without.status, code(&without)), (401, "TOTP_REQUIRED"));
    h.clock.advance(30);
    let next = shared::auth::totp::code_at(&secret, START + 30).unwrap();
    let with = h
        .call(event("change-email").bearer(access).body(json!({
            "new_email": "factor2@example.com",
            "password": PASSWORD,
            "totp_code": next
        })))
        .await;
    assert_eq!(with.status, 202, "{}", with.body);
}

#[tokio::test]
async fn a_reset_retires_a_pending_address_change() {
    let h = Harness::new();
    let pair = h.verified("owner@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let asked = change_email(&h, access, "attacker@example.com", PASSWORD).await;
    assert_eq!(asked.status, 202);
    let change = h.emailed_token("attacker@example.com", "ev_").unwrap();
    h.forgot("owner@example.com").await;
    let reset = h.emailed_token("owner@example.com", "pr_").unwrap();
    assert_eq!(h.reset(&reset, NEW_PASSWORD).await.status, 204);
    let late = h.verify_email(&change).await;
    assert_eq!(
        (late.status, code(&late)),
        (400, "TOKEN_INVALID"),
        "a change started before the reset does not outlive it"
    );
    assert_eq!(h.login("owner@example.com", NEW_PASSWORD).await.status, 200);
}
