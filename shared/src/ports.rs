//! The small traits the domain needs from storage and email. The AWS
//! adapters live in `aws-adapters` (`shared/aws`), the in-memory ones in
//! `testkit::memory`; `testkit::contract` holds both to the same contract.

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::auth::model::{
    AccountAttempt, AttemptOutcome, LockoutState, RefreshRecord, Role, Session, SessionStart,
    UserRecord,
};
use crate::flags::Snapshot;
use crate::ratelimit::WindowSlot;

/// Why a port call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("record already exists")]
    AlreadyExists,
    #[error("record not found")]
    NotFound,
    #[error("a condition on the write did not hold")]
    Conflict,
    /// The dependency failed; the text is for logs only.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
}

/// Accounts, keyed by normalised email, also reachable by user id.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the account; `AlreadyExists` if the email is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// `NotFound` if there is no such account.
    async fn set_role(&self, email: &str, role: Role) -> Result<(), StoreError>;
    /// Stores a pending TOTP secret; `Conflict` if TOTP is already confirmed.
    async fn set_pending_totp(&self, email: &str, secret: &str) -> Result<(), StoreError>;
    /// Promotes `pending` to the confirmed secret and records `step` as used;
    /// `Conflict` if the pending secret changed meanwhile.
    async fn confirm_totp(&self, email: &str, pending: &str, step: u64) -> Result<(), StoreError>;
}

/// Sessions (refresh-token families) and their refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// One atomic write: session, first refresh token, device remembered,
    /// TOTP step consumed, lockout cleared. `Conflict` if the TOTP step was used.
    async fn start_session(&self, start: &SessionStart) -> Result<(), StoreError>;
    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Marks `old_hash` rotated at `now` with `next` as its successor and
    /// stores `next`, only if the old token is still active and its session
    /// is not revoked; otherwise `Conflict`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn session(&self, session_id: &str) -> Result<Option<Session>, StoreError>;
    async fn revoke_session(&self, session_id: &str) -> Result<(), StoreError>;
}

/// Atomic counters for per-IP limits and per-account lockout.
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Counts one attempt against the IP window and, if given, the account,
    /// unless either is over its limit; both counts change or neither does.
    async fn reserve_attempt(
        &self,
        ip: &WindowSlot,
        account: Option<&AccountAttempt>,
        now: i64,
    ) -> Result<AttemptOutcome, StoreError>;
    async fn lockout_state(&self, key: &str) -> Result<Option<LockoutState>, StoreError>;
    /// Locks the account until `until` and raises its level, only if it has at
    /// least `max_failures` failures and is still at `level`. Returns whether
    /// this call set the lock (exactly one concurrent caller does).
    async fn lock_account(
        &self,
        key: &str,
        max_failures: u32,
        level: u32,
        until: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
}

/// One plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Why an email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Refused for good: sending it again will not help (a recipient the
    /// sandbox has not verified, a suppressed address, a paused account, a
    /// missing configuration set). The text is for logs only.
    #[error("email refused: {0}")]
    Refused(String),
    /// A failure worth retrying (throttling, network, a server error).
    #[error("email service unavailable: {0}")]
    Unavailable(String),
}

/// Sends email.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}

/// Reads the flag snapshot (one request).
#[async_trait]
pub trait FlagStore: Send + Sync {
    /// The current snapshot, `None` before the first flag is created.
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError>;
}

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
    pub submission: crate::kyc::model::KycSubmission,
    /// On approval: the profile after the change and its own audit entry.
    pub profile: Option<ProfileChange>,
}

/// A wallet profile write guarded by its audit head, with the entry that
/// moves the head.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileChange {
    pub profile: crate::wallet::model::WalletProfile,
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

/// What `IdempotencyStore::begin` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: this request owns the key now.
    Started,
    /// The same request finished before with this outcome (as the service
    /// stored it; opaque to the store).
    Replay { outcome: String },
    /// The key was used with a different request.
    Mismatch,
    /// The same request is still being processed.
    InProgress,
}

