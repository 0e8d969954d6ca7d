//! A second factor for every account: TOTP enrolment, confirmation (with
//! ten single-use backup codes, shown once), regeneration of the codes,
//! disabling, the sign-in challenge that completes a sign-in whose password
//! was right, and step-up (a fresh second factor on the current session).
//! TOTP secrets are stored sealed under the field encryption of the KYC PII,
//! bound to their account; backup codes are stored as hashes only.

use std::net::IpAddr;

use serde::Serialize;
use subtle::ConstantTimeEq;

use super::access::Principal;
use super::error::AuthError;
use super::model::{AccountAttempt, OneTimeToken, Role, SecondFactor, TokenPurpose, UserRecord};
use super::recovery::{new_token, token_hash};
use super::secrets::{digest, random_bytes};
use super::service::{AuthService, Caller, SignIn};
use super::tokens::{TokenSubject, ACCESS_TTL_SECONDS};
use super::totp;
use crate::kyc::pii::PiiKeys;
use crate::ports::{OutgoingEmail, StoreError};

/// How many backup codes an enrolment hands out.
pub const BACKUP_CODES: usize = 10;
/// Lifetime of a sign-in challenge.
pub const CHALLENGE_TTL_SECONDS: i64 = 5 * 60;
/// How recent a second factor must be for a step-up action.
pub const STEP_UP_SECONDS: i64 = 5 * 60;
/// Base32 alphabet of backup codes (RFC 4648, no padding).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The field label a TOTP secret is sealed under: its purpose and account,
/// so a sealed secret cannot be moved to another account.
fn secret_field(user_id: &str) -> String {
    format!("totp_secret:{user_id}")
}

/// Seals a base32 TOTP secret of account `user_id` for storage.
pub fn seal_secret(keys: &PiiKeys, user_id: &str, secret: &str) -> String {
    keys.encrypt(&secret_field(user_id), secret)
}

/// The base32 secret behind a stored one: sealed (`v1.` + key id + data),
/// or, for enrolments stored before sealing, the plain base32 secret (base32
/// has no '.'). `None` when a sealed value does not open.
pub fn open_secret(keys: &PiiKeys, user_id: &str, stored: &str) -> Option<String> {
    if !stored.contains('.') {
        return Some(stored.to_string());
    }
    keys.decrypt(&secret_field(user_id), stored).ok()
}

/// A new backup code: 80 random bits as 16 base32 characters, in groups of
/// four (`ABCD-EFGH-IJKL-MNOP`).
pub fn new_backup_code() -> String {
    let bytes = random_bytes::<10>();
    let mut bits: u128 = 0;
    for byte in bytes {
        bits = (bits << 8) | u128::from(byte);
    }
    let chars: Vec<char> = (0..16)
        .map(|i| BASE32[((bits >> (75 - 5 * i)) & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored hash of a backup code, as typed (case, spaces and dashes
/// ignored).
pub fn backup_code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    digest("backup-code", &normalized)
}

/// A sensitive change's re-authentication as submitted: the password and,
/// when the account has TOTP, a second factor.
#[derive(Debug, Clone, Copy)]
pub struct Reauthentication<'a> {
    pub password: &'a str,
    pub factor: Presented<'a>,
}

/// A second factor as presented: a TOTP code or a backup code.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub totp_code: Option<&'a str>,
    pub backup_code: Option<&'a str>,
}

impl Presented<'_> {
    pub fn is_empty(&self) -> bool {
        self.totp_code.is_none() && self.backup_code.is_none()
    }
}

/// The factor `presented` proves for `user` (whose TOTP secret, opened, is
/// `secret`) at `now`: a TOTP step newer than the last one used, or an
/// unused backup code (compared in constant time). Refused with
/// `TotpRequired` when nothing is presented and `TotpInvalid` otherwise.
pub fn check_factor(
    user: &UserRecord,
    secret: &str,
    presented: &Presented<'_>,
    now: i64,
) -> Result<SecondFactor, AuthError> {
    if let Some(code) = presented.totp_code {
        return match totp::matching_step(secret, code, now) {
            Some(step) if step > user.totp.last_step => Ok(SecondFactor::TotpStep(step)),
            _ => Err(AuthError::TotpInvalid),
        };
    }
    let code = presented.backup_code.ok_or(AuthError::TotpRequired)?;
    if code.len() > 64 {
        return Err(AuthError::TotpInvalid);
    }
    let hash = backup_code_hash(code);
    let mut found = false;
    for stored in &user.totp.backup_codes {
        found |= bool::from(stored.as_bytes().ct_eq(hash.as_bytes()));
    }
    if found {
        Ok(SecondFactor::BackupCode(hash))
    } else {
        Err(AuthError::TotpInvalid)
    }
}

/// Whether `principal` proved a second factor within [`STEP_UP_SECONDS`]
/// of `now` (a sign-in with one or a step-up; not a refresh).
pub fn fresh_second_factor(principal: &Principal, now: i64) -> bool {
    principal.amr.iter().any(|m| m == "otp")
        && principal
            .auth_time
            .is_some_and(|at| (0..=STEP_UP_SECONDS).contains(&(now - at)))
}

/// What TOTP enrolment hands the user to load into an authenticator.
#[derive(Debug, Clone, Serialize)]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// The backup codes of an enrolment, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct BackupCodes {
    pub totp_enabled: bool,
    pub backup_codes: Vec<String>,
}

