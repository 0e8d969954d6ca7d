//! Self-service account deletion. With the password (and a second factor
//! when enrolled): the KYC documents and PII are erased through the KYC
//! erasure, a confirmation goes to the address while it is still known,
//! then the account is deleted in one write: the address freed (it may
//! register again), every session ended, sign-in refused at once; then its
//! data export, if any, is removed. The ledger and audit entries stay under
//! the pseudonymous user id, whose record keeps only a keyed digest of the
//! address.

use std::net::IpAddr;

use super::access::Principal;
use super::error::AuthError;
use super::mfa::Reauthentication;
use super::model::AccountErasure;
use super::service::{AuthService, Caller};
use crate::kyc::erasure::erase_user_kyc;
use crate::ports::{OutgoingEmail, StoreError};

impl AuthService {
    /// Deletes the caller's account (see the module).
    pub async fn delete_account(
        &self,
        principal: &Principal,
        deletion: &Reauthentication<'_>,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        self.reauthenticate(&user, &caller, deletion.password, &deletion.factor)
            .await?;
        let now = self.clock.now();
        let erased =
            erase_user_kyc(&*self.ports.kyc, &*self.ports.documents, &user.user_id, now).await?;
        self.send_best_effort(&OutgoingEmail {
            to: user.email.clone(),
            subject: format!("{}: your account was deleted", self.policy.product_name),
            text: "Your account was deleted as you asked: you are signed out everywhere, your \
                   identity documents are erased, and this address is no longer kept (it can \
                   be used to sign up again). Records the law requires us to keep (payments, \
                   the audit log) stay under an anonymous account number. If you did not ask \
                   for this, contact support at once."
                .to_string(),
        })
        .await;
        let erasure = AccountErasure {
            erased_email: format!(
                "erased:{}",
                self.totp_keys.keyed_digest("erased-email", &user.email)
            ),
            email: user.email,
            user_id: user.user_id,
            epoch: user.session_epoch,
        };
        match self.ports.users.erase_account(&erasure).await {
            Ok(()) => {}
            // The account moved on between the reads and the write (a
            // password change, an address change): the KYC is already
            // erased, which a retry finds done; the account stands.
            Err(StoreError::Conflict) => return Err(AuthError::Conflict("ACCOUNT_CHANGED")),
            Err(other) => return Err(other.into()),
        }
        // After the account write: a refused deletion keeps the export, and
        // a worker that read the account before it finds it gone after.
        if let Err(err) = self.delete_export(&erasure.user_id).await {
            tracing::error!(
                error = %err,
                "deleted account's export not removed (the bucket expires it within two days)"
            );
        }
        tracing::info!(
            user_id = %erasure.user_id,
            kyc_submissions = erased.submissions,
            kyc_documents = erased.documents,
            "account deleted"
        );
        Ok(())
    }
}
