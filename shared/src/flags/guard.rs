//! The kill-switch check a guarded route makes before touching anything.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::Value;

use super::cache::FlagCache;
use super::eval::{evaluate, EvalContext};
use crate::http::ApiError;

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

    /// `Ok` if the feature named by kill-switch flag `key` may run; otherwise 503
    /// `FEATURE_DISABLED` (switched off) or `FEATURE_UNAVAILABLE` (flags unreadable).
    pub async fn require(&self, key: &str) -> Result<(), ApiError> {
        let view = self.cache.current().await.map_err(|err| {
            tracing::error!(error = %err, feature = key, "flags unreadable; guarded feature refused");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FEATURE_UNAVAILABLE",
                "This feature is temporarily unavailable.",
            )
            .with_retry_after(10)
        })?;
        let disabled = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FEATURE_DISABLED",
                "This feature is switched off for now.",
            )
            .with_retry_after(60)
        };
        if view.snapshot.emergency {
            return Err(disabled());
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
            Err(disabled())
        }
    }
}
