//! Secrets read at cold start and refreshed on a bounded schedule.
//!
//! `SECRET_IDS` names the secrets a function reads (comma-separated ids or
//! ARNs). Each secret is a JSON object whose keys are the configuration
//! variables it supplies (`{"JWT_PUBLIC_KEYS": "..."}`); they overlay the
//! process environment, so configuration code reads them like any variable.
//! Every `SECRETS_REFRESH_SECONDS` (default 300) the secrets are read again
//! and, when a value changed (a rotation), the app is rebuilt from them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use crate::clock::Clock;
use crate::config::{parsed_or, ConfigError, Env};

/// Why a secret could not be read; names the secret, never its value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret {0} does not exist or may not be read")]
    NotFound(String),
    #[error("secret {0} could not be read: the secret store is unavailable")]
    Unavailable(String),
}

/// Where secret values come from: Secrets Manager, or memory in tests.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current `SecretString` of secret `id`.
    async fn secret_string(&self, id: &str) -> Result<String, SecretError>;
}

/// The secrets a function reads, from `SECRET_IDS`; empty when unset.
pub fn secret_ids(env: &dyn Env) -> Vec<String> {
    env.get("SECRET_IDS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

/// How often secrets are read again: `SECRETS_REFRESH_SECONDS`, 60 to 3600, default 300.
pub fn refresh_seconds(env: &dyn Env) -> Result<i64, ConfigError> {
    let seconds: i64 = parsed_or(env, "SECRETS_REFRESH_SECONDS", 300)?;
    if !(60..=3600).contains(&seconds) {
        return Err(ConfigError::Invalid {
            var: "SECRETS_REFRESH_SECONDS".into(),
            reason: "must be between 60 and 3600".into(),
        });
    }
    Ok(seconds)
}

/// The process environment overlaid with the variables its secrets supply.
#[derive(Clone)]
pub struct SecretEnv {
    base: Arc<dyn Env>,
    values: Arc<HashMap<String, String>>,
}

impl Env for SecretEnv {
    fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.base.get(name))
    }
}

impl SecretEnv {
    /// `base` alone, for a function that reads no secret.
    pub fn plain(base: Arc<dyn Env>) -> Self {
        Self {
            base,
            values: Arc::default(),
        }
    }

    /// `base` overlaid with the secrets of its `SECRET_IDS`, read from `source`.
    /// A variable supplied twice (by two secrets, or by a secret and the
    /// environment) is refused, so no value silently wins over another.
    pub async fn load(base: Arc<dyn Env>, source: &dyn SecretSource) -> Result<Self, ConfigError> {
        let mut values = HashMap::new();
        for id in secret_ids(base.as_ref()) {
            let invalid = |reason: String| ConfigError::Invalid {
                var: "SECRET_IDS".into(),
                reason,
            };
            let text = source
                .secret_string(&id)
                .await
                .map_err(|err| invalid(err.to_string()))?;
            let object: HashMap<String, String> = serde_json::from_str(&text).map_err(|_| {
                invalid(format!("secret {id} is not a JSON object of string values"))
            })?;
            for (var, value) in object {
                if base.get(&var).is_some() || values.contains_key(&var) {
                    return Err(ConfigError::Invalid {
                        var,
                        reason: format!("is supplied twice (secret {id} and another source)"),
                    });
                }
                values.insert(var, value);
            }
        }
        Ok(Self {
            base,
            values: Arc::new(values),
        })
    }

    fn same_secrets(&self, other: &SecretEnv) -> bool {
        self.values == other.values
    }
}

/// The app a function serves, rebuilt when its secrets change.
///
/// A superseded app is leaked rather than dropped: a request may still hold
/// it, and rotations are rare (a few apps over a process's life).
pub struct LiveApp<A: 'static, B> {
    app: RwLock<&'static A>,
    build: B,
    refresh: Option<Refresh>,
}

struct Refresh {
    source: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    every: i64,
    state: Mutex<(SecretEnv, i64)>,
}

