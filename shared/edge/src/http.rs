//! The HTTP contract every function keeps: JSON errors with a stable code and
//! the request id, security headers on every response, and strict body parsing.

use std::net::IpAddr;

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
pub use shared::validation::FieldIssue;

/// Largest JSON body accepted, in bytes.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// How deep a JSON body may nest (arrays and objects, the outermost
/// included): serde_json's recursion limit of 128 refuses the 128th level,
/// which keeps a hostile body from exhausting the stack.
pub const MAX_JSON_DEPTH: usize = 127;

/// Headers sent on every response, whatever its status.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("cache-control", "no-store"),
];

/// An error as the client sees it: status, stable code, safe message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldIssue>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 with one entry per offending field.
    pub fn validation(details: Vec<FieldIssue>) -> Self {
        Self {
            details,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
                "The request is invalid.",
            )
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such route.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed on this route.",
        )
    }

    /// 503 for a dependency that is down; the cause stays in the logs.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable; try again shortly.",
        )
        .with_retry_after(1)
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "<[FieldIssue]>::is_empty")]
    details: &'a [FieldIssue],
}

/// Facts about the incoming request the handlers need, taken once.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<IpAddr>,
    pub method: String,
    /// The route path with any stage or local-emulator prefix removed, e.g. `/v1/auth/login`.
    pub route: String,
}

impl RequestMeta {
    /// Reads request id, caller IP (from the API Gateway context only, never
    /// from forwarding headers) and the route path.
    pub fn from_request(req: &Request) -> Self {
        let (request_id, source_ip) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => {
                (ctx.request_id.clone(), ctx.identity.source_ip.clone())
            }
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                (ctx.request_id.clone(), ctx.http.source_ip.clone())
            }
            _ => (None, None),
        };
        let request_id = request_id
            .filter(|id| !id.is_empty())
            .or_else(|| {
                req.lambda_context_ref()
                    .map(|c| c.request_id.clone())
                    .filter(|id| !id.is_empty())
            })
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Self {
            request_id,
            source_ip: source_ip.and_then(|ip| ip.parse().ok()),
            method: req.method().as_str().to_string(),
            route: route_path(req.uri().path()),
        }
    }
}

/// Strips what precedes the route: the `/lambda-url/<function>` prefix of
/// the local emulator, and an API Gateway stage before `/v1/`.
pub fn route_path(path: &str) -> String {
    let unprefixed = match path.strip_prefix("/lambda-url/") {
        Some(rest) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    let trimmed = match unprefixed.find("/v1/") {
        Some(i) => &unprefixed[i..],
        None => unprefixed,
    };
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Refuses any query parameter not in `allowed`, naming the first offender.
pub fn only_query_params(req: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let params = req.query_string_parameters();
    let mut unknown: Vec<&str> = params
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !allowed.contains(name))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        Some(name) => Err(ApiError::validation(vec![FieldIssue::new(
            *name,
            "is not an accepted query parameter",
        )])),
        None => Ok(()),
    }
}

/// A header's value as text, if present and printable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Parses a JSON body strictly: media type, size and shape are checked
/// before anything else happens, and each bad field is named.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let content_type = header(req.headers(), "content-type").unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the body as application/json.",
        ));
    }
    parse_json_bytes(body_bytes(req.body()))
}

/// The bytes of a body, whatever its variant.
pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Strict JSON decoding of raw bytes (size-limited, unknown and duplicate
/// fields refused, errors that never echo the submitted values).
pub fn parse_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The body exceeds {MAX_JSON_BODY} bytes."),
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::validation(vec![FieldIssue::new(
            "body",
            "a JSON object is required",
        )]));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::validation(vec![FieldIssue::new(
            "body",
            "must be UTF-8 encoded JSON",
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        ApiError::validation(vec![describe_json_error(&path, err.inner())])
    })?;
    de.end().map_err(|_| {
        ApiError::validation(vec![FieldIssue::new(
            "body",
            "unexpected content after the JSON value",
        )])
    })?;
    Ok(value)
}

fn describe_json_error(path: &str, err: &serde_json::Error) -> FieldIssue {
    use serde_json::error::Category;
    let text = err.to_string();
    let quoted = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let field = |name: Option<String>| match (path, name) {
        (".", Some(n)) | ("", Some(n)) => n,
        (p, Some(n)) if p == n || p.ends_with(&format!(".{n}")) => p.to_string(),
        (p, Some(n)) => format!("{p}.{n}"),
        (".", None) | ("", None) => "body".to_string(),
        (p, None) => p.to_string(),
    };
    match err.classify() {
        Category::Syntax if text.starts_with("recursion limit exceeded") => {
            FieldIssue::new("body", format!("nests deeper than {MAX_JSON_DEPTH} levels"))
        }
        Category::Syntax | Category::Eof | Category::Io => {
            FieldIssue::new("body", "is not well-formed JSON")
        }
        Category::Data => {
            if let Some(name) = quoted("unknown field `") {
                FieldIssue::new(field(Some(name)), "is not an accepted field")
            } else if let Some(name) = quoted("missing field `") {
                FieldIssue::new(field(Some(name)), "is required")
            } else if let Some(name) = quoted("duplicate field `") {
                FieldIssue::new(field(Some(name)), "appears more than once")
            } else {
                FieldIssue::new(field(None), "has the wrong type or value")
            }
        }
    }
}

