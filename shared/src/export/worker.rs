//! The export worker: one queued request at a time. It reads everything
//! the account has, stores the document, marks the request ready and tells
//! the owner by email (no link in the email: the signed-in app fetches a
//! short-lived one). A request that is no longer current, already done, or
//! whose account is gone is acknowledged and dropped; a failure is retried
//! by the queue, and redoing it is harmless (same object, conditional
//! finish).

use std::sync::Arc;

use super::document::{render, ExportInputs};
use super::object_key;
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
    /// Handles one queue message body.
    pub async fn handle(&self, body: &str) -> Result<ExportOutcome, ExportError> {
        let job: ExportJob = serde_json::from_str(body).map_err(|_| ExportError::Malformed)?;
        let Some(request) = self.exports.export_request(&job.user_id).await? else {
            return Ok(ExportOutcome::Dropped("no request"));
        };
        if request.export_id != job.export_id {
            return Ok(ExportOutcome::Dropped("replaced"));
        }
        if request.ready_at.is_some() {
            return Ok(ExportOutcome::Dropped("done"));
        }
        let Some(user) = self.users.user_by_id(&job.user_id).await? else {
            return Ok(ExportOutcome::Dropped("account gone"));
        };
        let inputs = ExportInputs {
            export_id: job.export_id.clone(),
            sessions: self.sessions.sessions_of(&user.user_id).await?,
            wallet: self.records.wallet_records(&user.user_id).await?,
            kyc: self.kyc.user_submissions(&user.user_id).await?,
            audit: self.records.audit_about(&user.user_id).await?,
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
            Err(StoreError::Conflict) => return Ok(ExportOutcome::Dropped("finished meanwhile")),
            Err(other) => return Err(other.into()),
        }
        // An account deleted while its export was being written must not
        // leave its data behind.
        if self.users.user_by_id(&job.user_id).await?.is_none() {
            self.documents.delete_document(&key).await?;
            return Ok(ExportOutcome::Dropped("account gone"));
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
