//! The audit chain and the changes admins commit with their audit entry.

use async_trait::async_trait;

use super::error::StoreError;
use crate::audit::AuditEntry;
use crate::flags::model::Snapshot;
use crate::kyc::model::KycSubmission;
use crate::wallet::model::WalletProfile;

/// Reads the audit chain.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// The newest entry.
    async fn head(&self) -> Result<Option<AuditEntry>, StoreError>;
    /// Up to `limit` entries older than `before` (or the newest), newest first.
    async fn page(&self, before: Option<u64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Every entry, oldest first.
    async fn all(&self) -> Result<Vec<AuditEntry>, StoreError>;
}

/// One change an admin makes.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminChange {
    /// Replaces the flag snapshot if it is still at `expected_version`.
    SaveSnapshot {
        snapshot: Snapshot,
        expected_version: u64,
    },
    /// Clears an account's failure count and lock.
    ClearLockout { key: String },
    /// Removes an account's TOTP enrolment and backup codes (an admin's
    /// reset after a lost authenticator).
    ResetTotp { email: String, user_id: String },
    /// Ends every session of an account (raises its session epoch) if the
    /// epoch is still the one read.
    EndSessions {
        email: String,
        user_id: String,
        epoch: u64,
    },
    /// Decides an open review case and, for a held recharge, moves it on:
    /// approved → pending payment, rejected → cancelled.
    DecideReview {
        case_id: String,
        /// The case holds a recharge (`CaseKind::HeldRecharge`).
        releases_recharge: bool,
        approve: bool,
        decided_by: String,
        note: String,
    },
    /// Decides a pending KYC submission; on approval also marks the
    /// account age-verified in its wallet profile.
    DecideKyc(Box<KycDecisionCommit>),
    /// No state change: the audit entry records an action done elsewhere.
    RecordOnly,
}

/// A KYC decision as one atomic write.
#[derive(Debug, Clone, PartialEq)]
pub struct KycDecisionCommit {
    /// The decided submission; written only while the stored one is pending
    /// and is the user's active submission.
    pub submission: KycSubmission,
    /// On approval: the profile after the change and its own audit entry.
    pub profile: Option<ProfileChange>,
}

/// A wallet profile write guarded by its audit head, with the entry that
/// moves the head.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileChange {
    pub profile: WalletProfile,
    /// `None`: the profile must not exist yet.
    pub expected_audit_seq: Option<u64>,
    pub audit: AuditEntry,
}

/// Applies admin changes together with their audit entry.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Applies `change` and appends `entry` atomically; `Conflict` if the
    /// snapshot moved past the expected version or the entry's sequence
    /// number is taken (another action was audited first).
    async fn commit(&self, change: &AdminChange, entry: &AuditEntry) -> Result<(), StoreError>;
}
