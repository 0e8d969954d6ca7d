//! The contract of the export request store, for the in-memory and the
//! DynamoDB adapter: one current request per account, replaced only after
//! the cutoff, finished once, withdrawn only by its own id, and of two
//! claims at once exactly one wins.

use std::sync::Arc;

use shared::auth::secrets::new_id;
use shared::ports::{ExportRequest, ExportStore, StoreError};

const DAY: i64 = 86_400;
const AT: i64 = 1_900_000_000;

fn request(user_id: &str, requested_at: i64) -> ExportRequest {
    ExportRequest {
        user_id: user_id.to_string(),
        export_id: format!("exp-{}", new_id()),
        requested_at,
        ready_at: None,
        object_key: None,
    }
}

/// Runs the whole export store contract on `store`.
pub async fn export_store_contract(store: Arc<dyn ExportStore>) {
    let user = new_id();
    assert_eq!(store.export_request(&user).await.unwrap(), None);

    let first = request(&user, AT);
    store.claim_export(&first, AT - DAY).await.unwrap();
    assert_eq!(
        store.export_request(&user).await.unwrap(),
        Some(first.clone())
    );

    let soon = request(&user, AT + DAY - 1);
    assert_eq!(
        store.claim_export(&soon, AT - 1).await,
        Err(StoreError::Conflict),
        "a request newer than the cutoff stays"
    );
    assert_eq!(
        store.export_request(&user).await.unwrap(),
        Some(first.clone())
    );

    store.withdraw_export(&user, "exp-other").await.unwrap();
    assert!(
        store.export_request(&user).await.unwrap().is_some(),
        "another id withdraws nothing"
    );

    assert_eq!(
        store
            .finish_export(&user, "exp-other", "exports/x.json", AT + 5)
            .await,
        Err(StoreError::Conflict)
    );
    let key = format!("exports/{user}/{}.json", first.export_id);
    store
        .finish_export(&user, &first.export_id, &key, AT + 5)
        .await
        .unwrap();
    let done = store.export_request(&user).await.unwrap().unwrap();
    assert_eq!(
        (done.ready_at, done.object_key.as_deref()),
        (Some(AT + 5), Some(key.as_str()))
    );
    assert_eq!(
        store
            .finish_export(&user, &first.export_id, &key, AT + 6)
            .await,
        Err(StoreError::Conflict),
        "finished once"
    );

    let next = request(&user, AT + DAY);
    store.claim_export(&next, AT).await.unwrap();
    let current = store.export_request(&user).await.unwrap().unwrap();
    assert_eq!(
        current, next,
        "a request at the cutoff is replaced, ready state and all"
    );
    store.withdraw_export(&user, &next.export_id).await.unwrap();
    assert_eq!(store.export_request(&user).await.unwrap(), None);

    let other = new_id();
    assert_eq!(
        store.export_request(&other).await.unwrap(),
        None,
        "per account"
    );
}

/// Claims `n` requests of one account at once: exactly one is recorded.
pub async fn export_claim_race_contract(store: Arc<dyn ExportStore>, n: usize) {
    let user = new_id();
    let claims = (0..n).map(|_| {
        let (store, request) = (store.clone(), request(&user, AT));
        tokio::spawn(async move { (store.claim_export(&request, AT - DAY).await, request) })
    });
    let mut won = Vec::new();
    for claim in claims {
        let (result, request) = claim.await.unwrap();
        match result {
            Ok(()) => won.push(request),
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("claim failed: {other}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one of {n} claims at once wins");
    assert_eq!(store.export_request(&user).await.unwrap(), won.pop());
}

/// A payment-event review case of `user_id`.
pub fn payment_event_case(case_id: &str, user_id: &str) -> shared::review::ReviewCase {
    shared::review::ReviewCase {
        case_id: case_id.to_string(),
        kind: shared::review::CaseKind::PaymentEvent,
        user_id: user_id.to_string(),
        amount: 500,
        currency: "EUR".into(),
        score: 0,
        reasons: vec!["refund_exceeds_payment".into()],
        status: shared::review::CaseStatus::Open,
        opened_at: AT,
        notified: false,
        decided_by: None,
        note: None,
    }
}

/// An admin chain entry `seq` at `at` on `target`.
pub fn admin_entry(seq: u64, at: i64, action: &str, target: &str) -> shared::audit::AuditEntry {
    shared::audit::AuditEntry {
        seq,
        at,
        actor: "admin-contract".to_string(),
        ip: None,
        action: action.to_string(),
        target: target.to_string(),
        before: None,
        after: None,
        prev_hash: "0".repeat(64),
        kid: None,
        hash: format!("{seq:064}"),
    }
}

/// Admin entries on the account and its records are found through their
/// targets; another account's are not, and each entry comes once, oldest
/// first. `admin` writes to a chain of its own (a fresh namespace).
pub async fn account_audit_contract(
    admin: Arc<dyn shared::ports::AdminStore>,
    records: Arc<dyn shared::ports::AccountRecords>,
) {
    let (user, other) = (new_id(), new_id());
    let recharge = format!("recharge:rc_{}", new_id());
    let kyc = format!("kyc:{}", new_id());
    let entries = [
        admin_entry(1, AT + 3, "kyc.rejected", &kyc),
        admin_entry(2, AT + 1, "user.unlock", &format!("user:{user}")),
        admin_entry(3, AT + 2, "review.approve", &recharge),
        admin_entry(4, AT + 4, "user.unlock", &format!("user:{other}")),
    ];
    for entry in &entries {
        admin
            .commit(&shared::ports::AdminChange::RecordOnly, entry)
            .await
            .expect("the entry is appended");
    }
    let targets = vec![
        format!("user:{user}"),
        recharge.clone(),
        kyc.clone(),
        recharge,
    ];
    let found = records.audit_about(&user, &targets).await.unwrap();
    let actions: Vec<(&str, i64)> = found.iter().map(|e| (e.action.as_str(), e.at)).collect();
    assert_eq!(
        actions,
        vec![
            ("user.unlock", AT + 1),
            ("review.approve", AT + 2),
            ("kyc.rejected", AT + 3)
        ],
        "the account's entries, each once, oldest first; none of another account"
    );
    assert!(records
        .audit_about(&new_id(), &[format!("user:{}", new_id())])
        .await
        .unwrap()
        .is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_export_store_keeps_the_contract() {
        let store = Arc::new(MemoryStore::new());
        export_store_contract(store.clone()).await;
        export_claim_race_contract(store.clone(), 8).await;
        account_audit_contract(store.clone(), store).await;
    }
}
