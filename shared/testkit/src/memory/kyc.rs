//! In-memory KYC submissions and documents, with the DynamoDB adapter's
//! conditions: one active submission per user, a capped daily counter,
//! decisions only on the pending active submission.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use bytes::Bytes;

use super::{MemoryStore, State};
use shared::kyc::model::{KycStatus, KycSubmission, UploadReservation};
use shared::ports::{DocumentStore, KycDecisionCommit, KycStore, StoreError};

#[derive(Default)]
pub(super) struct KycState {
    submissions: HashMap<String, KycSubmission>,
    /// User id → the pending or approved submission.
    active: HashMap<String, String>,
    /// User id → submission ids, oldest first.
    history: HashMap<String, Vec<String>>,
    /// `<user>#<day>` → uploads counted.
    days: HashMap<String, u32>,
    documents: HashMap<String, (Bytes, String)>,
}

/// Applies a KYC decision under the store's lock (see `AdminStore::commit`).
pub(super) fn apply_decision(s: &mut State, commit: &KycDecisionCommit) -> Result<(), StoreError> {
    let decided = &commit.submission;
    let pending = s
        .kyc
        .submissions
        .get(&decided.submission_id)
        .is_some_and(|sub| sub.status == KycStatus::Pending);
    let active = s.kyc.active.get(&decided.user_id) == Some(&decided.submission_id);
    if !pending || !active {
        return Err(StoreError::Conflict);
    }
    if let Some(change) = &commit.profile {
        let stored_seq = s.profiles.get(&change.profile.user_id).map(|p| p.audit_seq);
        if stored_seq != change.expected_audit_seq {
            return Err(StoreError::Conflict);
        }
        s.profiles
            .insert(change.profile.user_id.clone(), change.profile.clone());
        s.money_audit.push(change.audit.clone());
    }
    if decided.status != KycStatus::Approved {
        s.kyc.active.remove(&decided.user_id);
    }
    s.kyc
        .submissions
        .insert(decided.submission_id.clone(), decided.clone());
    Ok(())
}

fn sort_key(sub: &KycSubmission) -> (i64, String) {
    (sub.submitted_at, sub.submission_id.clone())
}

#[async_trait]
impl KycStore for MemoryStore {
    async fn reserve_upload(
        &self,
        user_id: &str,
        day: &str,
        cap: u32,
        _expires_at: i64,
    ) -> Result<UploadReservation, StoreError> {
        let mut s = self.state()?;
        let key = format!("{user_id}#{day}");
        if s.kyc.days.get(&key).copied().unwrap_or(0) >= cap {
            return Ok(UploadReservation::DailyCapReached);
        }
        if s.kyc.active.contains_key(user_id) {
            return Ok(UploadReservation::Blocked);
        }
        *s.kyc.days.entry(key).or_default() += 1;
        Ok(UploadReservation::Reserved)
    }

