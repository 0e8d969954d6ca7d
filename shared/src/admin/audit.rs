//! The audit log as admins read it: pages, newest first, and a check of
//! the whole chain.

use std::sync::Arc;

use serde::Serialize;

use super::{AdminError, MAX_AUDIT_PAGE};
use crate::audit::{verify_chain, AuditEntry, AuditKeys, ChainReport};
use crate::ports::AuditLog;

/// A page of audit entries, newest first, with the cursor for the next page.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// Reads and verifies the audit chain.
pub struct AuditTrail {
    audit: Arc<dyn AuditLog>,
    keys: Arc<AuditKeys>,
}

impl AuditTrail {
    /// The chain in `audit`, verified with `keys`.
    pub fn new(audit: Arc<dyn AuditLog>, keys: Arc<AuditKeys>) -> Self {
        Self { audit, keys }
    }

    /// Up to `limit` entries older than `before`, newest first.
    pub async fn page(&self, before: Option<u64>, limit: u32) -> Result<AuditPage, AdminError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let entries = self.audit.page(before, limit).await?;
        let next_before = (entries.len() as u32 == limit)
            .then(|| entries.last().map(|e| e.seq))
            .flatten()
            .filter(|seq| *seq > 1);
        Ok(AuditPage {
            entries,
            next_before,
        })
    }

    /// Whether the whole audit chain is intact.
    pub async fn verify(&self) -> Result<ChainReport, AdminError> {
        Ok(verify_chain(&self.keys, &self.audit.all().await?))
    }
}
