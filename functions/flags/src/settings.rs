//! The flags function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{DynamoFlags, TableNames};
use edge::cors::CorsPolicy;
use shared::auth::AccessConfig;
use shared::config::{ConfigError, Env};
use shared::flags::CacheTiming;

/// Everything the flags function reads from its environment.
pub struct Settings {
    pub access: AccessConfig,
    pub flags_table: String,
    /// Sessions and accounts, read to admit a signed-in caller's session.
    pub auth_tables: TableNames,
    pub timing: CacheTiming,
    pub cors: CorsPolicy,
}

impl Settings {
    /// Reads the token settings, `FLAGS_TABLE`, the auth tables
    /// (`USERS_TABLE`, `SESSIONS_TABLE`, `COUNTERS_TABLE`), `FLAGS_TTL_SECONDS`
    /// (default 10), `FLAGS_MAX_STALE_SECONDS` (default 300) and
    /// `CORS_ALLOWED_ORIGINS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            access: AccessConfig::from_env(env)?,
            flags_table: DynamoFlags::table_from_env(env)?,
            auth_tables: TableNames::from_env(env)?,
            timing: CacheTiming::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
        })
    }
}
