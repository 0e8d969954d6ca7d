//! The flags function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::DynamoFlags;
use edge::cors::CorsPolicy;
use shared::auth::AccessConfig;
use shared::config::{ConfigError, Env};
use shared::flags::CacheTiming;

/// Everything the flags function reads from its environment.
pub struct Settings {
    pub access: AccessConfig,
    pub flags_table: String,
    pub timing: CacheTiming,
    pub cors: CorsPolicy,
}

impl Settings {
    /// Reads the token settings, `FLAGS_TABLE`, `FLAGS_TTL_SECONDS`
    /// (default 10), `FLAGS_MAX_STALE_SECONDS` (default 300) and
    /// `CORS_ALLOWED_ORIGINS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            access: AccessConfig::from_env(env)?,
            flags_table: DynamoFlags::table_from_env(env)?,
            timing: CacheTiming::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
        })
    }
}
