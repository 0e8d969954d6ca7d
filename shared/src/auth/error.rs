//! The auth domain's failures (the edge maps them to statuses and codes).

use crate::ports::StoreError;
use crate::validation::FieldIssue;

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
    #[error("email address not verified")]
    EmailNotVerified,
    #[error("a fresh second factor is required")]
    StepUpRequired,
    #[error("token invalid, spent or expired")]
    TokenInvalid,
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
    #[error("not found")]
    NotFound,
    #[error("no data export was asked for")]
    NoExport,
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
