//! The one mapping of domain errors to the HTTP contract: each refusal's
//! status, stable error code, safe message and `Retry-After`. Handlers turn a
//! domain error into an `ApiError` with `?`; nothing else picks a status for
//! a domain outcome.

use lambda_http::http::StatusCode;
use shared::admin::AdminError;
use shared::auth::error::AuthError;
use shared::flags::FeatureUnavailable;
use shared::kyc::policy::Refusal;
use shared::kyc::service::KycError;
use shared::wallet::service::WalletError;
use shared::webhook::ingest::IngestError;

use crate::http::{ApiError, FieldIssue};
use crate::multipart::FormError;

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
            EmailNotVerified => ApiError::new(
                StatusCode::FORBIDDEN,
                "EMAIL_NOT_VERIFIED",
                "Verify your email address first.",
            ),
            StepUpRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "STEP_UP_REQUIRED",
                "Confirm with a second factor first (POST /v1/auth/step-up), then retry.",
            ),
            TokenInvalid => ApiError::new(
                StatusCode::BAD_REQUEST,
                "TOKEN_INVALID",
                "The token is not valid: it may be used, expired or replaced by a newer one.",
            ),
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
            NotFound => ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such session."),
            NoExport => ApiError::new(
                StatusCode::NOT_FOUND,
                "NO_EXPORT",
                "No data export was asked for.",
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

impl From<WalletError> for ApiError {
    fn from(err: WalletError) -> Self {
        match err {
            WalletError::Invalid(details) => ApiError::validation(details),
            WalletError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.",
            ),
            WalletError::InProgress => ApiError::new(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_IN_PROGRESS",
                "A request with this Idempotency-Key is still in progress.",
            )
            .with_retry_after(1),
            WalletError::FeatureOff(off) => off.into(),
            WalletError::Session(refused) => refused.into(),
            WalletError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such recharge.")
            }
            WalletError::Busy => ApiError::new(
                StatusCode::CONFLICT,
                "BUSY",
                "Another request for this wallet is being processed; retry.",
            )
            .with_retry_after(1),
            WalletError::Unavailable => ApiError::unavailable(),
        }
    }
}

impl From<FeatureUnavailable> for ApiError {
    fn from(err: FeatureUnavailable) -> Self {
        match err {
            FeatureUnavailable::SwitchedOff => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FEATURE_DISABLED",
                "This feature is switched off for now.",
            )
            .with_retry_after(60),
            FeatureUnavailable::FlagsUnreadable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FEATURE_UNAVAILABLE",
                "This feature is temporarily unavailable.",
            )
            .with_retry_after(10),
        }
    }
}

impl From<KycError> for ApiError {
    fn from(err: KycError) -> Self {
        match err {
            KycError::FeatureOff(off) => off.into(),
            KycError::Refused(refusal) => refusal.into(),
            KycError::DailyLimit { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "KYC_DAILY_LIMIT",
                "Too many submissions today; try again tomorrow.",
            )
            .with_retry_after(retry_after),
            KycError::AlreadyApproved => ApiError::new(
                StatusCode::CONFLICT,
                "KYC_ALREADY_APPROVED",
                "Your identity is already verified.",
            ),
            KycError::SubmissionOpen => ApiError::new(
                StatusCode::CONFLICT,
                "KYC_SUBMISSION_OPEN",
                "A submission is already waiting for review.",
            ),
            KycError::Unavailable => ApiError::unavailable(),
        }
    }
}

