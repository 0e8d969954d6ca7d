//! Checks an authenticated call: a genuine access token, sent from the device
//! it was issued to, and for admins from the pinned IP inside the allowlist.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use subtle::ConstantTimeEq;

use super::error::AuthError;
use super::model::Role;
use super::tokens::{AccessClaims, TokenIssuer};
use crate::clock::Clock;
use crate::config::{cidr_list, required, secret, ConfigError, Env};

/// The verified caller of an authenticated request.
pub type Principal = AccessClaims;

/// Token verification settings every function that authenticates reads.
pub struct AccessConfig {
    pub tokens: TokenIssuer,
    pub admin_cidrs: Vec<IpNet>,
}

impl AccessConfig {
    /// Reads `JWT_SECRET` (at least 32 bytes), `JWT_ISSUER`, `JWT_AUDIENCE` and `ADMIN_CIDRS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let jwt_secret = secret(env, "JWT_SECRET", 32)?;
        let issuer = required(env, "JWT_ISSUER")?;
        let audience = required(env, "JWT_AUDIENCE")?;
        Ok(Self {
            tokens: TokenIssuer::new(&jwt_secret, &issuer, &audience),
            admin_cidrs: cidr_list(env, "ADMIN_CIDRS")?,
        })
    }
}

/// Verifies bearer tokens, device binding and admin IP pinning.
pub struct AccessGuard {
    tokens: TokenIssuer,
    admin_cidrs: Vec<IpNet>,
    clock: Arc<dyn Clock>,
}

impl AccessGuard {
    pub fn new(config: AccessConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            tokens: config.tokens,
            admin_cidrs: config.admin_cidrs,
            clock,
        }
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    /// Whether `ip` is inside the admin allowlist.
    pub fn admin_ip_allowed(&self, ip: Option<IpAddr>) -> bool {
        ip.is_some_and(|ip| self.admin_cidrs.iter().any(|net| net.contains(&ip)))
    }

    /// The principal behind `authorization` (`Bearer <jwt>`), if the token is
    /// valid, `device_id` matches its device, and admin tokens come from their
    /// sign-in IP inside the allowlist.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        device_id: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Unauthenticated)?;
        let claims = self.tokens.verify(token, self.clock.now())?;
        let device = device_id.ok_or(AuthError::DeviceMismatch)?;
        if !bool::from(device.as_bytes().ct_eq(claims.did.as_bytes())) {
            return Err(AuthError::DeviceMismatch);
        }
        if claims.role == Role::Admin {
            let pinned = claims
                .ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok());
            if pinned.is_none() || pinned != source_ip || !self.admin_ip_allowed(source_ip) {
                return Err(AuthError::IpNotAllowed);
            }
        }
        Ok(claims)
    }
}
