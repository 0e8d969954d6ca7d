//! In-memory implementations of the ports, for unit tests and benchmarks.
//! They keep the same atomicity as the DynamoDB adapters: every method holds
//! one lock for its whole read-check-write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::auth::model::{
    AccountAttempt, AttemptOutcome, LockoutState, RefreshRecord, Role, Session, SessionStart,
    UserRecord,
};
use crate::flags::Snapshot;
use crate::ports::{
    AdminChange, AdminStore, AttemptStore, AuditLog, FlagStore, Mailer, OutgoingEmail,
    SessionStore, StoreError, UserStore,
};
use crate::ratelimit::WindowSlot;

#[derive(Default)]
struct State {
    users: HashMap<String, UserRecord>,
    emails_by_id: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    tokens: HashMap<String, RefreshRecord>,
    windows: HashMap<String, u32>,
    lockouts: HashMap<String, LockoutState>,
    snapshot: Option<Snapshot>,
    audit: Vec<AuditEntry>,
}

/// Users, sessions and counters in one process.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    unavailable: AtomicBool,
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

    async fn confirm_totp(&self, email: &str, pending: &str, step: u64) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let user = s.users.get_mut(email).ok_or(StoreError::NotFound)?;
        if user.totp.pending.as_deref() != Some(pending) || user.totp.secret.is_some() {
            return Err(StoreError::Conflict);
        }
        user.totp.secret = user.totp.pending.take();
        user.totp.last_step = step;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn start_session(&self, start: &SessionStart) -> Result<(), StoreError> {
        let mut s = self.state()?;
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
        if let Some(device) = &start.new_device {
            if !user.known_devices.contains(device) {
                user.known_devices.push(device.clone());
            }
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
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let old = s.tokens.get(old_hash).ok_or(StoreError::Conflict)?;
        let live_session = s
            .sessions
            .get(&old.session_id)
            .is_some_and(|sess| !sess.revoked);
        if old.rotated || !live_session || s.tokens.contains_key(&next.token_hash) {
            return Err(StoreError::Conflict);
        }
        if let Some(old) = s.tokens.get_mut(old_hash) {
            old.rotated = true;
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
            let locked = state.locked_until.is_some_and(|until| until > now);
            if locked || state.failures >= account.max_failures {
                return Ok(AttemptOutcome::Locked {
                    until: state.locked_until.filter(|until| *until > now),
                });
            }
            s.lockouts.entry(account.key.clone()).or_default().failures += 1;
        }
        *s.windows.entry(ip.key.clone()).or_default() += 1;
        Ok(AttemptOutcome::Reserved)
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
        }
        s.audit.push(entry.clone());
        Ok(())
    }
}

impl MemoryStore {
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
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory mailer switched off".into()));
        }
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(email.clone());
        Ok(())
    }
}