impl<A, B, BFut> LiveApp<A, B>
where
    A: Sync + 'static,
    B: Fn(SecretEnv) -> BFut,
    BFut: Future<Output = Result<A, ConfigError>>,
{
    /// Builds the app from `base` and, when it names secrets, from `source`.
    pub async fn start(
        base: Arc<dyn Env>,
        source: Option<Arc<dyn SecretSource>>,
        clock: Arc<dyn Clock>,
        build: B,
    ) -> Result<Self, ConfigError> {
        let every = refresh_seconds(base.as_ref())?;
        let (env, refresh) = match source {
            Some(source) if !secret_ids(base.as_ref()).is_empty() => {
                let env = SecretEnv::load(base, source.as_ref()).await?;
                let state = Mutex::new((env.clone(), clock.now()));
                let refresh = Refresh {
                    source,
                    clock,
                    every,
                    state,
                };
                (env, Some(refresh))
            }
            _ => (SecretEnv::plain(base), None),
        };
        let app = build(env).await?;
        Ok(Self {
            app: RwLock::new(Box::leak(Box::new(app))),
            build,
            refresh,
        })
    }

    /// The app to serve this request with, after reading the secrets again
    /// when they are due. A failed read or a refused new configuration keeps
    /// the current app (and is logged); the next due request tries again.
    pub async fn current(&self) -> &'static A {
        if let Some(env) = self.changed_secrets().await {
            match (self.build)(env).await {
                Ok(app) => {
                    *self.app.write().unwrap_or_else(|e| e.into_inner()) = Box::leak(Box::new(app));
                    tracing::info!("secrets changed; configuration rebuilt");
                }
                Err(err) => {
                    tracing::error!(error = %err, "rotated secrets refused; serving with the previous ones")
                }
            }
        }
        *self.app.read().unwrap_or_else(|e| e.into_inner())
    }

    async fn changed_secrets(&self) -> Option<SecretEnv> {
        let refresh = self.refresh.as_ref()?;
        let now = refresh.clock.now();
        let base = {
            let mut state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
            if now - state.1 < refresh.every {
                return None;
            }
            state.1 = now;
            state.0.base.clone()
        };
        match SecretEnv::load(base, refresh.source.as_ref()).await {
            Ok(env) => {
                let mut state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.0.same_secrets(&env) {
                    return None;
                }
                state.0 = env.clone();
                Some(env)
            }
            Err(err) => {
                tracing::warn!(error = %err, "secrets not refreshed; serving with the current ones");
                None
            }
        }
    }
}

/// Secrets held in memory, for tests; values can be replaced to model a rotation.
#[derive(Default)]
pub struct MemorySecrets {
    values: Mutex<HashMap<String, String>>,
    unavailable: std::sync::atomic::AtomicBool,
}

