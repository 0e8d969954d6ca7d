//! A login function over in-memory ports, driven with the API Gateway
//! events from `events/`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use lambda_http::Body;
use login::{App, LoginConfig};
use serde_json::{json, Value};
use shared::auth::service::AuthPorts;
use shared::clock::ManualClock;
use shared::memory::{MemoryMailer, MemoryStore};

pub const PASSWORD: &str = "violet tangerine 42";
pub const DEVICE: &str = "device-0001-sample";
pub const START: i64 = 1_900_000_000;

pub struct Harness {
    pub app: App,
    pub store: Arc<MemoryStore>,
    pub mailer: Arc<MemoryMailer>,
    pub clock: Arc<ManualClock>,
}

pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

pub fn test_env(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("JWT_SECRET", "test-only-jwt-key-7f3a9c2e41b86d05"),
        ("JWT_ISSUER", "https://auth.test"),
        ("JWT_AUDIENCE", "wallet-app"),
        ("ADMIN_CIDRS", "203.0.113.0/24"),
        ("MAIL_FROM", "no-reply@example.test"),
        ("ADMIN_TOTP_REQUIRED", "true"),
        ("AUTH_IP_LIMIT_PER_MINUTE", "1000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
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
            attempts: store.clone(),
            mailer: mailer.clone(),
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
        let req =
            lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event");
        let resp = login::handle(&self.app, req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = shared::http::body_bytes(resp.body()).to_vec();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("responses are JSON")
        };
        let _: &Body = resp.body();
        Reply {
            status,
            headers,
            body,
        }
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

/// Loads `events/login-<name>.json`.
pub fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../events/login-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path}"));
    serde_json::from_str(&text).unwrap()
}

/// Edits of a sample event.
pub trait EventExt {
    fn body(self, body: Value) -> Value;
    fn raw_body(self, body: &str) -> Value;
    fn header(self, name: &str, value: &str) -> Value;
    fn without_header(self, name: &str) -> Value;
    fn bearer(self, token: &str) -> Value;
    fn device(self, device: &str) -> Value;
    fn source_ip(self, ip: &str) -> Value;
    fn method(self, method: &str) -> Value;
    fn path(self, path: &str) -> Value;
}

impl EventExt for Value {
    fn body(self, body: Value) -> Value {
        self.raw_body(&body.to_string())
    }
    fn raw_body(mut self, body: &str) -> Value {
        self["body"] = Value::String(body.to_string());
        self["headers"]["Content-Type"] = json!("application/json");
        self
    }
    fn header(mut self, name: &str, value: &str) -> Value {
        self["headers"][name] = json!(value);
        self
    }
    fn without_header(mut self, name: &str) -> Value {
        self["headers"].as_object_mut().unwrap().remove(name);
        self
    }
    fn bearer(self, token: &str) -> Value {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    fn device(self, device: &str) -> Value {
        self.header("X-Device-Id", device)
    }
    fn source_ip(mut self, ip: &str) -> Value {
        self["requestContext"]["identity"]["sourceIp"] = json!(ip);
        self
    }
    fn method(mut self, method: &str) -> Value {
        self["httpMethod"] = json!(method);
        self["requestContext"]["httpMethod"] = json!(method);
        self
    }
    fn path(mut self, path: &str) -> Value {
        self["path"] = json!(path);
        self
    }
}

/// The claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn code(reply: &Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or("")
}