/// The answer of a sign-in whose password was right but which needs a
/// second factor: the challenge completes it from the same device.
#[derive(Debug, Clone, Serialize)]
pub struct MfaChallenge {
    pub challenge: String,
    pub expires_in: i64,
    pub methods: [&'static str; 2],
}

/// A fresh access token for the current session, after a step-up.
#[derive(Debug, Clone, Serialize)]
pub struct SteppedUp {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// Ten new codes and their hashes.
fn backup_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..BACKUP_CODES).map(|_| new_backup_code()).collect();
    let hashes = codes.iter().map(|c| backup_code_hash(c)).collect();
    (codes, hashes)
}

impl AuthService {
    /// The opened TOTP secret of `user`, when enrolled.
    pub(super) fn totp_secret(&self, user: &UserRecord) -> Result<Option<String>, AuthError> {
        match &user.totp.secret {
            None => Ok(None),
            Some(stored) => open_secret(&self.totp_keys, &user.user_id, stored)
                .map(Some)
                .ok_or_else(|| {
                    tracing::error!("a stored TOTP secret does not open with the keys in force");
                    AuthError::Unavailable
                }),
        }
    }

    /// The factor `presented` proves for `user`, or `None` when `user` has
    /// no TOTP. A wrong factor counts towards the lockout under `lockout_key`.
    pub(super) async fn second_factor_of(
        &self,
        user: &UserRecord,
        presented: &Presented<'_>,
        lockout_key: &str,
    ) -> Result<Option<SecondFactor>, AuthError> {
        let Some(secret) = self.totp_secret(user)? else {
            return Ok(None);
        };
        match check_factor(user, &secret, presented, self.clock.now()) {
            Ok(factor) => Ok(Some(factor)),
            Err(AuthError::TotpInvalid) => {
                self.record_failure(lockout_key, Some(user)).await?;
                Err(AuthError::TotpInvalid)
            }
            Err(other) => Err(other),
        }
    }

    /// Re-authenticates the signed-in `user` before a sensitive change:
    /// counts the attempt against the caller's IP and the account's lockout,
    /// checks the password (a wrong one counts as a failed sign-in) and,
    /// when the account has TOTP, the presented second factor, which it
    /// answers (unspent: the change spends it in its own write, or calls
    /// [`AuthService::spend_factor`]).
    pub(super) async fn reauthenticate(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
        password: &str,
        presented: &Presented<'_>,
    ) -> Result<Option<SecondFactor>, AuthError> {
        let account = self.counted(user, caller).await?;
        if password.len() > 1024 || !self.passwords.verify(password, Some(&user.password_hash)) {
            self.record_failure(&account.key, Some(user)).await?;
            return Err(AuthError::InvalidCredentials);
        }
        let factor = self.second_factor_of(user, presented, &account.key).await?;
        self.succeeded(&account).await?;
        Ok(factor)
    }

    /// Counts a signed-in caller's attempt against its IP and the lockout
    /// counter a sign-in from its device uses (a known device keeps its
    /// own, so strangers failing on the address cannot block it).
    pub(super) async fn counted(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
    ) -> Result<AccountAttempt, AuthError> {
        let account = self.sign_in_attempt(user, caller, self.clock.now()).account;
        self.reserve(caller.ip, Some(&account)).await?;
        Ok(account)
    }