    async fn open_submission(&self, submission: &KycSubmission) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.kyc.submissions.contains_key(&submission.submission_id) {
            return Err(StoreError::AlreadyExists);
        }
        if s.kyc.active.contains_key(&submission.user_id) {
            return Err(StoreError::Conflict);
        }
        let (user, id) = (submission.user_id.clone(), submission.submission_id.clone());
        s.kyc.active.insert(user.clone(), id.clone());
        s.kyc.history.entry(user).or_default().push(id.clone());
        s.kyc.submissions.insert(id, submission.clone());
        Ok(())
    }

    async fn submission(&self, submission_id: &str) -> Result<Option<KycSubmission>, StoreError> {
        Ok(self.state()?.kyc.submissions.get(submission_id).cloned())
    }

    async fn latest_submission(&self, user_id: &str) -> Result<Option<KycSubmission>, StoreError> {
        let s = self.state()?;
        Ok(s.kyc
            .history
            .get(user_id)
            .and_then(|ids| ids.last())
            .and_then(|id| s.kyc.submissions.get(id))
            .cloned())
    }

    async fn user_submissions(&self, user_id: &str) -> Result<Vec<KycSubmission>, StoreError> {
        let s = self.state()?;
        Ok(s.kyc
            .history
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| s.kyc.submissions.get(id).cloned())
            .collect())
    }

    async fn submissions(
        &self,
        status: KycStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<(Vec<KycSubmission>, Option<String>), StoreError> {
        let after = match cursor {
            None => None,
            Some(text) => {
                let (at, id) = text.split_once(':').ok_or(StoreError::NotFound)?;
                Some((
                    at.parse::<i64>().map_err(|_| StoreError::NotFound)?,
                    id.to_string(),
                ))
            }
        };
        let s = self.state()?;
        let mut matching: Vec<&KycSubmission> = s
            .kyc
            .submissions
            .values()
            .filter(|sub| sub.status == status)
            .filter(|sub| after.as_ref().is_none_or(|a| sort_key(sub) > *a))
            .collect();
        matching.sort_by_key(|sub| sort_key(sub));
        let page: Vec<KycSubmission> = matching
            .iter()
            .take(limit as usize)
            .map(|sub| (*sub).clone())
            .collect();
        let next = (matching.len() > page.len())
            .then(|| {
                page.last()
                    .map(|l| format!("{}:{}", l.submitted_at, l.submission_id))
            })
            .flatten();
        Ok((page, next))
    }

    async fn due_for_purge(&self, now: i64, limit: u32) -> Result<Vec<KycSubmission>, StoreError> {
        let s = self.state()?;
        let mut due: Vec<KycSubmission> = s
            .kyc
            .submissions
            .values()
            .filter(|sub| sub.purge_after.is_some_and(|at| at <= now))
            .cloned()
            .collect();
        due.sort_by_key(|sub| sub.purge_after);
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn erase(&self, submission_id: &str, now: i64) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let sub = s
            .kyc
            .submissions
            .remove(submission_id)
            .ok_or(StoreError::NotFound)?;
        s.kyc
            .submissions
            .insert(submission_id.to_string(), sub.erased(now));
        Ok(())
    }

    async fn forget_user(&self, user_id: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        s.kyc.active.remove(user_id);
        s.kyc.history.remove(user_id);
        Ok(())
    }
}

impl MemoryStore {
    /// Makes document calls fail as if S3 were down (fault injection).
    pub fn set_documents_unavailable(&self, down: bool) {
        self.documents_down.store(down, Ordering::SeqCst);
    }

    fn documents(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        if self.documents_down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "memory documents switched off".into(),
            ));
        }
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Keys of every stored document.
    pub fn document_keys(&self) -> Vec<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<String> = s.kyc.documents.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The bytes of the stored document `key`.
    pub fn document_bytes(&self, key: &str) -> Option<Bytes> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.kyc.documents.get(key).map(|(bytes, _)| bytes.clone())
    }
}

#[async_trait]
impl DocumentStore for MemoryStore {
    async fn put_document(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.documents()?
            .kyc
            .documents
            .insert(key.to_string(), (bytes, content_type.to_string()));
        Ok(())
    }

    async fn delete_document(&self, key: &str) -> Result<(), StoreError> {
        self.documents()?.kyc.documents.remove(key);
        Ok(())
    }

    async fn document_exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.documents()?.kyc.documents.contains_key(key))
    }

    async fn document_link(
        &self,
        key: &str,
        download_name: &str,
        ttl_seconds: u64,
    ) -> Result<String, StoreError> {
        drop(self.documents()?);
        Ok(format!(
            "memory://documents/{key}?download={download_name}&expires_in={ttl_seconds}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::kyc_contract::{
        document_store_contract, kyc_open_race_contract, kyc_store_contract,
    };
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn memory_kyc_store_keeps_the_contract() {
        let store = Arc::new(MemoryStore::new());
        kyc_store_contract(store.clone(), store.clone(), store.clone(), store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_kyc_store_stores_one_of_concurrent_submissions() {
        kyc_open_race_contract(Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test]
    async fn memory_documents_keep_the_contract() {
        document_store_contract(Arc::new(MemoryStore::new())).await;
    }
}
