//! Secrets read at cold start and refreshed on a bounded schedule.
//!
//! `SECRET_IDS` names the secrets a function reads (comma-separated ids or
//! ARNs). Each secret is a JSON object whose keys are the configuration
//! variables it supplies (`{"JWT_PUBLIC_KEYS": "..."}`); they overlay the
//! process environment, so configuration code reads them like any variable.
//! Every `SECRETS_REFRESH_SECONDS` (default 300) the secrets are read again
//! and, when a value changed (a rotation), the app is rebuilt from them. Only
//! secret variables may come from a secret ([`is_secret_variable`]), and with
//! `SECRET_IDS` set they may come from nowhere else. Secrets that could not
//! be refreshed (or whose new version was refused) for three intervals fail
//! closed: a removed key must not verify for the life of a warm process.

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

/// Whether `var` holds key material, and so may (and with `SECRET_IDS`
/// must) come from a secret: the token keys, the webhook signing secrets,
/// the PII encryption keys and the audit MAC keys.
pub fn is_secret_variable(var: &str) -> bool {
    SECRET_VARIABLES.contains(&var)
        || var
            .strip_prefix("WEBHOOK_SECRETS_")
            .is_some_and(|name| !name.is_empty())
}

/// The secret variables with fixed names (besides `WEBHOOK_SECRETS_<NAME>`).
const SECRET_VARIABLES: [&str; 7] = [
    "JWT_SIGNING_KID",
    "JWT_SIGNING_KEY",
    "JWT_PUBLIC_KEYS",
    "PII_KEYS",
    "PII_ACTIVE_KEY_ID",
    "AUDIT_HMAC_KEYS",
    "AUDIT_HMAC_KID",
];

