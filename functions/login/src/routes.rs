//! Routes of `/v1/auth`: parse and validate, call the service, shape the response.

use edge::http::{
    empty_response, header, json_response, parse_json, ApiError, FieldIssue, RequestMeta,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::auth::service::{Caller, LoginForm};
use shared::auth::{AuthService, Principal};

type Outcome = Result<(Response<Body>, Option<String>), ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpConfirmBody {
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

/// Every route this function serves, with its method.
pub const ROUTES: [(&str, &str); 7] = [
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/auth/me"),
    ("POST", "/v1/auth/totp/enroll"),
    ("POST", "/v1/auth/totp/confirm"),
];

/// Routes one request; the second value is the user id, for the log line.
pub async fn dispatch(service: &AuthService, req: &Request, meta: &RequestMeta) -> Outcome {
    let path = meta.route.as_str();
    let Some((method, _)) = ROUTES.iter().find(|(_, p)| *p == path) else {
        return Err(ApiError::not_found());
    };
    if req.method().as_str() != *method {
        return Err(ApiError::method_not_allowed());
    }
    let id = &meta.request_id;
    match path {
        "/v1/auth/register" => {
            let body: RegisterBody = parse_json(req)?;
            service
                .register(&body.email, &body.password, meta.source_ip)
                .await?;
            let accepted = json!({
                "status": "accepted",
                "message": "If this address can be registered, the account is ready. Check your email, then sign in."
            });
            Ok((json_response(StatusCode::ACCEPTED, &accepted, id), None))
        }
        "/v1/auth/login" => {
            let device_id = device_id(req)?;
            let body: LoginBody = parse_json(req)?;
            let form = LoginForm {
                email: &body.email,
                password: &body.password,
                totp_code: body.totp_code.as_deref(),
            };
            let caller = Caller {
                device_id,
                ip: meta.source_ip,
            };
            let pair = service.login(&form, &caller).await?;
            Ok((json_response(StatusCode::OK, &pair, id), None))
        }
        "/v1/auth/refresh" => {
            let device_id = device_id(req)?;
            let body: RefreshBody = parse_json(req)?;
            let caller = Caller {
                device_id,
                ip: meta.source_ip,
            };
            let pair = service.refresh(&body.refresh_token, &caller).await?;
            Ok((json_response(StatusCode::OK, &pair, id), None))
        }
        "/v1/auth/logout" => {
            let principal = authenticate(service, req, meta)?;
            no_body(req)?;
            service.logout(&principal).await?;
            Ok((
                empty_response(StatusCode::NO_CONTENT, id),
                Some(principal.sub),
            ))
        }
        "/v1/auth/me" => {
            let principal = authenticate(service, req, meta)?;
            let me = service.me(&principal).await?;
            Ok((json_response(StatusCode::OK, &me, id), Some(principal.sub)))
        }
        "/v1/auth/totp/enroll" => {
            let principal = authenticate(service, req, meta)?;
            no_body(req)?;
            let enrollment = service.totp_enroll(&principal).await?;
            Ok((
                json_response(StatusCode::OK, &enrollment, id),
                Some(principal.sub),
            ))
        }
        "/v1/auth/totp/confirm" => {
            let principal = authenticate(service, req, meta)?;
            let body: TotpConfirmBody = parse_json(req)?;
            service
                .totp_confirm(&principal, &body.code, meta.source_ip)
                .await?;
            let confirmed = json!({ "totp_enabled": true });
            Ok((
                json_response(StatusCode::OK, &confirmed, id),
                Some(principal.sub),
            ))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn authenticate(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Result<Principal, ApiError> {
    Ok(service.guard().authenticate(
        header(req.headers(), "authorization"),
        header(req.headers(), "x-device-id"),
        meta.source_ip,
    )?)
}

/// The `X-Device-Id` header: 8 to 128 characters of `[A-Za-z0-9._:-]`.
fn device_id(req: &Request) -> Result<&str, ApiError> {
    let value = header(req.headers(), "x-device-id").unwrap_or("");
    let valid = (8..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if valid {
        Ok(value)
    } else {
        Err(ApiError::validation(vec![FieldIssue::new(
            "X-Device-Id",
            "header is required: 8 to 128 letters, digits, '.', '_', ':' or '-'",
        )]))
    }
}

/// Routes without input accept no body, or an empty JSON object.
fn no_body(req: &Request) -> Result<(), ApiError> {
    if edge::http::body_bytes(req.body()).is_empty() {
        return Ok(());
    }
    parse_json::<EmptyBody>(req).map(|_| ())
}
