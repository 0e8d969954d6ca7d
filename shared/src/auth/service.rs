//! The sign-in flows: sign-up, sign-in (with the second-factor branch),
//! refresh, logout, me. Pure domain code over the ports; the login
//! function's handler is a thin HTTP layer over this. Recovery, sessions,
//! second factors and deletion are in their own modules.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::access::{AccessGuard, Principal};
use super::email::normalize_email;
use super::error::AuthError;
use super::liveness::session_standing;
use super::lockout::{
    after_failure, known_device_lockout_key, lockout_key, retry_after, FailureVerdict,
    LockoutPolicy,
};
use super::mfa::{MfaChallenge, Presented};
use super::model::{
    AccountAttempt, AttemptOutcome, OneTimeToken, RefreshRecord, Role, SecondFactor, Session,
    SessionStart, TotpState, UserRecord,
};
use super::password::{check_password_policy, PasswordHasher};
use super::recovery::{RecoveryLimits, RESET_ROUTE};
use super::secrets::{digest, new_id, new_refresh_token};
use super::tokens::{TokenSigner, TokenSubject, ACCESS_TTL_SECONDS};
use crate::clock::Clock;
use crate::ids::DeviceId;
use crate::kyc::pii::PiiKeys;
use crate::ports::{
    AttemptStore, DocumentStore, ExportQueue, ExportStore, KycStore, Mailer, OutgoingEmail,
    SessionLiveness, SessionStore, StoreError, UserStore,
};
use crate::ratelimit::WindowLimit;
use crate::validation::FieldIssue;

/// Absolute lifetime of a session (refresh-token family).
pub const SESSION_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// Default absolute lifetime of an admin session: its TOTP check is that old at most.
pub const ADMIN_SESSION_TTL_SECONDS: i64 = 12 * 3600;
/// Longest password accepted at sign-in (bounds hashing work).
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// The tunable numbers of the auth rules.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub lockout: LockoutPolicy,
    /// Credential-checking requests per IP and window.
    pub ip_limit: WindowLimit,
    pub admin_totp_required: bool,
    /// Absolute lifetime of an admin session; refresh is refused after it.
    pub admin_session_seconds: i64,
    /// Name shown in authenticator apps and email.
    pub product_name: String,
    /// Seconds after a rotation in which the rotated refresh token, from
    /// the same device, is taken as a retry of a refresh whose answer was
    /// lost (the unused successor is rotated in its place) rather than as
    /// theft; 0 turns the grace off.
    pub refresh_grace_seconds: i64,
    /// How often verification and reset emails may be asked for.
    pub recovery: RecoveryLimits,
}

/// Default grace window for retried refreshes (Supabase's refresh token
/// reuse interval is 10 s too).
pub const REFRESH_GRACE_SECONDS: i64 = 10;

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            lockout: LockoutPolicy::default(),
            ip_limit: WindowLimit {
                limit: 20,
                window_seconds: 60,
            },
            admin_totp_required: true,
            admin_session_seconds: ADMIN_SESSION_TTL_SECONDS,
            product_name: "Wallet".to_string(),
            refresh_grace_seconds: REFRESH_GRACE_SECONDS,
            recovery: RecoveryLimits::default(),
        }
    }
}

/// The ports the auth flows use.
#[derive(Clone)]
pub struct AuthPorts {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub liveness: Arc<dyn SessionLiveness>,
    pub attempts: Arc<dyn AttemptStore>,
    pub mailer: Arc<dyn Mailer>,
    /// A deleted account's KYC submissions and documents, for their erasure.
    pub kyc: Arc<dyn KycStore>,
    pub documents: Arc<dyn DocumentStore>,
    /// The account's data export requests and their queue.
    pub exports: Arc<dyn ExportStore>,
    pub export_queue: Arc<dyn ExportQueue>,
}

/// A caller's request context the flows need.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub device_id: &'a DeviceId,
    pub ip: Option<IpAddr>,
}

/// Tokens handed to the client after sign-in or refresh.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub session_id: String,
}

/// The current user and session, for `me`.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
    pub role: Role,
    pub created_at: i64,
    pub totp_enabled: bool,
    pub session: SessionView,
}

