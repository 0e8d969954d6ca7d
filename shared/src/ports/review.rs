//! Fraud review: the reviewers' queue and the cases.

use async_trait::async_trait;

use super::error::StoreError;
use crate::review::model::{CaseStatus, ReviewCase};

/// Messages for fraud reviewers.
#[async_trait]
pub trait ReviewQueue: Send + Sync {
    async fn enqueue_review(&self, recharge_id: &str, user_id: &str) -> Result<(), StoreError>;
}

/// Review cases.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Opens `case` unless a case with its id exists (then nothing changes).
    async fn open_case(&self, case: &ReviewCase) -> Result<(), StoreError>;
    async fn case(&self, case_id: &str) -> Result<Option<ReviewCase>, StoreError>;
    async fn mark_notified(&self, case_id: &str) -> Result<(), StoreError>;
    /// Up to `limit` cases with `status`, oldest first.
    async fn cases(&self, status: CaseStatus, limit: u32) -> Result<Vec<ReviewCase>, StoreError>;
}
