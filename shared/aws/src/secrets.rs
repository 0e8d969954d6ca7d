//! Secrets from AWS Secrets Manager.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use shared::secrets::{SecretError, SecretSource};

/// The Secrets Manager source on the shared SDK configuration: what a
/// function's `main.rs` hands the edge's entry points.
pub fn secrets_manager() -> Pin<Box<dyn Future<Output = Arc<dyn SecretSource>> + Send>> {
    Box::pin(async {
        Arc::new(SecretsManager::new(&crate::load_sdk_config().await)) as Arc<dyn SecretSource>
    })
}

/// Reads secret strings with `GetSecretValue` (the current version).
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|err| match &err {
                SdkError::ServiceError(service) => match service.err() {
                    GetSecretValueError::ResourceNotFoundException(_) => {
                        SecretError::NotFound(id.to_string())
                    }
                    other if other.meta().code() == Some("AccessDeniedException") => {
                        SecretError::NotFound(id.to_string())
                    }
                    _ => SecretError::Unavailable(id.to_string()),
                },
                _ => SecretError::Unavailable(id.to_string()),
            })?;
        output
            .secret_string
            .ok_or_else(|| SecretError::NotFound(id.to_string()))
    }
}
