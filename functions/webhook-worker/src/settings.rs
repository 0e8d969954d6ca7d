//! The webhook worker's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{DynamoFlags, DynamoInbox, MailSettings, TableNames, WalletTables};
use shared::audit::AuditKeys;
use shared::config::{required, ConfigError, Env};
use shared::flags::CacheTiming;

/// Everything the webhook worker reads from its environment.
pub struct Settings {
    pub wallet_tables: WalletTables,
    pub inbox_table: String,
    pub auth_tables: TableNames,
    pub flags_table: String,
    pub timing: CacheTiming,
    pub mail: MailSettings,
    pub queue_url: String,
    pub audit_keys: AuditKeys,
}

impl Settings {
    /// Reads the wallet, webhooks, users and flags tables, the flag cache
    /// timing, `MAIL_FROM`, `MAIL_CONFIGURATION_SET`, `WEBHOOK_QUEUE_URL` and
    /// the audit keys (`AUDIT_HMAC_KEYS`, `AUDIT_HMAC_KID`).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            wallet_tables: WalletTables::from_env(env)?,
            inbox_table: DynamoInbox::table_from_env(env)?,
            auth_tables: TableNames::from_env(env)?,
            flags_table: DynamoFlags::table_from_env(env)?,
            timing: CacheTiming::from_env(env)?,
            mail: MailSettings::from_env(env)?,
            queue_url: required(env, "WEBHOOK_QUEUE_URL")?,
            audit_keys: AuditKeys::from_env(env)?,
        })
    }
}
