//! The fraud-review worker's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{MailSettings, SqsQueue, WalletTables};
use shared::config::{required, ConfigError, Env};

/// Everything the fraud-review worker reads from its environment.
pub struct Settings {
    pub tables: WalletTables,
    pub mail: MailSettings,
    pub reviewers: Vec<String>,
    pub queue_url: String,
}

impl Settings {
    /// Reads `WALLET_TABLE` (with `COUNTERS_TABLE`, `AUDIT_TABLE`),
    /// `MAIL_FROM`, `MAIL_CONFIGURATION_SET`, `REVIEWER_EMAILS`
    /// (comma-separated) and `REVIEW_QUEUE_URL` (the queue it consumes, for
    /// retry delays).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: WalletTables::from_env(env)?,
            mail: MailSettings::from_env(env)?,
            reviewers: required(env, "REVIEWER_EMAILS")?
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect(),
            queue_url: SqsQueue::url_from_env(env)?,
        })
    }
}
