//! Applying provider events to wallets exactly once: the recharge status
//! change, the ledger entry and the balance are one conditional write, so
//! any number of deliveries or concurrent workers credit once.

use std::sync::Arc;

use serde_json::json;

use super::model::{LedgerEntry, Recharge, RechargeStatus, WalletProfile, RECENT_ENTRIES};
use crate::audit::{chain_after_head, AuditDraft};
use crate::auth::secrets::digest;
use crate::clock::Clock;
use crate::flags::FeatureGuard;
use crate::ports::{
    CommitOutcome, Mailer, OutgoingEmail, PaymentCommit, ReviewStore, StoreError, UserStore,
    WalletStore, WebhookInbox,
};
use crate::review::{CaseKind, CaseStatus, ReviewCase};
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

/// One status change of a recharge and what it moves.
struct Change<'a> {
    new_status: RechargeStatus,
    /// Added to the balance (negative for a refund).
    delta: i64,
    /// The statuses the recharge may still be in.
    expected: &'a [RechargeStatus],
    /// The refunded total that must still be recorded, and its new value.
    refunded: Option<(i64, i64)>,
    /// What applying the event did, once committed.
    outcome: Applied,
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
                .readings(&recharge.user_id, &[], "")
                .await?
                .profile
                .ok_or_else(|| RetryLater("wallet profile missing".into()))?;
            if event.provider != recharge.provider {
                return self.review(event, &recharge, "PROVIDER_MISMATCH").await;
            }
            let step = match event.kind {
                EventKind::PaymentSucceeded => self.credit(event, &recharge, profile).await?,
                EventKind::PaymentFailed => self.mark_failed(event, &recharge, profile).await?,
                EventKind::Refunded => self.refund(event, &recharge, profile).await?,
                EventKind::Other(_) => Some(Applied::Ignored),
            };
            if let Some(done) = step {
                return Ok(done);
            }
        }
        Err(RetryLater("wallet busy".into()))
    }

    /// `None` when the commit lost a race and should be tried again.
    async fn credit(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        profile: WalletProfile,
    ) -> Result<Option<Applied>, RetryLater> {
        match recharge.status {
            RechargeStatus::Credited
            | RechargeStatus::PartiallyRefunded
            | RechargeStatus::Refunded => return Ok(Some(Applied::AlreadyApplied)),
            RechargeStatus::PendingPayment | RechargeStatus::Failed => {}
            _ => {
                return self
                    .review(event, recharge, "PAYMENT_FOR_UNPAYABLE_RECHARGE")
                    .await
                    .map(Some)
            }
        }
        if event.amount != Some(recharge.amount)
            || event.currency.as_deref() != Some(recharge.currency.as_str())
        {
            return self
                .review(event, recharge, "AMOUNT_MISMATCH")
                .await
                .map(Some);
        }
        let refunded_first = recharge.refunded;
        let new_status = if refunded_first == 0 {
            RechargeStatus::Credited
        } else if refunded_first < recharge.amount {
            RechargeStatus::PartiallyRefunded
        } else {
            RechargeStatus::Refunded
        };
        let outcome = self
            .commit(
                event,
                recharge,
                profile,
                Change {
                    new_status,
                    delta: recharge.amount - refunded_first,
                    expected: &[RechargeStatus::PendingPayment, RechargeStatus::Failed],
                    refunded: Some((refunded_first, refunded_first)),
                    outcome: Applied::Credited,
                },
            )
            .await?;
        if outcome == Some(Applied::Credited) && refunded_first == 0 {
            self.receipt(recharge).await;
        }
        Ok(outcome)
    }

    async fn mark_failed(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        profile: WalletProfile,
    ) -> Result<Option<Applied>, RetryLater> {
        if recharge.status != RechargeStatus::PendingPayment {
            return Ok(Some(Applied::AlreadyApplied));
        }
        self.commit(
            event,
            recharge,
            profile,
            Change {
                new_status: RechargeStatus::Failed,
                delta: 0,
                expected: &[RechargeStatus::PendingPayment],
                refunded: None,
                outcome: Applied::MarkedFailed,
            },
        )
        .await
    }

    /// A refund event carries the provider's cumulative refunded total
    /// (Stripe's `amount_refunded`): only what it adds to the recorded total
    /// is debited, so repeated, stale and reordered events debit nothing
    /// more. A refund that arrives before its payment is recorded on the
    /// recharge, and the payment then credits only what was kept. An event
    /// without a readable total is a review case.
    async fn refund(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        profile: WalletProfile,
    ) -> Result<Option<Applied>, RetryLater> {
        let before_payment = match recharge.status {
            RechargeStatus::Credited
            | RechargeStatus::PartiallyRefunded
            | RechargeStatus::Refunded => false,
            RechargeStatus::PendingPayment | RechargeStatus::Failed => true,
            _ => {
                return self
                    .review(event, recharge, "REFUND_OF_UNCREDITED_RECHARGE")
                    .await
                    .map(Some)
            }
        };
        let total = event.amount.unwrap_or(0);
        let currency_matches = event
            .currency
            .as_deref()
            .is_none_or(|c| c == recharge.currency);
        if total <= 0 || total > recharge.amount || !currency_matches {
            return self
                .review(event, recharge, "REFUND_AMOUNT_INVALID")
                .await
                .map(Some);
        }
        if total <= recharge.refunded {
            return Ok(Some(Applied::AlreadyApplied));
        }
        if before_payment {
            tracing::info!(recharge_id = %recharge.recharge_id, event_id = %event.event_id, "refund recorded before its payment");
            return self
                .commit(
                    event,
                    recharge,
                    profile,
                    Change {
                        new_status: recharge.status,
                        delta: 0,
                        expected: &[recharge.status],
                        refunded: Some((recharge.refunded, total)),
                        outcome: Applied::RefundRecorded,
                    },
                )
                .await;
        }
        let debit = total - recharge.refunded;
        let balance = profile
            .balances
            .get(&recharge.currency)
            .copied()
            .unwrap_or(0);
        if balance < debit {
            // The recharge was read before the profile: a refund that landed
            // in between lowered the balance the debit is checked against.
            let again = self.wallet.recharge(&recharge.recharge_id).await?;
            if again.is_none_or(|r| r.refunded != recharge.refunded || r.status != recharge.status)
            {
                return Ok(None);
            }
            return self
                .review(event, recharge, "REFUND_NOT_COVERED")
                .await
                .map(Some);
        }
        let new_status = if total == recharge.amount {
            RechargeStatus::Refunded
        } else {
            RechargeStatus::PartiallyRefunded
        };
        self.commit(
            event,
            recharge,
            profile,
            Change {
                new_status,
                delta: -debit,
                expected: &[RechargeStatus::Credited, RechargeStatus::PartiallyRefunded],
                refunded: Some((recharge.refunded, total)),
                outcome: Applied::Debited,
            },
        )
        .await
    }

    async fn commit(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        mut profile: WalletProfile,
        change: Change<'_>,
    ) -> Result<Option<Applied>, RetryLater> {
        let Change {
            new_status,
            delta,
            expected,
            refunded,
            outcome,
        } = change;
        let now = self.clock.now();
        let expected_audit_seq = profile.audit_seq;
        let entry = (delta != 0).then(|| LedgerEntry {
            entry_id: format!(
                "le_{}",
                &digest("ledger", &format!("{}:{}", event.provider, event.event_id))[..24]
            ),
            recharge_id: recharge.recharge_id.clone(),
            amount: delta,
            currency: recharge.currency.clone(),
            kind: if delta > 0 { "credit" } else { "refund" }.to_string(),
            at: now,
        });
        if let Some(entry) = &entry {
            *profile
                .balances
                .entry(recharge.currency.clone())
                .or_insert(0) += delta;
            profile.recent_entries.insert(0, entry.clone());
            profile.recent_entries.truncate(RECENT_ENTRIES);
        }
        let head = profile.audit_head();
        let audit = chain_after_head(
            &self.audit_keys,
            head,
            AuditDraft {
                actor: format!("provider:{}", event.provider),
                ip: None,
                action: format!(
                    "recharge.{}",
                    match outcome {
                        Applied::Credited => "credit",
                        Applied::Debited => "refund",
                        Applied::RefundRecorded => "refund_before_payment",
                        _ => "payment_failed",
                    }
                ),
                target: format!("recharge:{}", recharge.recharge_id),
                before: Some(json!({ "status": recharge.status })),
                after: Some(json!({
                    "status": new_status,
                    "amount": delta,
                    "refunded": refunded.map(|(_, total)| total),
                    "event_id": event.event_id,
                })),
            },
            now,
        );
        profile.audit_seq = audit.seq;
        profile.audit_hash = Some(audit.hash.clone());
        let commit = PaymentCommit {
            recharge_id: recharge.recharge_id.clone(),
            expected_statuses: expected.to_vec(),
            new_status,
            refunded,
            entry,
            profile,
            expected_audit_seq,
            audit,
        };
        Ok(match self.wallet.apply_payment(&commit).await? {
            CommitOutcome::Committed => Some(outcome),
            CommitOutcome::Duplicate => Some(Applied::AlreadyApplied),
            CommitOutcome::Conflict | CommitOutcome::CapExceeded(_) => None,
        })
    }

    async fn review(
        &self,
        event: &ProviderEvent,
        recharge: &Recharge,
        reason: &'static str,
    ) -> Result<Applied, RetryLater> {
        tracing::warn!(recharge_id = %recharge.recharge_id, event_id = %event.event_id, reason, "provider event held for review, not applied");
        let case = ReviewCase {
            case_id: format!(
                "{}~{}",
                recharge.recharge_id,
                &digest("case", &event.event_id)[..12]
            ),
            kind: CaseKind::PaymentEvent,
            user_id: recharge.user_id.clone(),
            amount: event.amount.unwrap_or(recharge.amount),
            currency: event
                .currency
                .clone()
                .unwrap_or_else(|| recharge.currency.clone()),
            score: 0,
            reasons: vec![reason.to_string()],
            status: CaseStatus::Open,
            opened_at: self.clock.now(),
            notified: false,
            decided_by: None,
            note: None,
        };
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
