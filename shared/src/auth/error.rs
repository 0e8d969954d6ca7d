//! The auth domain's failures and their one mapping to HTTP.

use lambda_http::http::StatusCode;

use crate::http::{ApiError, FieldIssue};
use crate::ports::StoreError;

/// Why an auth operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid input")]
    Invalid(Vec<FieldIssue>),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("account locked")]
    Locked { retry_after: u64 },
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("TOTP code required")]
    TotpRequired,
    #[error("TOTP code invalid")]
    TotpInvalid,
    #[error("not authenticated")]
    Unauthenticated,
    #[error("device does not match the token")]
    DeviceMismatch,
    #[error("session revoked or expired")]
    SessionRevoked,
    #[error("session past its absolute lifetime")]
    SessionExpired,
    #[error("refresh token invalid")]
    RefreshInvalid,
    #[error("refresh token reused")]
    RefreshReused,
    #[error("IP not allowed")]
    IpNotAllowed,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("dependency unavailable")]
    Unavailable,
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store call failed");
        AuthError::Unavailable
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        use AuthError::*;
        let unauthorized = |code, message| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        match err {
            Invalid(details) => ApiError::validation(details),
            InvalidCredentials => {
                unauthorized("INVALID_CREDENTIALS", "The email or password is incorrect.")
            }
            Locked { retry_after } => ApiError::new(
                StatusCode::LOCKED,
                "ACCOUNT_LOCKED",
                "Too many failed sign-ins; try again later.",
            )
            .with_retry_after(retry_after),
            RateLimited { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many requests; try again later.",
            )
            .with_retry_after(retry_after),
            TotpRequired => unauthorized("TOTP_REQUIRED", "A one-time code is required."),
            TotpInvalid => unauthorized("TOTP_INVALID", "The one-time code is not valid."),
            Unauthenticated => unauthorized("UNAUTHENTICATED", "A valid access token is required."),
            DeviceMismatch => unauthorized(
                "DEVICE_MISMATCH",
                "The token was not issued to this device.",
            ),
            SessionRevoked => unauthorized("SESSION_REVOKED", "The session has ended."),
            SessionExpired => unauthorized(
                "SESSION_EXPIRED",
                "The session has reached its maximum lifetime; sign in again.",
            ),
            RefreshInvalid => {
                unauthorized("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
            }
            RefreshReused => unauthorized(
                "REFRESH_TOKEN_REUSED",
                "The refresh token was already used; the session has been revoked.",
            ),
            IpNotAllowed => ApiError::new(
                StatusCode::FORBIDDEN,
                "IP_NOT_ALLOWED",
                "Requests from this address are not allowed.",
            ),
            Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "This action is not allowed for this account.",
            ),
            Conflict(code) => ApiError::new(
                StatusCode::CONFLICT,
                code,
                "The request conflicts with the current state.",
            ),
            Unavailable => ApiError::unavailable(),
        }
    }
}
