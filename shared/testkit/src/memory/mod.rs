//! In-memory implementations of the ports, for unit tests and benchmarks.
//! They keep the same atomicity as the DynamoDB adapters: every method holds
//! one lock for its whole read-check-write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use shared::audit::AuditEntry;
use shared::auth::lockout::{refused_as_locked, Locked};
use shared::auth::model::{
    AccountAttempt, AccountErasure, AccountStanding, AttemptOutcome, LockoutState, OneTimeToken,
    PasswordReset, RefreshRecord, Role, SecondFactor, Session, SessionStart, SessionsEnd,
    UserRecord,
};
use shared::flags::Snapshot;
use shared::ports::{
    AdminChange, AdminStore, AttemptStore, AuditLog, CommitOutcome, FlagStore, IdempotencyBegin,
    IdempotencyStore, InboxOutcome, MailError, Mailer, OutgoingEmail, RechargeCommit,
    RechargeReadings, RetryScheduler, ReviewQueue, ReviewStore, SessionLiveness, SessionStore,
    StoreError, UserStore, WalletStore, WebhookInbox, WebhookQueue, MAX_LISTED_SESSIONS,
};
use shared::ratelimit::WindowSlot;
use shared::review::{CaseStatus, ReviewCase};
use shared::wallet::model::{Recharge, RechargeStatus, WalletProfile};
use shared::wallet::velocity::Tally;
use shared::webhook::event::ProviderEvent;

mod export;
mod kyc;

#[derive(Default)]
struct State {
    users: HashMap<String, UserRecord>,
    emails_by_id: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    tokens: HashMap<String, RefreshRecord>,
    one_time: HashMap<String, OneTimeToken>,
    /// The current token hash of each (account email, purpose).
    current_tokens: HashMap<(String, &'static str), String>,
    windows: HashMap<String, u32>,
    lockouts: HashMap<String, LockoutState>,
    snapshot: Option<Snapshot>,
    audit: Vec<AuditEntry>,
    idempotency: HashMap<String, IdempotencyRecord>,
    profiles: HashMap<String, WalletProfile>,
    recharges: HashMap<String, Recharge>,
    money_audit: Vec<AuditEntry>,
    counters: HashMap<String, Tally>,
    device_accounts: HashMap<String, Vec<String>>,
    review_messages: Vec<(String, String)>,
    cases: HashMap<String, ReviewCase>,
    inbox: HashMap<String, (bool, i64)>,
    ledger: HashMap<String, shared::wallet::model::LedgerEntry>,
    webhook_messages: Vec<ProviderEvent>,
    retries: Vec<(String, i32)>,
    queue_down: bool,
    kyc: kyc::KycState,
    exports: HashMap<String, shared::ports::ExportRequest>,
    export_jobs: Vec<shared::ports::ExportJob>,
}

/// Spends `factor` on `user`, or `Conflict` if it was used.
fn spend_factor(user: &mut UserRecord, factor: &SecondFactor) -> Result<(), StoreError> {
    match factor {
        SecondFactor::TotpStep(step) => {
            if user.totp.last_step >= *step {
                return Err(StoreError::Conflict);
            }
            user.totp.last_step = *step;
        }
        SecondFactor::BackupCode(hash) => {
            let before = user.totp.backup_codes.len();
            user.totp.backup_codes.retain(|code| code != hash);
            if user.totp.backup_codes.len() == before {
                return Err(StoreError::Conflict);
            }
        }
    }
    Ok(())
}

/// Removes `user`'s TOTP enrolment and backup codes.
fn clear_totp(user: &mut UserRecord) {
    user.totp.secret = None;
    user.totp.pending = None;
    user.totp.backup_codes.clear();
}

impl State {
    fn session_and_standing(
        &self,
        session_id: &str,
        user_id: &str,
    ) -> (Option<Session>, Option<AccountStanding>) {
        let standing = self
            .emails_by_id
            .get(user_id)
            .and_then(|email| self.users.get(email))
            .map(UserRecord::standing);
        (self.sessions.get(session_id).cloned(), standing)
    }

