//! The small traits the domain needs from storage and email. AWS adapters
//! live in `aws/`, in-memory ones in `memory`; `contract` tests both.

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
    /// Marks `old_hash` rotated and stores `next`, only if the old token is
    /// still active and its session is not revoked; otherwise `Conflict`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshRecord,
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

/// Sends email.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), StoreError>;
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
}

/// Applies admin changes together with their audit entry.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Applies `change` and appends `entry` atomically; `Conflict` if the
    /// snapshot moved past the expected version or the entry's sequence
    /// number is taken (another action was audited first).
    async fn commit(&self, change: &AdminChange, entry: &AuditEntry) -> Result<(), StoreError>;
}
