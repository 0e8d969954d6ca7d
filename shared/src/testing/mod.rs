//! Test support shared by every crate's tests: the port contract suite, and
//! driving a handler with the sample API Gateway events in `events/`.

pub mod contract;

use std::future::Future;

use base64::Engine;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

/// A handler's answer, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `Retry-After` header in seconds.
    pub fn retry_after(&self) -> i64 {
        self.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After header")
    }
}

/// Loads `events/<name>.json` from the workspace.
pub fn event(name: &str) -> Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path}"));
    serde_json::from_str(&text).expect("sample events are JSON")
}

/// Runs `handler` on an API Gateway event, as the Lambda runtime would.
pub async fn invoke<F, Fut>(handler: F, event: Value) -> Reply
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let req = lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event");
    let resp = handler(req).await;
    let bytes = crate::http::body_bytes(resp.body());
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).expect("responses are JSON")
    };
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body,
    }
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
        if let Some(headers) = self["headers"].as_object_mut() {
            headers.remove(name);
        }
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

/// The claims of a JWT, read without verification (for assertions only).
pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
