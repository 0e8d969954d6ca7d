//! Routes of `/v1/auth`: parse and validate, call the service, shape the
//! response. Sign-in and TOTP here; verification and recovery in
//! `account`, sessions and password change in `sessions`.

mod account;
mod mfa;
mod sessions;

use edge::http::{empty_response, header, json_response, parse_json, ApiError, RequestMeta};
use edge::lambda::Served;
use edge::router::{Route, Router};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;
use shared::auth::mfa::{Presented, Reauthentication};
use shared::auth::service::{Caller, LoginForm, SignIn};
use shared::auth::{AuthService, Principal};
use shared::ids::DeviceId;

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
    #[serde(default)]
    backup_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

/// The routes of `/v1/auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRoute {
    Register,
    Login,
    Refresh,
    Logout,
    Me,
    TotpEnroll,
    TotpConfirm,
    TotpDisable,
    BackupCodes,
    LoginMfa,
    StepUp,
    VerifyEmail,
    ResendVerification,
    ChangeEmail,
    DeleteAccount,
    RequestExport,
    ExportStatus,
    ForgotPassword,
    ResetPassword,
    ChangePassword,
    Sessions,
    RevokeSession,
    RevokeOtherSessions,
}

/// Every route this function serves.
pub const ROUTER: Router<AuthRoute> = Router::new(&[
    Route {
        method: "POST",
        path: "/v1/auth/register",
        route: AuthRoute::Register,
    },
    Route {
        method: "POST",
        path: "/v1/auth/login",
        route: AuthRoute::Login,
    },
    Route {
        method: "POST",
        path: "/v1/auth/refresh",
        route: AuthRoute::Refresh,
    },
    Route {
        method: "POST",
        path: "/v1/auth/logout",
        route: AuthRoute::Logout,
    },
    Route {
        method: "GET",
        path: "/v1/auth/me",
        route: AuthRoute::Me,
    },
    Route {
        method: "POST",
        path: "/v1/auth/totp/enroll",
        route: AuthRoute::TotpEnroll,
    },
    Route {
        method: "POST",
        path: "/v1/auth/totp/confirm",
        route: AuthRoute::TotpConfirm,
    },
    Route {
        method: "POST",
        path: "/v1/auth/totp/disable",
        route: AuthRoute::TotpDisable,
    },
    Route {
        method: "POST",
        path: "/v1/auth/totp/backup-codes",
        route: AuthRoute::BackupCodes,
    },
    Route {
        method: "POST",
        path: "/v1/auth/login/mfa",
        route: AuthRoute::LoginMfa,
    },
    Route {
        method: "POST",
        path: "/v1/auth/step-up",
        route: AuthRoute::StepUp,
    },
    Route {
        method: "POST",
        path: "/v1/auth/email/verify",
        route: AuthRoute::VerifyEmail,
    },
    Route {
        method: "POST",
        path: "/v1/auth/email/resend",
        route: AuthRoute::ResendVerification,
    },
    Route {
        method: "POST",
        path: "/v1/auth/email/change",
        route: AuthRoute::ChangeEmail,
    },
    Route {
        method: "POST",
        path: "/v1/auth/account/delete",
        route: AuthRoute::DeleteAccount,
    },
    Route {
        method: "POST",
        path: "/v1/auth/account/export",
        route: AuthRoute::RequestExport,
    },
    Route {
        method: "GET",
        path: "/v1/auth/account/export",
        route: AuthRoute::ExportStatus,
    },
    Route {
        method: "POST",
        path: "/v1/auth/password/forgot",
        route: AuthRoute::ForgotPassword,
    },
    Route {
        method: "POST",
        path: "/v1/auth/password/reset",
        route: AuthRoute::ResetPassword,
    },
    Route {
        method: "POST",
        path: "/v1/auth/password/change",
        route: AuthRoute::ChangePassword,
    },
    Route {
        method: "GET",
        path: "/v1/auth/sessions",
        route: AuthRoute::Sessions,
    },
    Route {
        method: "DELETE",
        path: "/v1/auth/sessions/{session_id}",
        route: AuthRoute::RevokeSession,
    },
    Route {
        method: "DELETE",
        path: "/v1/auth/sessions",
        route: AuthRoute::RevokeOtherSessions,
    },
]);

