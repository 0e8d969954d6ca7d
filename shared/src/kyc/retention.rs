//! The retention sweep: documents and PII of decided submissions are
//! erased once their retention period has passed. A submission whose files
//! could not all be deleted keeps its record and is tried again next run.

use std::sync::Arc;

use serde::Serialize;

use super::service::KycPorts;
use crate::clock::Clock;
use crate::ports::StoreError;

/// Submissions read per round.
const BATCH: u32 = 25;
/// Rounds per run, so one run stays well inside the function timeout.
const MAX_ROUNDS: usize = 40;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub erased: usize,
    pub documents_deleted: usize,
    /// Submissions left for the next run because a file could not be deleted.
    pub deferred: usize,
}

/// Erases what is due.
pub struct RetentionSweep {
    ports: KycPorts,
    clock: Arc<dyn Clock>,
}

impl RetentionSweep {
    pub fn new(ports: KycPorts, clock: Arc<dyn Clock>) -> Self {
        Self { ports, clock }
    }

    /// Erases every submission due now (in rounds), reporting the counts.
    pub async fn run(&self) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        for _ in 0..MAX_ROUNDS {
            let now = self.clock.now();
            let due = self.ports.store.due_for_purge(now, BATCH).await?;
            let mut progressed = false;
            for sub in &due {
                let mut deleted = 0;
                for doc in &sub.documents {
                    match self.ports.documents.delete_document(&doc.object_key).await {
                        Ok(()) => deleted += 1,
                        Err(err) => {
                            tracing::warn!(error = %err, submission_id = %sub.submission_id, "KYC document not deleted; retried next run");
                            break;
                        }
                    }
                }
                report.documents_deleted += deleted;
                if deleted < sub.documents.len() {
                    report.deferred += 1;
                    continue;
                }
                self.ports.store.erase(&sub.submission_id, now).await?;
                report.erased += 1;
                progressed = true;
            }
            if due.len() < BATCH as usize || !progressed {
                break;
            }
        }
        tracing::info!(
            erased = report.erased,
            documents_deleted = report.documents_deleted,
            deferred = report.deferred,
            "KYC retention sweep done"
        );
        Ok(report)
    }
}
