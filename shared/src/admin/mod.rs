//! Operators' actions, one service per desk, each over only the ports it
//! needs: flags and the emergency switch ([`flags`]), account unlocks
//! ([`unlocks`]), fraud review cases ([`reviews`]) and the audit log
//! ([`audit`]); the KYC desk is `crate::kyc::desk`. They share the admission
//! of the acting admin ([`actor`]), the commit of a change together with its
//! audit entry ([`commit`]), and the refusals below.

pub mod actor;
pub mod audit;
pub mod commit;
pub mod flags;
pub mod reviews;
pub mod unlocks;

use crate::ports::StoreError;
use crate::validation::FieldIssue;

/// Largest page of audit entries, review cases or KYC submissions.
pub const MAX_AUDIT_PAGE: u32 = 100;
/// The error code of an admin deciding a case about their own account.
pub const SELF_DECISION_FORBIDDEN: &str = "SELF_DECISION_FORBIDDEN";

/// Why an admin action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input")]
    Invalid(Vec<FieldIssue>),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("an admin cannot decide their own case")]
    SelfDecision,
    #[error("dependency unavailable")]
    Unavailable,
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "admin store call failed");
        AdminError::Unavailable
    }
}