/// Routes one request; the second value is the user id, for the log line.
pub async fn dispatch(service: &AuthService, req: &Request, meta: &RequestMeta) -> Served {
    let matched = ROUTER.resolve(req.method().as_str(), &meta.route)?;
    let id = &meta.request_id;
    match matched.route {
        AuthRoute::Register => {
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
        AuthRoute::Login => {
            let device_id = device_id(req)?;
            let body: LoginBody = parse_json(req)?;
            let form = LoginForm {
                email: &body.email,
                password: &body.password,
                totp_code: body.totp_code.as_deref(),
                backup_code: body.backup_code.as_deref(),
            };
            let caller = Caller {
                device_id: &device_id,
                ip: meta.source_ip,
            };
            match service.login(&form, &caller).await? {
                SignIn::Tokens(pair) => Ok((json_response(StatusCode::OK, &pair, id), None)),
                SignIn::MfaRequired(challenge) => Ok((mfa::required(&challenge, id), None)),
            }
        }
        AuthRoute::Refresh => {
            let device_id = device_id(req)?;
            let body: RefreshBody = parse_json(req)?;
            let caller = Caller {
                device_id: &device_id,
                ip: meta.source_ip,
            };
            let pair = service.refresh(&body.refresh_token, &caller).await?;
            Ok((json_response(StatusCode::OK, &pair, id), None))
        }
        AuthRoute::Logout => {
            let principal = authenticate(service, req, meta)?;
            no_body(req)?;
            service.logout(&principal).await?;
            Ok((
                empty_response(StatusCode::NO_CONTENT, id),
                Some(principal.sub),
            ))
        }
        AuthRoute::Me => {
            let principal = authenticate(service, req, meta)?;
            let me = service.me(&principal).await?;
            Ok((json_response(StatusCode::OK, &me, id), Some(principal.sub)))
        }
        AuthRoute::TotpEnroll => mfa::enroll(service, req, meta).await,
        AuthRoute::TotpConfirm => mfa::confirm(service, req, meta).await,
        AuthRoute::TotpDisable => mfa::disable(service, req, meta).await,
        AuthRoute::BackupCodes => mfa::regenerate_backup_codes(service, req, meta).await,
        AuthRoute::LoginMfa => mfa::complete_sign_in(service, req, meta).await,
        AuthRoute::StepUp => mfa::step_up(service, req, meta).await,
        AuthRoute::VerifyEmail => account::verify_email(service, req, meta).await,
        AuthRoute::ResendVerification => account::resend_verification(service, req, meta).await,
        AuthRoute::ChangeEmail => account::change_email(service, req, meta).await,
        AuthRoute::DeleteAccount => account::delete_account(service, req, meta).await,
        AuthRoute::RequestExport => account::request_export(service, req, meta).await,
        AuthRoute::ExportStatus => account::export_status(service, req, meta).await,
        AuthRoute::ForgotPassword => account::forgot_password(service, req, meta).await,
        AuthRoute::ResetPassword => account::reset_password(service, req, meta).await,
        AuthRoute::ChangePassword => sessions::change_password(service, req, meta).await,
        AuthRoute::Sessions => sessions::list(service, req, meta).await,
        AuthRoute::RevokeSession => {
            sessions::revoke(service, req, meta, matched.param("session_id")).await
        }
        AuthRoute::RevokeOtherSessions => sessions::revoke_others(service, req, meta).await,
    }
}

pub(super) fn authenticate(
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

/// The body of a sensitive change: the password and, when the account has
/// TOTP, a TOTP or backup code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReauthBody {
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    backup_code: Option<String>,
}

impl ReauthBody {
    pub(super) fn reauthentication(&self) -> Reauthentication<'_> {
        Reauthentication {
            password: &self.password,
            factor: Presented {
                totp_code: self.totp_code.as_deref(),
                backup_code: self.backup_code.as_deref(),
            },
        }
    }
}

/// The `X-Device-Id` header, parsed.
pub(super) fn device_id(req: &Request) -> Result<DeviceId, ApiError> {
    DeviceId::parse(header(req.headers(), "x-device-id"))
        .map_err(|issue| ApiError::validation(vec![issue]))
}

/// Routes without input accept no body, or an empty JSON object.
pub(super) fn no_body(req: &Request) -> Result<(), ApiError> {
    if edge::http::body_bytes(req.body()).is_empty() {
        return Ok(());
    }
    parse_json::<EmptyBody>(req).map(|_| ())
}
