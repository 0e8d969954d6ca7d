//! The applicant's side of KYC: submit documents, read where they stand.
//! A submission is checked completely before anything is written; the
//! daily cap and the one-active-submission rule are enforced by the store.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::age::date_at;
use super::form::SubmissionForm;
use super::model::{KycStatus, KycSubmission, StoredDocument, UploadReservation};
use super::pii::PiiKeys;
use super::policy::{assess, KycPolicy, Refusal};
use crate::clock::Clock;
use crate::flags::{FeatureGuard, FeatureUnavailable};
use crate::ids::UserId;
use crate::ports::{DocumentStore, KycStore, StoreError};

/// Kill-switch flag guarding uploads.
pub const UPLOAD_FEATURE: &str = "kyc-upload";

/// The associated-data name of a PII field of a submission, so a value
/// cannot be moved to another field or submission.
pub fn pii_field(submission_id: &str, field: &str) -> String {
    format!("kyc/{submission_id}/{field}")
}

/// The stores KYC uses.
#[derive(Clone)]
pub struct KycPorts {
    pub store: Arc<dyn KycStore>,
    pub documents: Arc<dyn DocumentStore>,
}

/// What the applicant gets back after submitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionReceipt {
    pub submission_id: String,
    pub status: KycStatus,
    pub documents: usize,
}

/// The applicant's KYC state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KycStatusView {
    /// `none`, `pending`, `approved`, `rejected` or `resubmission_requested`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether a new submission would be accepted now (ignoring the daily cap).
    pub can_submit: bool,
}

/// Why a submission was not taken or a status not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KycError {
    #[error("uploads unavailable: {0}")]
    FeatureOff(#[from] FeatureUnavailable),
    #[error("submission refused: {0}")]
    Refused(#[from] Refusal),
    /// The daily cap is reached; another submission is taken after `retry_after` seconds.
    #[error("daily submission cap reached")]
    DailyLimit { retry_after: u64 },
    #[error("identity already verified")]
    AlreadyApproved,
    #[error("a submission is already waiting for review")]
    SubmissionOpen,
    #[error("dependency unavailable")]
    Unavailable,
}

impl From<StoreError> for KycError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "KYC store call failed");
        KycError::Unavailable
    }
}

/// Submissions and status over the KYC ports.
pub struct KycService {
    ports: KycPorts,
    pii: Arc<PiiKeys>,
    policy: KycPolicy,
    guard: FeatureGuard,
    clock: Arc<dyn Clock>,
}

