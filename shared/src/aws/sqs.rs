//! SQS adapter for the fraud-review queue.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::json;

use crate::config::{required, ConfigError, Env};
use crate::ports::{ReviewQueue, StoreError};

/// Sends review requests to the fraud-review queue.
#[derive(Clone)]
pub struct SqsReviewQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsReviewQueue {
    pub fn new(config: &aws_config::SdkConfig, queue_url: String) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url,
        }
    }

    /// Reads `REVIEW_QUEUE_URL`.
    pub fn url_from_env(env: &dyn Env) -> Result<String, ConfigError> {
        required(env, "REVIEW_QUEUE_URL")
    }
}

#[async_trait]
impl ReviewQueue for SqsReviewQueue {
    async fn enqueue_review(&self, recharge_id: &str, user_id: &str) -> Result<(), StoreError> {
        let body = json!({ "recharge_id": recharge_id, "user_id": user_id }).to_string();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
