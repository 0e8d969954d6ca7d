//! The login function's configuration, validated once per cold start.

use ipnet::IpNet;
use shared::auth::lockout::LockoutPolicy;
use shared::auth::tokens::TokenIssuer;
use shared::auth::AuthPolicy;
use shared::config::{cidr_list, flag_or, parsed_or, required, secret, ConfigError, Env};
use shared::ratelimit::WindowLimit;

/// Validated settings of the login function.
pub struct LoginConfig {
    pub tokens: TokenIssuer,
    pub admin_cidrs: Vec<IpNet>,
    pub policy: AuthPolicy,
    pub mail_from: String,
}

impl LoginConfig {
    /// Reads `JWT_SECRET` (≥ 32 bytes), `JWT_ISSUER`, `JWT_AUDIENCE`,
    /// `ADMIN_CIDRS`, `MAIL_FROM`, and optionally `ADMIN_TOTP_REQUIRED`
    /// (default true), `AUTH_IP_LIMIT_PER_MINUTE` (default 20) and `PRODUCT_NAME`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let jwt_secret = secret(env, "JWT_SECRET", 32)?;
        let issuer = required(env, "JWT_ISSUER")?;
        let audience = required(env, "JWT_AUDIENCE")?;
        let admin_cidrs = cidr_list(env, "ADMIN_CIDRS")?;
        let mail_from = required(env, "MAIL_FROM")?;
        let ip_limit = parsed_or(env, "AUTH_IP_LIMIT_PER_MINUTE", 20u32)?;
        if ip_limit == 0 {
            return Err(ConfigError::Invalid {
                var: "AUTH_IP_LIMIT_PER_MINUTE".into(),
                reason: "must be at least 1".into(),
            });
        }
        let policy = AuthPolicy {
            lockout: LockoutPolicy::default(),
            ip_limit: WindowLimit {
                limit: ip_limit,
                window_seconds: 60,
            },
            admin_totp_required: flag_or(env, "ADMIN_TOTP_REQUIRED", true)?,
            product_name: parsed_or(env, "PRODUCT_NAME", "Wallet".to_string())?,
        };
        Ok(Self {
            tokens: TokenIssuer::new(&jwt_secret, &issuer, &audience),
            admin_cidrs,
            policy,
            mail_from,
        })
    }
}
