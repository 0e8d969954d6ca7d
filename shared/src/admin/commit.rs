//! Admin changes committed together with the next entry of the audit chain,
//! retried when another action took that entry first.

use std::sync::Arc;

use serde_json::json;

use super::actor::Actor;
use super::{AdminError, SELF_DECISION_FORBIDDEN};
use crate::audit::{chain_after, AuditDraft, AuditKeys};
use crate::clock::Clock;
use crate::ports::{AdminChange, AdminStore, AuditLog, StoreError};

/// How often a commit is retried when another admin action won the race
/// for the next audit entry.
pub(crate) const COMMIT_ATTEMPTS: usize = 5;

/// Commits admin changes, each with its audit entry, in one write.
#[derive(Clone)]
pub struct AuditedCommits {
    audit: Arc<dyn AuditLog>,
    store: Arc<dyn AdminStore>,
    keys: Arc<AuditKeys>,
    clock: Arc<dyn Clock>,
}

impl AuditedCommits {
    /// Chains entries after the head of `audit`, signed with `keys`, and
    /// commits them through `store`.
    pub fn new(
        audit: Arc<dyn AuditLog>,
        store: Arc<dyn AdminStore>,
        keys: Arc<AuditKeys>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            audit,
            store,
            keys,
            clock,
        }
    }

    /// The current time, as the entries are stamped with it.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The keys the entries are signed with.
    pub(crate) fn keys(&self) -> &AuditKeys {
        &self.keys
    }

    /// Commits `change` with the entry `draft` describes, retried while
    /// another action wins the race for the next entry.
    pub(crate) async fn commit_with_audit<D>(
        &self,
        change: &AdminChange,
        draft: D,
    ) -> Result<(), AdminError>
    where
        D: Fn() -> AuditDraft,
    {
        for _ in 0..COMMIT_ATTEMPTS {
            match self.try_commit(change, draft()).await {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(AdminError::from),
            }
        }
        Err(AdminError::Conflict("BUSY"))
    }

    /// One attempt: chains `draft` after the current head and commits it
    /// with `change`; `Conflict` when the change's condition failed or the
    /// entry's place was taken.
    pub(crate) async fn try_commit(
        &self,
        change: &AdminChange,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let head = self.audit.head().await?;
        let entry = chain_after(&self.keys, head.as_ref(), draft, self.clock.now());
        self.store.commit(change, &entry).await?;
        tracing::info!(action = %entry.action, target = %entry.target, seq = entry.seq, "admin action audited");
        Ok(())
    }

    /// Separation of duties: when the case at `target` is about the acting
    /// admin's own account (`subject`), records the refused attempt in the
    /// audit chain and refuses it; another admin must decide.
    pub(crate) async fn refuse_own_case(
        &self,
        actor: &Actor,
        subject: &str,
        area: &str,
        target: &str,
        decision: &str,
    ) -> Result<(), AdminError> {
        if actor.user_id != subject {
            return Ok(());
        }
        tracing::warn!(admin = %actor.user_id, target, "admin refused a decision about their own account");
        let draft = || AuditDraft {
            actor: actor.user_id.to_string(),
            ip: actor.ip.clone(),
            action: format!("{area}.self_decision_refused"),
            target: target.to_string(),
            before: None,
            after: Some(json!({ "refused": SELF_DECISION_FORBIDDEN, "decision": decision })),
        };
        self.commit_with_audit(&AdminChange::RecordOnly, draft)
            .await?;
        Err(AdminError::SelfDecision)
    }
}
