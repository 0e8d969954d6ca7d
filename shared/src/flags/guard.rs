//! The kill-switch check a guarded route makes before touching anything.

use std::sync::Arc;

use serde_json::Value;

use super::cache::FlagCache;
use super::eval::{evaluate, EvalContext};

/// Why a guarded feature may not run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeatureUnavailable {
    /// The emergency switch is on, or the feature's kill switch serves false.
    #[error("feature switched off")]
    SwitchedOff,
    /// The flags cannot be read, so the feature fails closed.
    #[error("flags unreadable")]
    FlagsUnreadable,
}

/// Answers whether a guarded feature may run: not while the global emergency
/// switch is on, not while its kill-switch flag serves false, and not when
/// the flags cannot be read at all (fail closed).
pub struct FeatureGuard {
    cache: Arc<FlagCache>,
}

impl FeatureGuard {
    pub fn new(cache: Arc<FlagCache>) -> Self {
        Self { cache }
    }

    /// `Ok` if the feature named by kill-switch flag `key` may run.
    pub async fn require(&self, key: &str) -> Result<(), FeatureUnavailable> {
        let view = self.cache.current().await.map_err(|err| {
            tracing::error!(error = %err, feature = key, "flags unreadable; guarded feature refused");
            FeatureUnavailable::FlagsUnreadable
        })?;
        if view.snapshot.emergency {
            return Err(FeatureUnavailable::SwitchedOff);
        }
        let Some(flag) = view.snapshot.flag(key) else {
            return Ok(());
        };
        let context = EvalContext {
            role: "anonymous".to_string(),
            ..EvalContext::default()
        };
        let evaluation = evaluate(flag, &context, false, view.beyond_stale_bound);
        if evaluation.value == Value::Bool(true) {
            Ok(())
        } else {
            Err(FeatureUnavailable::SwitchedOff)
        }
    }
}
