//! A signed-in user's sessions: listing them, ending one, ending every
//! other one, and changing the password (which ends every other one too).
//! Ending "every other" raises the account's session epoch, which ends
//! every session in one write, and starts a fresh session for the asking
//! device in the same write: the answer carries its tokens.

use serde::Serialize;

use super::access::Principal;
use super::error::AuthError;
use super::mfa::Presented;
use super::model::{SecondFactor, Session, SessionsEnd, UserRecord};
use super::password::check_password_policy;
use super::service::{AuthService, Caller, TokenPair};
use crate::ports::{OutgoingEmail, StoreError};
use crate::validation::FieldIssue;

/// One session as its owner sees it. The device is named by the last
/// characters of its id only: the whole id binds refresh tokens to the
/// device and marks it known at sign-in, so it is not handed to whoever
/// holds one access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    pub session_id: String,
    pub device_hint: String,
    pub created_at: i64,
    /// The last sign-in or refresh.
    pub last_used_at: i64,
    pub expires_at: i64,
    /// Whether the asking token belongs to it.
    pub current: bool,
}

/// A password change as submitted.
#[derive(Debug, Clone)]
pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
    pub totp_code: Option<&'a str>,
    pub backup_code: Option<&'a str>,
}

/// The last four characters of a device id, after an ellipsis.
pub fn device_hint(device_id: &str) -> String {
    let tail: String = device_id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

impl AuthService {
    /// The caller's sessions that still stand, newest first.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<SessionSummary>, AuthError> {
        let current = self.live_session(principal).await?;
        let now = self.clock.now();
        Ok(self
            .ports
            .sessions
            .sessions_of(&principal.sub)
            .await?
            .into_iter()
            .filter(|s| !s.revoked && s.expires_at > now && s.epoch == current.epoch)
            .map(|s| SessionSummary {
                current: s.session_id == current.session_id,
                device_hint: device_hint(&s.device_id),
                session_id: s.session_id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Ends one of the caller's sessions (the current one too, like logout);
    /// another account's session reads as not found.
    pub async fn revoke_own_session(
        &self,
        principal: &Principal,
        session_id: &str,
    ) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        let owned = self
            .ports
            .sessions
            .session(session_id)
            .await?
            .is_some_and(|s| s.user_id == *principal.sub);
        if !owned {
            return Err(AuthError::NotFound);
        }
        self.ports.sessions.revoke_session(session_id).await?;
        tracing::info!(session_id, "session revoked by its owner");
        Ok(())
    }

    /// Ends every session of the caller's account and starts a fresh one on
    /// the caller's device, whose tokens are answered.
    pub async fn revoke_other_sessions(
        &self,
        principal: &Principal,
        caller: &Caller<'_>,
    ) -> Result<TokenPair, AuthError> {
        let asking = self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let pair = self
            .restart_sessions(&user, &asking, principal, caller, None, None)
            .await?;
        tracing::info!("every other session ended by the owner");
        Ok(pair)
    }

    /// Changes the password with the current one (and a TOTP code when
    /// enrolled): every other session ends, a fresh session for the
    /// caller's device is answered, and the owner is emailed. A wrong
    /// password counts towards the lockout like a failed sign-in.
    pub async fn change_password(
        &self,
        principal: &Principal,
        change: &PasswordChange<'_>,
        caller: &Caller<'_>,
    ) -> Result<TokenPair, AuthError> {
        let asking = self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        check_password_policy(change.new_password, &user.email)
            .map_err(|issue| AuthError::Invalid(vec![issue]))?;
        if change.current_password.len() > 1024 {
            return Err(AuthError::Invalid(vec![FieldIssue::new(
                "current_password",
                "must have between 1 and 1024 bytes",
            )]));
        }
        let presented = Presented {
            totp_code: change.totp_code,
            backup_code: change.backup_code,
        };
        let factor = self
            .reauthenticate(&user, caller, change.current_password, &presented)
            .await?;
        let hash = self.passwords.hash(change.new_password);
        let pair = self
            .restart_sessions(&user, &asking, principal, caller, Some(hash), factor)
            .await?;
        tracing::info!("password changed: every other session ended");
        self.send_best_effort(&OutgoingEmail {
            to: user.email.clone(),
            subject: format!("{}: your password was changed", self.policy.product_name),
            text: format!(
                "The password of your account was just changed and every other device was \
                 signed out. If this was not you, reset your password at once ({}) and \
                 contact support.",
                super::recovery::RESET_ROUTE
            ),
        })
        .await;
        Ok(pair)
    }

    /// Raises the epoch (every session ends) and starts the asking session
    /// again under the new epoch on the caller's device, in one write, only
    /// while the asking session still stands. The new session keeps the
    /// asking one's sign-in time, methods and absolute end: ending other
    /// sessions never lengthens a session or refreshes its second factor.
    async fn restart_sessions(
        &self,
        user: &UserRecord,
        asking: &Session,
        principal: &Principal,
        caller: &Caller<'_>,
        password_hash: Option<String>,
        factor: Option<SecondFactor>,
    ) -> Result<TokenPair, AuthError> {
        let spends_factor = factor.is_some();
        if user.session_epoch != asking.epoch {
            return Err(AuthError::SessionRevoked);
        }
        let now = self.clock.now();
        let next = asking.epoch + 1;
        let mut fresh = self.fresh_session(user, caller, principal.amr.clone(), next, now);
        fresh.session.created_at = asking.created_at;
        fresh.session.expires_at = asking.expires_at;
        fresh.token.expires_at = asking.expires_at;
        let end = SessionsEnd {
            email: user.email.clone(),
            user_id: user.user_id.clone(),
            epoch: asking.epoch,
            asking_session: Some(asking.session_id.clone()),
            password_hash,
            factor,
            restart: Some((fresh.session, fresh.token.clone())),
        };
        match self.ports.sessions.end_sessions(&end).await {
            Ok(()) => Ok(self.token_pair(&fresh.token, fresh.refresh_token, now, None)),
            Err(StoreError::Conflict) if spends_factor => Err(AuthError::TotpInvalid),
            Err(StoreError::Conflict) => Err(AuthError::SessionRevoked),
            Err(other) => Err(other.into()),
        }
    }
}
