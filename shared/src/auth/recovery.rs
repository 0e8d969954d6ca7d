//! Getting back in and proving the address: email verification (sent at
//! sign-up, resendable) and password reset (`forgot`, then `reset`). Every
//! token is random (256 bits), emailed once, stored only as a hash under a
//! label of its purpose, single use, current until a newer one of its
//! purpose is issued, and never logged.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::access::Principal;
use super::email::normalize_email;
use super::error::AuthError;
use super::lockout::{known_device_lockout_key, lockout_key};
use super::mfa::Presented;
use super::model::{AttemptOutcome, OneTimeToken, PasswordReset, TokenPurpose, UserRecord};
use super::password::check_password_policy;
use super::secrets::{digest, random_bytes};
use super::service::{AuthService, Caller};
use crate::ports::{OutgoingEmail, StoreError};
use crate::ratelimit::WindowLimit;
use crate::validation::FieldIssue;

/// Where a client sends a reset token; named in the security emails.
pub const RESET_ROUTE: &str = "POST /v1/auth/password/forgot";
/// Lifetime of a verification token.
pub const VERIFY_TTL_SECONDS: i64 = 24 * 3600;
/// Lifetime of a reset token.
pub const RESET_TTL_SECONDS: i64 = 30 * 60;
/// Longest token accepted (bounds work on hostile input).
const MAX_TOKEN_BYTES: usize = 128;
/// Most lockout counters a reset clears in its write (the account's and
/// the known devices'; DynamoDB allows 100 writes per transaction).
const MAX_CLEARED_LOCKS: usize = 90;

/// How often the recovery emails may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryLimits {
    /// Verification emails per account.
    pub resend_per_account: WindowLimit,
    /// Reset emails per address (known or not: the same for both).
    pub forgot_per_address: WindowLimit,
    /// Reset requests per IP.
    pub forgot_per_ip: WindowLimit,
}

impl Default for RecoveryLimits {
    fn default() -> Self {
        let hourly = |limit| WindowLimit {
            limit,
            window_seconds: 3600,
        };
        Self {
            resend_per_account: hourly(3),
            forgot_per_address: hourly(3),
            forgot_per_ip: hourly(10),
        }
    }
}

/// An address change as submitted.
#[derive(Debug, Clone)]
pub struct EmailChange<'a> {
    pub new_email: &'a str,
    pub password: &'a str,
    pub factor: Presented<'a>,
}

/// An address with most of its local part hidden (`a***@example.com`), for
/// notices sent to another address.
pub fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// A new emailed token: a prefix naming its purpose and 256 random bits.
pub(super) fn new_token(purpose: TokenPurpose) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let prefix = match purpose {
        TokenPurpose::VerifyEmail => "ev_",
        TokenPurpose::ResetPassword => "pr_",
        TokenPurpose::MfaChallenge => "mfa_",
    };
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The stored hash of `token` for `purpose`: the same value hashes apart
/// under another purpose, so a token is good for its own purpose only.
pub(super) fn token_hash(purpose: TokenPurpose, token: &str) -> String {
    digest(&format!("one-time:{}", purpose.as_str()), token)
}

/// Why a presented token is refused, or `None` when it may be spent:
/// right purpose, not expired, and its stored hash equal (in constant time)
/// to the hash of what was presented.
pub fn token_refusal(
    stored: &OneTimeToken,
    purpose: TokenPurpose,
    presented_hash: &str,
    now: i64,
) -> Option<AuthError> {
    let same = bool::from(
        stored
            .token_hash
            .as_bytes()
            .ct_eq(presented_hash.as_bytes()),
    );
    (!same || stored.purpose != purpose || stored.expires_at <= now)
        .then_some(AuthError::TokenInvalid)
}

impl AuthService {
    /// Issues (and makes current) a verification token for `user`'s address,
    /// or for `new_email` when the address is changing.
    pub(super) async fn verification_token(
        &self,
        user: &UserRecord,
        new_email: Option<&str>,
    ) -> Result<String, StoreError> {
        let token = new_token(TokenPurpose::VerifyEmail);
        self.ports
            .users
            .issue_token(&OneTimeToken {
                token_hash: token_hash(TokenPurpose::VerifyEmail, &token),
                purpose: TokenPurpose::VerifyEmail,
                user_id: user.user_id.clone(),
                email: user.email.clone(),
                new_email: new_email.map(str::to_string),
                device_id: None,
                expires_at: self.clock.now() + VERIFY_TTL_SECONDS,
            })
            .await?;
        Ok(token)
    }

