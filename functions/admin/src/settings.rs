//! The admin function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{AdminTables, BucketSettings, MailSettings, TableNames, WalletTables};
use edge::cors::CorsPolicy;
use shared::audit::AuditKeys;
use shared::auth::AccessConfig;
use shared::config::{parsed_or, ConfigError, Env};
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;

use crate::UrlAuth;

/// Everything the admin function reads from its environment.
pub struct Settings {
    pub url_auth: UrlAuth,
    pub cors: CorsPolicy,
    pub access: AccessConfig,
    pub admin_tables: AdminTables,
    pub auth_tables: TableNames,
    pub wallet_tables: WalletTables,
    pub mail: MailSettings,
    pub pii: PiiKeys,
    pub audit_keys: AuditKeys,
    pub bucket: BucketSettings,
    /// How long KYC records are kept after their decision.
    pub retention_seconds: i64,
    /// How long a reviewer's document link lasts (30 to 900 s).
    pub link_seconds: u64,
}

impl Settings {
    /// Reads `ADMIN_URL_AUTH` (and `ADMIN_ROLE_ARN` behind `AWS_IAM`),
    /// `CORS_ALLOWED_ORIGINS`, the token settings, the tables
    /// (`FLAGS_TABLE`, `AUDIT_TABLE`, `USERS_TABLE`, `SESSIONS_TABLE`,
    /// `COUNTERS_TABLE`, `WALLET_TABLE`, `KYC_TABLE`), `MAIL_FROM` and
    /// `MAIL_CONFIGURATION_SET`, the audit keys (`AUDIT_HMAC_KEYS`,
    /// `AUDIT_HMAC_KID`), and for KYC review the PII keys, `KYC_BUCKET`
    /// (with `KYC_SSE`, `KYC_KMS_KEY_ID`), `KYC_RETENTION_DAYS` and
    /// `KYC_LINK_SECONDS` (30-900, default 300).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let link_seconds: u64 = parsed_or(env, "KYC_LINK_SECONDS", 300)?;
        if !(30..=900).contains(&link_seconds) {
            return Err(ConfigError::Invalid {
                var: "KYC_LINK_SECONDS".into(),
                reason: "must be between 30 and 900".into(),
            });
        }
        Ok(Self {
            url_auth: UrlAuth::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
            access: AccessConfig::from_env(env)?,
            admin_tables: AdminTables::from_env(env)?,
            auth_tables: TableNames::from_env(env)?,
            wallet_tables: WalletTables::from_env(env)?,
            mail: MailSettings::from_env(env)?,
            pii: PiiKeys::from_env(env)?,
            audit_keys: AuditKeys::from_env(env)?,
            bucket: BucketSettings::from_env(env)?,
            retention_seconds: KycPolicy::from_env(env)?.retention_seconds,
            link_seconds,
        })
    }
}
