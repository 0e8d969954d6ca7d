//! The export worker's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{BucketSettings, DynamoKyc, MailSettings, TableNames, WalletTables};
use shared::config::{parsed_or, required, ConfigError, Env};

/// Everything the export worker reads from its environment.
pub struct Settings {
    pub tables: TableNames,
    pub wallet_tables: WalletTables,
    pub kyc_table: String,
    pub bucket: BucketSettings,
    pub mail: MailSettings,
    pub queue_url: String,
    pub product_name: String,
}

impl Settings {
    /// Reads `USERS_TABLE`, `SESSIONS_TABLE`, `COUNTERS_TABLE`,
    /// `WALLET_TABLE`, `AUDIT_TABLE`, `KYC_TABLE`, `KYC_BUCKET` (with
    /// `KYC_SSE`, `KYC_KMS_KEY_ID`: exports are stored there under
    /// `exports/`), `MAIL_FROM`, `MAIL_CONFIGURATION_SET`,
    /// `EXPORT_QUEUE_URL` (the queue it consumes, for retry delays) and
    /// optionally `PRODUCT_NAME`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: TableNames::from_env(env)?,
            wallet_tables: WalletTables::from_env(env)?,
            kyc_table: DynamoKyc::table_from_env(env)?,
            bucket: BucketSettings::from_env(env)?,
            mail: MailSettings::from_env(env)?,
            queue_url: required(env, "EXPORT_QUEUE_URL")?,
            product_name: parsed_or(env, "PRODUCT_NAME", "Wallet".to_string())?,
        })
    }
}