/// Idempotency records: one per caller and key, kept 24 h.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint`, unless a live record
    /// exists. An in-progress claim older than `lock_until` of its owner
    /// (a crashed invocation) can be taken over.
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        now: i64,
        lock_until: i64,
        expires_at: i64,
    ) -> Result<IdempotencyBegin, StoreError>;
    /// Stores the outcome of the request holding `key`.
    async fn complete(&self, key: &str, outcome: &str) -> Result<(), StoreError>;
    /// Drops an in-progress claim so the client can retry (after a failure).
    async fn release(&self, key: &str) -> Result<(), StoreError>;
}

/// One velocity counter to add to, optionally capped (a spending limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterAdd {
    pub key: String,
    pub amount: i64,
    pub expires_at: i64,
    /// The amount after the add must not exceed this.
    pub cap: Option<i64>,
    /// The count the decision read and scored: the add holds only while the
    /// stored count is still this (otherwise `Conflict`: read and score again).
    pub expected_count: Option<u32>,
}

/// Everything one recharge decision writes, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct RechargeCommit {
    pub recharge: crate::wallet::model::Recharge,
    /// The profile after the decision; written only if the stored profile is
    /// still at `expected_audit_seq` (`None`: it must not exist yet).
    pub profile: crate::wallet::model::WalletProfile,
    pub expected_audit_seq: Option<u64>,
    pub audit: AuditEntry,
    pub counters: Vec<CounterAdd>,
    /// Device key and user id to add to the device's account set.
    pub device_account: Option<(String, String)>,
    /// Completes the idempotency record in the same write.
    pub idempotency: Option<(String, String)>,
}

/// How a recharge commit went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// A capped counter would pass its cap (the counter's key).
    CapExceeded(String),
    /// The profile moved on (another decision for this user); retry.
    Conflict,
    /// A recharge with this id exists already.
    Duplicate,
}

/// What a recharge decision reads, in one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RechargeReadings {
    pub profile: Option<crate::wallet::model::WalletProfile>,
    /// Counter values by key (absent counters are missing).
    pub counters: std::collections::HashMap<String, crate::wallet::velocity::Tally>,
    /// Accounts seen recharging from the device.
    pub device_accounts: Vec<String>,
}

/// Wallet profiles, recharges and velocity counters.
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Reads the profile, the given counters and the device's account set.
    async fn readings(
        &self,
        user_id: &str,
        counter_keys: &[String],
        device_key: &str,
    ) -> Result<RechargeReadings, StoreError>;
    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError>;
    async fn recharge(
        &self,
        recharge_id: &str,
    ) -> Result<Option<crate::wallet::model::Recharge>, StoreError>;
    /// Creates the profile unless one exists.
    async fn ensure_profile(
        &self,
        profile: &crate::wallet::model::WalletProfile,
    ) -> Result<(), StoreError>;
    /// Applies a payment outcome: `Committed`, `Duplicate` (the ledger entry
    /// exists: already applied) or `Conflict` (status, refunded total or
    /// profile moved).
    async fn apply_payment(&self, commit: &PaymentCommit) -> Result<CommitOutcome, StoreError>;
    /// Stores `profile` (new limits, new audit head) with `audit`, the entry
    /// of the change in the user's chain, in one write while the stored head
    /// is still `expected_audit_seq`: `Committed`, or `Conflict` when a
    /// concurrent decision moved it (read again and retry).
    async fn save_limits(
        &self,
        profile: &crate::wallet::model::WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError>;
}

/// Messages for fraud reviewers.
#[async_trait]
pub trait ReviewQueue: Send + Sync {
    async fn enqueue_review(&self, recharge_id: &str, user_id: &str) -> Result<(), StoreError>;
}

/// Review cases.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Opens `case` unless a case with its id exists (then nothing changes).
    async fn open_case(&self, case: &crate::review::ReviewCase) -> Result<(), StoreError>;
    async fn case(&self, case_id: &str) -> Result<Option<crate::review::ReviewCase>, StoreError>;
    async fn mark_notified(&self, case_id: &str) -> Result<(), StoreError>;
    /// Up to `limit` cases with `status`, oldest first.
    async fn cases(
        &self,
        status: crate::review::CaseStatus,
        limit: u32,
    ) -> Result<Vec<crate::review::ReviewCase>, StoreError>;
}

/// What `WebhookInbox::record` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// First delivery of this event: stored now.
    New,
    /// Stored before but not yet processed (queue it again).
    Stored,
    /// Already applied by the worker.
    Processed,
}

