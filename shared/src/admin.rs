//! Operators' actions: flag changes with optimistic concurrency, the global
//! emergency switch, account unlocks, and the audit log they all write.
//! Every change and its audit entry are committed together.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::{chain_after, verify_chain, AuditDraft, AuditEntry, ChainReport};
use crate::auth::lockout::lockout_key;
use crate::auth::model::Role;
use crate::auth::Principal;
use crate::clock::Clock;
use crate::flags::{Flag, Snapshot};
use crate::ports::{
    AdminChange, AdminStore, AuditLog, FlagStore, Mailer, OutgoingEmail, ReviewStore, SessionStore,
    StoreError, UserStore,
};
use crate::review::{CaseKind, CaseStatus, ReviewCase};
use crate::validation::FieldIssue;

/// How often a commit is retried when another admin action won the race
/// for the next audit entry.
pub(crate) const COMMIT_ATTEMPTS: usize = 5;
/// Largest audit page.
pub const MAX_AUDIT_PAGE: u32 = 100;
/// The error code of an admin deciding a case about their own account.
pub const SELF_DECISION_FORBIDDEN: &str = "SELF_DECISION_FORBIDDEN";

/// Why an admin action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input")]
    Invalid(Vec<FieldIssue>),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("an admin cannot decide their own case")]
    SelfDecision,
    #[error("dependency unavailable")]
    Unavailable,
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "admin store call failed");
        AdminError::Unavailable
    }
}

/// Who is acting, for the audit entry.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub ip: Option<String>,
}

/// A page of audit entries, newest first, with the cursor for the next page.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// The ports the admin actions use.
#[derive(Clone)]
pub struct AdminPorts {
    pub flags: Arc<dyn FlagStore>,
    pub audit: Arc<dyn AuditLog>,
    pub store: Arc<dyn AdminStore>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub reviews: Arc<dyn ReviewStore>,
    pub mailer: Arc<dyn Mailer>,
    pub kyc: crate::kyc::desk::KycDesk,
    /// Signs admin and KYC audit entries and verifies the chain.
    pub audit_keys: Arc<crate::audit::AuditKeys>,
}

/// Operators' actions over their ports.
pub struct AdminService {
    ports: AdminPorts,
    clock: Arc<dyn Clock>,
}

impl AdminService {
    pub fn new(ports: AdminPorts, clock: Arc<dyn Clock>) -> Self {
        Self { ports, clock }
    }

