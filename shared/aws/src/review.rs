//! DynamoDB adapter for review cases, kept in the wallet table as
//! `CASE#<recharge id>` items, listed by status through the sparse
//! `by_status` index (`case_status`, `opened_at`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::db::{built, key, names, unavailable, values, Db};
use super::item::{get_s, n, opt_s, s, Item};
use super::wallet::{status_text, DynamoWallet};
use shared::ports::{ReviewStore, StoreError};
use shared::review::{CaseStatus, ReviewCase};
use shared::wallet::model::RechargeStatus;

/// Name of the index listing cases by status.
pub const BY_STATUS_INDEX: &str = "by_status";

fn case_key(case_id: &str) -> String {
    format!("CASE#{case_id}")
}

fn case_from(item: &Item) -> Result<ReviewCase, StoreError> {
    let mut case: ReviewCase = serde_json::from_str(&get_s(item, "data")?)
        .map_err(|e| StoreError::Unavailable(format!("stored case unreadable: {e}")))?;
    case.status = match opt_s(item, "case_status").as_deref() {
        Some("approved") => CaseStatus::Approved,
        Some("rejected") => CaseStatus::Rejected,
        _ => CaseStatus::Open,
    };
    case.notified = item
        .get("notified")
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    case.decided_by = opt_s(item, "decided_by");
    case.note = opt_s(item, "note");
    Ok(case)
}

/// The conditional updates of a review decision: the case, then (for a
/// held recharge) the recharge.
pub fn decision_items(
    wallet_table: &str,
    case_id: &str,
    releases_recharge: bool,
    approve: bool,
    decided_by: &str,
    note: &str,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let decided = if approve {
        CaseStatus::Approved
    } else {
        CaseStatus::Rejected
    };
    let next = if approve {
        RechargeStatus::PendingPayment
    } else {
        RechargeStatus::Cancelled
    };
    let case_update = Update::builder()
        .table_name(wallet_table)
        .set_key(Some(key(case_key(case_id))))
        .update_expression("SET case_status = :decided, decided_by = :by, note = :note")
        .condition_expression("case_status = :open")
        .set_expression_attribute_values(values(vec![
            (":decided", s(decided.as_str())),
            (":by", s(decided_by)),
            (":note", s(note)),
            (":open", s(CaseStatus::Open.as_str())),
        ]))
        .build();
    let recharge_update = Update::builder()
        .table_name(wallet_table)
        .set_key(Some(key(format!("RECHARGE#{case_id}"))))
        .update_expression("SET #status = :next")
        .condition_expression("#status = :held")
        .set_expression_attribute_names(names(&[("#status", "status")]))
        .set_expression_attribute_values(values(vec![
            (":next", s(status_text(next))),
            (":held", s(status_text(RechargeStatus::PendingReview))),
        ]))
        .build();
    let mut items = vec![TransactWriteItem::builder()
        .update(built(case_update)?)
        .build()];
    if releases_recharge {
        items.push(
            TransactWriteItem::builder()
                .update(built(recharge_update)?)
                .build(),
        );
    }
    Ok(items)
}

#[async_trait]
impl ReviewStore for DynamoWallet {
    async fn open_case(&self, case: &ReviewCase) -> Result<(), StoreError> {
        let db: &Db = self.db();
        let mut item = key(case_key(&case.case_id));
        item.insert(
            "data".into(),
            s(serde_json::to_string(case).map_err(|e| StoreError::Unavailable(e.to_string()))?),
        );
        item.insert("case_status".into(), s(case.status.as_str()));
        item.insert("opened_at".into(), n(case.opened_at));
        // Lists the case among its account's items (index `by_user`).
        item.insert("user_id".into(), s(&case.user_id));
        let put = db
            .client
            .put_item()
            .table_name(self.wallet_table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        db.conditional_put(put).await.map(|_| ())
    }

    async fn case(&self, case_id: &str) -> Result<Option<ReviewCase>, StoreError> {
        self.db()
            .get(self.wallet_table(), case_key(case_id))
            .await?
            .as_ref()
            .map(case_from)
            .transpose()
    }

    async fn mark_notified(&self, case_id: &str) -> Result<(), StoreError> {
        let update = self
            .db()
            .client
            .update_item()
            .table_name(self.wallet_table())
            .set_key(Some(key(case_key(case_id))))
            .update_expression("SET notified = :yes")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(values(vec![(":yes", super::item::b(true))]));
        if self.db().conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn cases(&self, status: CaseStatus, limit: u32) -> Result<Vec<ReviewCase>, StoreError> {
        self.db().count_call();
        let out = self
            .db()
            .client
            .query()
            .table_name(self.wallet_table())
            .index_name(BY_STATUS_INDEX)
            .key_condition_expression("case_status = :status")
            .set_expression_attribute_values(values(vec![(":status", s(status.as_str()))]))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(case_from)
            .collect()
    }
}