/// Received webhook events, one per provider event id.
#[async_trait]
pub trait WebhookInbox: Send + Sync {
    /// Stores `event` unless its id is known; kept until `expires_at`.
    async fn record(
        &self,
        event: &crate::webhook::event::ProviderEvent,
        expires_at: i64,
    ) -> Result<InboxOutcome, StoreError>;
    /// Marks the event applied, so later deliveries answer at once.
    async fn mark_processed(&self, provider: &str, event_id: &str) -> Result<(), StoreError>;
}

/// The queue to the webhook worker.
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    async fn enqueue_event(
        &self,
        event: &crate::webhook::event::ProviderEvent,
    ) -> Result<(), StoreError>;
}

/// One payment outcome applied to a recharge and its wallet, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentCommit {
    pub recharge_id: String,
    /// The recharge must still be in one of these states.
    pub expected_statuses: Vec<crate::wallet::model::RechargeStatus>,
    pub new_status: crate::wallet::model::RechargeStatus,
    /// For a refund: the recharge's refunded total must still be the first
    /// figure and becomes the second.
    pub refunded: Option<(i64, i64)>,
    /// The ledger entry to add; it must not exist yet (exactly once).
    pub entry: Option<crate::wallet::model::LedgerEntry>,
    /// The profile after the change, written only if still at `expected_audit_seq`.
    pub profile: crate::wallet::model::WalletProfile,
    pub expected_audit_seq: u64,
    pub audit: AuditEntry,
}

/// Delays the next delivery of a failed queue message (growing backoff).
#[async_trait]
pub trait RetryScheduler: Send + Sync {
    async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError>;
}

/// KYC submissions, the per-user pointer to the active one, and the daily
/// upload counters.
#[async_trait]
pub trait KycStore: Send + Sync {
    /// Counts one upload for `user_id` on `day` unless the count has reached
    /// `cap` or the user has a pending or approved submission; the counter
    /// changes only when the upload may go ahead.
    async fn reserve_upload(
        &self,
        user_id: &str,
        day: &str,
        cap: u32,
        expires_at: i64,
    ) -> Result<crate::kyc::model::UploadReservation, StoreError>;
    /// Stores a new pending submission and makes it the user's active one;
    /// `Conflict` if the user has an active submission.
    async fn open_submission(
        &self,
        submission: &crate::kyc::model::KycSubmission,
    ) -> Result<(), StoreError>;
    async fn submission(
        &self,
        submission_id: &str,
    ) -> Result<Option<crate::kyc::model::KycSubmission>, StoreError>;
    /// The user's newest submission.
    async fn latest_submission(
        &self,
        user_id: &str,
    ) -> Result<Option<crate::kyc::model::KycSubmission>, StoreError>;
    /// Every submission of the user (for erasure).
    async fn user_submissions(
        &self,
        user_id: &str,
    ) -> Result<Vec<crate::kyc::model::KycSubmission>, StoreError>;
    /// Up to `limit` submissions with `status`, oldest first, after `cursor`;
    /// returns the cursor of the next page. `NotFound` for a cursor that was
    /// not issued by this store.
    async fn submissions(
        &self,
        status: crate::kyc::model::KycStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<(Vec<crate::kyc::model::KycSubmission>, Option<String>), StoreError>;
    /// Up to `limit` decided submissions whose retention ended by `now`.
    async fn due_for_purge(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<crate::kyc::model::KycSubmission>, StoreError>;
    /// Replaces the submission with its erased form (no PII, no documents).
    async fn erase(&self, submission_id: &str, now: i64) -> Result<(), StoreError>;
    /// Drops the user's pointer record (account deletion).
    async fn forget_user(&self, user_id: &str) -> Result<(), StoreError>;
}

/// Document files, stored encrypted at rest.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn put_document(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// Deletes the objects; deleting a missing one succeeds.
    async fn delete_document(&self, key: &str) -> Result<(), StoreError>;
    /// Whether the object exists.
    async fn document_exists(&self, key: &str) -> Result<bool, StoreError>;
    /// A download link valid for `ttl_seconds`, served as an attachment
    /// named `download_name`.
    async fn document_link(
        &self,
        key: &str,
        download_name: &str,
        ttl_seconds: u64,
    ) -> Result<String, StoreError>;
}
