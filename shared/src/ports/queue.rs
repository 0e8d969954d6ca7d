//! Queue delivery shared by the queue workers.

use async_trait::async_trait;

use super::error::StoreError;

/// Delays the next delivery of a failed queue message (growing backoff).
#[async_trait]
pub trait RetryScheduler: Send + Sync {
    async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError>;
}
