//! Account unlocks and sign-outs: an admin clears a locked account's
//! failures and lock, or ends every session of an account.

use std::sync::Arc;

use super::actor::Actor;
use super::commit::AuditedCommits;
use super::AdminError;
use crate::audit::AuditDraft;
use crate::auth::lockout::lockout_key;
use crate::ports::{AdminChange, Mailer, OutgoingEmail, UserStore};

/// Lifts account lockouts, ends sessions, resets second factors.
pub struct UserUnlocks {
    users: Arc<dyn UserStore>,
    mailer: Arc<dyn Mailer>,
    commits: AuditedCommits,
}

impl UserUnlocks {
    /// Accounts found in `users`, changed through `commits`, notified
    /// through `mailer`.
    pub fn new(
        users: Arc<dyn UserStore>,
        mailer: Arc<dyn Mailer>,
        commits: AuditedCommits,
    ) -> Self {
        Self {
            users,
            mailer,
            commits,
        }
    }

    /// Removes the TOTP enrolment and backup codes of account `user_id`
    /// (a lost authenticator), audited as `user.totp_reset`; the account
    /// and the acting admin are both emailed. An admin cannot reset their
    /// own: that attempt is audited and refused.
    pub async fn reset_totp(&self, actor: &Actor, user_id: &str) -> Result<(), AdminError> {
        let target = format!("user:{user_id}");
        self.commits
            .refuse_own_case(actor, user_id, "user", &target, "totp_reset")
            .await?;
        let user = self
            .users
            .user_by_id(user_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let change = AdminChange::ResetTotp {
            email: user.email.clone(),
            user_id: user.user_id.clone(),
        };
        let enrolled = user.totp.secret.is_some();
        self.commits
            .commit_with_audit(&change, || AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: "user.totp_reset".to_string(),
                target: target.clone(),
                before: Some(serde_json::json!({ "totp_enabled": enrolled })),
                after: Some(serde_json::json!({ "totp_enabled": false })),
            })
            .await?;
        let notices = [
            (
                Some(user.email.clone()),
                "Two-step sign-in on your account was reset by an administrator. Sign in with \
                 your password and turn it on again. If you did not ask for this, reset your \
                 password at once and contact support.",
            ),
            (
                self.users
                    .user_by_id(&actor.user_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|admin| admin.email),
                "You reset the two-step sign-in of an account (see the audit log, action \
                 user.totp_reset).",
            ),
        ];
        for (to, text) in notices {
            let Some(to) = to else { continue };
            let mail = OutgoingEmail {
                to,
                subject: "Two-step sign-in reset".to_string(),
                text: text.to_string(),
            };
            if let Err(err) = self.mailer.send(&mail).await {
                tracing::warn!(error = %err, "TOTP reset notice not sent");
            }
        }
        Ok(())
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
