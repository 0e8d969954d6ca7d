//! The export worker: one queued request at a time. It reads everything
//! the account has, stores the document, marks the request ready and tells
//! the owner by email (no link in the email: the signed-in app fetches a
//! short-lived one). A request already done is acknowledged; one no longer
//! current (withdrawn, replaced) or whose account is gone is dropped with
//! anything an earlier attempt stored. A failure is retried by the queue,
//! and redoing it is harmless (same object, conditional finish).

use std::sync::Arc;

use super::document::{render, ExportInputs};
use super::object_key;
use crate::auth::model::UserRecord;
use crate::clock::Clock;
use crate::ports::{
    AccountRecords, DocumentStore, ExportJob, ExportStore, KycStore, Mailer, OutgoingEmail,
    SessionStore, StoreError, UserStore,
};

/// Why a message was not handled (the queue retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("export message malformed")]
    Malformed,
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ExportError {
    fn from(err: StoreError) -> Self {
        ExportError::Unavailable(err.to_string())
    }
}

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// The document is stored and the request ready.
    Produced { object_key: String, bytes: usize },
    /// Nothing to do: the request is done, replaced, or the account gone.
    Dropped(&'static str),
}

/// The ports the worker reads and writes.
pub struct ExportWorker {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub records: Arc<dyn AccountRecords>,
    pub kyc: Arc<dyn KycStore>,
    pub exports: Arc<dyn ExportStore>,
    pub documents: Arc<dyn DocumentStore>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub product_name: String,
}

impl ExportWorker {
    /// The account `user_id`, `None` once it is deleted. An account is read
    /// through its id and then its address; an address change landing
    /// between the two reads misses it once, so a miss is read again.
    async fn account(&self, user_id: &str) -> Result<Option<UserRecord>, ExportError> {
        if let Some(user) = self.users.user_by_id(user_id).await? {
            return Ok(Some(user));
        }
        Ok(self.users.user_by_id(user_id).await?)
    }

    /// Drops `job`, deleting whatever an earlier attempt of it stored.
    async fn dropped(
        &self,
        job: &ExportJob,
        why: &'static str,
    ) -> Result<ExportOutcome, ExportError> {
        self.documents
            .delete_document(&object_key(&job.user_id, &job.export_id))
            .await?;
        Ok(ExportOutcome::Dropped(why))
    }

    /// Handles one queue message body.
    pub async fn handle(&self, body: &str) -> Result<ExportOutcome, ExportError> {
        let job: ExportJob = serde_json::from_str(body).map_err(|_| ExportError::Malformed)?;
        let request = self.exports.export_request(&job.user_id).await?;
        let Some(request) = request.filter(|r| r.export_id == job.export_id) else {
            return self.dropped(&job, "not current").await;
        };
        if request.ready_at.is_some() {
            return Ok(ExportOutcome::Dropped("done"));
        }
        let Some(user) = self.account(&job.user_id).await? else {
            return self.dropped(&job, "account gone").await;
        };
        let wallet = self.records.wallet_records(&user.user_id).await?;
        let kyc = self.kyc.user_submissions(&user.user_id).await?;
        let mut targets: Vec<String> = std::iter::once(format!("user:{}", user.user_id))
            .chain(
                wallet
                    .recharges
                    .iter()
                    .map(|r| &r.recharge_id)
                    .chain(&wallet.case_ids)
                    .map(|id| format!("recharge:{id}")),
            )
            .chain(kyc.iter().map(|k| format!("kyc:{}", k.submission_id)))
            .collect();
        targets.sort();
        targets.dedup();
        let inputs = ExportInputs {
            export_id: job.export_id.clone(),
            sessions: self.sessions.sessions_of(&user.user_id).await?,
            audit: self.records.audit_about(&user.user_id, &targets).await?,
            wallet,
            kyc,
            user,
        };
        let email = inputs.user.email.clone();
        let now = self.clock.now();
        let document = serde_json::to_vec_pretty(&render(inputs, now))
            .map_err(|e| ExportError::Unavailable(format!("export not encoded: {e}")))?;
        let bytes = document.len();
        let key = object_key(&job.user_id, &job.export_id);
        self.documents
            .put_document(&key, document.into(), "application/json")
            .await?;
        match self
            .exports
            .finish_export(&job.user_id, &job.export_id, &key, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                // Finished by a duplicate delivery (same document), or
                // withdrawn or replaced meanwhile (then nothing names it).
                let current = self.exports.export_request(&job.user_id).await?;
                if current.is_some_and(|r| r.export_id == job.export_id) {
                    return Ok(ExportOutcome::Dropped("done"));
                }
                return self.dropped(&job, "not current").await;
            }
            Err(other) => return Err(other.into()),
        }
        // An account deleted while its export was being written must not
        // leave its data behind.
        if self.account(&job.user_id).await?.is_none() {
            return self.dropped(&job, "account gone").await;
        }
        let notice = OutgoingEmail {
            to: email,
            subject: format!("{}: your data export is ready", self.product_name),
            text: "The copy of your account data you asked for is ready. Sign in to the app \
                   and open your account's data export within 24 hours to download it. If you \
                   did not ask for it, change your password at once."
                .to_string(),
        };
        if let Err(err) = self.mailer.send(&notice).await {
            tracing::warn!(error = %err, "export notice not sent");
        }
        tracing::info!(user_id = %job.user_id, export_id = %job.export_id, bytes, "export produced");
        Ok(ExportOutcome::Produced {
            object_key: key,
            bytes,
        })
    }
}
