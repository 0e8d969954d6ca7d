//! Verification, recovery and the account's life: `email/verify`,
//! `email/resend`, `email/change`, `password/forgot`, `password/reset`,
//! `account/delete`, `account/export`.

use edge::http::{empty_response, json_response, parse_json, RequestMeta};
use edge::lambda::Served;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;
use shared::auth::mfa::Presented;
use shared::auth::recovery::EmailChange;
use shared::auth::AuthService;

use super::{authenticate, no_body, ReauthBody};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeEmailBody {
    new_email: String,
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    backup_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgotBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    token: String,
    password: String,
}

/// Spends a verification token: 204, or 400 `TOKEN_INVALID`.
pub(super) async fn verify_email(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let body: TokenBody = parse_json(req)?;
    service.verify_email(&body.token, meta.source_ip).await?;
    Ok((
        empty_response(StatusCode::NO_CONTENT, &meta.request_id),
        None,
    ))
}

/// Emails the signed-in user a new verification token: 202.
pub(super) async fn resend_verification(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    no_body(req)?;
    service.resend_verification(&principal).await?;
    let accepted = json!({
        "status": "accepted",
        "message": "A new verification email is on its way."
    });
    Ok((
        json_response(StatusCode::ACCEPTED, &accepted, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Asks for a reset email: 202 with the same body whether or not the
/// address has an account.
pub(super) async fn forgot_password(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let body: ForgotBody = parse_json(req)?;
    service.forgot_password(&body.email, meta.source_ip).await?;
    let accepted = json!({
        "status": "accepted",
        "message": "If this address has an account, a reset email is on its way."
    });
    Ok((
        json_response(StatusCode::ACCEPTED, &accepted, &meta.request_id),
        None,
    ))
}

/// Spends a reset token with a new password: 204; every session ends.
pub(super) async fn reset_password(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let body: ResetBody = parse_json(req)?;
    service
        .reset_password(&body.token, &body.password, meta.source_ip)
        .await?;
    Ok((
        empty_response(StatusCode::NO_CONTENT, &meta.request_id),
        None,
    ))
}

/// Starts an address change: 202; the new address gets a verification
/// token, the old one a notice.
pub(super) async fn change_email(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ChangeEmailBody = parse_json(req)?;
    let change = EmailChange {
        new_email: &body.new_email,
        password: &body.password,
        factor: Presented {
            totp_code: body.totp_code.as_deref(),
            backup_code: body.backup_code.as_deref(),
        },
    };
    service
        .request_email_change(&principal, &change, meta.source_ip)
        .await?;
    let accepted = json!({
        "status": "accepted",
        "message": "Confirm the new address with the token emailed to it."
    });
    Ok((
        json_response(StatusCode::ACCEPTED, &accepted, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Deletes the caller's account: 204.
pub(super) async fn delete_account(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ReauthBody = parse_json(req)?;
    service
        .delete_account(&principal, &body.reauthentication(), meta.source_ip)
        .await?;
    Ok((
        empty_response(StatusCode::NO_CONTENT, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Queues an export of the caller's account data: 202 with its status.
pub(super) async fn request_export(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ReauthBody = parse_json(req)?;
    let status = service
        .request_export(&principal, &body.reauthentication(), meta.source_ip)
        .await?;
    Ok((
        json_response(StatusCode::ACCEPTED, &status, &meta.request_id),
        Some(principal.sub),
    ))
}

/// The caller's current export: 200 with a download link once ready, 404
/// when none was asked for.
pub(super) async fn export_status(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    no_body(req)?;
    let status = service.export_status(&principal).await?;
    Ok((
        json_response(StatusCode::OK, &status, &meta.request_id),
        Some(principal.sub),
    ))
}
