//! Checks an authenticated call: a genuine access token, sent from the device
//! it was issued to, and for admins from the pinned IP inside the allowlist.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use subtle::ConstantTimeEq;

use super::error::AuthError;
use super::model::Role;
use super::tokens::{AccessClaims, KeyError, PublicKeySet, TokenSigner, TokenVerifier};
use crate::clock::Clock;
use crate::config::{cidr_list, required, ConfigError, Env};

/// The verified caller of an authenticated request.
pub type Principal = AccessClaims;

/// Token verification settings every function that authenticates reads.
pub struct AccessConfig {
    pub tokens: TokenVerifier,
    pub admin_cidrs: Vec<IpNet>,
}

impl AccessConfig {
    /// Reads `JWT_PUBLIC_KEYS` (a JWKS of Ed25519 keys), `JWT_ISSUER`,
    /// `JWT_AUDIENCE` and `ADMIN_CIDRS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let issuer = required(env, "JWT_ISSUER")?;
        let audience = required(env, "JWT_AUDIENCE")?;
        let keys = public_keys(env)?;
        Ok(Self {
            tokens: TokenVerifier::new(&keys, &issuer, &audience)
                .map_err(|err| key_error("JWT_PUBLIC_KEYS", err))?,
            admin_cidrs: cidr_list(env, "ADMIN_CIDRS")?,
        })
    }
}

/// The published verification keys, `JWT_PUBLIC_KEYS`.
fn public_keys(env: &dyn Env) -> Result<PublicKeySet, ConfigError> {
    serde_json::from_str(&required(env, "JWT_PUBLIC_KEYS")?)
        .map_err(|_| key_error("JWT_PUBLIC_KEYS", KeyError::BadKeySet("not a JWKS".into())))
}

fn key_error(var: &str, err: KeyError) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: err.to_string(),
    }
}

/// The login function's token signer: `JWT_SIGNING_KID` and `JWT_SIGNING_KEY`
/// (Ed25519, PKCS#8 PEM), for `JWT_ISSUER` and `JWT_AUDIENCE`. Refused unless
/// `JWT_PUBLIC_KEYS` publishes this very key, so no token is minted that the
/// other functions cannot verify.
pub fn signer_from_env(env: &dyn Env) -> Result<TokenSigner, ConfigError> {
    let kid = required(env, "JWT_SIGNING_KID")?;
    let pem = env
        .get("JWT_SIGNING_KEY")
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError::Missing("JWT_SIGNING_KEY".into()))?;
    let signer = TokenSigner::from_pem(
        &kid,
        &pem,
        &required(env, "JWT_ISSUER")?,
        &required(env, "JWT_AUDIENCE")?,
    )
    .map_err(|err| match err {
        KeyError::BadKeyId => key_error("JWT_SIGNING_KID", err),
        other => key_error("JWT_SIGNING_KEY", other),
    })?;
    signer
        .check_published_in(&public_keys(env)?)
        .map_err(|err| key_error("JWT_PUBLIC_KEYS", err))?;
    Ok(signer)
}

/// Verifies bearer tokens, device binding and admin IP pinning.
pub struct AccessGuard {
    tokens: TokenVerifier,
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

    pub fn tokens(&self) -> &TokenVerifier {
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
