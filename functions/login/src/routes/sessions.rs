//! The signed-in user's sessions and password: `GET sessions` (list),
//! `DELETE sessions/{session_id}` (end one), `DELETE sessions` (end every
//! other one) and `password/change`; the last two end every other session
//! and answer fresh tokens for this device.

use edge::http::{empty_response, json_response, parse_json, RequestMeta};
use edge::lambda::Served;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;
use shared::auth::service::Caller;
use shared::auth::sessions::PasswordChange;
use shared::auth::AuthService;

use super::{authenticate, device_id, no_body};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    current_password: String,
    new_password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    backup_code: Option<String>,
}

/// The caller's live sessions, newest first.
pub(super) async fn list(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let principal = authenticate(service, req, meta)?;
    let sessions = service.list_sessions(&principal).await?;
    Ok((
        json_response(
            StatusCode::OK,
            &json!({ "sessions": sessions }),
            &meta.request_id,
        ),
        Some(principal.sub),
    ))
}

/// Ends one of the caller's sessions: 204, or 404 for anyone else's.
pub(super) async fn revoke(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
    session_id: &str,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    no_body(req)?;
    service.revoke_own_session(&principal, session_id).await?;
    Ok((
        empty_response(StatusCode::NO_CONTENT, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Ends every other session: fresh tokens for this device.
pub(super) async fn revoke_others(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    no_body(req)?;
    let device = device_id(req)?;
    let caller = Caller {
        device_id: &device,
        ip: meta.source_ip,
    };
    let pair = service.revoke_other_sessions(&principal, &caller).await?;
    Ok((
        json_response(StatusCode::OK, &pair, &meta.request_id),
        Some(principal.sub),
    ))
}

/// Changes the password: fresh tokens for this device, every other
/// session ended.
pub(super) async fn change_password(
    service: &AuthService,
    req: &Request,
    meta: &RequestMeta,
) -> Served {
    let principal = authenticate(service, req, meta)?;
    let body: ChangeBody = parse_json(req)?;
    let device = device_id(req)?;
    let caller = Caller {
        device_id: &device,
        ip: meta.source_ip,
    };
    let change = PasswordChange {
        current_password: &body.current_password,
        new_password: &body.new_password,
        totp_code: body.totp_code.as_deref(),
        backup_code: body.backup_code.as_deref(),
    };
    let pair = service
        .change_password(&principal, &change, &caller)
        .await?;
    Ok((
        json_response(StatusCode::OK, &pair, &meta.request_id),
        Some(principal.sub),
    ))
}
