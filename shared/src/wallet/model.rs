//! Records of the wallet domain.

use serde::{Deserialize, Serialize};

use super::fraud::{Decision, ScoreReason};
use super::limits::LimitsState;

/// Where a recharge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RechargeStatus {
    /// Allowed; waiting for the provider to confirm payment.
    PendingPayment,
    /// Held for a fraud reviewer.
    PendingReview,
    Blocked,
    /// Rejected by a reviewer.
    Cancelled,
    Credited,
    Failed,
    /// Part of the payment was returned (see `Recharge::refunded`).
    PartiallyRefunded,
    Refunded,
}

/// One recharge attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recharge {
    pub recharge_id: String,
    pub user_id: String,
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    /// What the client pays against at the provider.
    pub provider_reference: String,
    pub status: RechargeStatus,
    pub created_at: i64,
    /// Internal: the fraud score and its reasons (never sent to clients).
    pub score: u8,
    pub reasons: Vec<String>,
    pub decision: Decision,
    /// Total refunded so far, in minor units of `currency` (the provider's
    /// cumulative figure; each refund debits only what it adds).
    #[serde(default)]
    pub refunded: i64,
}

/// A user's wallet-side profile: what scoring and limits need in one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletProfile {
    pub user_id: String,
    pub account_created_at: i64,
    /// Set when KYC approves the account (adult, identity checked).
    pub age_verified: bool,
    /// ISO country of the account, once known (from KYC).
    pub country: Option<String>,
    /// Hashes of devices that recharged this account.
    pub devices: Vec<String>,
    /// Allowed recharges so far and their total in reference minor units
    /// (for the usual amount).
    pub allowed_count: u32,
    pub allowed_total: i64,
    pub limits: Option<LimitsState>,
    /// Head of this account's audit chain of money decisions.
    pub audit_seq: u64,
    pub audit_hash: Option<String>,
    /// Balance per currency, in minor units (changed only by crediting).
    #[serde(default)]
    pub balances: std::collections::BTreeMap<String, i64>,
    /// The newest ledger entries, newest first (at most `RECENT_ENTRIES`).
    #[serde(default)]
    pub recent_entries: Vec<LedgerEntry>,
}

impl WalletProfile {
    /// The head of this account's audit chain (`None` before its first entry).
    pub fn audit_head(&self) -> Option<(u64, &str)> {
        self.audit_hash
            .as_deref()
            .filter(|_| self.audit_seq > 0)
            .map(|hash| (self.audit_seq, hash))
    }
}

/// How many ledger entries the profile keeps for `GET /v1/wallet`.
pub const RECENT_ENTRIES: usize = 20;

/// One movement of a wallet balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub recharge_id: String,
    /// Positive for a credit, negative for a debit (refund).
    pub amount: i64,
    pub currency: String,
    pub kind: String,
    pub at: i64,
}

impl WalletProfile {
    /// A profile for an account first seen now.
    pub fn new(user_id: &str, account_created_at: i64) -> Self {
        Self {
            user_id: user_id.to_string(),
            account_created_at,
            age_verified: false,
            country: None,
            devices: Vec::new(),
            allowed_count: 0,
            allowed_total: 0,
            limits: None,
            audit_seq: 0,
            audit_hash: None,
            balances: Default::default(),
            recent_entries: Vec::new(),
        }
    }
}

/// Reasons as codes, for the record.
pub fn reason_codes(reasons: &[ScoreReason]) -> Vec<String> {
    reasons.iter().map(|r| r.code.to_string()).collect()
}
