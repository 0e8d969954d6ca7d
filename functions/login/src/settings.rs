//! The login function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{BucketSettings, DynamoKyc, MailSettings, TableNames};
use edge::cors::CorsPolicy;
use shared::auth::access::signer_from_env;
use shared::auth::lockout::LockoutPolicy;
use shared::auth::recovery::RecoveryLimits;
use shared::auth::service::REFRESH_GRACE_SECONDS;
use shared::auth::tokens::TokenSigner;
use shared::auth::{AccessConfig, AuthPolicy};
use shared::config::{flag_or, parsed_or, required, ConfigError, Env};
use shared::kyc::pii::PiiKeys;
use shared::ratelimit::WindowLimit;

/// Everything the login function reads from its environment.
pub struct Settings {
    pub login: LoginConfig,
    pub tables: TableNames,
    pub account_data: AccountDataSettings,
    pub cors: CorsPolicy,
}

/// Where an account's data lives beyond the auth tables: its KYC records
/// and documents (erased with the account) and its data exports (queued on
/// `EXPORT_QUEUE_URL`, stored in the documents bucket under `exports/`).
pub struct AccountDataSettings {
    pub table: String,
    pub bucket: BucketSettings,
    pub export_queue_url: String,
}

impl AccountDataSettings {
    /// Reads `KYC_TABLE`, `KYC_BUCKET` (with `KYC_SSE`, `KYC_KMS_KEY_ID`)
    /// and `EXPORT_QUEUE_URL`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: DynamoKyc::table_from_env(env)?,
            bucket: BucketSettings::from_env(env)?,
            export_queue_url: required(env, "EXPORT_QUEUE_URL")?,
        })
    }
}

impl Settings {
    /// Reads the login settings (see [`LoginConfig::from_env`]), the tables
    /// (`USERS_TABLE`, `SESSIONS_TABLE`, `COUNTERS_TABLE`), the account data
    /// (see [`AccountDataSettings::from_env`]) and `CORS_ALLOWED_ORIGINS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            login: LoginConfig::from_env(env)?,
            tables: TableNames::from_env(env)?,
            account_data: AccountDataSettings::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
        })
    }
}

/// What the login service needs: token keys, the auth policy, the sender.
pub struct LoginConfig {
    pub access: AccessConfig,
    pub signer: TokenSigner,
    /// Seal TOTP secrets (the field encryption of the KYC PII).
    pub totp_keys: PiiKeys,
    pub policy: AuthPolicy,
    pub mail: MailSettings,
}

impl LoginConfig {
    /// Reads the token keys (`JWT_SIGNING_KID`, `JWT_SIGNING_KEY`,
    /// `JWT_PUBLIC_KEYS`), `JWT_ISSUER`, `JWT_AUDIENCE`, `ADMIN_CIDRS`, `MAIL_FROM`,
    /// `MAIL_CONFIGURATION_SET`, the PII field keys (`PII_KEYS`,
    /// `PII_ACTIVE_KEY_ID`: TOTP secrets are sealed with them), and
    /// optionally `ADMIN_TOTP_REQUIRED`
    /// (default true), `ADMIN_SESSION_MAX_HOURS` (1-24, default 12),
    /// `AUTH_IP_LIMIT_PER_MINUTE` (default 20), `REFRESH_GRACE_SECONDS`
    /// (0-60, default 10) and `PRODUCT_NAME`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let access = AccessConfig::from_env(env)?;
        let signer = signer_from_env(env)?;
        let mail = MailSettings::from_env(env)?;
        let ip_limit = parsed_or(env, "AUTH_IP_LIMIT_PER_MINUTE", 20u32)?;
        if ip_limit == 0 {
            return Err(ConfigError::Invalid {
                var: "AUTH_IP_LIMIT_PER_MINUTE".into(),
                reason: "must be at least 1".into(),
            });
        }
        let admin_session_hours = parsed_or(env, "ADMIN_SESSION_MAX_HOURS", 12u32)?;
        if !(1..=24).contains(&admin_session_hours) {
            return Err(ConfigError::Invalid {
                var: "ADMIN_SESSION_MAX_HOURS".into(),
                reason: "must be between 1 and 24".into(),
            });
        }
        let refresh_grace_seconds = parsed_or(env, "REFRESH_GRACE_SECONDS", REFRESH_GRACE_SECONDS)?;
        if !(0..=60).contains(&refresh_grace_seconds) {
            return Err(ConfigError::Invalid {
                var: "REFRESH_GRACE_SECONDS".into(),
                reason: "must be between 0 and 60".into(),
            });
        }
        let policy = AuthPolicy {
            lockout: LockoutPolicy::default(),
            ip_limit: WindowLimit {
                limit: ip_limit,
                window_seconds: 60,
            },
            admin_totp_required: flag_or(env, "ADMIN_TOTP_REQUIRED", true)?,
            admin_session_seconds: i64::from(admin_session_hours) * 3600,
            product_name: parsed_or(env, "PRODUCT_NAME", "Wallet".to_string())?,
            refresh_grace_seconds,
            recovery: recovery_limits(env)?,
        };
        Ok(Self {
            access,
            signer,
            totp_keys: PiiKeys::from_env(env)?,
            policy,
            mail,
        })
    }
}

/// Reads `RECOVERY_IP_LIMIT_PER_HOUR` (reset requests per IP and hour,
/// default 10); the per-account and per-address limits are fixed.
fn recovery_limits(env: &dyn Env) -> Result<RecoveryLimits, ConfigError> {
    let per_ip = parsed_or(env, "RECOVERY_IP_LIMIT_PER_HOUR", 10u32)?;
    if per_ip == 0 {
        return Err(ConfigError::Invalid {
            var: "RECOVERY_IP_LIMIT_PER_HOUR".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(RecoveryLimits {
        forgot_per_ip: WindowLimit {
            limit: per_ip,
            window_seconds: 3600,
        },
        ..RecoveryLimits::default()
    })
}