    /// Forgets the counted attempt once it succeeded, as a sign-in does.
    pub(super) async fn succeeded(&self, account: &AccountAttempt) -> Result<(), AuthError> {
        Ok(self.ports.attempts.clear_failures(&account.key).await?)
    }

    /// Spends `factor` on `user`'s account; a factor used meanwhile is
    /// refused as invalid.
    pub(super) async fn spend_factor(
        &self,
        user: &UserRecord,
        factor: &SecondFactor,
    ) -> Result<(), AuthError> {
        match self
            .ports
            .users
            .spend_second_factor(&user.email, factor)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(AuthError::TotpInvalid),
            Err(other) => Err(other.into()),
        }
    }

    /// Issues the sign-in challenge of `user` on the caller's device (a
    /// newer one replaces it).
    pub(super) async fn mfa_challenge(
        &self,
        user: &UserRecord,
        caller: &Caller<'_>,
    ) -> Result<SignIn, AuthError> {
        let challenge = new_token(TokenPurpose::MfaChallenge);
        self.ports
            .users
            .issue_token(&OneTimeToken {
                token_hash: token_hash(TokenPurpose::MfaChallenge, &challenge),
                purpose: TokenPurpose::MfaChallenge,
                user_id: user.user_id.clone(),
                email: user.email.clone(),
                new_email: None,
                device_id: Some(caller.device_id.to_string()),
                expires_at: self.clock.now() + CHALLENGE_TTL_SECONDS,
            })
            .await?;
        Ok(SignIn::MfaRequired(MfaChallenge {
            challenge,
            expires_in: CHALLENGE_TTL_SECONDS,
            methods: ["totp", "backup_code"],
        }))
    }

    /// Completes a sign-in challenge with a TOTP or backup code, from the
    /// device the challenge was issued to. The challenge, the TOTP step or
    /// the backup code are spent in the write that starts the session.
    pub async fn complete_mfa(
        &self,
        challenge: &str,
        presented: &Presented<'_>,
        caller: &Caller<'_>,
    ) -> Result<super::service::TokenPair, AuthError> {
        // The challenge (256 random bits) is looked up before anything is
        // counted; the attempt then counts against the caller's IP and the
        // account like a sign-in.
        let stored = self
            .presented(TokenPurpose::MfaChallenge, challenge)
            .await?;
        let same_device = stored
            .device_id
            .as_deref()
            .is_some_and(|device| bool::from(device.as_bytes().ct_eq(caller.device_id.as_bytes())));
        if !same_device {
            return Err(AuthError::TokenInvalid);
        }
        let user = self
            .ports
            .users
            .user_by_email(&stored.email)
            .await?
            .filter(|u| u.user_id == stored.user_id)
            .ok_or(AuthError::TokenInvalid)?;
        if user.role == Role::Admin && !self.guard().admin_ip_allowed(caller.ip) {
            return Err(AuthError::InvalidCredentials);
        }
        let attempt = self.sign_in_attempt(&user, caller, self.clock.now());
        self.reserve(caller.ip, Some(&attempt.account)).await?;
        let factor = self
            .second_factor_of(&user, presented, &attempt.account.key)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        self.start_signed_in(&user, caller, attempt, Some(factor), Some(stored))
            .await
    }

    /// Issues a pending TOTP secret to the caller, who has none confirmed.
    pub async fn totp_enroll(&self, principal: &Principal) -> Result<TotpEnrollment, AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        if user.totp.secret.is_some() {
            return Err(AuthError::Conflict("TOTP_ALREADY_ENROLLED"));
        }
        let secret = totp::new_secret();
        let sealed = seal_secret(&self.totp_keys, &user.user_id, &secret);
        match self
            .ports
            .users
            .set_pending_totp(&user.email, &sealed)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::Conflict("TOTP_ALREADY_ENROLLED")),
            Err(other) => return Err(other.into()),
        }
        let otpauth_uri = totp::provisioning_uri(&secret, &user.email, &self.policy.product_name)
            .ok_or(AuthError::Unavailable)?;
        Ok(TotpEnrollment {
            secret,
            otpauth_uri,
        })
    }

    /// Confirms the pending secret with the password and a current code:
    /// TOTP is required at sign-in from now on, and ten backup codes are
    /// answered, once. (The password keeps a stolen access token from
    /// putting a second factor of its own on the account.)
    pub async fn totp_confirm(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<BackupCodes, AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let pending = user
            .totp
            .pending
            .clone()
            .ok_or(AuthError::Conflict("TOTP_NOT_PENDING"))?;
        let now = self.clock.now();
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        let account = self.counted(&user, &caller).await?;
        if password.len() > 1024 || !self.passwords.verify(password, Some(&user.password_hash)) {
            self.record_failure(&account.key, Some(&user)).await?;
            return Err(AuthError::InvalidCredentials);
        }
        let secret =
            open_secret(&self.totp_keys, &user.user_id, &pending).ok_or(AuthError::Unavailable)?;
        let Some(step) = totp::matching_step(&secret, code, now) else {
            self.record_failure(&account.key, Some(&user)).await?;
            return Err(AuthError::TotpInvalid);
        };
        self.succeeded(&account).await?;
        let (codes, hashes) = backup_codes();
        match self
            .ports
            .users
            .confirm_totp(&user.email, &user.user_id, &pending, step, &hashes)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::Conflict("TOTP_NOT_PENDING")),
            Err(other) => return Err(other.into()),
        }
        self.security_notice(
            &user.email,
            "two-step sign-in turned on",
            "Two-step sign-in was turned on for your account.",
        )
        .await;
        Ok(BackupCodes {
            totp_enabled: true,
            backup_codes: codes,
        })
    }

    /// Replaces the backup codes, with a current TOTP code (not a backup
    /// code): the old ones stop working.
    pub async fn regenerate_backup_codes(
        &self,
        principal: &Principal,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<BackupCodes, AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let secret = self
            .totp_secret(&user)?
            .ok_or(AuthError::Conflict("TOTP_NOT_ENROLLED"))?;
        let now = self.clock.now();
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        let account = self.counted(&user, &caller).await?;
        let presented = Presented {
            totp_code: Some(code),
            backup_code: None,
        };
        let step = match check_factor(&user, &secret, &presented, now) {
            Ok(SecondFactor::TotpStep(step)) => step,
            _ => {
                self.record_failure(&account.key, Some(&user)).await?;
                return Err(AuthError::TotpInvalid);
            }
        };
        let (codes, hashes) = backup_codes();
        match self
            .ports
            .users
            .replace_backup_codes(&user.email, step, &hashes)
            .await
        {
            Ok(()) => self.succeeded(&account).await?,
            Err(StoreError::Conflict) => return Err(AuthError::TotpInvalid),
            Err(other) => return Err(other.into()),
        }
        self.security_notice(
            &user.email,
            "new backup codes",
            "New backup codes were made for your account; the old ones no longer work.",
        )
        .await;
        Ok(BackupCodes {
            totp_enabled: true,
            backup_codes: codes,
        })
    }

    /// Turns two-step sign-in off with the password and a current TOTP or
    /// backup code. Admins keep theirs while it is required of admins.
    pub async fn totp_disable(
        &self,
        principal: &Principal,
        password: &str,
        presented: &Presented<'_>,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        if user.totp.secret.is_none() {
            return Err(AuthError::Conflict("TOTP_NOT_ENROLLED"));
        }
        if user.role == Role::Admin && self.policy.admin_totp_required {
            return Err(AuthError::Forbidden);
        }
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        let factor = self
            .reauthenticate(&user, &caller, password, presented)
            .await?
            .ok_or(AuthError::Conflict("TOTP_NOT_ENROLLED"))?;
        match self
            .ports
            .users
            .remove_totp(&user.email, &user.user_id, &factor)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::TotpInvalid),
            Err(other) => return Err(other.into()),
        }
        self.security_notice(
            &user.email,
            "two-step sign-in turned off",
            "Two-step sign-in was turned off for your account. If this was not you, reset \
             your password at once and turn it on again.",
        )
        .await;
        Ok(())
    }

    /// A fresh access token for the current session, after a second factor
    /// (spent here): what step-up actions (raising spending limits) ask for.
    pub async fn step_up(
        &self,
        principal: &Principal,
        presented: &Presented<'_>,
        ip: Option<IpAddr>,
    ) -> Result<SteppedUp, AuthError> {
        let session = self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        if user.totp.secret.is_none() {
            return Err(AuthError::Conflict("TOTP_NOT_ENROLLED"));
        }
        let now = self.clock.now();
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        let account = self.counted(&user, &caller).await?;
        let factor = self
            .second_factor_of(&user, presented, &account.key)
            .await?
            .ok_or(AuthError::Conflict("TOTP_NOT_ENROLLED"))?;
        self.spend_factor(&user, &factor).await?;
        self.succeeded(&account).await?;
        let mut amr = principal.amr.clone();
        if !amr.iter().any(|m| m == "otp") {
            amr.push("otp".to_string());
        }
        let access_token = self.signer.issue_proved(
            &TokenSubject {
                user_id: &session.user_id,
                session_id: &session.session_id,
                device_id: &session.device_id,
                role: principal.role,
                amr: &amr,
                ip: session.ip.as_deref(),
            },
            now,
            Some(now),
        );
        Ok(SteppedUp {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TTL_SECONDS,
        })
    }

    /// Emails a short security notice about the account.
    pub(super) async fn security_notice(&self, to: &str, what: &str, text: &str) {
        self.send_best_effort(&OutgoingEmail {
            to: to.to_string(),
            subject: format!("{}: {what}", self.policy.product_name),
            text: text.to_string(),
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::TotpState;

    fn keys() -> PiiKeys {
        PiiKeys::new("k1", vec![("k1".into(), random_bytes::<32>())]).unwrap()
    }

    fn user(secret: &str, last_step: u64, backup: &[&str]) -> UserRecord {
        UserRecord {
            user_id: "u1".into(),
            email: "a@example.com".into(),
            password_hash: String::new(),
            role: Role::User,
            created_at: 0,
            known_devices: Vec::new(),
            totp: TotpState {
                secret: Some(secret.into()),
                pending: None,
                last_step,
                backup_codes: backup.iter().map(|c| backup_code_hash(c)).collect(),
            },
            email_verified: true,
            session_epoch: 0,
        }
    }

    #[test]
    fn secrets_are_sealed_to_their_account() {
        let keys = keys();
        let sealed = seal_secret(&keys, "u1", "JBSWY3DPEHPK3PXP");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            open_secret(&keys, "u1", &sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(
            open_secret(&keys, "u2", &sealed),
            None,
            "moved to another account"
        );
        assert_eq!(
            open_secret(&keys, "u1", "JBSWY3DPEHPK3PXP").as_deref(),
            Some("JBSWY3DPEHPK3PXP"),
            "a secret stored before sealing still opens"
        );
    }

    #[test]
    fn backup_codes_carry_80_bits_and_match_as_typed() {
        let code = new_backup_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert_ne!(code, new_backup_code());
        let typed = code.to_ascii_lowercase().replace('-', " ");
        assert_eq!(backup_code_hash(&typed), backup_code_hash(&code));
    }

    #[test]
    fn a_factor_is_a_fresh_step_or_an_unused_code() {
        let secret = totp::new_secret();
        let now = 1_700_000_000;
        let step = (now / 30) as u64;
        let code = totp::code_at(&secret, now).unwrap();
        let backup = new_backup_code();
        let u = user(&secret, 0, &[&backup]);
        fn totp_only(c: &str) -> Presented<'_> {
            Presented {
                totp_code: Some(c),
                backup_code: None,
            }
        }
        assert_eq!(
            check_factor(&u, &secret, &totp_only(&code), now),
            Ok(SecondFactor::TotpStep(step))
        );
        assert_eq!(
            check_factor(&user(&secret, step, &[]), &secret, &totp_only(&code), now),
            Err(AuthError::TotpInvalid),
            "a used step"
        );
        let with_backup = Presented {
            totp_code: None,
            backup_code: Some(&backup),
        };
        assert_eq!(
            check_factor(&u, &secret, &with_backup, now),
            Ok(SecondFactor::BackupCode(backup_code_hash(&backup)))
        );
        let unknown = Presented {
            totp_code: None,
            backup_code: Some("AAAA-BBBB-CCCC-DDDD"),
        };
        assert_eq!(
            check_factor(&u, &secret, &unknown, now),
            Err(AuthError::TotpInvalid)
        );
        assert_eq!(
            check_factor(&u, &secret, &Presented::default(), now),
            Err(AuthError::TotpRequired)
        );
    }
}
