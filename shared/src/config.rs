//! Configuration read from the environment once per cold start and validated.
//!
//! A missing or weak value is an error naming the variable, so a misconfigured
//! function stops at init instead of serving with unsafe defaults.

use std::collections::HashMap;
use std::str::FromStr;

use ipnet::IpNet;

/// Why configuration was refused; always names the variable, never its value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration variable {0} is missing")]
    Missing(String),
    #[error("configuration variable {var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
    #[error("configuration variable {var} is too weak: {reason}")]
    Weak { var: String, reason: String },
}

/// A source of configuration values: the process environment, or a map in tests.
pub trait Env: Send + Sync {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A non-empty value that must be present.
pub fn required(env: &dyn Env, var: &str) -> Result<String, ConfigError> {
    match env.get(var) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ConfigError::Missing(var.to_string())),
    }
}

/// A value parsed with `FromStr`, or `default` when unset.
pub fn parsed_or<T: FromStr>(env: &dyn Env, var: &str, default: T) -> Result<T, ConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            var: var.to_string(),
            reason: "cannot be parsed".to_string(),
        }),
    }
}

/// A boolean given as `true` or `false`, or `default` when unset.
pub fn flag_or(env: &dyn Env, var: &str, default: bool) -> Result<bool, ConfigError> {
    match env.get(var).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ConfigError::Invalid {
            var: var.to_string(),
            reason: "must be true or false".to_string(),
        }),
    }
}

/// A comma-separated list of CIDR blocks; plain addresses count as single hosts.
pub fn cidr_list(env: &dyn Env, var: &str) -> Result<Vec<IpNet>, ConfigError> {
    let raw = required(env, var)?;
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    var: var.to_string(),
                    reason: format!("'{s}' is not a CIDR block"),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cidr_list_accepts_blocks_and_hosts_and_rejects_garbage() {
        let nets = cidr_list(&env(&[("C", "10.0.0.0/8, 127.0.0.1")]), "C").unwrap();
        assert_eq!(nets.len(), 2);
        assert!(cidr_list(&env(&[("C", "10.0.0.0/8,nope")]), "C").is_err());
    }

    #[test]
    fn flags_accept_only_true_or_false() {
        assert!(flag_or(&env(&[("F", "true")]), "F", false).unwrap());
        assert!(!flag_or(&env(&[]), "F", false).unwrap());
        assert!(flag_or(&env(&[("F", "yes")]), "F", false).is_err());
    }
}
