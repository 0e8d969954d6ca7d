//! Account unlocks and sign-outs: an admin clears a locked account's
//! failures and lock, or ends every session of an account.

use std::sync::Arc;

use super::actor::Actor;
use super::commit::AuditedCommits;
use super::AdminError;
use crate::audit::AuditDraft;
use crate::auth::lockout::lockout_key;
use crate::ports::{AdminChange, UserStore};

/// Lifts account lockouts.
pub struct UserUnlocks {
    users: Arc<dyn UserStore>,
    commits: AuditedCommits,
}

impl UserUnlocks {
    /// Accounts found in `users`, unlocked through `commits`.
    pub fn new(users: Arc<dyn UserStore>, commits: AuditedCommits) -> Self {
        Self { users, commits }
    }

    /// Clears the failure count and lock of account `user_id`.
    pub async fn unlock_user(&self, actor: &Actor, user_id: &str) -> Result<(), AdminError> {
        let user = self
            .users
            .user_by_id(user_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let change = AdminChange::ClearLockout {
            key: lockout_key(&user.email),
        };
        self.commits
            .commit_with_audit(&change, || AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: "user.unlock".to_string(),
                target: format!("user:{user_id}"),
                before: None,
                after: None,
            })
            .await
    }

    /// Ends every session of account `user_id` at once (its session epoch
    /// is raised), audited as `user.sessions_end`.
    pub async fn end_sessions(&self, actor: &Actor, user_id: &str) -> Result<(), AdminError> {
        for _ in 0..super::commit::COMMIT_ATTEMPTS {
            let user = self
                .users
                .user_by_id(user_id)
                .await?
                .ok_or(AdminError::NotFound)?;
            let change = AdminChange::EndSessions {
                email: user.email.clone(),
                user_id: user.user_id.clone(),
                epoch: user.session_epoch,
            };
            let draft = AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: "user.sessions_end".to_string(),
                target: format!("user:{user_id}"),
                before: Some(serde_json::json!({ "session_epoch": user.session_epoch })),
                after: Some(serde_json::json!({ "session_epoch": user.session_epoch + 1 })),
            };
            match self.commits.try_commit(&change, draft).await {
                Err(crate::ports::StoreError::Conflict) => continue,
                other => return other.map_err(AdminError::from),
            }
        }
        Err(AdminError::Conflict("BUSY"))
    }
}
