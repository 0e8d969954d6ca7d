//! The flag snapshot kept in memory: one read on a cold start, a re-read
//! after the TTL, and stale service for a bounded time while the store is down.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::model::Snapshot;
use crate::clock::Clock;
use crate::ports::{FlagStore, StoreError};

/// A snapshot as served, and whether it is older than the stale bound (in
/// which case each flag's fail mode decides its value).
#[derive(Debug, Clone)]
pub struct SnapshotView {
    pub snapshot: Arc<Snapshot>,
    pub beyond_stale_bound: bool,
}

/// How long the snapshot is fresh, and how long it may then be served stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTiming {
    pub ttl: i64,
    pub max_stale: i64,
}

impl Default for CacheTiming {
    fn default() -> Self {
        Self {
            ttl: 10,
            max_stale: 300,
        }
    }
}

impl CacheTiming {
    /// Reads `FLAGS_TTL_SECONDS` (10) and `FLAGS_MAX_STALE_SECONDS` (300).
    pub fn from_env(env: &dyn crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            ttl: crate::config::parsed_or(env, "FLAGS_TTL_SECONDS", 10i64)?,
            max_stale: crate::config::parsed_or(env, "FLAGS_MAX_STALE_SECONDS", 300i64)?,
        })
    }
}

#[derive(Default)]
struct CacheState {
    snapshot: Option<Arc<Snapshot>>,
    /// When the held snapshot was read.
    fetched_at: i64,
    /// When the store was last asked (successfully or not).
    attempted_at: i64,
}

/// Caches the flag snapshot for `ttl` seconds and serves it stale for up to
/// `max_stale` more seconds while the store cannot be read.
pub struct FlagCache {
    store: Arc<dyn FlagStore>,
    clock: Arc<dyn Clock>,
    ttl: i64,
    max_stale: i64,
    state: Mutex<CacheState>,
}

impl FlagCache {
    /// A cache with the given timing.
    pub fn with_timing(
        store: Arc<dyn FlagStore>,
        clock: Arc<dyn Clock>,
        timing: CacheTiming,
    ) -> Self {
        Self::new(store, clock, timing.ttl, timing.max_stale)
    }

    pub fn new(store: Arc<dyn FlagStore>, clock: Arc<dyn Clock>, ttl: i64, max_stale: i64) -> Self {
        Self {
            store,
            clock,
            ttl: ttl.max(0),
            max_stale: max_stale.max(0),
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The snapshot to evaluate against. Fails only when no snapshot was
    /// ever read and the store cannot be read now.
    pub async fn current(&self) -> Result<SnapshotView, StoreError> {
        let now = self.clock.now();
        let mut state = self.state.lock().await;
        let fresh = |s: &CacheState| now - s.fetched_at < self.ttl;
        let retry_due = now - state.attempted_at >= self.ttl || state.snapshot.is_none();
        if state.snapshot.is_some() && (fresh(&state) || !retry_due) {
            return Ok(self.view(&state, now));
        }
        state.attempted_at = now;
        match self.store.load_snapshot().await {
            Ok(loaded) => {
                state.snapshot = Some(Arc::new(loaded.unwrap_or_default()));
                state.fetched_at = now;
                Ok(self.view(&state, now))
            }
            Err(err) if state.snapshot.is_some() => {
                tracing::warn!(error = %err, "flag store unreadable; serving the cached snapshot");
                Ok(self.view(&state, now))
            }
            Err(err) => Err(err),
        }
    }

    fn view(&self, state: &CacheState, now: i64) -> SnapshotView {
        SnapshotView {
            snapshot: state.snapshot.clone().unwrap_or_default(),
            beyond_stale_bound: now - state.fetched_at >= self.ttl + self.max_stale,
        }
    }
}
