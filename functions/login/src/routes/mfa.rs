//! Second-factor routes: `totp/enroll`, `totp/confirm` (answers the backup
//! codes, once), `totp/disable`, `totp/backup-codes` (new codes),
//! `login/mfa` (completes a challenged sign-in) and `step-up` (a fresh
//! second factor on the current session).

use edge::http::{empty_response, json_response, parse_json, RequestMeta};
use edge::lambda::Served;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::auth::mfa::{MfaChallenge, Presented};
use shared::auth::service::Caller;
use shared::auth::AuthService;

use super::{authenticate, device_id, no_body, ReauthBody};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    password: String,
    code: String,
}

/// A second factor: a TOTP code or a backup code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorBody {
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    backup_code: Option<String>,
}

impl FactorBody {
    fn presented(&self) -> Presented<'_> {
        Presented {
            totp_code: self.totp_code.as_deref(),
            backup_code: self.backup_code.as_deref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeBody {
    challenge: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    backup_code: Option<String>,
}

/// 401 `MFA_REQUIRED`: the error envelope, and the challenge that
/// completes the sign-in at `login/mfa`.
pub(super) fn required(challenge: &MfaChallenge, request_id: &str) -> Response<Body> {
    let body = json!({
        "error": {
            "code": "MFA_REQUIRED",
            "message": "A second factor is required: send the challenge with a TOTP code or a backup code.",
            "request_id": request_id,
        },
        "mfa": challenge,
    });
    json_response(StatusCode::UNAUTHORIZED, &body, request_id)
}

/// Starts TOTP enrolment: the secret and its `otpauth://` URI.
pub(super) async fn enroll(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let principal = authenticate(service, req, meta)?;
    no_body(req)?;
    let enrollment = service.totp_enroll(&principal).await?;
    Ok((
        json_response(StatusCode::OK, &enrollment, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Confirms enrolment with the password and a code: the backup codes,
/// shown once.
pub(super) async fn confirm(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ConfirmBody = parse_json(req)?;
    let codes = service
        .totp_confirm(&principal, &body.password, &body.code, meta.source_ip)
        .await?;
    Ok((
        json_response(StatusCode::OK, &codes, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Turns two-step sign-in off: password and a TOTP or backup code.
pub(super) async fn disable(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ReauthBody = parse_json(req)?;
    let reauth = body.reauthentication();
    service
        .totp_disable(&principal, reauth.password, &reauth.factor, meta.source_ip)
        .await?;
    Ok((
        empty_response(StatusCode::NO_CONTENT, &meta.request_id),
        Some(principal.sub),
    ))
}

/// New backup codes, with a current TOTP code.
pub(super) async fn regenerate_backup_codes(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: CodeBody = parse_json(req)?;
    let codes = service
        .regenerate_backup_codes(&principal, &body.code, meta.source_ip)
        .await?;
    Ok((
        json_response(StatusCode::OK, &codes, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Completes a challenged sign-in from the device it started on.
pub(super) async fn complete_sign_in(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let device = device_id(req)?;
    let body: ChallengeBody = parse_json(req)?;
    let caller = Caller {
        device_id: &device,
        ip: meta.source_ip,
    };
    let presented = Presented {
        totp_code: body.totp_code.as_deref(),
        backup_code: body.backup_code.as_deref(),
    };
    let pair = service
        .complete_mfa(&body.challenge, &presented, &caller)
        .await?;
    Ok((json_response(StatusCode::OK, &pair, &meta.request_id), None))
}

/// A fresh access token after a second factor.
pub(super) async fn step_up(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: FactorBody = parse_json(req)?;
    let token = service
        .step_up(&principal, &body.presented(), meta.source_ip)
        .await?;
    Ok((
        json_response(StatusCode::OK, &token, &meta.request_id),
        Some(principal.sub),
    ))
}
