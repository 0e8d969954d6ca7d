//! A login function over in-memory ports, driven with the API Gateway
//! events from `events/`.

#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::sync::Arc;

use login::{App, LoginConfig};
use serde_json::{json, Value};
use shared::auth::service::AuthPorts;
use shared::clock::ManualClock;
use testkit::memory::{MemoryMailer, MemoryStore};
pub use testkit::{claims, invoke, EventExt, Reply};

pub const PASSWORD: &str = "violet tangerine 42";
pub const DEVICE: &str = "device-0001-sample";
pub const START: i64 = 1_900_000_000;

pub struct Harness {
    pub app: App,
    pub store: Arc<MemoryStore>,
    pub mailer: Arc<MemoryMailer>,
    pub clock: Arc<ManualClock>,
}

pub fn test_env(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = testkit::test_login_env(&[
        ("ADMIN_TOTP_REQUIRED", "true"),
        ("AUTH_IP_LIMIT_PER_MINUTE", "1000"),
    ]);
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

impl Harness {
    pub fn new() -> Self {
        Self::with_env(&[])
    }

    pub fn with_env(overrides: &[(&str, &str)]) -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock = Arc::new(ManualClock::new(START));
        let ports = AuthPorts {
            users: store.clone(),
            sessions: store.clone(),
            liveness: store.clone(),
            attempts: store.clone(),
            mailer: mailer.clone(),
            kyc: store.clone(),
            documents: store.clone(),
            exports: store.clone(),
            export_queue: store.clone(),
        };
        let config = LoginConfig::from_env(&test_env(overrides)).expect("test config is valid");
        Self {
            app: App::new(config, ports, clock.clone()),
            store,
            mailer,
            clock,
        }
    }

    pub async fn call(&self, event: Value) -> Reply {
        invoke(|req| login::handle(&self.app, req), event).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.call(event("register").body(json!({"email": email, "password": password})))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(event("login").body(json!({"email": email, "password": password})))
            .await
    }

    /// Registers and signs in; returns the token pair.
    pub async fn signed_in(&self, email: &str) -> Value {
        assert_eq!(self.register(email, PASSWORD).await.status, 202);
        let reply = self.login(email, PASSWORD).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    pub async fn me(&self, access_token: &str) -> Reply {
        self.call(event("me").bearer(access_token)).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.call(event("refresh").body(json!({ "refresh_token": refresh_token })))
            .await
    }
}

impl Harness {
    /// The last token (`prefix`: `ev_` or `pr_`) emailed to `to`.
    pub fn emailed_token(&self, to: &str, prefix: &str) -> Option<String> {
        self.mailer
            .sent()
            .into_iter()
            .rev()
            .filter(|mail| mail.to == to)
            .find_map(|mail| token_in(&mail.text, prefix))
    }

    /// Subjects of the emails sent to `to`, oldest first.
    pub fn subjects_to(&self, to: &str) -> Vec<String> {
        self.mailer
            .sent()
            .into_iter()
            .filter(|mail| mail.to == to)
            .map(|mail| mail.subject)
            .collect()
    }

    pub async fn verify_email(&self, token: &str) -> Reply {
        self.call(event("verify-email").body(json!({ "token": token })))
            .await
    }

    pub async fn forgot(&self, email: &str) -> Reply {
        self.call(event("forgot-password").body(json!({ "email": email })))
            .await
    }

    pub async fn reset(&self, token: &str, password: &str) -> Reply {
        self.call(event("reset-password").body(json!({ "token": token, "password": password })))
            .await
    }

    /// Registers, verifies the address with the emailed token, signs in.
    /// Enrols TOTP on the signed-in session `access` (at the start of the
    /// clock): the secret and the ten backup codes.
    pub async fn enrol_totp(&self, access: &str) -> (String, Vec<String>) {
        let started = self.call(event("totp-enroll").bearer(access)).await;
        assert_eq!(started.status, 200, "{}", started.body);
        let secret = started.body["secret"].as_str().unwrap().to_string();
        let code = shared::auth::totp::code_at(&secret, START).unwrap();
        let confirmed = self
            .call(
                event("totp-confirm")
                    .bearer(access)
                    .body(json!({ "password": PASSWORD, "code": code })),
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        let codes = confirmed.body["backup_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        (secret, codes)
    }

    pub async fn verified(&self, email: &str) -> Value {
        let pair = self.signed_in(email).await;
        let token = self
            .emailed_token(&email.to_ascii_lowercase(), "ev_")
            .expect("a verification token was emailed");
        assert_eq!(self.verify_email(&token).await.status, 204);
        pair
    }
}

/// The first word of `text` starting with `prefix`.
pub fn token_in(text: &str, prefix: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| word.starts_with(prefix))
        .map(str::to_string)
}

/// Loads `events/login-<name>.json`.
pub fn event(name: &str) -> Value {
    testkit::event(&format!("login-{name}"))
}

pub fn code(reply: &Reply) -> &str {
    reply.code()
}
