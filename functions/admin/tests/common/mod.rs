//! The admin function's ports over one in-memory store.

use std::sync::Arc;

use admin::AdminPorts;
use shared::kyc::pii::PiiKeys;
use testkit::memory::{MemoryMailer, MemoryStore};

/// Every admin port on `store`, mail through `mailer`, KYC PII under `pii`.
pub fn memory_ports(
    store: &Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    pii: Arc<PiiKeys>,
) -> AdminPorts {
    AdminPorts {
        flags: store.clone(),
        audit: store.clone(),
        store: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        liveness: store.clone(),
        reviews: store.clone(),
        mailer,
        kyc: testkit::memory_kyc_desk_ports(store.clone(), pii),
        audit_keys: testkit::test_audit_keys(),
    }
}