    /// The one write a new account's verification token takes, made for a
    /// taken address instead so both sign-ups cost the same: a token bound
    /// to no account, which the store refuses without writing.
    pub(super) async fn decoy_token_write(&self, email: &str) -> Result<(), AuthError> {
        let token = new_token(TokenPurpose::VerifyEmail);
        let decoy = OneTimeToken {
            token_hash: token_hash(TokenPurpose::VerifyEmail, &token),
            purpose: TokenPurpose::VerifyEmail,
            user_id: super::secrets::new_id(),
            email: email.to_string(),
            new_email: None,
            device_id: None,
            expires_at: self.clock.now() + VERIFY_TTL_SECONDS,
        };
        match self.ports.users.issue_token(&decoy).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    pub(super) fn welcome_email(&self, email: &str, token: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: email.to_string(),
            subject: format!("Welcome to {}: verify your email", self.policy.product_name),
            text: format!(
                "Your account is ready. To verify this address, open the app and enter this \
                 verification token (valid 24 hours, usable once):\n\n{token}\n\n(The app \
                 sends it to POST /v1/auth/email/verify.) Until then you can sign in, but not \
                 top up your wallet or submit identity documents. If you did not create this \
                 account, ignore this email."
            ),
        }
    }

    /// Spends a verification token: the address is verified.
    pub async fn verify_email(&self, token: &str, ip: Option<IpAddr>) -> Result<(), AuthError> {
        self.reserve(ip, None).await?;
        let stored = self.presented(TokenPurpose::VerifyEmail, token).await?;
        if let Some(new_email) = stored.new_email.clone() {
            return self.complete_email_change(&stored, &new_email).await;
        }
        match self.ports.users.confirm_email(&stored).await {
            Ok(()) => {
                tracing::info!(user_id = %stored.user_id, "email address verified");
                Ok(())
            }
            Err(StoreError::Conflict) => Err(AuthError::TokenInvalid),
            Err(other) => Err(other.into()),
        }
    }

    /// Moves the account to its new, now verified address and tells the
    /// old one.
    async fn complete_email_change(
        &self,
        stored: &OneTimeToken,
        new_email: &str,
    ) -> Result<(), AuthError> {
        match self.ports.users.change_email(stored).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => return Err(AuthError::Conflict("EMAIL_TAKEN")),
            Err(StoreError::Conflict) => return Err(AuthError::TokenInvalid),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(user_id = %stored.user_id, "email address changed");
        self.security_notice(
            &stored.email,
            "your address was changed",
            &format!(
                "The email address of your account was changed to {}; this address no longer \
                 signs in. If this was not you, contact support at once.",
                masked(new_email)
            ),
        )
        .await;
        Ok(())
    }

