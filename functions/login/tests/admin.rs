//! Admin sign-in: TOTP enrolment, required codes, step replay, IP pinning.

mod common;

use common::*;
use serde_json::{json, Value};
use shared::auth::model::Role;
use shared::auth::totp::code_at;
use shared::ports::UserStore;

const ADMIN: &str = "root@example.com";

async fn admin_harness(overrides: &[(&str, &str)]) -> (Harness, Value) {
    let h = Harness::with_env(overrides);
    assert_eq!(h.register(ADMIN, PASSWORD).await.status, 202);
    h.store.set_role(ADMIN, Role::Admin).await.unwrap();
    let login = h.login(ADMIN, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
    (h, login.body)
}

/// Enrols TOTP with the admin's first (password-only) token; returns the secret.
async fn enrol(h: &Harness, access: &str) -> String {
    let enrolled = h.call(event("totp-enroll").bearer(access)).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let secret = enrolled.body["secret"].as_str().unwrap().to_string();
    assert!(enrolled.body["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let code = code_at(&secret, h.clock.now_for_test()).unwrap();
    let confirmed = h
        .call(
            event("totp-confirm")
                .bearer(access)
                .body(json!({ "password": PASSWORD, "code": code })),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    secret
}

trait NowForTest {
    fn now_for_test(&self) -> i64;
}

impl NowForTest for shared::clock::ManualClock {
    fn now_for_test(&self) -> i64 {
        use shared::clock::Clock;
        self.now()
    }
}

fn admin_login(code: Option<&str>) -> Value {
    let mut body = json!({"email": ADMIN, "password": PASSWORD});
    if let Some(code) = code {
        body["totp_code"] = json!(code);
    }
    event("login").body(body)
}

#[tokio::test]
async fn an_enrolled_admin_needs_a_fresh_code_and_a_step_is_never_reused() {
    let (h, first) = admin_harness(&[]).await;
    assert_eq!(
        claims(first["access_token"].as_str().unwrap())["amr"],
        json!(["pwd"])
    );
    let secret = enrol(&h, first["access_token"].as_str().unwrap()).await;
    h.clock.advance(60);

    let missing = h.call(admin_login(None)).await;
    assert_eq!((missing.status, code(&missing)), (401, "MFA_REQUIRED"));
    assert!(missing.body["mfa"]["challenge"].is_string());
    let wrong = h.call(admin_login(Some("000000"))).await;
    assert_eq!((wrong.status, code(&wrong)), (401, "TOTP_INVALID"));

    let code_now = code_at(&secret, h.clock.now_for_test()).unwrap();
    let ok = h.call(admin_login(Some(&code_now))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let c = claims(ok.body["access_token"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "otp"]));
    assert_eq!(c["role"], "admin");
    assert_eq!(c["ip"], "203.0.113.10");

    let replay = h.call(admin_login(Some(&code_now))).await;
    assert_eq!(
        (replay.status, code(&replay)),
        (401, "TOTP_INVALID"),
        "same step twice"
    );
}

#[tokio::test]
async fn totp_enrolment_code_cannot_be_replayed_at_sign_in() {
    let (h, first) = admin_harness(&[]).await;
    let secret = enrol(&h, first["access_token"].as_str().unwrap()).await;
    let same_step = code_at(&secret, h.clock.now_for_test()).unwrap();
    let replay = h.call(admin_login(Some(&same_step))).await;
    assert_eq!(replay.status, 401);
}

#[tokio::test]
async fn an_enrolled_admin_signs_in_in_two_steps_even_when_totp_is_not_required() {
    let (h, first) = admin_harness(&[("ADMIN_TOTP_REQUIRED", "false")]).await;
    enrol(&h, first["access_token"].as_str().unwrap()).await;
    let reply = h.call(admin_login(None)).await;
    assert_eq!((reply.status, code(&reply)), (401, "MFA_REQUIRED"));
}

#[tokio::test]
async fn admin_tokens_are_pinned_to_the_sign_in_ip_and_the_allowlist() {
    let (h, first) = admin_harness(&[]).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(h.me(access).await.status, 200);

    let moved = h
        .call(event("me").bearer(access).source_ip("203.0.113.99"))
        .await;
    assert_eq!((moved.status, code(&moved)), (403, "IP_NOT_ALLOWED"));

    let outside = h.call(admin_login(None).source_ip("198.51.100.7")).await;
    assert_eq!(
        (outside.status, code(&outside)),
        (401, "INVALID_CREDENTIALS"),
        "the right password from elsewhere is a failed sign-in"
    );

    let refresh_elsewhere = h
        .call(
            event("refresh")
                .body(json!({"refresh_token": first["refresh_token"]}))
                .source_ip("203.0.113.99"),
        )
        .await;
    assert_eq!(refresh_elsewhere.status, 403);
}

#[tokio::test]
async fn users_cannot_become_admin_through_the_api() {
    let h = Harness::new();
    let sneaky = h
        .call(
            event("register")
                .body(json!({"email": "x@example.com", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    assert_eq!(sneaky.status, 400);
    assert_eq!(sneaky.body["error"]["details"][0]["field"], "role");
    assert!(h
        .store
        .user_by_email("x@example.com")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_second_enrolment_after_confirmation_is_refused() {
    let (h, first) = admin_harness(&[]).await;
    let access = first["access_token"].as_str().unwrap();
    enrol(&h, access).await;
    let again = h.call(event("totp-enroll").bearer(access)).await;
    assert_eq!((again.status, code(&again)), (409, "TOTP_ALREADY_ENROLLED"));
}
