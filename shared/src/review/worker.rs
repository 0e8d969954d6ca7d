//! The review worker: opens a case per held recharge from the queue (once,
//! whatever the deliveries) and emails the reviewers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::model::{CaseKind, CaseStatus, ReviewCase};
use crate::ports::{MailError, Mailer, OutgoingEmail, ReviewStore, StoreError, WalletStore};
use crate::wallet::model::RechargeStatus;

/// The review queue's message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewMessage {
    pub recharge_id: String,
    pub user_id: String,
}

/// Why one message could not be handled (it stays on the queue).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("malformed message")]
    Malformed,
    #[error("recharge {0} is not held for review")]
    NotHeld(String),
    #[error("dependency failed: {0}")]
    Dependency(String),
}

impl From<StoreError> for ReviewError {
    fn from(err: StoreError) -> Self {
        ReviewError::Dependency(err.to_string())
    }
}

impl From<MailError> for ReviewError {
    fn from(err: MailError) -> Self {
        ReviewError::Dependency(err.to_string())
    }
}

/// The delivery at which a message whose case is open stops waiting for the
/// mail service to recover (the review queue sends a message to its
/// dead-letter queue after 8): the case stays open in the admin console and
/// the failure is counted (`ReviewNotifyFailed`).
pub const NOTIFY_ATTEMPTS: u32 = 6;

/// From delivery `NOTIFY_ATTEMPTS` on, how long the worker waits for mail
/// before acknowledging the message anyway.
const LAST_NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens cases from queue messages and tells the reviewers.
pub struct ReviewWorker {
    pub reviews: Arc<dyn ReviewStore>,
    pub wallet: Arc<dyn WalletStore>,
    pub mailer: Arc<dyn Mailer>,
    pub reviewers: Vec<String>,
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl ReviewWorker {
    /// Handles one message body at its `receives`-th delivery: opens the
    /// case once, then emails the reviewers, marking it notified once one
    /// was told. A failure leaves the message to be retried, except email
    /// that cannot reach the reviewers: an address SES refuses is skipped,
    /// and from delivery `NOTIFY_ATTEMPTS` mail gets one short try and is
    /// then given up on, so a review never goes to the dead-letter queue
    /// because of email.
    pub async fn handle(&self, body: &str, receives: u32) -> Result<(), ReviewError> {
        let message: ReviewMessage =
            serde_json::from_str(body).map_err(|_| ReviewError::Malformed)?;
        let recharge = self
            .wallet
            .recharge(&message.recharge_id)
            .await?
            .filter(|r| r.user_id == message.user_id)
            .ok_or_else(|| ReviewError::NotHeld(message.recharge_id.clone()))?;
        let case = ReviewCase {
            case_id: recharge.recharge_id.clone(),
            kind: CaseKind::HeldRecharge,
            user_id: recharge.user_id.clone(),
            amount: recharge.amount,
            currency: recharge.currency.clone(),
            score: recharge.score,
            reasons: recharge.reasons.clone(),
            status: CaseStatus::Open,
            opened_at: self.clock.now(),
            notified: false,
            decided_by: None,
            note: None,
        };
        if recharge.status != RechargeStatus::PendingReview {
            let existing = self.reviews.case(&case.case_id).await?;
            if existing.is_none() {
                return Err(ReviewError::NotHeld(message.recharge_id));
            }
        }
        self.reviews.open_case(&case).await?;
        let stored = self
            .reviews
            .case(&case.case_id)
            .await?
            .ok_or_else(|| ReviewError::Dependency("case vanished".into()))?;
        if !stored.notified {
            let told = if receives < NOTIFY_ATTEMPTS {
                self.notify(&stored).await?
            } else {
                tokio::time::timeout(LAST_NOTIFY_WAIT, self.notify(&stored))
                    .await
                    .unwrap_or_else(|_| Err(MailError::Unavailable("timeout".into())))
                    .unwrap_or_else(|err| {
                        tracing::error!(case_id = %stored.case_id, receives, error = %err, "mail still failing: the worker stops waiting for it");
                        0
                    })
            };
            if told > 0 {
                self.reviews.mark_notified(&stored.case_id).await?;
            } else {
                crate::metrics::count(crate::metrics::Event::ReviewNotifyFailed);
                tracing::error!(case_id = %stored.case_id, "no reviewer was emailed; the case stays open, not notified, in the admin console");
            }
        }
        tracing::info!(case_id = %stored.case_id, "review case open");
        Ok(())
    }

    /// Emails every reviewer about `case` and answers how many were told;
    /// an address SES refuses is logged (by its position in
    /// `REVIEWER_EMAILS`), counted and skipped.
    async fn notify(&self, case: &ReviewCase) -> Result<usize, MailError> {
        let mut told = 0;
        for (position, reviewer) in self.reviewers.iter().enumerate() {
            let sent = self
                .mailer
                .send(&OutgoingEmail {
                    to: reviewer.clone(),
                    subject: format!("Recharge {} held for review", case.case_id),
                    text: format!(
                        "Amount: {} {} (minor units)\nReasons: {}\nDecide in the admin console.",
                        case.amount,
                        case.currency,
                        case.reasons.join(", ")
                    ),
                })
                .await;
            match sent {
                Ok(()) => told += 1,
                Err(MailError::Refused(reason)) => {
                    crate::metrics::count(crate::metrics::Event::ReviewNotifyFailed);
                    tracing::warn!(case_id = %case.case_id, reviewer = position, reason = %reason, "reviewer address refused by the mail service; check REVIEWER_EMAILS (and, in the SES sandbox, verify it)");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(told)
    }
}