    /// Starts an address change, with the password (and a second factor
    /// when enrolled, spent here): a verification token goes to the new
    /// address, which replaces the old one once verified; the old address
    /// is told. Whether the new address has an account is not checked here
    /// (that would tell a signed-in caller which addresses are taken): the
    /// verification refuses it.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        change: &EmailChange<'_>,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let new_email = normalize_email(change.new_email).map_err(|mut issue| {
            issue.field = "new_email".into();
            AuthError::Invalid(vec![issue])
        })?;
        if new_email == user.email {
            return Err(AuthError::Invalid(vec![FieldIssue::new(
                "new_email",
                "is the current address",
            )]));
        }
        if let Some(factor) = self
            .reauthenticate(
                &user,
                &Caller {
                    device_id: &principal.did,
                    ip,
                },
                change.password,
                &change.factor,
            )
            .await?
        {
            self.spend_factor(&user, &factor).await?;
        }
        let token = self.verification_token(&user, Some(&new_email)).await?;
        self.send_best_effort(&OutgoingEmail {
            to: new_email.clone(),
            subject: format!("{}: confirm your new address", self.policy.product_name),
            text: format!(
                "To make this the address of your account, enter this verification token in \
                 the app (valid 24 hours, usable once):\n\n{token}\n\n(The app sends it to \
                 POST /v1/auth/email/verify.) If you did not ask for this, ignore this email."
            ),
        })
        .await;
        self.security_notice(
            &user.email,
            "address change requested",
            &format!(
                "A change of your account's address to {} was requested. It takes effect once \
                 the new address is confirmed. If this was not you, reset your password at once \
                 ({RESET_ROUTE}).",
                masked(&new_email)
            ),
        )
        .await;
        Ok(())
    }

    /// Emails a new verification token to a signed-in, unverified account.
    pub async fn resend_verification(&self, principal: &Principal) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        if user.email_verified {
            return Err(AuthError::Conflict("EMAIL_ALREADY_VERIFIED"));
        }
        let now = self.clock.now();
        let slot =
            self.policy
                .recovery
                .resend_per_account
                .slot("verify-resend", &user.user_id, now);
        match self
            .ports
            .attempts
            .reserve_attempt(&slot, None, now)
            .await?
        {
            AttemptOutcome::Reserved => {}
            _ => {
                return Err(AuthError::RateLimited {
                    retry_after: slot.retry_after(now),
                })
            }
        }
        let token = self.verification_token(&user, None).await?;
        self.send_best_effort(&self.welcome_email(&user.email, &token))
            .await;
        Ok(())
    }

    /// Emails a reset token when `raw_email` has an account, and a note
    /// saying there is none otherwise: the same work, answer and calls
    /// either way, so the answer tells nothing about the address. A caller
    /// over the per-address limit is answered the same and sent nothing.
    pub async fn forgot_password(
        &self,
        raw_email: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let email = normalize_email(raw_email).map_err(|i| AuthError::Invalid(vec![i]))?;
        let now = self.clock.now();
        let caller = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let ip_slot = self
            .policy
            .recovery
            .forgot_per_ip
            .slot("forgot-ip", &caller, now);
        if self
            .ports
            .attempts
            .reserve_attempt(&ip_slot, None, now)
            .await?
            != AttemptOutcome::Reserved
        {
            return Err(AuthError::RateLimited {
                retry_after: ip_slot.retry_after(now),
            });
        }
        let address_slot = self.policy.recovery.forgot_per_address.slot(
            "forgot-address",
            &digest("forgot-address", &email),
            now,
        );
        if self
            .ports
            .attempts
            .reserve_attempt(&address_slot, None, now)
            .await?
            != AttemptOutcome::Reserved
        {
            tracing::info!("reset email not sent: the address is over its hourly limit");
            return Ok(());
        }
        let user = self.ports.users.user_by_email(&email).await?;
        let token = new_token(TokenPurpose::ResetPassword);
        let record = OneTimeToken {
            token_hash: token_hash(TokenPurpose::ResetPassword, &token),
            purpose: TokenPurpose::ResetPassword,
            // An unknown address gets a token bound to no account: the
            // store refuses it in the same one write a real token takes.
            user_id: user
                .as_ref()
                .map_or_else(super::secrets::new_id, |u| u.user_id.clone()),
            email: email.clone(),
            new_email: None,
            device_id: None,
            expires_at: now + RESET_TTL_SECONDS,
        };
        let issued = match self.ports.users.issue_token(&record).await {
            Ok(()) => user.is_some(),
            Err(StoreError::NotFound) => false,
            Err(other) => return Err(other.into()),
        };
        let product = &self.policy.product_name;
        let mail = if issued {
            OutgoingEmail {
                to: email,
                subject: format!("{product}: reset your password"),
                text: format!(
                    "Someone (hopefully you) asked to reset the password of this account. \
                     Enter this reset token in the app with your new password (valid 30 \
                     minutes, usable once; asking again replaces it):\n\n{token}\n\n(The app \
                     sends it to POST /v1/auth/password/reset.) Resetting signs every device \
                     out. If you did not ask, ignore this email: your password is unchanged."
                ),
            }
        } else {
            OutgoingEmail {
                to: email,
                subject: format!("{product}: password reset requested"),
                text: format!(
                    "Someone asked to reset the password of a {product} account at this \
                     address, but there is no account with it. If it was you, you may have \
                     signed up with another address. Otherwise ignore this email."
                ),
            }
        };
        self.send_best_effort(&mail).await;
        Ok(())
    }

    /// Spends a reset token: the new password (under the password policy)
    /// is set, every session and refresh family ends, the lockout counters
    /// are cleared, and a notice is emailed.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        self.reserve(ip, None).await?;
        let stored = self.presented(TokenPurpose::ResetPassword, token).await?;
        let user = self
            .ports
            .users
            .user_by_email(&stored.email)
            .await?
            .filter(|u| u.user_id == stored.user_id)
            .ok_or(AuthError::TokenInvalid)?;
        check_password_policy(new_password, &user.email)
            .map_err(|issue| AuthError::Invalid(vec![issue]))?;
        let mut lockout_keys = vec![lockout_key(&user.email)];
        lockout_keys.extend(
            user.known_devices
                .iter()
                .map(|device| known_device_lockout_key(&user.email, device)),
        );
        lockout_keys.truncate(MAX_CLEARED_LOCKS);
        let reset = PasswordReset {
            token: stored,
            password_hash: self.passwords.hash(new_password),
            epoch: user.session_epoch,
            lockout_keys,
        };
        match self.ports.users.reset_password(&reset).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AuthError::TokenInvalid),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(user_id = %user.user_id, "password reset: every session ended");
        self.send_best_effort(&OutgoingEmail {
            to: user.email,
            subject: format!("{}: your password was reset", self.policy.product_name),
            text: format!(
                "The password of your account was just reset and every device was signed out. \
                 If this was not you, ask for a new reset link at once ({RESET_ROUTE}) and \
                 contact support."
            ),
        })
        .await;
        Ok(())
    }

    /// The stored token behind `token` when it may be spent for `purpose`.
    pub(super) async fn presented(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<OneTimeToken, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid(vec![FieldIssue::new(
                "token",
                "must have between 1 and 128 characters",
            )]));
        }
        let hash = token_hash(purpose, token);
        let stored = self
            .ports
            .users
            .one_time_token(&hash)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        match token_refusal(&stored, purpose, &hash, self.clock.now()) {
            Some(refusal) => Err(refusal),
            None => Ok(stored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(purpose: TokenPurpose, token: &str) -> OneTimeToken {
        OneTimeToken {
            token_hash: token_hash(purpose, token),
            purpose,
            user_id: "user-1".into(),
            email: "a@example.com".into(),
            new_email: None,
            device_id: None,
            expires_at: 1_000,
        }
    }

    #[test]
    fn tokens_carry_256_random_bits_and_name_their_purpose() {
        let a = new_token(TokenPurpose::ResetPassword);
        assert!(a.starts_with("pr_") && a.len() == 3 + 43, "{a}");
        assert_ne!(a, new_token(TokenPurpose::ResetPassword));
        assert!(new_token(TokenPurpose::VerifyEmail).starts_with("ev_"));
    }

    #[test]
    fn a_token_is_good_for_its_purpose_until_it_expires() {
        let token = new_token(TokenPurpose::ResetPassword);
        let record = stored(TokenPurpose::ResetPassword, &token);
        let hash = token_hash(TokenPurpose::ResetPassword, &token);
        assert_eq!(
            token_refusal(&record, TokenPurpose::ResetPassword, &hash, 999),
            None
        );
        assert_eq!(
            token_refusal(&record, TokenPurpose::ResetPassword, &hash, 1_000),
            Some(AuthError::TokenInvalid),
            "expired at its end"
        );
        assert_eq!(
            token_refusal(&record, TokenPurpose::VerifyEmail, &hash, 999),
            Some(AuthError::TokenInvalid),
            "another purpose"
        );
        let other = token_hash(TokenPurpose::ResetPassword, "pr_other");
        assert_eq!(
            token_refusal(&record, TokenPurpose::ResetPassword, &other, 999),
            Some(AuthError::TokenInvalid),
            "another token"
        );
    }

    #[test]
    fn the_same_value_hashes_apart_under_each_purpose() {
        assert_ne!(
            token_hash(TokenPurpose::VerifyEmail, "x"),
            token_hash(TokenPurpose::ResetPassword, "x")
        );
    }
}