    /// The account `token` names, if `token` is its current one of its purpose.
    fn current_account(&mut self, token: &OneTimeToken) -> Result<&mut UserRecord, StoreError> {
        let key = (token.email.clone(), token.purpose.as_str());
        if !self.one_time.contains_key(&token.token_hash)
            || self.current_tokens.get(&key) != Some(&token.token_hash)
        {
            return Err(StoreError::Conflict);
        }
        match self.users.get_mut(&token.email) {
            Some(user) if user.user_id == token.user_id => Ok(user),
            _ => Err(StoreError::Conflict),
        }
    }

    /// Retires every current token of the account at `email`: what a
    /// pending change or challenge was started with no longer holds.
    fn retire_tokens(&mut self, email: &str) {
        self.current_tokens.retain(|(owner, _), _| owner != email);
    }

    fn spend(&mut self, token: &OneTimeToken) {
        self.one_time.remove(&token.token_hash);
        self.current_tokens
            .remove(&(token.email.clone(), token.purpose.as_str()));
    }
}

#[derive(Clone)]
struct IdempotencyRecord {
    fingerprint: String,
    outcome: Option<String>,
    lock_until: i64,
    expires_at: i64,
}

/// Users, sessions and counters in one process.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    unavailable: AtomicBool,
    documents_down: AtomicBool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail as if the database were down (fault injection).
    pub fn set_unavailable(&self, down: bool) {
        self.unavailable.store(down, Ordering::SeqCst);
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory store switched off".into()));
        }
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.users.contains_key(&user.email) || s.emails_by_id.contains_key(&user.user_id) {
            return Err(StoreError::AlreadyExists);
        }
        s.emails_by_id
            .insert(user.user_id.clone(), user.email.clone());
        s.users.insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.state()?.users.get(email).cloned())
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        let s = self.state()?;
        Ok(s.emails_by_id
            .get(user_id)
            .and_then(|e| s.users.get(e))
            .cloned())
    }

    async fn set_role(&self, email: &str, role: Role) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::NotFound)?;
        user.role = role;
        Ok(())
    }

    async fn set_pending_totp(&self, email: &str, secret: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::NotFound)?;
        if user.totp.secret.is_some() {
            return Err(StoreError::Conflict);
        }
        user.totp.pending = Some(secret.to_string());
        Ok(())
    }

    async fn confirm_totp(
        &self,
        email: &str,
        user_id: &str,
        pending: &str,
        step: u64,
        backup_codes: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::NotFound)?;
        if user.totp.pending.as_deref() != Some(pending)
            || user.totp.secret.is_some()
            || user.user_id != user_id
        {
            return Err(StoreError::Conflict);
        }
        user.totp.secret = user.totp.pending.take();
        user.totp.last_step = step;
        user.totp.backup_codes = backup_codes.to_vec();
        Ok(())
    }

    async fn spend_second_factor(
        &self,
        email: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::Conflict)?;
        spend_factor(user, factor)
    }

    async fn replace_backup_codes(
        &self,
        email: &str,
        step: u64,
        codes: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::Conflict)?;
        if user.totp.secret.is_none() || user.totp.last_step >= step {
            return Err(StoreError::Conflict);
        }
        user.totp.last_step = step;
        user.totp.backup_codes = codes.to_vec();
        Ok(())
    }

    async fn remove_totp(
        &self,
        email: &str,
        user_id: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::Conflict)?;
        if user.user_id != user_id {
            return Err(StoreError::Conflict);
        }
        spend_factor(user, factor)?;
        clear_totp(user);
        Ok(())
    }

    async fn issue_token(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.users.get(&token.email) {
            Some(user) if user.user_id == token.user_id => {}
            _ => return Err(StoreError::NotFound),
        }
        s.current_tokens.insert(
            (token.email.clone(), token.purpose.as_str()),
            token.token_hash.clone(),
        );
        s.one_time.insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn one_time_token(&self, token_hash: &str) -> Result<Option<OneTimeToken>, StoreError> {
        Ok(self.state()?.one_time.get(token_hash).cloned())
    }

    async fn confirm_email(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let mut s = self.state()?;
        s.current_account(token)?.email_verified = true;
        s.spend(token);
        Ok(())
    }

    async fn erase_account(&self, erasure: &AccountErasure) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.users.get(&erasure.email) {
            Some(user)
                if user.user_id == erasure.user_id && user.session_epoch == erasure.epoch => {}
            _ => return Err(StoreError::Conflict),
        }
        s.users.remove(&erasure.email);
        s.emails_by_id
            .insert(erasure.user_id.clone(), erasure.erased_email.clone());
        Ok(())
    }

    async fn change_email(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let new_email = token.new_email.clone().ok_or(StoreError::Conflict)?;
        s.current_account(token)?;
        if s.users.contains_key(&new_email) {
            return Err(StoreError::AlreadyExists);
        }
        s.spend(token);
        let mut user = s.users.remove(&token.email).ok_or(StoreError::Conflict)?;
        user.email = new_email.clone();
        user.email_verified = true;
        s.emails_by_id
            .insert(user.user_id.clone(), new_email.clone());
        s.users.insert(new_email, user);
        Ok(())
    }

    async fn reset_password(&self, reset: &PasswordReset) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.current_account(&reset.token)?;
        if user.session_epoch != reset.epoch {
            return Err(StoreError::Conflict);
        }
        user.password_hash = reset.password_hash.clone();
        user.session_epoch = reset.epoch + 1;
        s.spend(&reset.token);
        s.retire_tokens(&reset.token.email);
        for key in &reset.lockout_keys {
            s.lockouts.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionLiveness for MemoryStore {
    async fn session_and_standing(
        &self,
        session_id: &str,
        user_id: &str,
    ) -> Result<(Option<Session>, Option<AccountStanding>), StoreError> {
        Ok(self.state()?.session_and_standing(session_id, user_id))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn start_session(&self, start: &SessionStart) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get(&start.email).ok_or(StoreError::NotFound)?;
        if user.session_epoch != start.session.epoch {
            return Err(StoreError::Conflict);
        }
        if let Some(hash) = &start.backup_code {
            if !user.totp.backup_codes.contains(hash) {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(challenge) = &start.challenge {
            s.current_account(challenge)?;
        }
        let user = s.users.get(&start.email).ok_or(StoreError::NotFound)?;
        if let Some(step) = start.totp_step {
            if user.totp.last_step >= step {
                return Err(StoreError::Conflict);
            }
        }
        if s.sessions.contains_key(&start.session.session_id)
            || s.tokens.contains_key(&start.token.token_hash)
        {
            return Err(StoreError::Conflict);
        }
        let user = s.users.get_mut(&start.email).ok_or(StoreError::NotFound)?;
        if let Some(step) = start.totp_step {
            user.totp.last_step = step;
        }
        if let Some(hash) = &start.backup_code {
            user.totp.backup_codes.retain(|code| code != hash);
        }
        if let Some(device) = &start.new_device {
            if !user.known_devices.contains(device) {
                user.known_devices.push(device.clone());
            }
        }
        if let Some(challenge) = &start.challenge {
            s.spend(challenge);
        }
        s.lockouts.remove(&start.lockout_key);
        s.sessions
            .insert(start.session.session_id.clone(), start.session.clone());
        s.tokens
            .insert(start.token.token_hash.clone(), start.token.clone());
        Ok(())
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.state()?.tokens.get(token_hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let old = s.tokens.get(old_hash).ok_or(StoreError::Conflict)?;
        let live_session = s
            .sessions
            .get(&old.session_id)
            .is_some_and(|sess| !sess.revoked);
        let current_epoch = s
            .emails_by_id
            .get(&next.user_id)
            .and_then(|email| s.users.get(email))
            .is_some_and(|user| user.session_epoch == next.epoch);
        if old.rotated || !live_session || !current_epoch || s.tokens.contains_key(&next.token_hash)
        {
            return Err(StoreError::Conflict);
        }
        if let Some(session) = s.sessions.get_mut(&next.session_id) {
            session.last_used_at = now;
        }
        if let Some(old) = s.tokens.get_mut(old_hash) {
            old.rotated = true;
            old.rotated_at = Some(now);
            old.successor = Some(next.token_hash.clone());
        }
        s.tokens.insert(next.token_hash.clone(), next.clone());
        Ok(())
    }

    async fn session(&self, session_id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.state()?.sessions.get(session_id).cloned())
    }

    async fn revoke_session(&self, session_id: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if let Some(session) = s.sessions.get_mut(session_id) {
            session.revoked = true;
        }
        Ok(())
    }

    async fn sessions_of(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let s = self.state()?;
        let mut sessions: Vec<Session> = s
            .sessions
            .values()
            .filter(|session| session.user_id == user_id)
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        sessions.truncate(MAX_LISTED_SESSIONS);
        Ok(sessions)
    }

    async fn end_sessions(&self, end: &SessionsEnd) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get(&end.email).ok_or(StoreError::Conflict)?;
        let step_used = end
            .factor
            .as_ref()
            .is_some_and(|factor| spend_factor(&mut user.clone(), factor).is_err());
        let asking_ended = end.asking_session.as_ref().is_some_and(|id| {
            s.sessions
                .get(id)
                .is_none_or(|session| session.revoked || session.epoch != end.epoch)
        });
        let fresh_taken = end.restart.as_ref().is_some_and(|(session, token)| {
            s.sessions.contains_key(&session.session_id) || s.tokens.contains_key(&token.token_hash)
        });
        if user.user_id != end.user_id
            || user.session_epoch != end.epoch
            || step_used
            || fresh_taken
            || asking_ended
        {
            return Err(StoreError::Conflict);
        }
        let user = s.users.get_mut(&end.email).ok_or(StoreError::Conflict)?;
        user.session_epoch = end.epoch + 1;
        if let Some(hash) = &end.password_hash {
            user.password_hash = hash.clone();
        }
        if let Some(factor) = &end.factor {
            spend_factor(user, factor)?;
        }
        if let Some((session, token)) = &end.restart {
            s.sessions
                .insert(session.session_id.clone(), session.clone());
            s.tokens.insert(token.token_hash.clone(), token.clone());
        }
        s.retire_tokens(&end.email);
        Ok(())
    }
}

#[async_trait]
impl AttemptStore for MemoryStore {
    async fn reserve_attempt(
        &self,
        ip: &WindowSlot,
        account: Option<&AccountAttempt>,
        now: i64,
    ) -> Result<AttemptOutcome, StoreError> {
        let mut s = self.state()?;
        if s.windows.get(&ip.key).copied().unwrap_or(0) >= ip.limit {
            return Ok(AttemptOutcome::RateLimited);
        }
        if let Some(account) = account {
            let state = s.lockouts.get(&account.key).cloned().unwrap_or_default();
            if let Some(Locked { until }) = refused_as_locked(&state, account.max_failures, now) {
                return Ok(AttemptOutcome::Locked { until });
            }
            s.lockouts.entry(account.key.clone()).or_default().failures += 1;
        }
        *s.windows.entry(ip.key.clone()).or_default() += 1;
        Ok(AttemptOutcome::Reserved)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.state()?.lockouts.remove(key);
        Ok(())
    }

    async fn lockout_state(&self, key: &str) -> Result<Option<LockoutState>, StoreError> {
        Ok(self.state()?.lockouts.get(key).cloned())
    }

    async fn lock_account(
        &self,
        key: &str,
        max_failures: u32,
        level: u32,
        until: i64,
        _expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut s = self.state()?;
        match s.lockouts.get_mut(key) {
            Some(state) if state.failures >= max_failures && state.level == level => {
                state.failures = 0;
                state.level = level + 1;
                state.locked_until = Some(until);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl FlagStore for MemoryStore {
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.state()?.snapshot.clone())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn head(&self) -> Result<Option<AuditEntry>, StoreError> {
        Ok(self.state()?.audit.last().cloned())
    }

    async fn page(&self, before: Option<u64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let s = self.state()?;
        Ok(s.audit
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.seq < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn all(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.state()?.audit.clone())
    }
}

#[async_trait]
impl AdminStore for MemoryStore {
    async fn commit(&self, change: &AdminChange, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.audit.iter().any(|e| e.seq == entry.seq) {
            return Err(StoreError::Conflict);
        }
        match change {
            AdminChange::SaveSnapshot {
                snapshot,
                expected_version,
            } => {
                let current = s.snapshot.as_ref().map_or(0, |snap| snap.version);
                if current != *expected_version {
                    return Err(StoreError::Conflict);
                }
                s.snapshot = Some(snapshot.clone());
            }
            AdminChange::ClearLockout { key } => {
                s.lockouts.remove(key);
            }
            AdminChange::ResetTotp { email, user_id } => match s.users.get_mut(email) {
                Some(user) if user.user_id == *user_id => clear_totp(user),
                _ => return Err(StoreError::Conflict),
            },
            AdminChange::EndSessions {
                email,
                user_id,
                epoch,
            } => match s.users.get_mut(email) {
                Some(user) if user.user_id == *user_id && user.session_epoch == *epoch => {
                    user.session_epoch = epoch + 1;
                    s.retire_tokens(email);
                }
                _ => return Err(StoreError::Conflict),
            },
            AdminChange::DecideKyc(commit) => kyc::apply_decision(&mut s, commit)?,
            AdminChange::RecordOnly => {}
            AdminChange::DecideReview {
                case_id,
                releases_recharge,
                approve,
                decided_by,
                note,
            } => {
                let open = s
                    .cases
                    .get(case_id)
                    .is_some_and(|c| c.status == CaseStatus::Open);
                let held = !*releases_recharge
                    || s.recharges
                        .get(case_id)
                        .is_some_and(|r| r.status == RechargeStatus::PendingReview);
                if !open || !held {
                    return Err(StoreError::Conflict);
                }
                if let Some(case) = s.cases.get_mut(case_id) {
                    case.status = if *approve {
                        CaseStatus::Approved
                    } else {
                        CaseStatus::Rejected
                    };
                    case.decided_by = Some(decided_by.clone());
                    case.note = Some(note.clone());
                }
                if let Some(recharge) = s.recharges.get_mut(case_id).filter(|_| *releases_recharge)
                {
                    recharge.status = if *approve {
                        RechargeStatus::PendingPayment
                    } else {
                        RechargeStatus::Cancelled
                    };
                }
            }
        }
        s.audit.push(entry.clone());
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        now: i64,
        lock_until: i64,
        expires_at: i64,
    ) -> Result<IdempotencyBegin, StoreError> {
        let mut s = self.state()?;
        if let Some(existing) = s.idempotency.get(key).filter(|r| r.expires_at > now) {
            if existing.fingerprint != fingerprint {
                return Ok(IdempotencyBegin::Mismatch);
            }
            match &existing.outcome {
                Some(outcome) => {
                    return Ok(IdempotencyBegin::Replay {
                        outcome: outcome.clone(),
                    })
                }
                None if existing.lock_until > now => return Ok(IdempotencyBegin::InProgress),
                None => {}
            }
        }
        s.idempotency.insert(
            key.to_string(),
            IdempotencyRecord {
                fingerprint: fingerprint.to_string(),
                outcome: None,
                lock_until,
                expires_at,
            },
        );
        Ok(IdempotencyBegin::Started)
    }

    async fn complete(&self, key: &str, outcome: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let record = s.idempotency.get_mut(key).ok_or(StoreError::NotFound)?;
        record.outcome = Some(outcome.to_string());
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.idempotency.get(key).is_some_and(|r| r.outcome.is_none()) {
            s.idempotency.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl WalletStore for MemoryStore {
    async fn readings(
        &self,
        user_id: &str,
        session_id: &str,
        counter_keys: &[String],
        device_key: &str,
    ) -> Result<RechargeReadings, StoreError> {
        let s = self.state()?;
        let (session, standing) = if session_id.is_empty() {
            (None, None)
        } else {
            s.session_and_standing(session_id, user_id)
        };
        Ok(RechargeReadings {
            session,
            standing,
            profile: s.profiles.get(user_id).cloned(),
            counters: counter_keys
                .iter()
                .filter_map(|k| s.counters.get(k).map(|t| (k.clone(), *t)))
                .collect(),
            device_accounts: s
                .device_accounts
                .get(device_key)
                .cloned()
                .unwrap_or_default(),
        })
    }

    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError> {
        let mut s = self.state()?;
        if s.recharges.contains_key(&commit.recharge.recharge_id) {
            return Ok(CommitOutcome::Duplicate);
        }
        let stored_seq = s.profiles.get(&commit.profile.user_id).map(|p| p.audit_seq);
        if stored_seq != commit.expected_audit_seq {
            return Ok(CommitOutcome::Conflict);
        }
        for add in &commit.counters {
            let current = s.counters.get(&add.key).copied().unwrap_or_default();
            if add.expected_count.is_some_and(|seen| current.count != seen) {
                return Ok(CommitOutcome::Conflict);
            }
        }
        for add in &commit.counters {
            let current = s.counters.get(&add.key).map_or(0, |t| t.amount);
            if add.cap.is_some_and(|cap| current + add.amount > cap) {
                return Ok(CommitOutcome::CapExceeded(add.key.clone()));
            }
        }
        for add in &commit.counters {
            let tally = s.counters.entry(add.key.clone()).or_default();
            tally.count += 1;
            tally.amount += add.amount;
        }
        if let Some((device, user)) = &commit.device_account {
            let accounts = s.device_accounts.entry(device.clone()).or_default();
            if !accounts.contains(user) {
                accounts.push(user.clone());
            }
        }
        if let Some((key, outcome)) = &commit.idempotency {
            if let Some(record) = s.idempotency.get_mut(key) {
                record.outcome = Some(outcome.clone());
            }
        }
        s.profiles
            .insert(commit.profile.user_id.clone(), commit.profile.clone());
        s.recharges
            .insert(commit.recharge.recharge_id.clone(), commit.recharge.clone());
        s.money_audit.push(commit.audit.clone());
        Ok(CommitOutcome::Committed)
    }

    async fn recharge(&self, recharge_id: &str) -> Result<Option<Recharge>, StoreError> {
        Ok(self.state()?.recharges.get(recharge_id).cloned())
    }

    async fn apply_payment(
        &self,
        commit: &shared::ports::PaymentCommit,
    ) -> Result<CommitOutcome, StoreError> {
        let mut s = self.state()?;
        if let Some(entry) = &commit.entry {
            if s.ledger.contains_key(&entry.entry_id) {
                return Ok(CommitOutcome::Duplicate);
            }
        }
        let status_ok = s.recharges.get(&commit.recharge_id).is_some_and(|r| {
            commit.expected_statuses.contains(&r.status)
                && commit.refunded.is_none_or(|(was, _)| r.refunded == was)
        });
        let seq_ok = s
            .profiles
            .get(&commit.profile.user_id)
            .is_some_and(|p| p.audit_seq == commit.expected_audit_seq);
        if !status_ok || !seq_ok {
            return Ok(CommitOutcome::Conflict);
        }
        if let Some(entry) = &commit.entry {
            s.ledger.insert(entry.entry_id.clone(), entry.clone());
        }
        if let Some(recharge) = s.recharges.get_mut(&commit.recharge_id) {
            recharge.status = commit.new_status;
            if let Some((_, total)) = commit.refunded {
                recharge.refunded = total;
            }
        }
        s.profiles
            .insert(commit.profile.user_id.clone(), commit.profile.clone());
        s.money_audit.push(commit.audit.clone());
        Ok(CommitOutcome::Committed)
    }

    async fn ensure_profile(&self, profile: &WalletProfile) -> Result<(), StoreError> {
        let mut s = self.state()?;
        s.profiles
            .entry(profile.user_id.clone())
            .or_insert_with(|| profile.clone());
        Ok(())
    }

    async fn save_limits(
        &self,
        profile: &WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError> {
        let mut s = self.state()?;
        let stored = s.profiles.get(&profile.user_id).map(|p| p.audit_seq);
        if stored != Some(expected_audit_seq) {
            return Ok(CommitOutcome::Conflict);
        }
        s.profiles.insert(profile.user_id.clone(), profile.clone());
        s.money_audit.push(audit.clone());
        Ok(CommitOutcome::Committed)
    }
}

#[async_trait]
impl ReviewStore for MemoryStore {
    async fn open_case(&self, case: &ReviewCase) -> Result<(), StoreError> {
        self.state()?
            .cases
            .entry(case.case_id.clone())
            .or_insert_with(|| case.clone());
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<ReviewCase>, StoreError> {
        Ok(self.state()?.cases.get(case_id).cloned())
    }

    async fn mark_notified(&self, case_id: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let case = s.cases.get_mut(case_id).ok_or(StoreError::NotFound)?;
        case.notified = true;
        Ok(())
    }

    async fn cases(&self, status: CaseStatus, limit: u32) -> Result<Vec<ReviewCase>, StoreError> {
        let s = self.state()?;
        let mut cases: Vec<ReviewCase> = s
            .cases
            .values()
            .filter(|c| c.status == status)
            .cloned()
            .collect();
        cases.sort_by_key(|c| (c.opened_at, c.case_id.clone()));
        cases.truncate(limit as usize);
        Ok(cases)
    }
}

#[async_trait]
impl WebhookInbox for MemoryStore {
    async fn record(
        &self,
        event: &ProviderEvent,
        expires_at: i64,
    ) -> Result<InboxOutcome, StoreError> {
        let mut s = self.state()?;
        let key = format!("{}#{}", event.provider, event.event_id);
        let live = s
            .inbox
            .get(&key)
            .filter(|(_, until)| *until > event.received_at)
            .map(|(processed, _)| *processed);
        Ok(match live {
            Some(true) => InboxOutcome::Processed,
            Some(false) => InboxOutcome::Stored,
            None => {
                s.inbox.insert(key, (false, expires_at));
                InboxOutcome::New
            }
        })
    }

    async fn mark_processed(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let record = s
            .inbox
            .get_mut(&format!("{provider}#{event_id}"))
            .ok_or(StoreError::NotFound)?;
        record.0 = true;
        Ok(())
    }
}

#[async_trait]
impl RetryScheduler for MemoryStore {
    async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError> {
        self.state()?
            .retries
            .push((receipt_handle.to_string(), seconds));
        Ok(())
    }
}

#[async_trait]
impl WebhookQueue for MemoryStore {
    async fn enqueue_event(&self, event: &ProviderEvent) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.queue_down {
            return Err(StoreError::Unavailable("memory queue switched off".into()));
        }
        s.webhook_messages.push(event.clone());
        Ok(())
    }
}

impl MemoryStore {
    /// How many sessions were ever started (each sign-in starts one).
    pub fn session_count(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sessions
            .len()
    }

    /// Sets a wallet balance directly (for tests of spent balances).
    pub fn set_balance_for_tests(&self, user_id: &str, currency: &str, amount: i64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(profile) = s.profiles.get_mut(user_id) {
            profile.balances.insert(currency.to_string(), amount);
        }
    }

    /// Retry delays scheduled so far, as (receipt handle, seconds).
    pub fn retries(&self) -> Vec<(String, i32)> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retries
            .clone()
    }

    /// Webhook events queued so far.
    pub fn webhook_messages(&self) -> Vec<ProviderEvent> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .webhook_messages
            .clone()
    }

    /// Makes queue sends fail while the store itself keeps working.
    pub fn set_queue_unavailable(&self, down: bool) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queue_down = down;
    }
}

#[async_trait]
impl ReviewQueue for MemoryStore {
    async fn enqueue_review(&self, recharge_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.state()?
            .review_messages
            .push((recharge_id.to_string(), user_id.to_string()));
        Ok(())
    }
}

impl MemoryStore {
    /// Review messages enqueued so far, as (recharge id, user id).
    pub fn review_messages(&self) -> Vec<(String, String)> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .review_messages
            .clone()
    }

    /// The money-decision audit entries of every account, in commit order.
    pub fn money_audit(&self) -> Vec<AuditEntry> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .money_audit
            .clone()
    }

    /// Overwrites an audit entry in place, as an attacker with table access
    /// could (for tamper-detection tests).
    pub fn tamper_audit(&self, seq: u64, edit: impl FnOnce(&mut AuditEntry)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = s.audit.iter_mut().find(|e| e.seq == seq) {
            edit(entry);
        }
    }
}

/// Keeps sent email in memory so tests can read it.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    unavailable: AtomicBool,
    refused: Mutex<Vec<String>>,
}

impl MemoryMailer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes sending fail (fault injection).
    pub fn set_unavailable(&self, down: bool) {
        self.unavailable.store(down, Ordering::SeqCst);
    }

    /// Refuses every email to `address` for good, as the SES sandbox does
    /// an unverified recipient (fault injection).
    pub fn refuse(&self, address: &str) {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(address.to_string());
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(MailError::Unavailable("memory mailer switched off".into()));
        }
        if self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&email.to)
        {
            return Err(MailError::Refused("recipient not verified".into()));
        }
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(email.clone());
        Ok(())
    }
}