    pub(crate) fn ports(&self) -> &AdminPorts {
        &self.ports
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Admits an admin signed in with TOTP whose session is still live (the
    /// token's device and IP pinning are checked by the access guard first).
    pub async fn admit(&self, principal: &Principal) -> Result<Actor, AdminError> {
        if principal.role != Role::Admin {
            return Err(AdminError::Forbidden("ADMIN_REQUIRED"));
        }
        if !principal.amr.iter().any(|m| m == "otp") {
            return Err(AdminError::Forbidden("TOTP_REQUIRED"));
        }
        let session = self.ports.sessions.session(&principal.sid).await?;
        let live = session.is_some_and(|s| {
            !s.revoked && s.expires_at > self.clock.now() && s.user_id == principal.sub
        });
        if !live {
            return Err(AdminError::Forbidden("SESSION_REVOKED"));
        }
        Ok(Actor {
            user_id: principal.sub.clone(),
            ip: principal.ip.clone(),
        })
    }

    /// The current snapshot, read from the store (never cached).
    pub async fn snapshot(&self) -> Result<Snapshot, AdminError> {
        Ok(self.ports.flags.load_snapshot().await?.unwrap_or_default())
    }

    pub async fn flag(&self, key: &str) -> Result<Flag, AdminError> {
        self.snapshot()
            .await?
            .flag(key)
            .cloned()
            .ok_or(AdminError::NotFound)
    }

    /// Adds a new flag at version 1.
    pub async fn create_flag(&self, actor: &Actor, mut flag: Flag) -> Result<Flag, AdminError> {
        invalid_if_any(flag.problems())?;
        flag.version = 1;
        let created = flag.clone();
        self.change_snapshot(
            actor,
            "flag.create",
            &format!("flag:{}", flag.key),
            |snap| {
                if snap.flag(&flag.key).is_some() {
                    return Err(AdminError::Conflict("FLAG_EXISTS"));
                }
                snap.flags.push(flag.clone());
                Ok((None, Some(json!(flag))))
            },
        )
        .await?;
        Ok(created)
    }

    /// Replaces flag `key`, only if it is still at `expected_version`.
    pub async fn update_flag(
        &self,
        actor: &Actor,
        key: &str,
        mut flag: Flag,
        expected_version: u64,
    ) -> Result<Flag, AdminError> {
        if flag.key != key {
            return Err(AdminError::Invalid(vec![FieldIssue::new(
                "key",
                "must match the flag in the path",
            )]));
        }
        invalid_if_any(flag.problems())?;
        let mut updated = None;
        self.change_snapshot(actor, "flag.update", &format!("flag:{key}"), |snap| {
            let current = snap
                .flags
                .iter_mut()
                .find(|f| f.key == key)
                .ok_or(AdminError::NotFound)?;
            if current.version != expected_version {
                return Err(AdminError::Conflict("STALE_VERSION"));
            }
            let before = json!(current);
            flag.version = expected_version + 1;
            *current = flag.clone();
            updated = Some(flag.clone());
            Ok((Some(before), Some(json!(flag))))
        })
        .await?;
        updated.ok_or(AdminError::Unavailable)
    }

    /// Removes flag `key`, only if it is still at `expected_version`.
    pub async fn delete_flag(
        &self,
        actor: &Actor,
        key: &str,
        expected_version: u64,
    ) -> Result<(), AdminError> {
        self.change_snapshot(actor, "flag.delete", &format!("flag:{key}"), |snap| {
            let index = snap
                .flags
                .iter()
                .position(|f| f.key == key)
                .ok_or(AdminError::NotFound)?;
            if snap.flags[index].version != expected_version {
                return Err(AdminError::Conflict("STALE_VERSION"));
            }
            let removed = snap.flags.remove(index);
            Ok((Some(json!(removed)), None))
        })
        .await
    }

    /// Turns the global emergency switch on (every kill-switch feature off) or off.
    pub async fn set_emergency(
        &self,
        actor: &Actor,
        on: bool,
        reason: &str,
    ) -> Result<Snapshot, AdminError> {
        let action = if on {
            "emergency.disable"
        } else {
            "emergency.restore"
        };
        let mut result = None;
        self.change_snapshot(actor, action, "flags:emergency", |snap| {
            let before = json!({ "emergency": snap.emergency });
            snap.emergency = on;
            result = Some(snap.clone());
            Ok((
                Some(before),
                Some(json!({ "emergency": on, "reason": reason })),
            ))
        })
        .await?;
        result.ok_or(AdminError::Unavailable)
    }

    /// Clears the failure count and lock of account `user_id`.
    pub async fn unlock_user(&self, actor: &Actor, user_id: &str) -> Result<(), AdminError> {
        let user = self
            .ports
            .users
            .user_by_id(user_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let change = AdminChange::ClearLockout {
            key: lockout_key(&user.email),
        };
        self.commit_with_audit(&change, || AuditDraft {
            actor: actor.user_id.clone(),
            ip: actor.ip.clone(),
            action: "user.unlock".to_string(),
            target: format!("user:{user_id}"),
            before: None,
            after: None,
        })
        .await
    }

    /// Up to `limit` review cases with `status`, oldest first.
    pub async fn reviews(
        &self,
        status: CaseStatus,
        limit: u32,
    ) -> Result<Vec<ReviewCase>, AdminError> {
        Ok(self
            .ports
            .reviews
            .cases(status, limit.clamp(1, MAX_AUDIT_PAGE))
            .await?)
    }

    /// Decides an open case once. For a held recharge, approve lets it go
    /// on to payment and reject cancels it and emails the user; for a
    /// payment-event case the decision only records the reviewer's
    /// conclusion (money differences are settled outside the wallet).
    pub async fn decide_review(
        &self,
        actor: &Actor,
        case_id: &str,
        approve: bool,
        note: &str,
    ) -> Result<ReviewCase, AdminError> {
        let case = self
            .ports
            .reviews
            .case(case_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let decision = if approve { "approve" } else { "reject" };
        let target = format!("recharge:{case_id}");
        self.refuse_own_case(actor, &case.user_id, "review", &target, decision)
            .await?;
        if case.status != CaseStatus::Open {
            return Err(AdminError::Conflict("CASE_ALREADY_DECIDED"));
        }
        let change = AdminChange::DecideReview {
            case_id: case_id.to_string(),
            releases_recharge: case.kind == CaseKind::HeldRecharge,
            approve,
            decided_by: actor.user_id.clone(),
            note: note.to_string(),
        };
        for _ in 0..COMMIT_ATTEMPTS {
            let draft = AuditDraft {
                actor: actor.user_id.clone(),
                ip: actor.ip.clone(),
                action: format!("review.{decision}"),
                target: target.clone(),
                before: Some(json!({ "status": "open" })),
                after: Some(json!({ "status": decision, "note": note })),
            };
            match self.try_commit(&change, draft).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => {
                    let now_case = self.ports.reviews.case(case_id).await?;
                    if now_case.is_none_or(|c| c.status != CaseStatus::Open) {
                        return Err(AdminError::Conflict("CASE_ALREADY_DECIDED"));
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        let decided = self
            .ports
            .reviews
            .case(case_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        if decided.status == CaseStatus::Open {
            return Err(AdminError::Conflict("BUSY"));
        }
        if !approve && case.kind == CaseKind::HeldRecharge {
            if let Some(user) = self.ports.users.user_by_id(&case.user_id).await? {
                let mail = OutgoingEmail {
                    to: user.email,
                    subject: "Your recharge was cancelled".to_string(),
                    text: "A recharge on your wallet could not be accepted after review and has been cancelled. No money was taken.".to_string(),
                };
                if let Err(err) = self.ports.mailer.send(&mail).await {
                    tracing::warn!(error = %err, "rejection email not sent");
                }
            }
        }
        Ok(decided)
    }

    /// Up to `limit` entries older than `before`, newest first.
    pub async fn audit_page(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, AdminError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let entries = self.ports.audit.page(before, limit).await?;
        let next_before = (entries.len() as u32 == limit)
            .then(|| entries.last().map(|e| e.seq))
            .flatten()
            .filter(|seq| *seq > 1);
        Ok(AuditPage {
            entries,
            next_before,
        })
    }

    /// Whether the whole audit chain is intact.
    pub async fn verify_audit(&self) -> Result<ChainReport, AdminError> {
        Ok(verify_chain(
            &self.ports.audit_keys,
            &self.ports.audit.all().await?,
        ))
    }

    /// Reads the snapshot, lets `edit` change it (returning the before and
    /// after values to audit), and commits it with its audit entry; retried
    /// when another action committed first.
    async fn change_snapshot<F>(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        mut edit: F,
    ) -> Result<(), AdminError>
    where
        F: FnMut(&mut Snapshot) -> Result<(Option<Value>, Option<Value>), AdminError>,
    {
        for _ in 0..COMMIT_ATTEMPTS {
            let mut snapshot = self.snapshot().await?;
            let expected_version = snapshot.version;
            let (before, after) = edit(&mut snapshot)?;
            snapshot.version = expected_version + 1;
            let change = AdminChange::SaveSnapshot {
                snapshot,
                expected_version,
            };
            let draft = AuditDraft {
                actor: actor.user_id.clone(),
                ip: actor.ip.clone(),
                action: action.to_string(),
                target: target.to_string(),
                before,
                after,
            };
            match self.try_commit(&change, draft).await {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(AdminError::from),
            }
        }
        Err(AdminError::Conflict("BUSY"))
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
            actor: actor.user_id.clone(),
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

    pub(crate) async fn try_commit(
        &self,
        change: &AdminChange,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let head = self.ports.audit.head().await?;
        let entry = chain_after(
            &self.ports.audit_keys,
            head.as_ref(),
            draft,
            self.clock.now(),
        );
        self.ports.store.commit(change, &entry).await?;
        tracing::info!(action = %entry.action, target = %entry.target, seq = entry.seq, "admin action audited");
        Ok(())
    }
}

fn invalid_if_any(problems: Vec<FieldIssue>) -> Result<(), AdminError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(problems))
    }
}
