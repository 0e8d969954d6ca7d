//! Register, login, me, refresh rotation, reuse detection, logout, device binding.

mod common;

use common::*;
use edge::http::SECURITY_HEADERS;
use serde_json::json;
use shared::ports::UserStore;

#[tokio::test]
async fn register_login_me_walkthrough_with_full_claims_and_headers() {
    let h = Harness::new();
    let pair = h.signed_in("Alice@Example.com").await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 30 * 24 * 3600);

    let access = pair["access_token"].as_str().unwrap();
    let c = claims(access);
    for claim in [
        "sub", "iss", "aud", "exp", "iat", "nbf", "jti", "sid", "did", "role", "amr",
    ] {
        assert!(!c[claim].is_null(), "claim {claim} missing");
    }
    assert_eq!(c["did"], DEVICE);
    assert_eq!(c["role"], "user");
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);

    let me = h.me(access).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "alice@example.com");
    assert_eq!(me.body["session"]["session_id"], pair["session_id"]);
    assert_eq!(me.body["session"]["device_id"], DEVICE);
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(me.headers[name], value, "header {name}");
    }
    assert!(me.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn password_hash_is_stored_never_the_password() {
    let h = Harness::new();
    h.signed_in("bob@example.com").await;
    let user = h
        .store
        .user_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(user
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!user.password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn registering_a_taken_email_looks_the_same_and_emails_the_owner() {
    let h = Harness::new();
    let first = h.register("carol@example.com", PASSWORD).await;
    let second = h
        .register("carol@example.com", "another good phrase 7")
        .await;
    assert_eq!((first.status, &first.body), (second.status, &second.body));
    let subjects: Vec<String> = h.mailer.sent().into_iter().map(|m| m.subject).collect();
    assert_eq!(
        subjects,
        vec![
            "Welcome to Wallet: verify your email",
            "Wallet: sign-up attempt"
        ]
    );
    assert_eq!(
        h.login("carol@example.com", "another good phrase 7")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn weak_passwords_are_refused_with_field_details_and_nothing_is_stored() {
    let h = Harness::new();
    for weak in ["short", "password123", "dave@example.com"] {
        let reply = h.register("dave@example.com", weak).await;
        assert_eq!(reply.status, 400, "{weak}");
        assert_eq!(reply.body["error"]["details"][0]["field"], "password");
    }
    let long_ok = "x7".repeat(32);
    assert_eq!(
        h.register("erin@example.com", &long_ok).await.status,
        202,
        "64 characters allowed"
    );
    assert!(h
        .store
        .user_by_email("dave@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(h.mailer.sent().iter().all(|m| m.to != "dave@example.com"));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_answer_identically() {
    let h = Harness::new();
    h.signed_in("frank@example.com").await;
    let wrong = h.login("frank@example.com", "not the password").await;
    let unknown = h.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body["error"]["code"], unknown.body["error"]["code"]);
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );
}

#[tokio::test]
async fn unknown_user_costs_a_full_password_verification() {
    let h = Harness::new();
    h.signed_in("grace@example.com").await;
    let time = |email: &'static str| {
        let h = &h;
        async move {
            let mut samples = Vec::new();
            for _ in 0..5 {
                let started = std::time::Instant::now();
                h.login(email, "not the password").await;
                samples.push(started.elapsed());
            }
            samples.sort();
            samples[2]
        }
    };
    let wrong = time("grace@example.com").await;
    let unknown = time("nobody@example.com").await;
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown {unknown:?} vs wrong password {wrong:?}: the dummy hash must be verified"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let h = Harness::new();
    let pair = h.signed_in("heidi@example.com").await;
    let first = pair["refresh_token"].as_str().unwrap().to_string();

    let rotated = h.refresh(&first).await;
    assert_eq!(rotated.status, 200);
    let second = rotated.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(rotated.body["session_id"], pair["session_id"]);
    let access = rotated.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(h.me(&access).await.status, 200);

    h.clock
        .advance(shared::auth::service::REFRESH_GRACE_SECONDS);
    let reuse = h.refresh(&first).await;
    assert_eq!((reuse.status, code(&reuse)), (401, "REFRESH_TOKEN_REUSED"));
    let after = h.refresh(&second).await;
    assert_eq!(
        after.status, 401,
        "the family is revoked, including the newest token"
    );
    let me = h.me(&access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
}

#[tokio::test]
async fn refresh_is_bound_to_the_device_and_expires_after_30_days() {
    let h = Harness::new();
    let pair = h.signed_in("ivan@example.com").await;
    let token = pair["refresh_token"].as_str().unwrap();
    let stolen = h
        .call(
            event("refresh")
                .body(json!({ "refresh_token": token }))
                .device("attacker-device-9"),
        )
        .await;
    assert_eq!((stolen.status, code(&stolen)), (401, "DEVICE_MISMATCH"));
    assert_eq!(
        h.refresh(token).await.status,
        401,
        "a token presented elsewhere is burnt"
    );

    let pair = h.login("ivan@example.com", PASSWORD).await.body;
    h.clock.advance(30 * 24 * 3600 - 10);
    let late = h.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(late.status, 200, "rotation does not extend the family");
    h.clock.advance(20);
    let expired = h
        .refresh(late.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(expired.status, 401);
}

#[tokio::test]
async fn garbage_refresh_tokens_are_refused() {
    let h = Harness::new();
    for token in ["", "rt_doesnotexist", "not-a-token", &"rt_x".repeat(100)] {
        assert_eq!(h.refresh(token).await.status, 401, "{token}");
    }
}

#[tokio::test]
async fn access_token_only_works_from_its_device() {
    let h = Harness::new();
    let pair = h.signed_in("judy@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let other = h
        .call(event("me").bearer(access).device("other-device-42"))
        .await;
    assert_eq!((other.status, code(&other)), (401, "DEVICE_MISMATCH"));
    let none = h
        .call(event("me").bearer(access).without_header("X-Device-Id"))
        .await;
    assert_eq!(none.status, 401);
    let missing = h.call(event("me").without_header("Authorization")).await;
    assert_eq!((missing.status, code(&missing)), (401, "UNAUTHENTICATED"));
}

#[tokio::test]
async fn access_tokens_expire_after_15_minutes() {
    let h = Harness::new();
    let pair = h.signed_in("ken@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    h.clock.advance(900 + 31);
    assert_eq!(h.me(access).await.status, 401);
}

#[tokio::test]
async fn logout_ends_the_session_for_access_and_refresh() {
    let h = Harness::new();
    let pair = h.signed_in("leo@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let out = h.call(event("logout").bearer(access)).await;
    assert_eq!(out.status, 204);
    assert_eq!(h.me(access).await.status, 401);
    assert_eq!(
        h.refresh(pair["refresh_token"].as_str().unwrap())
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn new_device_sign_in_emails_the_owner_once() {
    let h = Harness::new();
    h.signed_in("mia@example.com").await;
    let count = |h: &Harness| {
        h.mailer
            .sent()
            .iter()
            .filter(|m| m.subject.contains("new sign-in"))
            .count()
    };
    assert_eq!(count(&h), 0, "the first device is not news");
    let other = event("login")
        .body(json!({"email": "mia@example.com", "password": PASSWORD}))
        .device("second-device-77");
    assert_eq!(h.call(other.clone()).await.status, 200);
    assert_eq!(count(&h), 1);
    assert_eq!(h.call(other).await.status, 200);
    assert_eq!(h.login("mia@example.com", PASSWORD).await.status, 200);
    assert_eq!(count(&h), 1);
}