/// The session part of `me`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub session_id: String,
    pub device_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub amr: Vec<String>,
}

/// Login form after JSON parsing.
#[derive(Debug, Clone)]
pub struct LoginForm<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub totp_code: Option<&'a str>,
    pub backup_code: Option<&'a str>,
}

/// What a sign-in answers.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// A session started.
    Tokens(TokenPair),
    /// The password was right; a second factor completes the sign-in.
    MfaRequired(MfaChallenge),
}

/// The lockout counter a sign-in counts against, and whether its device is
/// new to the account.
pub(super) struct SignInAttempt {
    pub account: AccountAttempt,
    pub new_device: bool,
}

/// A session about to start: its records and the refresh token's value.
pub(super) struct FreshSession {
    pub session: Session,
    pub token: RefreshRecord,
    pub refresh_token: String,
}

/// The auth flows over their ports.
pub struct AuthService {
    pub(super) ports: AuthPorts,
    guard: AccessGuard,
    pub(super) signer: TokenSigner,
    /// Seals TOTP secrets (the field encryption of the KYC PII).
    pub(super) totp_keys: Arc<PiiKeys>,
    pub(super) passwords: PasswordHasher,
    pub(super) policy: AuthPolicy,
    pub(super) clock: Arc<dyn Clock>,
}

