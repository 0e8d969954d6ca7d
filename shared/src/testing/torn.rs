//! A wallet store whose reads miss every velocity counter, as a read torn
//! by a concurrent commit would: what the decision read cannot be trusted,
//! so the commit must enforce caps by itself.

use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::ports::{
    CommitOutcome, PaymentCommit, RechargeCommit, RechargeReadings, StoreError, WalletStore,
};
use crate::wallet::model::{Recharge, WalletProfile};

/// Delegates to `inner`, but `readings` answers every counter as unused.
pub struct StaleCounters(pub Arc<dyn WalletStore>);

#[async_trait]
impl WalletStore for StaleCounters {
    async fn readings(
        &self,
        user_id: &str,
        counter_keys: &[String],
        device_key: &str,
    ) -> Result<RechargeReadings, StoreError> {
        let mut readings = self.0.readings(user_id, counter_keys, device_key).await?;
        readings.counters.clear();
        Ok(readings)
    }

    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError> {
        self.0.commit_recharge(commit).await
    }

    async fn recharge(&self, recharge_id: &str) -> Result<Option<Recharge>, StoreError> {
        self.0.recharge(recharge_id).await
    }

    async fn ensure_profile(&self, profile: &WalletProfile) -> Result<(), StoreError> {
        self.0.ensure_profile(profile).await
    }

    async fn apply_payment(&self, commit: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        self.0.apply_payment(commit).await
    }

    async fn save_limits(
        &self,
        profile: &WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError> {
        self.0.save_limits(profile, expected_audit_seq, audit).await
    }
}
