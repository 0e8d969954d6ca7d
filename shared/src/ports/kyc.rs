//! KYC submissions and document files.

use async_trait::async_trait;

use super::error::StoreError;
use crate::kyc::model::{KycStatus, KycSubmission, UploadReservation};

/// KYC submissions, the per-user pointer to the active one, and the daily
/// upload counters.
#[async_trait]
pub trait KycStore: Send + Sync {
    /// Counts one upload for `user_id` on `day` unless the count has reached
    /// `cap` or the user has a pending or approved submission; the counter
    /// changes only when the upload may go ahead.
    async fn reserve_upload(
        &self,
        user_id: &str,
        day: &str,
        cap: u32,
        expires_at: i64,
    ) -> Result<UploadReservation, StoreError>;
    /// Stores a new pending submission and makes it the user's active one;
    /// `Conflict` if the user has an active submission.
    async fn open_submission(&self, submission: &KycSubmission) -> Result<(), StoreError>;
    async fn submission(&self, submission_id: &str) -> Result<Option<KycSubmission>, StoreError>;
    /// The user's newest submission.
    async fn latest_submission(&self, user_id: &str) -> Result<Option<KycSubmission>, StoreError>;
    /// Every submission of the user (for erasure).
    async fn user_submissions(&self, user_id: &str) -> Result<Vec<KycSubmission>, StoreError>;
    /// Up to `limit` submissions with `status`, oldest first, after `cursor`;
    /// returns the cursor of the next page. `NotFound` for a cursor that was
    /// not issued by this store.
    async fn submissions(
        &self,
        status: KycStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<(Vec<KycSubmission>, Option<String>), StoreError>;
    /// Up to `limit` decided submissions whose retention ended by `now`.
    async fn due_for_purge(&self, now: i64, limit: u32) -> Result<Vec<KycSubmission>, StoreError>;
    /// Replaces the submission with its erased form (no PII, no documents).
    async fn erase(&self, submission_id: &str, now: i64) -> Result<(), StoreError>;
    /// Drops the user's pointer record (account deletion).
    async fn forget_user(&self, user_id: &str) -> Result<(), StoreError>;
}

/// Document files, stored encrypted at rest.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn put_document(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// Deletes the objects; deleting a missing one succeeds.
    async fn delete_document(&self, key: &str) -> Result<(), StoreError>;
    /// Whether the object exists.
    async fn document_exists(&self, key: &str) -> Result<bool, StoreError>;
    /// A download link valid for `ttl_seconds`, served as an attachment
    /// named `download_name`.
    async fn document_link(
        &self,
        key: &str,
        download_name: &str,
        ttl_seconds: u64,
    ) -> Result<String, StoreError>;
}
