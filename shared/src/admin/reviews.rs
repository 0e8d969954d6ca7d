//! The review desk: fraud review cases listed and decided once, by an admin
//! other than the one the case is about.

use std::sync::Arc;

use serde_json::json;

use super::actor::Actor;
use super::commit::{AuditedCommits, COMMIT_ATTEMPTS};
use super::{AdminError, MAX_AUDIT_PAGE};
use crate::audit::AuditDraft;
use crate::ports::{AdminChange, Mailer, OutgoingEmail, ReviewStore, StoreError, UserStore};
use crate::review::model::{CaseKind, CaseStatus, ReviewCase};

/// Lists and decides review cases.
pub struct ReviewDesk {
    reviews: Arc<dyn ReviewStore>,
    users: Arc<dyn UserStore>,
    mailer: Arc<dyn Mailer>,
    commits: AuditedCommits,
}

impl ReviewDesk {
    /// Cases in `reviews`, decided through `commits`; a user whose held
    /// recharge is rejected (found in `users`) is told through `mailer`.
    pub fn new(
        reviews: Arc<dyn ReviewStore>,
        users: Arc<dyn UserStore>,
        mailer: Arc<dyn Mailer>,
        commits: AuditedCommits,
    ) -> Self {
        Self {
            reviews,
            users,
            mailer,
            commits,
        }
    }

    /// Up to `limit` review cases with `status`, oldest first.
    pub async fn cases(
        &self,
        status: CaseStatus,
        limit: u32,
    ) -> Result<Vec<ReviewCase>, AdminError> {
        Ok(self
            .reviews
            .cases(status, limit.clamp(1, MAX_AUDIT_PAGE))
            .await?)
    }

    /// Decides an open case once. For a held recharge, approve lets it go
    /// on to payment and reject cancels it and emails the user; for a
    /// payment-event case the decision only records the reviewer's
    /// conclusion (money differences are settled outside the wallet).
    pub async fn decide(
        &self,
        actor: &Actor,
        case_id: &str,
        approve: bool,
        note: &str,
    ) -> Result<ReviewCase, AdminError> {
        let case = self
            .reviews
            .case(case_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let decision = if approve { "approve" } else { "reject" };
        let target = format!("recharge:{case_id}");
        self.commits
            .refuse_own_case(actor, &case.user_id, "review", &target, decision)
            .await?;
        if case.status != CaseStatus::Open {
            return Err(AdminError::Conflict("CASE_ALREADY_DECIDED"));
        }
        let change = AdminChange::DecideReview {
            case_id: case_id.to_string(),
            releases_recharge: case.kind == CaseKind::HeldRecharge,
            approve,
            decided_by: actor.user_id.to_string(),
            note: note.to_string(),
        };
        for _ in 0..COMMIT_ATTEMPTS {
            let draft = AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: format!("review.{decision}"),
                target: target.clone(),
                before: Some(json!({ "status": "open" })),
                after: Some(json!({ "status": decision, "note": note })),
            };
            match self.commits.try_commit(&change, draft).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => {
                    let now_case = self.reviews.case(case_id).await?;
                    if now_case.is_none_or(|c| c.status != CaseStatus::Open) {
                        return Err(AdminError::Conflict("CASE_ALREADY_DECIDED"));
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        let decided = self
            .reviews
            .case(case_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        if decided.status == CaseStatus::Open {
            return Err(AdminError::Conflict("BUSY"));
        }
        if !approve && case.kind == CaseKind::HeldRecharge {
            self.email_cancellation(&case.user_id).await?;
        }
        Ok(decided)
    }

    /// Tells `user_id` their held recharge was cancelled; a mail failure is
    /// logged (the decision stands).
    async fn email_cancellation(&self, user_id: &str) -> Result<(), AdminError> {
        let Some(user) = self.users.user_by_id(user_id).await? else {
            return Ok(());
        };
        let mail = OutgoingEmail {
            to: user.email,
            subject: "Your recharge was cancelled".to_string(),
            text: "A recharge on your wallet could not be accepted after review and has been cancelled. No money was taken.".to_string(),
        };
        if let Err(err) = self.mailer.send(&mail).await {
            tracing::warn!(error = %err, "rejection email not sent");
        }
        Ok(())
    }
}