impl From<FormError> for ApiError {
    fn from(err: FormError) -> Self {
        match err {
            FormError::NotMultipart => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send the submission as multipart/form-data.",
            ),
            FormError::BodyTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The submission is too large: at most 3 files of 5 MiB each.",
            ),
            FormError::PartTooLarge(field) => ApiError {
                details: vec![FieldIssue::new(field, "too large (files: at most 5 MiB)")],
                ..ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "FILE_TOO_LARGE",
                    "A part of the submission is too large.",
                )
            },
            FormError::UnknownPart => ApiError::new(
                StatusCode::BAD_REQUEST,
                "UNEXPECTED_PART",
                "The body has a part this route does not accept.",
            ),
            FormError::Repeated(field) => {
                ApiError::validation(vec![FieldIssue::new(field, "send this part once")])
            }
            FormError::NotText(field) => {
                ApiError::validation(vec![FieldIssue::new(field, "must be UTF-8 text")])
            }
            FormError::Malformed => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_MULTIPART",
                "The multipart body could not be read.",
            ),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(details) => ApiError::validation(details),
            Refusal::UnsupportedFile(details) => ApiError {
                details,
                ..ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_FILE_TYPE",
                    "Documents must be JPEG, PNG or PDF files (selfies JPEG or PNG).",
                )
            },
            Refusal::FileTooLarge(details) => ApiError {
                details,
                ..ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "FILE_TOO_LARGE",
                    "Each file may be at most 5 MiB.",
                )
            },
            Refusal::Underage => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNDERAGE",
                "You must be at least the minimum age to verify an account. Nothing was stored.",
            ),
            Refusal::CountryDenied => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "COUNTRY_NOT_SUPPORTED",
                "Documents issued by this country are not accepted.",
            ),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Invalid(details) => ApiError::validation(details),
            AdminError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource.")
            }
            AdminError::Conflict(code) => ApiError::new(
                StatusCode::CONFLICT,
                code,
                "The resource changed since it was read; read it again.",
            ),
            AdminError::Forbidden(code) => ApiError::new(
                StatusCode::FORBIDDEN,
                code,
                "This action needs an administrator signed in with a one-time code.",
            ),
            AdminError::SelfDecision => ApiError::new(
                StatusCode::FORBIDDEN,
                shared::admin::SELF_DECISION_FORBIDDEN,
                "An administrator cannot decide a case about their own account; another administrator must.",
            ),
            AdminError::Unavailable => ApiError::unavailable(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::UnknownProvider => ApiError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_PROVIDER",
                "No such webhook provider.",
            ),
            IngestError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The delivery exceeds 256 KiB.",
            ),
            IngestError::SignatureHeader => ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_SIGNATURE_HEADER",
                "The signature headers are missing or malformed.",
            ),
            IngestError::StaleSignature => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "STALE_SIGNATURE",
                "The signature timestamp is outside the tolerance.",
            ),
            IngestError::BadSignature => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_SIGNATURE",
                "The signature does not match.",
            ),
            IngestError::MalformedEvent => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_EVENT",
                "The event payload cannot be read.",
            ),
            IngestError::Unavailable => ApiError::unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status, code and `Retry-After` of each refusal: the contract's table.
    fn row(err: impl Into<ApiError>) -> (u16, &'static str, Option<u64>) {
        let err = err.into();
        (err.status.as_u16(), err.code, err.retry_after)
    }

    #[test]
    fn auth_refusals_map_to_their_status_and_code() {
        let table = [
            (AuthError::Invalid(vec![]), (400, "VALIDATION_FAILED", None)),
            (
                AuthError::InvalidCredentials,
                (401, "INVALID_CREDENTIALS", None),
            ),
            (
                AuthError::Locked { retry_after: 60 },
                (423, "ACCOUNT_LOCKED", Some(60)),
            ),
            (
                AuthError::RateLimited { retry_after: 0 },
                (429, "RATE_LIMITED", Some(1)),
            ),
            (AuthError::TotpRequired, (401, "TOTP_REQUIRED", None)),
            (AuthError::TotpInvalid, (401, "TOTP_INVALID", None)),
            (AuthError::Unauthenticated, (401, "UNAUTHENTICATED", None)),
            (AuthError::DeviceMismatch, (401, "DEVICE_MISMATCH", None)),
            (AuthError::SessionRevoked, (401, "SESSION_REVOKED", None)),
            (
                AuthError::EmailNotVerified,
                (403, "EMAIL_NOT_VERIFIED", None),
            ),
            (AuthError::TokenInvalid, (400, "TOKEN_INVALID", None)),
            (AuthError::StepUpRequired, (403, "STEP_UP_REQUIRED", None)),
            (AuthError::SessionExpired, (401, "SESSION_EXPIRED", None)),
            (
                AuthError::RefreshInvalid,
                (401, "INVALID_REFRESH_TOKEN", None),
            ),
            (
                AuthError::RefreshReused,
                (401, "REFRESH_TOKEN_REUSED", None),
            ),
            (AuthError::IpNotAllowed, (403, "IP_NOT_ALLOWED", None)),
            (AuthError::Forbidden, (403, "FORBIDDEN", None)),
            (AuthError::NotFound, (404, "NOT_FOUND", None)),
            (AuthError::NoExport, (404, "NO_EXPORT", None)),
            (
                AuthError::Conflict("EMAIL_TAKEN"),
                (409, "EMAIL_TAKEN", None),
            ),
            (
                AuthError::Unavailable,
                (503, "SERVICE_UNAVAILABLE", Some(1)),
            ),
        ];
        for (err, want) in table {
            assert_eq!(row(err.clone()), want, "{err:?}");
        }
    }

    #[test]
    fn wallet_and_feature_refusals_map_to_their_status_and_code() {
        let table = [
            (
                WalletError::Invalid(vec![]),
                (400, "VALIDATION_FAILED", None),
            ),
            (
                WalletError::KeyReused,
                (422, "IDEMPOTENCY_KEY_REUSED", None),
            ),
            (
                WalletError::InProgress,
                (409, "IDEMPOTENCY_IN_PROGRESS", Some(1)),
            ),
            (
                WalletError::FeatureOff(FeatureUnavailable::SwitchedOff),
                (503, "FEATURE_DISABLED", Some(60)),
            ),
            (
                WalletError::FeatureOff(FeatureUnavailable::FlagsUnreadable),
                (503, "FEATURE_UNAVAILABLE", Some(10)),
            ),
            (WalletError::NotFound, (404, "NOT_FOUND", None)),
            (
                WalletError::Session(AuthError::SessionRevoked),
                (401, "SESSION_REVOKED", None),
            ),
            (
                WalletError::Session(AuthError::EmailNotVerified),
                (403, "EMAIL_NOT_VERIFIED", None),
            ),
            (WalletError::Busy, (409, "BUSY", Some(1))),
            (
                WalletError::Unavailable,
                (503, "SERVICE_UNAVAILABLE", Some(1)),
            ),
        ];
        for (err, want) in table {
            assert_eq!(row(err.clone()), want, "{err:?}");
        }
    }

    #[test]
    fn kyc_refusals_map_to_their_status_and_code() {
        let table = [
            (
                KycError::FeatureOff(FeatureUnavailable::SwitchedOff),
                (503, "FEATURE_DISABLED", Some(60)),
            ),
            (
                KycError::Refused(Refusal::Invalid(vec![])),
                (400, "VALIDATION_FAILED", None),
            ),
            (
                KycError::Refused(Refusal::UnsupportedFile(vec![])),
                (415, "UNSUPPORTED_FILE_TYPE", None),
            ),
            (
                KycError::Refused(Refusal::FileTooLarge(vec![])),
                (413, "FILE_TOO_LARGE", None),
            ),
            (
                KycError::Refused(Refusal::Underage),
                (422, "UNDERAGE", None),
            ),
            (
                KycError::Refused(Refusal::CountryDenied),
                (422, "COUNTRY_NOT_SUPPORTED", None),
            ),
            (
                KycError::DailyLimit { retry_after: 3600 },
                (429, "KYC_DAILY_LIMIT", Some(3600)),
            ),
            (
                KycError::AlreadyApproved,
                (409, "KYC_ALREADY_APPROVED", None),
            ),
            (KycError::SubmissionOpen, (409, "KYC_SUBMISSION_OPEN", None)),
            (KycError::Unavailable, (503, "SERVICE_UNAVAILABLE", Some(1))),
        ];
        for (err, want) in table {
            assert_eq!(row(err.clone()), want, "{err:?}");
        }
    }

    #[test]
    fn form_refusals_map_to_their_status_and_code() {
        let table = [
            (
                FormError::NotMultipart,
                (415, "UNSUPPORTED_MEDIA_TYPE", None),
            ),
            (FormError::BodyTooLarge, (413, "PAYLOAD_TOO_LARGE", None)),
            (
                FormError::PartTooLarge("front"),
                (413, "FILE_TOO_LARGE", None),
            ),
            (FormError::UnknownPart, (400, "UNEXPECTED_PART", None)),
            (
                FormError::Repeated("front"),
                (400, "VALIDATION_FAILED", None),
            ),
            (
                FormError::NotText("date_of_birth"),
                (400, "VALIDATION_FAILED", None),
            ),
            (FormError::Malformed, (400, "MALFORMED_MULTIPART", None)),
        ];
        for (err, want) in table {
            assert_eq!(row(err.clone()), want, "{err:?}");
        }
    }

    #[test]
    fn admin_and_webhook_refusals_map_to_their_status_and_code() {
        let admin = [
            (
                AdminError::Invalid(vec![]),
                (400, "VALIDATION_FAILED", None),
            ),
            (AdminError::NotFound, (404, "NOT_FOUND", None)),
            (
                AdminError::Conflict("STALE_VERSION"),
                (409, "STALE_VERSION", None),
            ),
            (
                AdminError::Forbidden("TOTP_REQUIRED"),
                (403, "TOTP_REQUIRED", None),
            ),
            (
                AdminError::SelfDecision,
                (403, "SELF_DECISION_FORBIDDEN", None),
            ),
            (
                AdminError::Unavailable,
                (503, "SERVICE_UNAVAILABLE", Some(1)),
            ),
        ];
        for (err, want) in admin {
            assert_eq!(row(err.clone()), want, "{err:?}");
        }
        let webhook = [
            (
                IngestError::UnknownProvider,
                (404, "UNKNOWN_PROVIDER", None),
            ),
            (IngestError::TooLarge, (413, "PAYLOAD_TOO_LARGE", None)),
            (
                IngestError::SignatureHeader,
                (400, "INVALID_SIGNATURE_HEADER", None),
            ),
            (IngestError::StaleSignature, (401, "STALE_SIGNATURE", None)),
            (IngestError::BadSignature, (401, "INVALID_SIGNATURE", None)),
            (IngestError::MalformedEvent, (400, "MALFORMED_EVENT", None)),
            (
                IngestError::Unavailable,
                (503, "SERVICE_UNAVAILABLE", Some(1)),
            ),
        ];
        for (err, want) in webhook {
            assert_eq!(row(err), want, "{err:?}");
        }
    }

    #[test]
    fn field_issues_travel_with_validation_refusals() {
        let issue = FieldIssue::new("amount", "must be positive");
        let err = ApiError::from(WalletError::Invalid(vec![issue.clone()]));
        assert_eq!(err.details, vec![issue]);
        let err = ApiError::from(FormError::PartTooLarge("front"));
        assert_eq!(err.details[0].field, "front");
    }
}
