//! The account data export: the per-account request record, the queue that
//! carries a request to the export worker, and the account's records the
//! worker reads beyond the auth and KYC ports.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::audit::AuditEntry;
use crate::wallet::model::{LedgerEntry, Recharge, WalletProfile};

/// An account's latest export request (one per account; a new one
/// replaces it once the previous is old enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub user_id: String,
    pub export_id: String,
    pub requested_at: i64,
    /// Set once the document is stored.
    pub ready_at: Option<i64>,
    /// Where the document is stored, once ready.
    pub object_key: Option<String>,
}

/// What the queue carries to the export worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportJob {
    pub user_id: String,
    pub export_id: String,
}

/// The account's export requests.
#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Records `request` as the account's current one, unless the current
    /// one was requested after `cutoff` (`Conflict`).
    async fn claim_export(&self, request: &ExportRequest, cutoff: i64) -> Result<(), StoreError>;
    /// The account's current request, if any.
    async fn export_request(&self, user_id: &str) -> Result<Option<ExportRequest>, StoreError>;
    /// Removes the account's request if it is still `export_id` (a request
    /// that could not be queued); otherwise does nothing.
    async fn withdraw_export(&self, user_id: &str, export_id: &str) -> Result<(), StoreError>;
    /// Marks request `export_id` ready with its stored document; `Conflict`
    /// if it is no longer the account's current one or is ready already.
    async fn finish_export(
        &self,
        user_id: &str,
        export_id: &str,
        object_key: &str,
        ready_at: i64,
    ) -> Result<(), StoreError>;
}

/// Carries export requests to the export worker.
#[async_trait]
pub trait ExportQueue: Send + Sync {
    async fn enqueue_export(&self, job: &ExportJob) -> Result<(), StoreError>;
}

/// An account's wallet: its profile, every recharge, ledger entry and
/// review case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WalletRecords {
    pub profile: Option<WalletProfile>,
    /// Oldest first.
    pub recharges: Vec<Recharge>,
    /// Oldest first.
    pub ledger: Vec<LedgerEntry>,
    /// The account's review cases (their decisions are audited under
    /// `recharge:<case id>`).
    pub case_ids: Vec<String>,
}

/// What the system keeps about an account outside the auth and KYC stores.
#[async_trait]
pub trait AccountRecords: Send + Sync {
    /// The account's wallet profile, recharges and ledger entries.
    async fn wallet_records(&self, user_id: &str) -> Result<WalletRecords, StoreError>;
    /// Audit entries about the account, oldest first: its own chain (money
    /// and limit changes) and the entries of other chains whose target is
    /// one of `targets` (the account and its records: `user:<id>`,
    /// `recharge:<id>`, `kyc:<submission id>`).
    async fn audit_about(
        &self,
        user_id: &str,
        targets: &[String],
    ) -> Result<Vec<AuditEntry>, StoreError>;
}