impl KycService {
    pub fn new(
        ports: KycPorts,
        pii: Arc<PiiKeys>,
        policy: KycPolicy,
        guard: FeatureGuard,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ports,
            pii,
            policy,
            guard,
            clock,
        }
    }

    /// `Ok` while uploads may run (kill switch and emergency switch off):
    /// the edge asks before reading a body, and `submit` asks again.
    pub async fn uploads_open(&self) -> Result<(), KycError> {
        Ok(self.guard.require(UPLOAD_FEATURE).await?)
    }

    /// Takes one submission: kill switch, rules, daily cap and the
    /// active-submission rule, then the files, then the record.
    pub async fn submit(
        &self,
        user_id: &UserId,
        form: SubmissionForm,
    ) -> Result<SubmissionReceipt, KycError> {
        self.uploads_open().await?;
        let now = self.clock.now();
        let today = date_at(now).ok_or(KycError::Unavailable)?;
        let valid = assess(form, &self.policy, today)?;
        let day = today.to_string();
        let next_midnight = (now.div_euclid(86_400) + 1) * 86_400;
        match self
            .ports
            .store
            .reserve_upload(
                user_id,
                &day,
                self.policy.daily_uploads,
                next_midnight + 86_400,
            )
            .await?
        {
            UploadReservation::Reserved => {}
            UploadReservation::DailyCapReached => {
                return Err(KycError::DailyLimit {
                    retry_after: (next_midnight - now) as u64,
                })
            }
            UploadReservation::Blocked => return Err(self.blocked(user_id).await?),
        }
        let submission_id = crate::auth::secrets::new_id();
        let documents: Vec<(StoredDocument, Bytes)> = valid
            .files
            .into_iter()
            .map(|file| {
                let stored = StoredDocument {
                    role: file.role,
                    object_key: StoredDocument::key_for(&submission_id, file.role, file.kind),
                    content_type: file.kind.content_type().to_string(),
                    bytes: file.bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&file.bytes)),
                };
                (stored, file.bytes)
            })
            .collect();
        let submission = KycSubmission {
            birth_date: self.pii.encrypt(
                &pii_field(&submission_id, "date_of_birth"),
                &valid.birth_date.to_string(),
            ),
            document_number: self.pii.encrypt(
                &pii_field(&submission_id, "document_number"),
                &valid.document_number,
            ),
            submission_id: submission_id.clone(),
            user_id: user_id.to_string(),
            status: KycStatus::Pending,
            document_type: valid.document_type,
            issuing_country: valid.issuing_country,
            documents: documents.iter().map(|(d, _)| d.clone()).collect(),
            stricter_review: valid.stricter_review,
            submitted_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
            purge_after: None,
            purged_at: None,
        };
        self.store_documents(&documents).await?;
        if let Err(err) = self.ports.store.open_submission(&submission).await {
            self.discard_documents(&submission.documents).await;
            return Err(match err {
                StoreError::Conflict | StoreError::AlreadyExists => self.blocked(user_id).await?,
                other => other.into(),
            });
        }
        tracing::info!(
            submission_id = %submission_id,
            documents = submission.documents.len(),
            stricter_review = submission.stricter_review,
            "KYC submission received"
        );
        Ok(SubmissionReceipt {
            submission_id,
            status: KycStatus::Pending,
            documents: submission.documents.len(),
        })
    }

    /// The user's state, from their newest submission.
    pub async fn status(&self, user_id: &UserId) -> Result<KycStatusView, KycError> {
        let latest = self.ports.store.latest_submission(user_id).await?;
        Ok(match latest {
            None => KycStatusView {
                status: "none",
                submission_id: None,
                submitted_at: None,
                decided_at: None,
                reason: None,
                can_submit: true,
            },
            Some(sub) => KycStatusView {
                status: sub.status.as_str(),
                can_submit: !matches!(sub.status, KycStatus::Pending | KycStatus::Approved),
                submission_id: Some(sub.submission_id),
                submitted_at: Some(sub.submitted_at),
                decided_at: sub.decided_at,
                reason: sub.reason,
            },
        })
    }

    /// Why the user cannot submit now.
    async fn blocked(&self, user_id: &str) -> Result<KycError, StoreError> {
        let latest = self.ports.store.latest_submission(user_id).await?;
        Ok(if latest.is_some_and(|s| s.status == KycStatus::Approved) {
            KycError::AlreadyApproved
        } else {
            KycError::SubmissionOpen
        })
    }

    /// Uploads every file, all or none.
    async fn store_documents(&self, documents: &[(StoredDocument, Bytes)]) -> Result<(), KycError> {
        let uploads = documents.iter().map(|(doc, bytes)| {
            self.ports
                .documents
                .put_document(&doc.object_key, bytes.clone(), &doc.content_type)
        });
        let results = futures_util::future::join_all(uploads).await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            let docs: Vec<StoredDocument> = documents.iter().map(|(d, _)| d.clone()).collect();
            self.discard_documents(&docs).await;
            return Err(err.into());
        }
        Ok(())
    }

    /// Best-effort removal of files whose submission was not stored.
    async fn discard_documents(&self, documents: &[StoredDocument]) {
        for doc in documents {
            if let Err(err) = self.ports.documents.delete_document(&doc.object_key).await {
                tracing::warn!(error = %err, object_key = %doc.object_key, "orphaned KYC document left behind");
            }
        }
    }
}
