//! Wallet profiles, recharges, velocity counters, idempotency records and
//! payment outcomes.

use std::collections::HashMap;

use async_trait::async_trait;

use super::error::StoreError;
use crate::audit::AuditEntry;
use crate::auth::model::{AccountStanding, Session};
use crate::wallet::model::{LedgerEntry, Recharge, RechargeStatus, WalletProfile};
use crate::wallet::velocity::Tally;

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
    pub recharge: Recharge,
    /// The profile after the decision; written only if the stored profile is
    /// still at `expected_audit_seq` (`None`: it must not exist yet).
    pub profile: WalletProfile,
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
    pub profile: Option<WalletProfile>,
    /// Counter values by key (absent counters are missing).
    pub counters: HashMap<String, Tally>,
    /// Accounts seen recharging from the device.
    pub device_accounts: Vec<String>,
    /// The caller's session, when one was asked for.
    pub session: Option<Session>,
    /// The caller's account standing, when a session was asked for.
    pub standing: Option<AccountStanding>,
}

/// Wallet profiles, recharges and velocity counters.
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Reads the profile, the given counters, the account set of the
    /// device with hash `device_hash` (none when empty) and, when
    /// `session_id` is not empty, that session and the account's standing.
    async fn readings(
        &self,
        user_id: &str,
        session_id: &str,
        counter_keys: &[String],
        device_hash: &str,
    ) -> Result<RechargeReadings, StoreError>;
    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError>;
    async fn recharge(&self, recharge_id: &str) -> Result<Option<Recharge>, StoreError>;
    /// Creates the profile unless one exists.
    async fn ensure_profile(&self, profile: &WalletProfile) -> Result<(), StoreError>;
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
        profile: &WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError>;
}

/// One payment outcome applied to a recharge and its wallet, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentCommit {
    pub recharge_id: String,
    /// The recharge must still be in one of these states.
    pub expected_statuses: Vec<RechargeStatus>,
    pub new_status: RechargeStatus,
    /// For a refund: the recharge's refunded total must still be the first
    /// figure and becomes the second.
    pub refunded: Option<(i64, i64)>,
    /// The ledger entry to add; it must not exist yet (exactly once).
    pub entry: Option<LedgerEntry>,
    /// The profile after the change, written only if still at `expected_audit_seq`.
    pub profile: WalletProfile,
    pub expected_audit_seq: u64,
    pub audit: AuditEntry,
}
