//! Erasing a person's KYC: every document and all PII of every
//! submission, then the person's KYC record. Used by the admins' KYC desk
//! and by self-service account deletion.

use serde::Serialize;

use crate::ports::{DocumentStore, KycStore, StoreError};

/// How many submissions an erasure removed.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    pub submissions: usize,
    pub documents: usize,
}

/// Removes every document and all PII of `user_id`'s submissions, then
/// forgets the user; run again after a failure, it finishes the job.
pub async fn erase_user_kyc(
    store: &dyn KycStore,
    documents: &dyn DocumentStore,
    user_id: &str,
    now: i64,
) -> Result<Erasure, StoreError> {
    let subs = store.user_submissions(user_id).await?;
    let mut erased_documents = 0;
    for sub in &subs {
        for doc in &sub.documents {
            documents.delete_document(&doc.object_key).await?;
            erased_documents += 1;
        }
        store.erase(&sub.submission_id, now).await?;
    }
    store.forget_user(user_id).await?;
    Ok(Erasure {
        submissions: subs.len(),
        documents: erased_documents,
    })
}
