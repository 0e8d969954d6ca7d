//! SQS adapter for the fraud-review queue.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::json;

use shared::config::{required, ConfigError, Env};
use shared::ports::{
    ExportJob, ExportQueue, RetryScheduler, ReviewQueue, StoreError, WebhookQueue,
};

/// Sends JSON messages to one SQS queue (fraud reviews, webhook events or
/// export requests).
#[derive(Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(config: &aws_config::SdkConfig, queue_url: String) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url,
        }
    }

    async fn send_json(&self, body: String) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    /// Reads `REVIEW_QUEUE_URL`.
    pub fn url_from_env(env: &dyn Env) -> Result<String, ConfigError> {
        required(env, "REVIEW_QUEUE_URL")
    }
}

#[async_trait]
impl ReviewQueue for SqsQueue {
    async fn enqueue_review(&self, recharge_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.send_json(json!({ "recharge_id": recharge_id, "user_id": user_id }).to_string())
            .await
    }
}

#[async_trait]
impl ExportQueue for SqsQueue {
    async fn enqueue_export(&self, job: &ExportJob) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(job).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.send_json(body).await
    }
}

#[async_trait]
impl WebhookQueue for SqsQueue {
    async fn enqueue_event(
        &self,
        event: &shared::webhook::event::ProviderEvent,
    ) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(event).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.send_json(body).await
    }
}

#[async_trait]
impl RetryScheduler for SqsQueue {
    async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
