//! CORS for browser clients: only origins on the configured allowlist get
//! `Access-Control-Allow-Origin` (the exact origin echoed, never `*`), and
//! preflight `OPTIONS` requests are answered here, before any route runs.
//! The allowlist (`CORS_ALLOWED_ORIGINS`) is read once per cold start into
//! the function's `HttpShell`; an empty list means no browser origin is
//! allowed (native clients need none).

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use crate::http::{empty_response, error_response, ApiError};
use shared::config::{ConfigError, Env};

/// Methods a preflight may ask for.
const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE";
/// Request headers a browser may send.
const ALLOWED_HEADERS: &str =
    "authorization, content-type, x-device-id, idempotency-key, x-app-version";
/// Response headers a browser script may read.
const EXPOSED_HEADERS: &str = "retry-after, idempotent-replayed, etag, x-request-id";

/// The origins browsers may call from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Origins as `scheme://host[:port]`: `https` only, except loopback `http` for development.
    pub fn new(origins: Vec<String>) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            var: "CORS_ALLOWED_ORIGINS".into(),
            reason: reason.into(),
        };
        for origin in &origins {
            let rest = if let Some(rest) = origin.strip_prefix("https://") {
                rest
            } else if let Some(rest) = origin.strip_prefix("http://") {
                let host = rest.split(':').next().unwrap_or_default();
                if host != "localhost" && host != "127.0.0.1" {
                    return Err(invalid("plain http is allowed for loopback only"));
                }
                rest
            } else {
                return Err(invalid("origins are https://host[:port]"));
            };
            if rest.is_empty() || rest.contains(['/', '*', ' ']) {
                return Err(invalid("origins are exact: no path, wildcard or space"));
            }
        }
        Ok(Self { origins })
    }

    /// Reads `CORS_ALLOWED_ORIGINS` (comma-separated; empty or unset: none).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let list = env.get("CORS_ALLOWED_ORIGINS").unwrap_or_default();
        Self::new(
            list.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

/// The request's `Origin`, if it is on `policy`'s allowlist.
pub fn allowed_origin(policy: &CorsPolicy, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get("origin")?;
    policy.allows(origin.to_str().ok()?).then(|| origin.clone())
}

/// The answer to a preflight: 204 with the CORS headers for an allowed
/// origin, 403 `CORS_ORIGIN_REFUSED` otherwise.
pub fn preflight(policy: &CorsPolicy, headers: &HeaderMap, request_id: &str) -> Response<Body> {
    let Some(origin) = allowed_origin(policy, headers) else {
        return error_response(
            &ApiError::new(
                StatusCode::FORBIDDEN,
                "CORS_ORIGIN_REFUSED",
                "This origin may not call the API.",
            ),
            request_id,
        );
    };
    let mut response = empty_response(StatusCode::NO_CONTENT, request_id);
    let out = response.headers_mut();
    out.insert("access-control-allow-origin", origin);
    out.insert("vary", HeaderValue::from_static("Origin"));
    out.insert(
        "access-control-allow-methods",
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    out.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    out.insert("access-control-max-age", HeaderValue::from_static("600"));
    response
}

/// Adds the CORS headers to a response; `origin` is the request's allowed
/// origin (see `allowed_origin`), if any.
pub fn decorate(origin: Option<HeaderValue>, response: &mut Response<Body>) {
    let out = response.headers_mut();
    out.insert("vary", HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        out.insert("access-control-allow-origin", origin);
        out.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_https_origins_or_loopback_are_configurable() {
        let ok = |list: &str| {
            let env: std::collections::HashMap<String, String> =
                [("CORS_ALLOWED_ORIGINS".to_string(), list.to_string())].into();
            CorsPolicy::from_env(&env)
        };
        let policy = ok("https://app.example.com, http://localhost:3000").unwrap();
        assert!(policy.allows("https://app.example.com"));
        assert!(policy.allows("http://localhost:3000"));
        assert!(!policy.allows("https://app.example.com.evil.test"));
        assert!(!policy.allows("http://app.example.com"));
        assert_eq!(ok("").unwrap(), CorsPolicy::default());
        for bad in [
            "*",
            "https://*.example.com",
            "http://app.example.com",
            "app.example.com",
            "https://a.example.com/path",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