/// A JSON response with the security headers and request id.
pub fn json_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    request_id: &str,
) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_string());
    json_text_response(status, text, request_id)
}

/// A response whose JSON body is already serialised.
fn json_text_response(status: StatusCode, text: String, request_id: &str) -> Response<Body> {
    finish(
        status,
        Body::Text(text),
        Some("application/json"),
        request_id,
    )
}

/// An empty response (for 204 and 304) with the security headers and request id.
pub fn empty_response(status: StatusCode, request_id: &str) -> Response<Body> {
    finish(status, Body::Empty, None, request_id)
}

/// The JSON error envelope of DESIGN.md.
pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let envelope = ErrorEnvelope {
        error: ErrorBody {
            code: err.code,
            message: &err.message,
            request_id,
            details: &err.details,
        },
    };
    let mut resp = json_response(err.status, &envelope, request_id);
    if let Some(seconds) = err.retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    resp
}

fn finish(
    status: StatusCode,
    body: Body,
    content_type: Option<&'static str>,
    request_id: &str,
) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(ct) = content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[allow(dead_code)]
        email: String,
        #[allow(dead_code)]
        count: u32,
    }

    fn issue_of(body: &str) -> FieldIssue {
        let err = parse_json_bytes::<Sample>(body.as_bytes()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        err.details[0].clone()
    }

    #[test]
    fn unknown_missing_duplicate_and_mistyped_fields_are_named() {
        assert_eq!(
            issue_of(r#"{"email":"a","count":1,"role":"admin"}"#).field,
            "role"
        );
        assert_eq!(issue_of(r#"{"email":"a"}"#).field, "count");
        assert_eq!(
            issue_of(r#"{"email":"a","email":"b","count":1}"#).issue,
            "appears more than once"
        );
        let mistyped = issue_of(r#"{"email":"a","count":"hunter2-secret"}"#);
        assert_eq!(mistyped.field, "count");
        assert!(
            !format!("{mistyped:?}").contains("hunter2"),
            "never echo values"
        );
    }

    #[test]
    fn malformed_empty_trailing_and_non_utf8_bodies_are_refused() {
        assert_eq!(issue_of("{").issue, "is not well-formed JSON");
        assert_eq!(issue_of(r#"{"email":"a","count":1} x"#).field, "body");
        assert!(parse_json_bytes::<Sample>(b"").is_err());
        assert!(parse_json_bytes::<Sample>(&[0x7b, 0xff, 0xfe, 0x7d]).is_err());
    }

    #[test]
    fn oversized_bodies_are_413() {
        let big = format!(r#"{{"email":"{}","count":1}}"#, "a".repeat(MAX_JSON_BODY));
        let err = parse_json_bytes::<Sample>(big.as_bytes()).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    /// A body that takes any JSON in one field, as flag values do.
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Open {
        #[allow(dead_code)]
        value: serde_json::Value,
    }

    /// `{"value": [[…1…]]}` nesting `levels` deep, the outer object included.
    fn nested(levels: usize) -> String {
        let arrays = levels - 1;
        format!(
            r#"{{"value": {}1{}}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    }

    #[test]
    fn nesting_is_accepted_up_to_the_depth_limit_and_refused_one_level_beyond() {
        assert!(parse_json_bytes::<Open>(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let err = parse_json_bytes::<Open>(nested(MAX_JSON_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.details,
            vec![FieldIssue::new(
                "body",
                format!("nests deeper than {MAX_JSON_DEPTH} levels")
            )]
        );
    }

    #[test]
    fn deeply_nested_json_is_refused_with_the_depth_error_without_crashing() {
        let deep = format!(
            r#"{{"value": {}1{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = parse_json_bytes::<Open>(deep.as_bytes()).unwrap_err();
        assert_eq!(
            err.details[0].issue,
            format!("nests deeper than {MAX_JSON_DEPTH} levels")
        );
    }

    #[test]
    fn error_responses_carry_envelope_headers_and_retry_after() {
        let err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "Slow down.")
            .with_retry_after(42);
        let resp = error_response(&err, "req-1");
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "42");
        assert_eq!(resp.headers()["x-request-id"], "req-1");
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(resp.headers()[name], value);
        }
        let body: serde_json::Value = serde_json::from_slice(body_bytes(resp.body())).unwrap();
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
        assert_eq!(body["error"]["request_id"], "req-1");
    }

    #[test]
    fn route_path_drops_stage_and_emulator_prefixes() {
        assert_eq!(route_path("/prod/v1/auth/login"), "/v1/auth/login");
        assert_eq!(
            route_path("/lambda-url/login/v1/auth/login/"),
            "/v1/auth/login"
        );
        assert_eq!(route_path("/v1/auth/me"), "/v1/auth/me");
        assert_eq!(route_path("/lambda-url/admin/admin/flags"), "/admin/flags");
        assert_eq!(route_path("/admin/audit/verify"), "/admin/audit/verify");
        assert_eq!(route_path("/"), "/");
    }
}
