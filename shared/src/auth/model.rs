//! Records the auth domain keeps: users, sessions (refresh-token families),
//! refresh tokens and lockout state.

use serde::{Deserialize, Serialize};

/// What an account may do. Set by the bootstrap command, never by the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An account as stored, keyed by its normalised email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
    /// Hashes of the device ids this account has signed in from.
    pub known_devices: Vec<String>,
    pub totp: TotpState,
    /// Whether the owner proved the address by presenting a verification token.
    pub email_verified: bool,
    /// Sessions started under an older epoch are over: raising it ends every
    /// session of the account at once (password reset, "sign out everywhere").
    pub session_epoch: u64,
}

/// What other functions read about an account to admit its sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountStanding {
    pub email_verified: bool,
    pub session_epoch: u64,
    /// Whether a second factor is enrolled (step-up applies).
    pub mfa_enabled: bool,
}

impl UserRecord {
    /// The account's standing, as the other functions read it.
    pub fn standing(&self) -> AccountStanding {
        AccountStanding {
            email_verified: self.email_verified,
            session_epoch: self.session_epoch,
            mfa_enabled: self.totp.secret.is_some(),
        }
    }
}

/// An account's TOTP enrolment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotpState {
    /// Confirmed secret: base32, sealed under the field encryption of the
    /// PII (`auth::mfa::seal_secret`; older admin enrolments: plain).
    pub secret: Option<String>,
    /// Secret issued by `totp/enroll`, awaiting `totp/confirm`, sealed alike.
    pub pending: Option<String>,
    /// The last RFC 6238 time step accepted; a step is never accepted twice.
    pub last_step: u64,
    /// Hashes of the unused backup codes.
    pub backup_codes: Vec<String>,
}

/// A second factor presented and checked, as the write that spends it
/// needs it: a TOTP step (refused if not newer than the last one used) or
/// a backup code's hash (refused unless still unused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    TotpStep(u64),
    BackupCode(String),
}

/// A refresh-token family: one sign-in on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: String,
    pub user_id: String,
    pub device_id: String,
    /// The sign-in IP, kept for admin sessions (tokens are pinned to it).
    pub ip: Option<String>,
    pub created_at: i64,
    /// The last sign-in or refresh of the family.
    pub last_used_at: i64,
    /// Absolute end of the family, whatever the rotations.
    pub expires_at: i64,
    pub revoked: bool,
    /// The account's session epoch when the session started.
    pub epoch: u64,
}

/// One refresh token, stored under the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub session_id: String,
    pub user_id: String,
    pub device_id: String,
    pub role: Role,
    /// Authentication methods of the original sign-in (`pwd`, `otp`).
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub expires_at: i64,
    /// Set once the token has been exchanged; presenting it again is theft,
    /// unless it is a retry within the grace window (see `AuthPolicy`).
    pub rotated: bool,
    /// When it was exchanged (epoch seconds), once rotated.
    pub rotated_at: Option<i64>,
    /// Hash of the token it was exchanged for, once rotated.
    pub successor: Option<String>,
    /// The session's epoch (see [`UserRecord::session_epoch`]).
    pub epoch: u64,
}

/// Everything a successful sign-in writes, atomically.
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub email: String,
    pub session: Session,
    pub token: RefreshRecord,
    /// Device hash to remember for this account, when it is new.
    pub new_device: Option<String>,
    /// TOTP step consumed by this sign-in; the write fails if it was used.
    pub totp_step: Option<u64>,
    /// Hash of a backup code spent by this sign-in; the write fails if it
    /// was used.
    pub backup_code: Option<String>,
    /// The sign-in challenge this start completes; spent in the same write.
    pub challenge: Option<OneTimeToken>,
    /// Lockout counter to clear.
    pub lockout_key: String,
}

/// Failure counter and lock of one account key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutState {
    pub failures: u32,
    /// How many locks in a row; the next lock lasts `base * 2^level`.
    pub level: u32,
    pub locked_until: Option<i64>,
}

/// The account side of a sign-in attempt reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAttempt {
    pub key: String,
    pub max_failures: u32,
    /// When the counter may be forgotten (DynamoDB TTL).
    pub expires_at: i64,
}

/// What `reserve_attempt` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Counted; the attempt may proceed.
    Reserved,
    /// The caller's IP is over its limit for the window.
    RateLimited,
    /// The account is locked (until the given time, when known).
    Locked { until: Option<i64> },
}

/// What a single-use emailed token is for; a token is good for its purpose only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Proves the owner reads the account's address (or a new address).
    VerifyEmail,
    /// Sets a new password without the old one.
    ResetPassword,
    /// Completes a sign-in whose password was right with a second factor.
    MfaChallenge,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
            TokenPurpose::MfaChallenge => "mfa_challenge",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "verify_email" => Some(TokenPurpose::VerifyEmail),
            "reset_password" => Some(TokenPurpose::ResetPassword),
            "mfa_challenge" => Some(TokenPurpose::MfaChallenge),
            _ => None,
        }
    }
}

/// A single-use token as stored: under the hash of its value, bound to one
/// purpose, one account (by id and by the address it was sent to) and, for
/// an address change, the new address. Only the newest token of a purpose
/// is current for its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeToken {
    pub token_hash: String,
    pub purpose: TokenPurpose,
    pub user_id: String,
    /// The account's address when the token was issued (its key).
    pub email: String,
    /// For an address change: the address being verified.
    pub new_email: Option<String>,
    /// For a sign-in challenge: the device it must be completed from.
    pub device_id: Option<String>,
    pub expires_at: i64,
}

/// A password reset, written at once: the token spent, the new password,
/// every session ended (the epoch raised), the lockout counters cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub token: OneTimeToken,
    pub password_hash: String,
    /// The epoch read; the write fails if it moved.
    pub epoch: u64,
    pub lockout_keys: Vec<String>,
}

/// Ends every session of an account at once by raising its epoch, written
/// in one step: optionally with a new password (the TOTP step that
/// authorised it consumed) and a fresh session for the asking device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionsEnd {
    pub email: String,
    pub user_id: String,
    /// The epoch read; the write fails if it moved.
    pub epoch: u64,
    /// The session asking for it; the write fails unless it still stands
    /// (not revoked, of `epoch`).
    pub asking_session: Option<String>,
    pub password_hash: Option<String>,
    /// A second factor to spend; the write fails if it was used.
    pub factor: Option<SecondFactor>,
    /// A session (and its first refresh token) of the new epoch.
    pub restart: Option<(Session, RefreshRecord)>,
}

/// A deleted account's last write: its address item removed (the address
/// may register again), its `USER#<id>` record kept for the ledger and
/// audit with the address replaced by a keyed digest, and every session
/// ended (the epoch raised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountErasure {
    pub email: String,
    pub user_id: String,
    /// The epoch read; the write fails if it moved.
    pub epoch: u64,
    /// What the address becomes on the kept record: `erased:<keyed digest>`.
    pub erased_email: String,
}
