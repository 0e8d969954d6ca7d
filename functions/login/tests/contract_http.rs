//! The HTTP contract on the login routes: strict input, error envelope,
//! routing, and failing closed when a dependency is down.

mod common;

use common::*;
use serde_json::json;
use shared::auth::lockout::lockout_key;
use shared::config::ConfigError;
use shared::ports::{AttemptStore, UserStore};

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_touched() {
    let h = Harness::new();
    let cases = [
        (event("login").raw_body("{not json"), 400),
        (event("login").body(json!({"email": "a@example.com"})), 400),
        (
            event("login").body(json!({"email": "a@example.com", "password": "x", "admin": true})),
            400,
        ),
        (
            event("login").body(json!({"email": 5, "password": "x"})),
            400,
        ),
        (
            event("login")
                .body(json!({"email": "a@example.com", "password": "x"}))
                .header("Content-Type", "text/plain"),
            415,
        ),
        (
            event("login")
                .body(json!({"email": "a@example.com", "password": "x"}))
                .without_header("X-Device-Id"),
            400,
        ),
        (
            event("login")
                .body(json!({"email": "a@example.com", "password": "x"}))
                .device("bad device id!"),
            400,
        ),
        (
            event("login").body(json!({"email": "a@example.com", "password": "x".repeat(70_000)})),
            413,
        ),
        (
            event("login").body(json!({"email": "a@example.com", "password": "x".repeat(2_000)})),
            400,
        ),
        (
            event("login").body(json!({"email": "not-an-email", "password": "x"})),
            400,
        ),
    ];
    for (ev, status) in cases {
        let reply = h.call(ev).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert!(reply.body["error"]["request_id"].is_string());
    }
    assert_eq!(
        h.store
            .lockout_state(&lockout_key("a@example.com"))
            .await
            .unwrap(),
        None,
        "refused input counts no attempt"
    );
}

#[tokio::test]
async fn error_bodies_never_echo_secrets() {
    let h = Harness::new();
    let reply = h
        .call(
            event("login").body(
                json!({"email": "a@example.com", "password": 12345678, "totp_code": "hunter2"}),
            ),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(!reply.body.to_string().contains("12345678"));
    assert!(!reply.body.to_string().contains("hunter2"));
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let h = Harness::new();
    let missing = h.call(event("me").path("/v1/auth/admin")).await;
    assert_eq!((missing.status, code(&missing)), (404, "NOT_FOUND"));
    let wrong = h.call(event("me").method("DELETE")).await;
    assert_eq!(wrong.status, 405);
}

#[tokio::test]
async fn database_down_fails_closed_with_503() {
    let h = Harness::new();
    let pair = h.signed_in("zoe@example.com").await;
    h.store.set_unavailable(true);
    let login = h.login("zoe@example.com", PASSWORD).await;
    assert_eq!((login.status, code(&login)), (503, "SERVICE_UNAVAILABLE"));
    assert!(login.headers.contains_key("retry-after"));
    assert_eq!(h.register("yan@example.com", PASSWORD).await.status, 503);
    assert_eq!(
        h.refresh(pair["refresh_token"].as_str().unwrap())
            .await
            .status,
        503
    );
    assert_eq!(
        h.me(pair["access_token"].as_str().unwrap()).await.status,
        503
    );
    assert!(
        !login
            .body
            .to_string()
            .to_lowercase()
            .contains("memory store"),
        "no internals"
    );

    h.store.set_unavailable(false);
    assert!(h
        .store
        .user_by_email("yan@example.com")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        h.refresh(pair["refresh_token"].as_str().unwrap())
            .await
            .status,
        200,
        "a retry completes"
    );
}

#[tokio::test]
async fn email_outage_does_not_block_sign_in() {
    let h = Harness::new();
    h.mailer.set_unavailable(true);
    assert_eq!(h.register("amy@example.com", PASSWORD).await.status, 202);
    assert_eq!(h.login("amy@example.com", PASSWORD).await.status, 200);
}

#[test]
fn configuration_errors_name_the_variable() {
    for var in [
        "JWT_SIGNING_KID",
        "JWT_SIGNING_KEY",
        "JWT_PUBLIC_KEYS",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "ADMIN_CIDRS",
        "MAIL_FROM",
    ] {
        let mut env = test_env(&[]);
        env.remove(var);
        let err = login::LoginConfig::from_env(&env)
            .err()
            .expect("must refuse");
        assert_eq!(err, ConfigError::Missing(var.to_string()));
    }
    let invalid =
        |overrides: &[(&str, &str)]| match login::LoginConfig::from_env(&test_env(overrides)) {
            Err(ConfigError::Invalid { var, reason }) => (var, reason),
            other => panic!("must refuse, got {:?}", other.err()),
        };
    let not_a_key = invalid(&[("JWT_SIGNING_KEY", "not-a-pem-key")]);
    assert_eq!(not_a_key.0, "JWT_SIGNING_KEY");
    assert!(
        !not_a_key.1.contains("not-a-pem-key"),
        "never echoes the key"
    );
    assert_eq!(invalid(&[("JWT_SIGNING_KID", "../x")]).0, "JWT_SIGNING_KID");
    assert_eq!(invalid(&[("JWT_PUBLIC_KEYS", "{}")]).0, "JWT_PUBLIC_KEYS");
    // A signing key whose public half is not published would mint tokens no
    // other function accepts: login refuses to start with it.
    let unpublished = shared::auth::tokens::generate_private_key_pem();
    assert_eq!(
        invalid(&[("JWT_SIGNING_KEY", unpublished.as_str())]).0,
        "JWT_PUBLIC_KEYS"
    );
    assert_eq!(
        invalid(&[("JWT_SIGNING_KID", "another-kid")]).0,
        "JWT_PUBLIC_KEYS"
    );
    let bad = login::LoginConfig::from_env(&test_env(&[("ADMIN_TOTP_REQUIRED", "maybe")]));
    assert!(bad.is_err());
}
