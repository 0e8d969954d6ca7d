//! In-memory export requests, export queue and account records, with the
//! DynamoDB adapter's conditions: one current request per account,
//! replaced only once it is old enough, finished once.

use async_trait::async_trait;

use super::MemoryStore;
use shared::audit::AuditEntry;
use shared::ports::{
    AccountRecords, ExportJob, ExportQueue, ExportRequest, ExportStore, StoreError, WalletRecords,
};

#[async_trait]
impl ExportStore for MemoryStore {
    async fn claim_export(&self, request: &ExportRequest, cutoff: i64) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.exports
            .get(&request.user_id)
            .is_some_and(|current| current.requested_at > cutoff)
        {
            return Err(StoreError::Conflict);
        }
        s.exports.insert(request.user_id.clone(), request.clone());
        Ok(())
    }

    async fn export_request(&self, user_id: &str) -> Result<Option<ExportRequest>, StoreError> {
        Ok(self.state()?.exports.get(user_id).cloned())
    }

    async fn withdraw_export(&self, user_id: &str, export_id: &str) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.exports
            .get(user_id)
            .is_some_and(|r| r.export_id == export_id)
        {
            s.exports.remove(user_id);
        }
        Ok(())
    }

    async fn finish_export(
        &self,
        user_id: &str,
        export_id: &str,
        object_key: &str,
        ready_at: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.exports.get_mut(user_id) {
            Some(current) if current.export_id == export_id && current.ready_at.is_none() => {
                current.ready_at = Some(ready_at);
                current.object_key = Some(object_key.to_string());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl ExportQueue for MemoryStore {
    async fn enqueue_export(&self, job: &ExportJob) -> Result<(), StoreError> {
        let mut s = self.state()?;
        if s.queue_down {
            return Err(StoreError::Unavailable("memory queue switched off".into()));
        }
        s.export_jobs.push(job.clone());
        Ok(())
    }
}

#[async_trait]
impl AccountRecords for MemoryStore {
    async fn wallet_records(&self, user_id: &str) -> Result<WalletRecords, StoreError> {
        let s = self.state()?;
        let mut recharges: Vec<_> = s
            .recharges
            .values()
            .filter(|r| r.user_id == user_id)
            .cloned()
            .collect();
        recharges
            .sort_by(|a, b| (a.created_at, &a.recharge_id).cmp(&(b.created_at, &b.recharge_id)));
        let mut ledger: Vec<_> = s
            .ledger
            .values()
            .filter(|e| recharges.iter().any(|r| r.recharge_id == e.recharge_id))
            .cloned()
            .collect();
        ledger.sort_by(|a, b| (a.at, &a.entry_id).cmp(&(b.at, &b.entry_id)));
        let mut case_ids: Vec<String> = s
            .cases
            .values()
            .filter(|c| c.user_id == user_id)
            .map(|c| c.case_id.clone())
            .collect();
        case_ids.sort();
        Ok(WalletRecords {
            profile: s.profiles.get(user_id).cloned(),
            recharges,
            ledger,
            case_ids,
        })
    }

    async fn audit_about(
        &self,
        _user_id: &str,
        targets: &[String],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let s = self.state()?;
        let mut entries: Vec<AuditEntry> = s
            .money_audit
            .iter()
            .chain(s.audit.iter())
            .filter(|e| targets.contains(&e.target))
            .cloned()
            .collect();
        entries.sort_by_key(|e| (e.at, e.seq));
        Ok(entries)
    }
}

impl MemoryStore {
    /// Export jobs queued so far.
    pub fn export_jobs(&self) -> Vec<ExportJob> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .export_jobs
            .clone()
    }
}
