//! The KYC retention function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{BucketSettings, DynamoKyc};
use shared::config::{ConfigError, Env};

/// Everything the KYC retention function reads from its environment.
pub struct Settings {
    pub kyc_table: String,
    pub bucket: BucketSettings,
}

impl Settings {
    /// Reads `KYC_TABLE` and `KYC_BUCKET` (with `KYC_SSE`, `KYC_KMS_KEY_ID`).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            kyc_table: DynamoKyc::table_from_env(env)?,
            bucket: BucketSettings::from_env(env)?,
        })
    }
}
