//! A wallet store whose reads can miss every velocity counter and the
//! device's accounts, as a read that raced concurrent commits would: what
//! the decision read cannot be trusted, so the commit must hold by itself.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use shared::audit::AuditEntry;
use shared::ports::{
    CommitOutcome, PaymentCommit, RechargeCommit, RechargeReadings, StoreError, WalletStore,
};
use shared::wallet::model::{Recharge, WalletProfile};
use shared::wallet::velocity::{scope_prefix, Scope};

/// What a stale read misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// The user's own counters (the device and card read true).
    UserCounters,
    /// Every counter and the device's accounts.
    Everything,
}

/// Delegates to the inner store; while armed, `readings` misses what it
/// was armed with.
pub struct TornReads {
    inner: Arc<dyn WalletStore>,
    stale_reads: AtomicU32,
    missed: std::sync::Mutex<Missed>,
}

impl TornReads {
    /// Reads are true until `arm` is called.
    pub fn new(inner: Arc<dyn WalletStore>) -> Self {
        Self {
            inner,
            stale_reads: AtomicU32::new(0),
            missed: std::sync::Mutex::new(Missed::Everything),
        }
    }

    /// Makes the next `reads` reads miss `missed` (`u32::MAX`: every read
    /// from now).
    pub fn arm(&self, reads: u32, missed: Missed) {
        *self.missed.lock().unwrap_or_else(|e| e.into_inner()) = missed;
        self.stale_reads.store(reads, Ordering::SeqCst);
    }

    fn take_stale(&self) -> bool {
        self.stale_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                (left > 0).then(|| if left == u32::MAX { left } else { left - 1 })
            })
            .is_ok()
    }
}

#[async_trait]
impl WalletStore for TornReads {
    async fn readings(
        &self,
        user_id: &str,
        session_id: &str,
        counter_keys: &[String],
        device_key: &str,
    ) -> Result<RechargeReadings, StoreError> {
        let mut readings = self
            .inner
            .readings(user_id, session_id, counter_keys, device_key)
            .await?;
        if self.take_stale() {
            match *self.missed.lock().unwrap_or_else(|e| e.into_inner()) {
                Missed::UserCounters => {
                    let user = scope_prefix(Scope::User);
                    readings.counters.retain(|key, _| !key.starts_with(&user));
                }
                Missed::Everything => {
                    readings.counters.clear();
                    readings.device_accounts.clear();
                }
            }
        }
        Ok(readings)
    }

    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError> {
        self.inner.commit_recharge(commit).await
    }

    async fn recharge(&self, recharge_id: &str) -> Result<Option<Recharge>, StoreError> {
        self.inner.recharge(recharge_id).await
    }

    async fn ensure_profile(&self, profile: &WalletProfile) -> Result<(), StoreError> {
        self.inner.ensure_profile(profile).await
    }

    async fn apply_payment(&self, commit: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        self.inner.apply_payment(commit).await
    }

    async fn save_limits(
        &self,
        profile: &WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError> {
        self.inner
            .save_limits(profile, expected_audit_seq, audit)
            .await
    }
}