/// Secrets older than this many refresh intervals fail closed.
pub const MAX_STALE_INTERVALS: i64 = 3;

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

    /// `base` overlaid with the secrets of its `SECRET_IDS`, read from
    /// `source` (all at once). A secret may supply only secret variables; a
    /// secret variable set in the environment as well, or by two secrets, is
    /// refused, so no value silently wins over another.
    pub async fn load(base: Arc<dyn Env>, source: &dyn SecretSource) -> Result<Self, ConfigError> {
        let ids = secret_ids(base.as_ref());
        let invalid = |reason: String| ConfigError::Invalid {
            var: "SECRET_IDS".into(),
            reason,
        };
        if let Some(var) = SECRET_VARIABLES
            .iter()
            .find(|var| !ids.is_empty() && base.get(var).is_some())
        {
            return Err(ConfigError::Invalid {
                var: var.to_string(),
                reason: "is key material: with SECRET_IDS it comes from a secret only".into(),
            });
        }
        let texts =
            futures_util::future::join_all(ids.iter().map(|id| source.secret_string(id))).await;
        let mut values = HashMap::new();
        for (id, text) in ids.iter().zip(texts) {
            let text = text.map_err(|err| invalid(err.to_string()))?;
            let object: HashMap<String, String> = serde_json::from_str(&text).map_err(|_| {
                invalid(format!("secret {id} is not a JSON object of string values"))
            })?;
            for (var, value) in object {
                if !is_secret_variable(&var) {
                    return Err(ConfigError::Invalid {
                        var,
                        reason: format!("is not a secret variable, yet secret {id} supplies it"),
                    });
                }
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
    state: Mutex<RefreshState>,
}

struct RefreshState {
    /// The secrets the current app was built from.
    serving: SecretEnv,
    /// When they were last confirmed current (read, and unchanged or applied).
    confirmed_at: i64,
    /// When a read was last started.
    tried_at: i64,
}

/// The secrets could not be confirmed current for too long; the function
/// answers 503 (or fails the batch) until they can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("secrets not confirmed current for too long; failing closed")]
pub struct StaleSecrets;

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
                let now = clock.now();
                let state = Mutex::new(RefreshState {
                    serving: env.clone(),
                    confirmed_at: now,
                    tried_at: now,
                });
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
    /// when they are due. A failed read or a refused new version keeps the
    /// current app (logged) and is retried at the next due request; once the
    /// secrets have gone unconfirmed for `MAX_STALE_INTERVALS` intervals this
    /// is `StaleSecrets`, so the function fails closed.
    pub async fn current(&self) -> Result<&'static A, StaleSecrets> {
        if let Some(refresh) = &self.refresh {
            self.refresh_when_due(refresh).await;
            let state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
            if refresh.clock.now() - state.confirmed_at > refresh.every * MAX_STALE_INTERVALS {
                tracing::error!("secrets not confirmed current for too long; failing closed");
                return Err(StaleSecrets);
            }
        }
        Ok(*self.app.read().unwrap_or_else(|e| e.into_inner()))
    }

    async fn refresh_when_due(&self, refresh: &Refresh) {
        let now = refresh.clock.now();
        let base = {
            let mut state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
            if now - state.tried_at < refresh.every {
                return;
            }
            state.tried_at = now;
            state.serving.base.clone()
        };
        let env = match SecretEnv::load(base, refresh.source.as_ref()).await {
            Ok(env) => env,
            Err(err) => {
                tracing::warn!(error = %err, "secrets not refreshed; serving with the current ones");
                return;
            }
        };
        let unchanged = {
            let state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
            state.serving.same_secrets(&env)
        };
        if !unchanged {
            match (self.build)(env.clone()).await {
                Ok(app) => {
                    *self.app.write().unwrap_or_else(|e| e.into_inner()) = Box::leak(Box::new(app));
                    tracing::info!("secrets changed; configuration rebuilt");
                }
                Err(err) => {
                    tracing::error!(error = %err, "rotated secrets refused; serving with the previous ones");
                    return;
                }
            }
        }
        let mut state = refresh.state.lock().unwrap_or_else(|e| e.into_inner());
        state.serving = env;
        state.confirmed_at = now;
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
    async fn secrets_overlay_the_environment_by_variable_name() {
        let source = MemorySecrets::default();
        source.put(
            "wallet/a",
            r#"{"WEBHOOK_SECRETS_ALPHA": "one", "WEBHOOK_SECRETS_BETA": "two"}"#,
        );
        source.put("wallet/b", r#"{"WEBHOOK_SECRETS_GAMMA": "three"}"#);
        let env = SecretEnv::load(
            base(&[("SECRET_IDS", "wallet/a, wallet/b"), ("PLAIN", "p")]),
            &source,
        )
        .await
        .unwrap();
        assert_eq!(env.get("WEBHOOK_SECRETS_ALPHA").as_deref(), Some("one"));
        assert_eq!(env.get("WEBHOOK_SECRETS_GAMMA").as_deref(), Some("three"));
        assert_eq!(env.get("PLAIN").as_deref(), Some("p"));
        assert_eq!(env.get("MISSING"), None);
    }

    #[tokio::test]
    async fn a_variable_supplied_twice_is_refused_by_name_without_its_value() {
        let source = MemorySecrets::default();
        source.put("wallet/a", r#"{"WEBHOOK_SECRETS_ALPHA": "s3cr3t-value"}"#);
        source.put("wallet/b", r#"{"WEBHOOK_SECRETS_ALPHA": "other-value"}"#);
        for env in [
            base(&[("SECRET_IDS", "wallet/a,wallet/b")]),
            base(&[
                ("SECRET_IDS", "wallet/a"),
                ("WEBHOOK_SECRETS_ALPHA", "from-env"),
            ]),
        ] {
            let err = SecretEnv::load(env, &source).await.err().unwrap();
            assert!(
                matches!(&err, ConfigError::Invalid { var, .. } if var == "WEBHOOK_SECRETS_ALPHA")
            );
            assert!(!err.to_string().contains("s3cr3t-value"));
        }
    }

    #[tokio::test]
    async fn a_missing_unreadable_or_malformed_secret_stops_the_cold_start() {
        let source = MemorySecrets::default();
        source.put("wallet/list", r#"["not", "an", "object"]"#);
        source.put("wallet/number", r#"{"WEBHOOK_SECRETS_N": 5}"#);
        for id in ["wallet/absent", "wallet/list", "wallet/number"] {
            let err = SecretEnv::load(base(&[("SECRET_IDS", id)]), &source)
                .await
                .err()
                .unwrap();
            assert!(err.to_string().contains("SECRET_IDS"), "{err}");
        }
        source.put("wallet/ok", r#"{"WEBHOOK_SECRETS_OK": "1"}"#);
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
            std::future::ready(match env.get("WEBHOOK_SECRETS_KEY") {
                Some(v) if v != "bad" => Ok(v),
                _ => Err(ConfigError::Missing("WEBHOOK_SECRETS_KEY".into())),
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
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        assert_eq!(live.current().await.unwrap(), "v1");
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v2"}"#);
        clock.advance(299);
        assert_eq!(live.current().await.unwrap(), "v1", "not due yet");
        clock.advance(1);
        assert_eq!(live.current().await.unwrap(), "v2");
    }

    #[tokio::test]
    async fn an_outage_or_a_refused_rotation_keeps_the_current_app() {
        let source = Arc::new(MemorySecrets::default());
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        source.set_unavailable(true);
        clock.advance(300);
        assert_eq!(live.current().await.unwrap(), "v1");
        source.set_unavailable(false);
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "bad"}"#);
        clock.advance(300);
        assert_eq!(live.current().await.unwrap(), "v1");
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v3"}"#);
        clock.advance(300);
        assert_eq!(live.current().await.unwrap(), "v3");
    }

    #[tokio::test]
    async fn a_secret_may_supply_only_key_material() {
        let source = MemorySecrets::default();
        source.put("wallet/a", r#"{"FRAUD_BLOCK_AT": "100"}"#);
        let err = SecretEnv::load(base(&[("SECRET_IDS", "wallet/a")]), &source)
            .await
            .err()
            .unwrap();
        assert!(matches!(&err, ConfigError::Invalid { var, .. } if var == "FRAUD_BLOCK_AT"));
        assert!(is_secret_variable("WEBHOOK_SECRETS_STRIPE"));
        assert!(is_secret_variable("AUDIT_HMAC_KEYS"));
        assert!(is_secret_variable("AUDIT_HMAC_KID"));
        assert!(!is_secret_variable("WEBHOOK_SECRETS_"));
        assert!(!is_secret_variable("ADMIN_CIDRS"));
    }

    #[tokio::test]
    async fn with_secret_ids_key_material_in_the_environment_is_refused() {
        let source = MemorySecrets::default();
        source.put("wallet/a", r#"{"PII_KEYS": "a:b"}"#);
        let err = SecretEnv::load(
            base(&[("SECRET_IDS", "wallet/a"), ("JWT_SIGNING_KEY", "from-env")]),
            &source,
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(&err, ConfigError::Invalid { var, .. } if var == "JWT_SIGNING_KEY"));
        assert!(!err.to_string().contains("from-env"));
    }

    #[tokio::test]
    async fn secrets_unconfirmed_for_three_intervals_fail_closed_until_read_again() {
        let source = Arc::new(MemorySecrets::default());
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        source.set_unavailable(true);
        clock.advance(900);
        assert_eq!(
            live.current().await.unwrap(),
            "v1",
            "three intervals: still served"
        );
        clock.advance(1);
        assert_eq!(live.current().await.err(), Some(StaleSecrets));
        source.set_unavailable(false);
        clock.advance(300);
        assert_eq!(live.current().await.unwrap(), "v1", "read again: served");
    }

    #[tokio::test]
    async fn a_refused_version_is_retried_and_fails_closed_if_it_stays() {
        let source = Arc::new(MemorySecrets::default());
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v1"}"#);
        let clock = Arc::new(ManualClock::new(1_000));
        let live = start(source.clone(), clock.clone()).await;
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "bad"}"#);
        for _ in 0..3 {
            clock.advance(300);
            assert_eq!(live.current().await.unwrap(), "v1");
        }
        clock.advance(300);
        assert_eq!(live.current().await.err(), Some(StaleSecrets));
        source.put("wallet/key", r#"{"WEBHOOK_SECRETS_KEY": "v2"}"#);
        clock.advance(300);
        assert_eq!(live.current().await.unwrap(), "v2");
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
        assert_eq!(live.current().await.unwrap().as_deref(), Some("p"));
    }
}