impl AuthService {
    pub fn new(
        ports: AuthPorts,
        guard: AccessGuard,
        signer: TokenSigner,
        totp_keys: Arc<PiiKeys>,
        policy: AuthPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ports,
            guard,
            signer,
            totp_keys,
            passwords: PasswordHasher::new(),
            policy,
            clock,
        }
    }

    pub fn guard(&self) -> &AccessGuard {
        &self.guard
    }

    /// Creates an account. The outcome is the same whether or not the email was
    /// free (no enumeration); the address owner is emailed either way.
    pub async fn register(
        &self,
        raw_email: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let email = normalize_email(raw_email);
        let mut issues: Vec<FieldIssue> = Vec::new();
        if let Err(issue) = &email {
            issues.push(issue.clone());
        }
        if let Err(issue) = check_password_policy(password, email.as_deref().unwrap_or("")) {
            issues.push(issue);
        }
        let email = match (email, issues.is_empty()) {
            (Ok(email), true) => email,
            _ => return Err(AuthError::Invalid(issues)),
        };
        self.reserve(ip, None).await?;
        let user = UserRecord {
            user_id: new_id(),
            email: email.clone(),
            password_hash: self.passwords.hash(password),
            role: Role::User,
            created_at: self.clock.now(),
            known_devices: Vec::new(),
            totp: TotpState::default(),
            email_verified: false,
            session_epoch: 0,
        };
        let mail = match self.ports.users.create_user(&user).await {
            Ok(()) => match self.verification_token(&user, None).await {
                Ok(token) => self.welcome_email(&email, &token),
                Err(err) => {
                    tracing::warn!(error = %err, "verification token not issued at sign-up; the user can ask for another");
                    return Ok(());
                }
            },
            Err(StoreError::AlreadyExists) => {
                self.decoy_token_write(&email).await?;
                OutgoingEmail {
                to: email,
                subject: format!("{}: sign-up attempt", self.policy.product_name),
                text:
                    "Someone tried to create an account with this address, which already has one. \
                       If it was you, sign in instead; otherwise you can ignore this email."
                        .to_string(),
                }
            }
            Err(other) => return Err(other.into()),
        };
        self.send_best_effort(&mail).await;
        Ok(())
    }

    /// Signs in on `caller.device_id`: a session starts, or, for an account
    /// with a second factor and none presented, a challenge is answered.
    pub async fn login(
        &self,
        form: &LoginForm<'_>,
        caller: &Caller<'_>,
    ) -> Result<SignIn, AuthError> {
        let email = normalize_email(form.email).map_err(|i| AuthError::Invalid(vec![i]))?;
        if form.password.is_empty() || form.password.len() > MAX_LOGIN_PASSWORD_BYTES {
            return Err(AuthError::Invalid(vec![FieldIssue::new(
                "password",
                "must have between 1 and 1024 bytes",
            )]));
        }
        let now = self.clock.now();
        let user = self.ports.users.user_by_email(&email).await?;
        let device_hash = digest("device", caller.device_id);
        let known_device = user
            .as_ref()
            .is_some_and(|u| u.known_devices.contains(&device_hash));
        let account = if known_device {
            self.attempt_on(known_device_lockout_key(&email, &device_hash), now)
        } else {
            self.account_attempt(&email, now)
        };
        self.reserve(caller.ip, Some(&account)).await?;

        let verified = self.passwords.verify(
            form.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        );
        let user = match user {
            Some(user) if verified => user,
            other => {
                self.record_failure(&account.key, other.as_ref()).await?;
                return Err(AuthError::InvalidCredentials);
            }
        };
        if user.role == Role::Admin && !self.guard.admin_ip_allowed(caller.ip) {
            return Err(self
                .admin_outside_network(&account.key, &user, caller.ip)
                .await);
        }
        let presented = Presented {
            totp_code: form.totp_code,
            backup_code: form.backup_code,
        };
        if user.totp.secret.is_some() && presented.is_empty() {
            return self.mfa_challenge(&user, caller).await;
        }
        let factor = self
            .second_factor_of(&user, &presented, &account.key)
            .await?;
        let attempt = SignInAttempt {
            account,
            new_device: !known_device,
        };
        self.start_signed_in(&user, caller, attempt, factor, None)
            .await
            .map(SignIn::Tokens)
    }

    /// The lockout counter a sign-in of `user` on the caller's device
    /// counts against, and whether the device is new to the account.
    pub(super) fn sign_in_attempt(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
        now: i64,
    ) -> SignInAttempt {
        let device_hash = digest("device", caller.device_id);
        let known_device = user.known_devices.contains(&device_hash);
        let account = if known_device {
            self.attempt_on(known_device_lockout_key(&user.email, &device_hash), now)
        } else {
            self.account_attempt(&user.email, now)
        };
        SignInAttempt {
            account,
            new_device: !known_device,
        }
    }

    /// Starts a session of `user` on the caller's device after a right
    /// password (and `factor`, when the account has one), spending the
    /// factor and `challenge` in the same write; emails the owner about a
    /// new device.
    pub(super) async fn start_signed_in(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
        attempt: SignInAttempt,
        factor: Option<SecondFactor>,
        challenge: Option<OneTimeToken>,
    ) -> Result<TokenPair, AuthError> {
        let now = self.clock.now();
        let mut amr = vec!["pwd".to_string()];
        if factor.is_some() {
            amr.push("otp".to_string());
        }
        let (totp_step, backup_code) = match factor {
            Some(SecondFactor::TotpStep(step)) => (Some(step), None),
            Some(SecondFactor::BackupCode(hash)) => (None, Some(hash)),
            None => (None, None),
        };
        let spends_factor = totp_step.is_some() || backup_code.is_some();
        let completes_challenge = challenge.is_some();
        let fresh = self.fresh_session(user, caller, amr, user.session_epoch, now);
        let start = SessionStart {
            email: user.email.clone(),
            session: fresh.session,
            token: fresh.token,
            new_device: attempt
                .new_device
                .then(|| digest("device", caller.device_id)),
            totp_step,
            backup_code,
            challenge,
            lockout_key: attempt.account.key,
        };
        match self.ports.sessions.start_session(&start).await {
            Ok(()) => {}
            // The challenge was retired (a reset, a newer sign-in) or spent.
            Err(StoreError::Conflict) if completes_challenge => {
                return Err(AuthError::TokenInvalid)
            }
            Err(StoreError::Conflict) if spends_factor => return Err(AuthError::TotpInvalid),
            Err(StoreError::Conflict) => return Err(AuthError::InvalidCredentials),
            Err(other) => return Err(other.into()),
        }
        if attempt.new_device && !user.known_devices.is_empty() {
            self.send_best_effort(&OutgoingEmail {
                to: user.email.clone(),
                subject: format!("{}: new sign-in", self.policy.product_name),
                text: format!(
                    "Your account was just signed in from a new device. If this was not you, \
                     reset your password now: ask for a reset link in the app (\"Forgot \
                     password\", {RESET_ROUTE}); resetting signs every device out."
                ),
            })
            .await;
        }
        let proved = spends_factor.then_some(now);
        Ok(self.token_pair(&start.token, fresh.refresh_token, now, proved))
    }

    /// Exchanges a refresh token for a new pair; a reused token revokes its
    /// session, unless it is a retry from the same device within the grace
    /// window, which rotates the live successor instead.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        caller: &Caller<'_>,
    ) -> Result<TokenPair, AuthError> {
        if !refresh_token.starts_with("rt_") || refresh_token.len() > 128 {
            return Err(AuthError::RefreshInvalid);
        }
        let now = self.clock.now();
        let old_hash = digest("refresh", refresh_token);
        let presented = self
            .ports
            .sessions
            .refresh_token(&old_hash)
            .await?
            .ok_or(AuthError::RefreshInvalid)?;
        let (old_hash, old) = if presented.rotated {
            match self.live_within_grace(&presented, caller, now).await? {
                Some(live) => {
                    tracing::warn!(session_id = %presented.session_id, ip = ?caller.ip, "spent refresh token retried within the grace window: its successor is rotated instead");
                    crate::metrics::count(crate::metrics::Event::RefreshGraceUsed);
                    live
                }
                None => {
                    self.ports
                        .sessions
                        .revoke_session(&presented.session_id)
                        .await?;
                    tracing::warn!(session_id = %presented.session_id, "refresh token reuse: session revoked");
                    return Err(AuthError::RefreshReused);
                }
            }
        } else {
            (old_hash, presented)
        };
        if old.device_id != *caller.device_id {
            self.ports.sessions.revoke_session(&old.session_id).await?;
            tracing::warn!(session_id = %old.session_id, "refresh from another device: session revoked");
            return Err(AuthError::DeviceMismatch);
        }
        if now >= old.expires_at {
            return Err(AuthError::SessionExpired);
        }
        if old.role == Role::Admin {
            self.check_admin_session_age(&old.session_id, now).await?;
            let same_ip = old.ip.as_deref() == caller.ip.map(|ip| ip.to_string()).as_deref();
            if !same_ip || !self.guard.admin_ip_allowed(caller.ip) {
                return Err(AuthError::IpNotAllowed);
            }
        }
        let next_token = new_refresh_token();
        let next = RefreshRecord {
            token_hash: digest("refresh", &next_token),
            rotated: false,
            rotated_at: None,
            successor: None,
            ..old.clone()
        };
        match self
            .ports
            .sessions
            .rotate_refresh_token(&old_hash, &next, now)
            .await
        {
            Ok(()) => Ok(self.token_pair(&next, next_token, now, None)),
            Err(StoreError::Conflict) => {
                self.ports.sessions.revoke_session(&old.session_id).await?;
                tracing::warn!(session_id = %old.session_id, "concurrent refresh token use: session revoked");
                Err(AuthError::RefreshReused)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The successor of `rotated` (hash and record) when presenting it is a
    /// retry after a lost answer: same device, rotated less than the grace
    /// window ago, and the successor never presented (so its answer may
    /// indeed have been lost). Rotating the successor spends it, so a spent
    /// token earns one retry at most. `None` means reuse.
    async fn live_within_grace(
        &self,
        rotated: &RefreshRecord,
        caller: &Caller<'_>,
        now: i64,
    ) -> Result<Option<(String, RefreshRecord)>, AuthError> {
        if rotated.device_id != *caller.device_id {
            return Ok(None);
        }
        let within = rotated
            .rotated_at
            .is_some_and(|at| now - at < self.policy.refresh_grace_seconds);
        let Some(hash) = rotated.successor.clone().filter(|_| within) else {
            return Ok(None);
        };
        Ok(self
            .ports
            .sessions
            .refresh_token(&hash)
            .await?
            .filter(|next| next.session_id == rotated.session_id && !next.rotated)
            .map(|next| (hash, next)))
    }

    /// Ends the caller's session; its refresh tokens stop working at once.
    /// A session already ended is refused like on every other route.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        Ok(self.ports.sessions.revoke_session(&principal.sid).await?)
    }

    /// The caller's account and live session.
    pub async fn me(&self, principal: &Principal) -> Result<Me, AuthError> {
        let session = self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        Ok(Me {
            user_id: user.user_id,
            email: user.email,
            email_verified: user.email_verified,
            role: user.role,
            created_at: user.created_at,
            totp_enabled: user.totp.secret.is_some(),
            session: SessionView {
                session_id: session.session_id,
                device_id: session.device_id,
                created_at: session.created_at,
                expires_at: session.expires_at,
                amr: principal.amr.clone(),
            },
        })
    }

    pub(super) async fn user_of(&self, principal: &Principal) -> Result<UserRecord, AuthError> {
        self.ports
            .users
            .user_by_id(&principal.sub)
            .await?
            .ok_or(AuthError::SessionRevoked)
    }

    /// The principal's session, if it still stands (see [`session_standing`]).
    pub(super) async fn live_session(&self, principal: &Principal) -> Result<Session, AuthError> {
        let (session, standing) = self
            .ports
            .liveness
            .session_and_standing(&principal.sid, &principal.sub)
            .await?;
        session_standing(
            &principal.into(),
            session.as_ref(),
            standing.as_ref(),
            self.clock.now(),
        )?;
        session.ok_or(AuthError::SessionRevoked)
    }

    /// A new session of `user` on the caller's device under `epoch`, with
    /// its first refresh token (admin sessions pinned to the caller's IP).
    pub(super) fn fresh_session(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
        amr: Vec<String>,
        epoch: u64,
        now: i64,
    ) -> FreshSession {
        let pinned_ip = (user.role == Role::Admin)
            .then(|| caller.ip.map(|ip| ip.to_string()))
            .flatten();
        let session = Session {
            session_id: new_id(),
            user_id: user.user_id.clone(),
            device_id: caller.device_id.to_string(),
            ip: pinned_ip.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.session_lifetime(user.role),
            revoked: false,
            epoch,
        };
        let refresh_token = new_refresh_token();
        let token = RefreshRecord {
            token_hash: digest("refresh", &refresh_token),
            session_id: session.session_id.clone(),
            user_id: user.user_id.clone(),
            device_id: session.device_id.clone(),
            role: user.role,
            amr,
            ip: pinned_ip,
            expires_at: session.expires_at,
            rotated: false,
            rotated_at: None,
            successor: None,
            epoch,
        };
        FreshSession {
            session,
            token,
            refresh_token,
        }
    }

    /// How long a session of `role` lives, refreshes included.
    fn session_lifetime(&self, role: Role) -> i64 {
        match role {
            Role::Admin => self.policy.admin_session_seconds.min(SESSION_TTL_SECONDS),
            Role::User => SESSION_TTL_SECONDS,
        }
    }

    /// Refuses an admin session older than the admin lifetime in force now
    /// (also for sessions started under a longer one).
    async fn check_admin_session_age(&self, session_id: &str, now: i64) -> Result<(), AuthError> {
        let session = self
            .ports
            .sessions
            .session(session_id)
            .await?
            .ok_or(AuthError::SessionRevoked)?;
        if now >= session.created_at + self.session_lifetime(Role::Admin) {
            return Err(AuthError::SessionExpired);
        }
        Ok(())
    }

    /// An admin's right password from outside `ADMIN_CIDRS`: counted as a
    /// failed sign-in, logged and measured for alarms, and answered exactly
    /// like a wrong password so it confirms neither the role nor the password.
    async fn admin_outside_network(
        &self,
        lockout_key: &str,
        user: &UserRecord,
        ip: Option<IpAddr>,
    ) -> AuthError {
        crate::metrics::count(crate::metrics::Event::AdminSignInOutsideNetwork);
        tracing::warn!(
            user_id = %user.user_id,
            ip = ?ip,
            "admin sign-in from outside the admin networks refused"
        );
        match self.record_failure(lockout_key, Some(user)).await {
            Ok(()) => AuthError::InvalidCredentials,
            Err(err) => err,
        }
    }

    /// The lockout counter of `email` for an attempt at `now`.
    pub(super) fn account_attempt(&self, email: &str, now: i64) -> AccountAttempt {
        self.attempt_on(lockout_key(email), now)
    }

    /// The lockout counter under `key` for an attempt at `now`.
    pub(super) fn attempt_on(&self, key: String, now: i64) -> AccountAttempt {
        self.policy.lockout.attempt(key, now)
    }

    /// Counts an attempt against the caller's IP and, if given, the account.
    pub(super) async fn reserve(
        &self,
        ip: Option<IpAddr>,
        account: Option<&AccountAttempt>,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        let caller = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let slot = self.policy.ip_limit.slot("auth", &caller, now);
        match self
            .ports
            .attempts
            .reserve_attempt(&slot, account, now)
            .await?
        {
            AttemptOutcome::Reserved => Ok(()),
            AttemptOutcome::RateLimited => Err(AuthError::RateLimited {
                retry_after: slot.retry_after(now),
            }),
            AttemptOutcome::Locked { until } => {
                let until = match until {
                    // The failure budget is spent but no lock was set (a
                    // crashed attempt): set it now so the account cannot
                    // stay stuck.
                    None => {
                        let key = account.map(|a| a.key.as_str()).unwrap_or_default();
                        self.lock_if_due(key, None).await?
                    }
                    known => known,
                };
                Err(AuthError::Locked {
                    retry_after: retry_after(until, &self.policy.lockout, now),
                })
            }
        }
    }

    /// After a failed check (already counted by `reserve`): locks the account
    /// once its failures reach the limit, and emails the owner.
    pub(super) async fn record_failure(
        &self,
        key: &str,
        user: Option<&UserRecord>,
    ) -> Result<(), AuthError> {
        self.lock_if_due(key, user).await.map(|_| ())
    }

    async fn lock_if_due(
        &self,
        key: &str,
        user: Option<&UserRecord>,
    ) -> Result<Option<i64>, AuthError> {
        let policy = self.policy.lockout;
        let state = self
            .ports
            .attempts
            .lockout_state(key)
            .await?
            .unwrap_or_default();
        let lock = match after_failure(&state, &policy, self.clock.now()) {
            FailureVerdict::Counted { locked_until } => return Ok(locked_until),
            FailureVerdict::Lock(lock) => lock,
        };
        let locked = self
            .ports
            .attempts
            .lock_account(
                key,
                policy.max_failures,
                lock.level,
                lock.until,
                lock.expires_at,
            )
            .await?;
        if locked {
            crate::metrics::count(crate::metrics::Event::AccountLocked);
            tracing::warn!(
                lock_level = lock.level + 1,
                "account locked after failed sign-ins"
            );
            if let Some(user) = user {
                self.send_best_effort(&OutgoingEmail {
                    to: user.email.clone(),
                    subject: format!("{}: account locked", self.policy.product_name),
                    text: format!(
                        "Your account was locked after several failed sign-in attempts. \
                         It unlocks automatically; if these attempts were not yours, reset \
                         your password: ask for a reset link in the app (\"Forgot password\", \
                         {RESET_ROUTE}); resetting signs every device out and unlocks the \
                         account."
                    ),
                })
                .await;
            }
        }
        Ok(Some(lock.until))
    }

    /// The pair handed out for `record`; `second_factor_at` when a second
    /// factor was proved in this very request (a sign-in with one).
    pub(super) fn token_pair(
        &self,
        record: &RefreshRecord,
        refresh_token: String,
        now: i64,
        second_factor_at: Option<i64>,
    ) -> TokenPair {
        let access_token = self.signer.issue_proved(
            &TokenSubject {
                user_id: &record.user_id,
                session_id: &record.session_id,
                device_id: &record.device_id,
                role: record.role,
                amr: &record.amr,
                ip: record.ip.as_deref(),
            },
            now,
            second_factor_at,
        );
        TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TTL_SECONDS,
            refresh_token,
            refresh_expires_in: record.expires_at - now,
            session_id: record.session_id.clone(),
        }
    }

    /// Notification email must not block sign-in; a failure is logged.
    pub(super) async fn send_best_effort(&self, mail: &OutgoingEmail) {
        if let Err(err) = self.ports.mailer.send(mail).await {
            tracing::warn!(error = %err, subject = %mail.subject, "notification email not sent");
        }
    }
}
