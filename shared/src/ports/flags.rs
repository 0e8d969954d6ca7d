//! The feature-flag snapshot.

use async_trait::async_trait;

use super::error::StoreError;
use crate::flags::model::Snapshot;

/// Reads the flag snapshot (one request).
#[async_trait]
pub trait FlagStore: Send + Sync {
    /// The current snapshot, `None` before the first flag is created.
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError>;
}
