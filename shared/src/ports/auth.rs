//! Accounts, sessions and sign-in attempt counters.

use async_trait::async_trait;

use super::error::StoreError;
use crate::auth::model::{
    AccountAttempt, AccountErasure, AccountStanding, AttemptOutcome, LockoutState, OneTimeToken,
    PasswordReset, RefreshRecord, Role, SecondFactor, Session, SessionStart, SessionsEnd,
    UserRecord,
};
use crate::ratelimit::WindowSlot;

/// Accounts, keyed by normalised email, also reachable by user id.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the account; `AlreadyExists` if the email is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// `NotFound` if there is no such account.
    async fn set_role(&self, email: &str, role: Role) -> Result<(), StoreError>;
    /// Stores a pending TOTP secret; `Conflict` if TOTP is already confirmed.
    async fn set_pending_totp(&self, email: &str, secret: &str) -> Result<(), StoreError>;
    /// Promotes `pending` to the confirmed secret, records `step` as used,
    /// stores the backup codes' hashes and marks the standing of account
    /// `user_id` as having a second factor; `Conflict` if the pending secret
    /// changed meanwhile.
    async fn confirm_totp(
        &self,
        email: &str,
        user_id: &str,
        pending: &str,
        step: u64,
        backup_codes: &[String],
    ) -> Result<(), StoreError>;
    /// Spends a second factor (a TOTP step newer than the last used, or an
    /// unused backup code); `Conflict` if it was used.
    async fn spend_second_factor(
        &self,
        email: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError>;
    /// Replaces the backup codes with `codes`, spending TOTP step `step`;
    /// `Conflict` if the step was used or no TOTP is confirmed.
    async fn replace_backup_codes(
        &self,
        email: &str,
        step: u64,
        codes: &[String],
    ) -> Result<(), StoreError>;
    /// Removes the TOTP enrolment (secret, pending secret, backup codes) of
    /// account `user_id` and its standing's second factor, spending `factor`
    /// in the same write; `Conflict` if it was used.
    async fn remove_totp(
        &self,
        email: &str,
        user_id: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError>;
    /// Stores `token` and makes it the account's current token of its
    /// purpose (an older one stops working); `NotFound` if the account at
    /// `token.email` is gone or is not `token.user_id`'s.
    async fn issue_token(&self, token: &OneTimeToken) -> Result<(), StoreError>;
    /// The stored token under `token_hash`, spent or not yet.
    async fn one_time_token(&self, token_hash: &str) -> Result<Option<OneTimeToken>, StoreError>;
    /// Spends a verification token and marks the address verified, at once;
    /// `Conflict` unless the token is still stored and current.
    async fn confirm_email(&self, token: &OneTimeToken) -> Result<(), StoreError>;
    /// Spends a verification token of an address change (`token.new_email`)
    /// and moves the account to the new, verified address, at once;
    /// `AlreadyExists` if the new address has an account, `Conflict` unless
    /// the token is still stored and current.
    async fn change_email(&self, token: &OneTimeToken) -> Result<(), StoreError>;
    /// Deletes the account (see [`AccountErasure`]) in one write;
    /// `Conflict` if it moved since it was read.
    async fn erase_account(&self, erasure: &AccountErasure) -> Result<(), StoreError>;
    /// Spends a reset token, sets the password, raises the session epoch
    /// and clears the lockout counters, at once; `Conflict` unless the token
    /// is still stored and current and the epoch is still `reset.epoch`.
    async fn reset_password(&self, reset: &PasswordReset) -> Result<(), StoreError>;
}

/// What every authenticated route reads to admit a session.
#[async_trait]
pub trait SessionLiveness: Send + Sync {
    /// The session `session_id` and the standing of account `user_id`, in
    /// one request.
    async fn session_and_standing(
        &self,
        session_id: &str,
        user_id: &str,
    ) -> Result<(Option<Session>, Option<AccountStanding>), StoreError>;
}

/// Sessions (refresh-token families) and their refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// One atomic write: session, first refresh token, device remembered,
    /// TOTP step consumed, lockout cleared. `Conflict` if the TOTP step was used.
    async fn start_session(&self, start: &SessionStart) -> Result<(), StoreError>;
    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Marks `old_hash` rotated at `now` with `next` as its successor and
    /// stores `next`, only if the old token is still active and its session
    /// is not revoked; otherwise `Conflict`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn session(&self, session_id: &str) -> Result<Option<Session>, StoreError>;
    async fn revoke_session(&self, session_id: &str) -> Result<(), StoreError>;
    /// The sessions of `user_id` (ended ones included), newest first, at
    /// most [`MAX_LISTED_SESSIONS`].
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Raises the account's epoch (every session ends) with what `end`
    /// adds, in one write; `Conflict` if the epoch or the TOTP step moved.
    async fn end_sessions(&self, end: &SessionsEnd) -> Result<(), StoreError>;
}

/// Most sessions a listing returns.
pub const MAX_LISTED_SESSIONS: usize = 100;

/// Atomic counters for per-IP limits and per-account lockout.
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Counts one attempt against the IP window and, if given, the account,
    /// unless either is over its limit; both counts change or neither does.
    async fn reserve_attempt(
        &self,
        ip: &WindowSlot,
        account: Option<&AccountAttempt>,
        now: i64,
    ) -> Result<AttemptOutcome, StoreError>;
    async fn lockout_state(&self, key: &str) -> Result<Option<LockoutState>, StoreError>;
    /// Forgets the failures and lock of `key` (a success, like a sign-in's).
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Locks the account until `until` and raises its level, only if it has at
    /// least `max_failures` failures and is still at `level`. Returns whether
    /// this call set the lock (exactly one concurrent caller does).
    async fn lock_account(
        &self,
        key: &str,
        max_failures: u32,
        level: u32,
        until: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
}
