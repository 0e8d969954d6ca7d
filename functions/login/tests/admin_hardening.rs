//! Admin sign-in hardening: a sign-in from outside `ADMIN_CIDRS` looks like
//! any failed sign-in (and counts as one), and an admin session ends
//! `ADMIN_SESSION_MAX_HOURS` after its sign-in, whatever the refreshes.

mod common;

use common::*;
use serde_json::{json, Value};
use shared::auth::lockout::lockout_key;
use shared::auth::model::Role;
use shared::auth::totp::code_at;
use shared::clock::Clock;
use shared::ports::{AttemptStore, UserStore};

const ADMIN: &str = "root@example.com";
const OUTSIDE_IP: &str = "198.51.100.7";
const ATTACKER_DEVICE: &str = "attacker-device-01";
const HOUR: i64 = 3600;

/// An admin with TOTP enrolled; returns the secret.
async fn enrolled_admin(h: &Harness) -> String {
    assert_eq!(h.register(ADMIN, PASSWORD).await.status, 202);
    h.store.set_role(ADMIN, Role::Admin).await.unwrap();
    let first = h.login(ADMIN, PASSWORD).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let access = first.body["access_token"].as_str().unwrap();
    let enrolled = h.call(event("totp-enroll").bearer(access)).await;
    let secret = enrolled.body["secret"].as_str().unwrap().to_string();
    let code = code_at(&secret, h.clock.now()).unwrap();
    let confirmed = h
        .call(
            event("totp-confirm")
                .bearer(access)
                .body(json!({ "password": PASSWORD, "code": code })),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    h.clock.advance(30);
    secret
}

/// Signs the admin in with password and a fresh code; returns the token pair.
async fn admin_sign_in(h: &Harness, secret: &str) -> Value {
    h.clock.advance(30);
    let code = code_at(secret, h.clock.now()).unwrap();
    let reply = h
        .call(event("login").body(json!({"email": ADMIN, "password": PASSWORD, "totp_code": code})))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// A sign-in attempt from outside the admin network on a new device.
fn outside_login(password: &str) -> Value {
    event("login")
        .body(json!({"email": ADMIN, "password": password}))
        .source_ip(OUTSIDE_IP)
        .device(ATTACKER_DEVICE)
}

/// The reply without the per-request id, for comparing two answers.
fn comparable(reply: &Reply) -> (u16, Value) {
    let mut body = reply.body.clone();
    body["error"]
        .as_object_mut()
        .expect("an error body")
        .remove("request_id");
    (reply.status, body)
}

async fn failures(h: &Harness) -> u32 {
    h.store
        .lockout_state(&lockout_key(ADMIN))
        .await
        .unwrap()
        .unwrap_or_default()
        .failures
}

#[tokio::test]
async fn a_right_password_from_outside_the_admin_network_answers_like_a_wrong_one() {
    let h = Harness::new();
    enrolled_admin(&h).await;

    let before = failures(&h).await;
    let wrong_password = h.call(outside_login("definitely wrong")).await;
    assert_eq!(failures(&h).await, before + 1);
    let right_password = h.call(outside_login(PASSWORD)).await;

    assert_eq!(
        (right_password.status, right_password.code()),
        (401, "INVALID_CREDENTIALS")
    );
    assert_eq!(comparable(&right_password), comparable(&wrong_password));
    for name in ["content-type", "cache-control", "retry-after"] {
        assert_eq!(
            right_password.headers.get(name),
            wrong_password.headers.get(name),
            "header {name}"
        );
    }
    assert_eq!(
        failures(&h).await,
        before + 2,
        "counted as a failed sign-in"
    );
}

#[tokio::test]
async fn sign_ins_from_outside_the_admin_network_lock_the_account_like_wrong_passwords() {
    let h = Harness::new();
    let secret = enrolled_admin(&h).await;
    for _ in failures(&h).await..5 {
        let reply = h.call(outside_login(PASSWORD)).await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let state = h
        .store
        .lockout_state(&lockout_key(ADMIN))
        .await
        .unwrap()
        .unwrap();
    assert!(
        state
            .locked_until
            .is_some_and(|until| until > h.clock.now()),
        "the failure that reaches the limit locks"
    );
    assert!(
        h.mailer.sent().iter().any(|m| m.subject.contains("locked")),
        "the owner is told"
    );
    let after = h.call(outside_login(PASSWORD)).await;
    assert_eq!((after.status, after.code()), (423, "ACCOUNT_LOCKED"));
    // The admin's own device keeps its own counter (the owner's way back in).
    admin_sign_in(&h, &secret).await;
}

#[tokio::test]
async fn an_admin_session_cannot_be_refreshed_past_its_cap() {
    let h = Harness::new();
    let secret = enrolled_admin(&h).await;
    let pair = admin_sign_in(&h, &secret).await;
    assert_eq!(pair["refresh_expires_in"], 12 * HOUR);
    let signed_in_at = h.clock.now();

    let mut token = pair["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..11 {
        h.clock.advance(HOUR);
        let reply = h.refresh(&token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        token = reply.body["refresh_token"].as_str().unwrap().to_string();
    }
    h.clock.set(signed_in_at + 12 * HOUR - 1);
    let just_before = h.refresh(&token).await;
    assert_eq!(just_before.status, 200, "{}", just_before.body);
    assert_eq!(just_before.body["refresh_expires_in"], 1);
    let token = just_before.body["refresh_token"].as_str().unwrap();

    h.clock.set(signed_in_at + 12 * HOUR);
    let at_cap = h.refresh(token).await;
    assert_eq!((at_cap.status, at_cap.code()), (401, "SESSION_EXPIRED"));

    let again = admin_sign_in(&h, &secret).await;
    let fresh = h.refresh(again["refresh_token"].as_str().unwrap()).await;
    assert_eq!(fresh.status, 200, "a new sign-in starts a new session");
}

#[tokio::test]
async fn the_cap_follows_admin_session_max_hours_and_users_keep_thirty_days() {
    let h = Harness::with_env(&[("ADMIN_SESSION_MAX_HOURS", "1")]);
    let secret = enrolled_admin(&h).await;
    let pair = admin_sign_in(&h, &secret).await;
    assert_eq!(pair["refresh_expires_in"], HOUR);
    h.clock.advance(HOUR);
    let late = h.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!((late.status, late.code()), (401, "SESSION_EXPIRED"));

    let user = h.signed_in("user@example.com").await;
    assert_eq!(user["refresh_expires_in"], 30 * 24 * HOUR);
    h.clock.advance(24 * HOUR);
    let refreshed = h.refresh(user["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}

#[tokio::test]
async fn a_session_started_before_the_cap_was_lowered_ends_at_the_new_cap() {
    let long = Harness::with_env(&[("ADMIN_SESSION_MAX_HOURS", "24")]);
    let secret = enrolled_admin(&long).await;
    let pair = admin_sign_in(&long, &secret).await;
    let short = Harness {
        app: login::App::new(
            login::LoginConfig::from_env(&test_env(&[("ADMIN_SESSION_MAX_HOURS", "2")])).unwrap(),
            shared::auth::service::AuthPorts {
                users: long.store.clone(),
                sessions: long.store.clone(),
                liveness: long.store.clone(),
                attempts: long.store.clone(),
                mailer: long.mailer.clone(),
                kyc: long.store.clone(),
                documents: long.store.clone(),
                exports: long.store.clone(),
                export_queue: long.store.clone(),
            },
            long.clock.clone(),
        ),
        store: long.store.clone(),
        mailer: long.mailer.clone(),
        clock: long.clock.clone(),
    };
    short.clock.advance(2 * HOUR);
    let reply = short.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!((reply.status, reply.code()), (401, "SESSION_EXPIRED"));
}

#[test]
fn admin_session_max_hours_is_checked_at_start() {
    for bad in ["0", "25", "-1", "twelve", "1.5"] {
        let result = login::LoginConfig::from_env(&test_env(&[("ADMIN_SESSION_MAX_HOURS", bad)]));
        let message = result.err().expect("refused").to_string();
        assert!(
            message.contains("ADMIN_SESSION_MAX_HOURS"),
            "{bad}: {message}"
        );
    }
    for good in ["1", "12", "24"] {
        assert!(
            login::LoginConfig::from_env(&test_env(&[("ADMIN_SESSION_MAX_HOURS", good)])).is_ok(),
            "{good}"
        );
    }
}