impl MemorySecrets {
    /// Sets secret `id` to `value` (its `SecretString`).
    pub fn put(&self, id: &str, value: &str) {
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), value.to_string());
    }

    /// Makes every read fail as an outage would (or recover).
    pub fn set_unavailable(&self, down: bool) {
        self.unavailable
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl SecretSource for MemorySecrets {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SecretError::Unavailable(id.to_string()));
        }
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn base(pairs: &[(&str, &str)]) -> Arc<dyn Env> {
        Arc::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<String, String>>(),
        )
    }

    #[tokio::test]
    async fn memory_secrets_keep_the_secret_source_contract() {
        let source = Arc::new(MemorySecrets::default());
        source.put(
            "wallet/contract",
            r#"{"CONTRACT_A": "alpha", "CONTRACT_B": "beta"}"#,
        );
        let rotating = source.clone();
        crate::testing::secret_source_contract(source, "wallet/contract", "wallet/absent", || {
            rotating.put(
                "wallet/contract",
                r#"{"CONTRACT_A": "rotated", "CONTRACT_B": "beta"}"#,
            );
            std::future::ready(())
        })
        .await;
    }

    #[tokio::test]
    async fn secrets_overlay_the_environment_by_variable_name() {
        let source = MemorySecrets::default();
        source.put("wallet/a", r#"{"ALPHA": "one", "BETA": "two"}"#);
        source.put("wallet/b", r#"{"GAMMA": "three"}"#);
        let env = SecretEnv::load(
            base(&[("SECRET_IDS", "wallet/a, wallet/b"), ("PLAIN", "p")]),
            &source,
        )
        .await
        .unwrap();
        assert_eq!(env.get("ALPHA").as_deref(), Some("one"));
        assert_eq!(env.get("GAMMA").as_deref(), Some("three"));
        assert_eq!(env.get("PLAIN").as_deref(), Some("p"));
        assert_eq!(env.get("MISSING"), None);
    }

    #[tokio::test]
    async fn a_variable_supplied_twice_is_refused_by_name_without_its_value() {
        let source = MemorySecrets::default();
        source.put("wallet/a", r#"{"ALPHA": "s3cr3t-value"}"#);
        source.put("wallet/b", r#"{"ALPHA": "other-value"}"#);
        for env in [
            base(&[("SECRET_IDS", "wallet/a,wallet/b")]),
            base(&[("SECRET_IDS", "wallet/a"), ("ALPHA", "from-env")]),
        ] {
            let err = SecretEnv::load(env, &source).await.err().unwrap();
            assert!(matches!(&err, ConfigError::Invalid { var, .. } if var == "ALPHA"));
            assert!(!err.to_string().contains("s3cr3t-value"));
        }
    }

    #[tokio::test]
    async fn a_missing_unreadable_or_malformed_secret_stops_the_cold_start() {
        let source = MemorySecrets::default();
        source.put("wallet/list", r#"["not", "an", "object"]"#);
        source.put("wallet/number", r#"{"N": 5}"#);
        for id in ["wallet/absent", "wallet/list", "wallet/number"] {
            let err = SecretEnv::load(base(&[("SECRET_IDS", id)]), &source)
                .await
                .err()
                .unwrap();
            assert!(err.to_string().contains("SECRET_IDS"), "{err}");
        }
        source.put("wallet/ok", r#"{"OK": "1"}"#);
        source.set_unavailable(true);
        assert!(
            SecretEnv::load(base(&[("SECRET_IDS", "wallet/ok")]), &source)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_refresh_interval_is_bounded() {
        assert_eq!(refresh_seconds(base(&[]).as_ref()), Ok(300));
        assert_eq!(
            refresh_seconds(base(&[("SECRETS_REFRESH_SECONDS", "60")]).as_ref()),
            Ok(60)
        );
        for bad in ["0", "59", "3601", "soon"] {
            assert!(refresh_seconds(base(&[("SECRETS_REFRESH_SECONDS", bad)]).as_ref()).is_err());
        }
    }

    /// An app that is just the value of `KEY`; refuses the value "bad".
    async fn start(
        source: Arc<MemorySecrets>,
        clock: Arc<ManualClock>,
    ) -> LiveApp<String, impl Fn(SecretEnv) -> std::future::Ready<Result<String, ConfigError>>>
    {
        let build = |env: SecretEnv| {
            std::future::ready(match env.get("KEY") {
                Some(v) if v != "bad" => Ok(v),
                _ => Err(ConfigError::Missing("KEY".into())),
            })
        };
        LiveApp::start(
            base(&[("SECRET_IDS", "wallet/key")]),
            Some(source),
            clock,
            build,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_rotated_secret_is_served_after_the_refresh_interval_not_before() {
        let source = Arc::new(MemorySecrets::default());
        source.put("wallet/key", r#"{"KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        assert_eq!(live.current().await, "v1");
        source.put("wallet/key", r#"{"KEY": "v2"}"#);
        clock.advance(299);
        assert_eq!(live.current().await, "v1", "not due yet");
        clock.advance(1);
        assert_eq!(live.current().await, "v2");
    }

    #[tokio::test]
    async fn an_outage_or_a_refused_rotation_keeps_the_current_app() {
        let source = Arc::new(MemorySecrets::default());
        source.put("wallet/key", r#"{"KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        source.set_unavailable(true);
        clock.advance(300);
        assert_eq!(live.current().await, "v1");
        source.set_unavailable(false);
        source.put("wallet/key", r#"{"KEY": "bad"}"#);
        clock.advance(300);
        assert_eq!(live.current().await, "v1");
        source.put("wallet/key", r#"{"KEY": "v3"}"#);
        clock.advance(300);
        assert_eq!(live.current().await, "v3");
    }

    #[tokio::test]
    async fn without_secret_ids_nothing_is_read() {
        let source = Arc::new(MemorySecrets::default());
        source.set_unavailable(true);
        let build = |env: SecretEnv| std::future::ready(Ok::<_, ConfigError>(env.get("PLAIN")));
        let live = LiveApp::start(
            base(&[("PLAIN", "p")]),
            Some(source as Arc<dyn SecretSource>),
            Arc::new(ManualClock::new(0)),
            build,
        )
        .await
        .unwrap();
        assert_eq!(live.current().await.as_deref(), Some("p"));
    }
}
