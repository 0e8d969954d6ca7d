//! The webhook function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::DynamoInbox;
use edge::cors::CorsPolicy;
use shared::config::{required, ConfigError, Env};
use shared::webhook::ingest::IngestPolicy;

/// Everything the webhook function reads from its environment.
pub struct Settings {
    pub policy: IngestPolicy,
    pub inbox_table: String,
    pub queue_url: String,
    pub cors: CorsPolicy,
}

impl Settings {
    /// Reads the providers and their secrets, `WEBHOOKS_TABLE`,
    /// `WEBHOOK_QUEUE_URL` and `CORS_ALLOWED_ORIGINS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            policy: IngestPolicy::from_env(env)?,
            inbox_table: DynamoInbox::table_from_env(env)?,
            queue_url: required(env, "WEBHOOK_QUEUE_URL")?,
            cors: CorsPolicy::from_env(env)?,
        })
    }
}
