//! The KYC upload function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{BucketSettings, DynamoFlags, DynamoKyc, TableNames};
use edge::cors::CorsPolicy;
use shared::auth::AccessConfig;
use shared::config::{ConfigError, Env};
use shared::flags::CacheTiming;
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;

/// Everything the KYC upload function reads from its environment.
pub struct Settings {
    pub access: AccessConfig,
    pub pii: PiiKeys,
    pub policy: KycPolicy,
    pub timing: CacheTiming,
    pub kyc_table: String,
    pub bucket: BucketSettings,
    pub flags_table: String,
    /// Sessions and accounts, read to admit each caller's session.
    pub auth_tables: TableNames,
    pub cors: CorsPolicy,
}

impl Settings {
    /// Reads the token settings, the PII keys, the KYC rules, the flag cache
    /// timing, `KYC_TABLE`, `KYC_BUCKET` (with `KYC_SSE`, `KYC_KMS_KEY_ID`),
    /// `FLAGS_TABLE`, `USERS_TABLE`, `SESSIONS_TABLE`, `COUNTERS_TABLE`
    /// and `CORS_ALLOWED_ORIGINS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            access: AccessConfig::from_env(env)?,
            pii: PiiKeys::from_env(env)?,
            policy: KycPolicy::from_env(env)?,
            timing: CacheTiming::from_env(env)?,
            kyc_table: DynamoKyc::table_from_env(env)?,
            bucket: BucketSettings::from_env(env)?,
            flags_table: DynamoFlags::table_from_env(env)?,
            auth_tables: TableNames::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
        })
    }
}
