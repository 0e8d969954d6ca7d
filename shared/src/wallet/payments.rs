//! Applying provider events to wallets exactly once: read the recharge and
//! its wallet, decide ([`super::settle`]), and write the recharge status
//! change, the ledger entry and the balance in one conditional write, so any
//! number of deliveries or concurrent workers credit once.

use std::sync::Arc;

use super::model::Recharge;
use super::settle::{review_case, settle, Settlement};
use crate::clock::Clock;
use crate::flags::FeatureGuard;
use crate::ports::{
    CommitOutcome, Mailer, OutgoingEmail, ReviewStore, StoreError, UserStore, WalletStore,
    WebhookInbox,
};
use crate::webhook::event::{EventKind, ProviderEvent};

/// Kill-switch flag guarding webhook crediting.
pub const CREDITING_FEATURE: &str = "webhook-crediting";
const ATTEMPTS: usize = 5;

/// Why an event could not be applied now (the message is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event not applied yet: {0}")]
pub struct RetryLater(pub String);

impl From<StoreError> for RetryLater {
    fn from(err: StoreError) -> Self {
        RetryLater(err.to_string())
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Credited,
    Debited,
    MarkedFailed,
    /// A refund that arrived before its payment: recorded on the recharge,
    /// nothing debited; the payment will credit only what was kept.
    RefundRecorded,
    /// Already applied by an earlier delivery.
    AlreadyApplied,
    /// Could not be applied safely; a review case was opened.
    Reviewed(&'static str),
    /// Not a payment outcome this backend acts on; recorded.
    Ignored,
}

/// Applies provider events to recharges and wallets.
pub struct PaymentApplier {
    pub wallet: Arc<dyn WalletStore>,
    pub inbox: Arc<dyn WebhookInbox>,
    pub reviews: Arc<dyn ReviewStore>,
    pub users: Arc<dyn UserStore>,
    pub mailer: Arc<dyn Mailer>,
    pub guard: FeatureGuard,
    pub clock: Arc<dyn Clock>,
    /// Signs the audit entries of applied payments.
    pub audit_keys: Arc<crate::audit::AuditKeys>,
}

impl PaymentApplier {
    /// Applies `event` once; an error leaves it to be retried.
    pub async fn apply(&self, event: &ProviderEvent) -> Result<Applied, RetryLater> {
        let outcome = self.decide_and_apply(event).await?;
        match self
            .inbox
            .mark_processed(&event.provider, &event.event_id)
            .await
        {
            Ok(()) => {}
            // The dedupe record already expired: the ledger still guards against a second credit.
            Err(StoreError::NotFound) => {
                tracing::warn!(event_id = %event.event_id, "no inbox record to mark processed")
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(provider = %event.provider, event_id = %event.event_id, outcome = ?outcome, "provider event applied");
        Ok(outcome)
    }

    async fn decide_and_apply(&self, event: &ProviderEvent) -> Result<Applied, RetryLater> {
        if let EventKind::Other(kind) = &event.kind {
            tracing::info!(kind = %kind, "provider event type recorded and ignored");
            return Ok(Applied::Ignored);
        }
        let Some(recharge_id) = event.recharge_id.as_deref() else {
            tracing::warn!(event_id = %event.event_id, "provider event names no recharge; ignored");
            return Ok(Applied::Ignored);
        };
        self.guard
            .require(CREDITING_FEATURE)
            .await
            .map_err(|e| RetryLater(e.to_string()))?;
        for _ in 0..ATTEMPTS {
            let recharge = self
                .wallet
                .recharge(recharge_id)
                .await?
                .ok_or_else(|| RetryLater(format!("unknown recharge {recharge_id}")))?;
            let profile = self
                .wallet
                .readings(&recharge.user_id, "", &[], "")
                .await?
                .profile
                .ok_or_else(|| RetryLater("wallet profile missing".into()))?;
            let settlement = settle(
                event,
                &recharge,
                &profile,
                &self.audit_keys,
                self.clock.now(),
            );
            if let Some(done) = self.carry_out(event, &recharge, settlement).await? {
                return Ok(done);
            }
        }
        Err(RetryLater("wallet busy".into()))
    }

    /// Carries out what `settle` decided; `None` when its commit lost a race
    /// (or the recharge moved) and the event should be decided again.
    async fn carry_out(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        settlement: Settlement,
    ) -> Result<Option<Applied>, RetryLater> {
        match settlement {
            Settlement::Nothing(applied) => Ok(Some(applied)),
            Settlement::Review(reason) => self.review(event, recharge, reason).await.map(Some),
            Settlement::ReviewUnlessMoved(reason) => {
                let again = self.wallet.recharge(&recharge.recharge_id).await?;
                if again
                    .is_none_or(|r| r.refunded != recharge.refunded || r.status != recharge.status)
                {
                    return Ok(None);
                }
                self.review(event, recharge, reason).await.map(Some)
            }
            Settlement::Apply {
                commit,
                applied,
                receipt,
            } => {
                if applied == Applied::RefundRecorded {
                    tracing::info!(recharge_id = %recharge.recharge_id, event_id = %event.event_id, "refund recorded before its payment");
                }
                match self.wallet.apply_payment(&commit).await? {
                    CommitOutcome::Committed => {
                        if receipt {
                            self.receipt(recharge).await;
                        }
                        Ok(Some(applied))
                    }
                    CommitOutcome::Duplicate => Ok(Some(Applied::AlreadyApplied)),
                    CommitOutcome::Conflict | CommitOutcome::CapExceeded(_) => Ok(None),
                }
            }
        }
    }

    async fn review(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        reason: &'static str,
    ) -> Result<Applied, RetryLater> {
        tracing::warn!(recharge_id = %recharge.recharge_id, event_id = %event.event_id, reason, "provider event held for review, not applied");
        let case = review_case(event, recharge, reason, self.clock.now());
        self.reviews.open_case(&case).await?;
        Ok(Applied::Reviewed(reason))
    }

    async fn receipt(&self, recharge: &Recharge) {
        let Ok(Some(user)) = self.users.user_by_id(&recharge.user_id).await else {
            return;
        };
        let mail = OutgoingEmail {
            to: user.email,
            subject: "Your wallet was recharged".to_string(),
            text: format!(
                "We received your payment of {} (minor units) {} for recharge {}. Thank you.",
                recharge.amount, recharge.currency, recharge.recharge_id
            ),
        };
        if let Err(err) = self.mailer.send(&mail).await {
            tracing::warn!(error = %err, "receipt email not sent");
        }
    }
}
