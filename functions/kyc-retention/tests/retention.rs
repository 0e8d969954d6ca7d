//! The retention sweep over in-memory ports: decided submissions keep
//! their files and PII for the retention period, then lose both; pending
//! ones are never touched; a storage outage defers, never half-erases.

use std::sync::Arc;

use kyc_retention::{handle_tick, App};
use shared::clock::ManualClock;
use shared::kyc::model::KycStatus;
use shared::kyc::service::KycPorts;
use shared::ports::{AdminChange, DocumentStore, KycDecisionCommit, KycStore};
use testkit::kyc_contract::sample_submission;
use testkit::memory::MemoryStore;
use testkit::{commit_audited, event};

const NOW: i64 = 1_795_435_200;
const DAY: i64 = 86_400;

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(NOW));
        let ports = KycPorts {
            store: store.clone(),
            documents: store.clone(),
        };
        Self {
            app: App::new(ports, clock.clone()),
            store,
            clock,
        }
    }

    /// A submission with its file; decided now (purge after 30 days) unless `pending`.
    async fn submission(&self, pending: bool) -> String {
        let mut sub = sample_submission(&shared::auth::secrets::new_id(), NOW - DAY);
        for doc in &sub.documents {
            self.store
                .put_document(
                    &doc.object_key,
                    bytes::Bytes::from_static(b"img"),
                    "image/jpeg",
                )
                .await
                .unwrap();
        }
        self.store.open_submission(&sub).await.unwrap();
        if !pending {
            sub.status = KycStatus::Rejected;
            sub.decided_at = Some(NOW);
            sub.purge_after = Some(NOW + 30 * DAY);
            let change = AdminChange::DecideKyc(Box::new(KycDecisionCommit {
                submission: sub.clone(),
                profile: None,
            }));
            commit_audited(&*self.store, &*self.store, change, "kyc.rejected", NOW)
                .await
                .unwrap();
        }
        sub.submission_id
    }

    async fn tick(&self) -> serde_json::Value {
        let report = handle_tick(&self.app, event("kyc-retention-tick"))
            .await
            .unwrap();
        serde_json::to_value(report).unwrap()
    }
}

#[tokio::test]
async fn decided_submissions_are_erased_after_the_retention_period_only() {
    let h = Harness::new();
    let decided = h.submission(false).await;
    let pending = h.submission(true).await;
    assert_eq!(h.store.document_keys().len(), 2);

    h.clock.set(NOW + 30 * DAY - 1);
    assert_eq!(h.tick().await["erased"], 0, "not a second early");
    assert_eq!(h.store.document_keys().len(), 2);

    h.clock.set(NOW + 30 * DAY);
    let report = h.tick().await;
    assert_eq!(report["erased"], 1);
    assert_eq!(report["documents_deleted"], 1);
    let erased = h.store.submission(&decided).await.unwrap().unwrap();
    assert!(erased.birth_date.is_empty() && erased.document_number.is_empty());
    assert!(erased.documents.is_empty());
    assert_eq!(
        erased.status,
        KycStatus::Rejected,
        "the decision stays on record"
    );
    assert_eq!(
        h.store.document_keys(),
        [format!("kyc/{pending}/front.jpg")],
        "pending submissions keep their files"
    );
    assert_eq!(h.tick().await["erased"], 0, "erased once");
}

#[tokio::test]
async fn a_storage_outage_defers_the_erasure_to_the_next_run() {
    let h = Harness::new();
    let decided = h.submission(false).await;
    h.clock.set(NOW + 31 * DAY);
    h.store.set_documents_unavailable(true);
    let report = h.tick().await;
    assert_eq!(
        (report["erased"].as_u64(), report["deferred"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        !h.store
            .submission(&decided)
            .await
            .unwrap()
            .unwrap()
            .birth_date
            .is_empty(),
        "the record is kept while its files remain"
    );
    h.store.set_documents_unavailable(false);
    assert_eq!(h.tick().await["erased"], 1);
    assert!(h.store.document_keys().is_empty());

    h.store.set_unavailable(true);
    assert!(
        handle_tick(&h.app, event("kyc-retention-tick"))
            .await
            .is_err(),
        "an unreadable table fails the invocation (alarmed)"
    );
}
