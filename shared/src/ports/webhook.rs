//! Received provider webhooks and the queue to their worker.

use async_trait::async_trait;

use super::error::StoreError;
use crate::webhook::event::ProviderEvent;

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
        event: &ProviderEvent,
        expires_at: i64,
    ) -> Result<InboxOutcome, StoreError>;
    /// Marks the event applied, so later deliveries answer at once.
    async fn mark_processed(&self, provider: &str, event_id: &str) -> Result<(), StoreError>;
}

/// The queue to the webhook worker.
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    async fn enqueue_event(&self, event: &ProviderEvent) -> Result<(), StoreError>;
}
