//! The account data export on DynamoDB.
//!
//! - sessions table, `EXPORT#<user>`: the account's current request
//!   (`export_id`, `requested_at`, once ready `ready_at` and `object_key`,
//!   `ttl` a week on). A new request replaces it only once it is a day old
//!   (the put's condition), so two requests at once cannot both pass.
//! - wallet table, index `by_user` (`user_id`, `pk`): the account's
//!   `RECHARGE#`, `LEDGER#` and `CASE#` items (all carry `user_id`; cases
//!   opened before it was written do not).
//! - audit table: the account's own chain (`AUDIT#user#<id>`) and, through
//!   the index `by_target` (`target`, `seq`), entries of other chains that
//!   target the account or one of its records (one query per target).

use std::collections::HashSet;

use async_trait::async_trait;

use super::audit::{entry_from, partition, user_namespace};
use super::db::{key, names, values};
use super::dynamo::DynamoStore;
use super::item::{get_n, get_s, n, opt_n, opt_s, s, Item};
use super::wallet::{from_json, profile_key, recharge_from, DynamoWallet};
use shared::audit::AuditEntry;
use shared::ports::{AccountRecords, ExportRequest, ExportStore, StoreError, WalletRecords};

/// The wallet table's index of items by account.
pub const WALLET_BY_USER_INDEX: &str = "by_user";
/// The audit table's index of entries by target.
pub const AUDIT_BY_TARGET_INDEX: &str = "by_target";
/// How many audit target queries run at once.
const TARGETS_AT_ONCE: usize = 16;
/// How long a request record is kept (well past its day and its download).
const RECORD_TTL_SECONDS: i64 = 7 * 24 * 3600;

fn export_key(user_id: &str) -> String {
    format!("EXPORT#{user_id}")
}

fn request_from(user_id: &str, item: &Item) -> Result<ExportRequest, StoreError> {
    Ok(ExportRequest {
        user_id: user_id.to_string(),
        export_id: get_s(item, "export_id")?,
        requested_at: get_n(item, "requested_at")?,
        ready_at: opt_n(item, "ready_at"),
        object_key: opt_s(item, "object_key"),
    })
}

#[async_trait]
impl ExportStore for DynamoStore {
    async fn claim_export(&self, request: &ExportRequest, cutoff: i64) -> Result<(), StoreError> {
        let mut item = key(export_key(&request.user_id));
        item.insert("export_id".into(), s(&request.export_id));
        item.insert("requested_at".into(), n(request.requested_at));
        item.insert("ttl".into(), n(request.requested_at + RECORD_TTL_SECONDS));
        let put = self
            .db
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR requested_at <= :cutoff")
            .set_expression_attribute_values(values(vec![(":cutoff", n(cutoff))]));
        if self.db.conditional_put(put).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn export_request(&self, user_id: &str) -> Result<Option<ExportRequest>, StoreError> {
        self.db
            .get(&self.tables.sessions, export_key(user_id))
            .await?
            .map(|item| request_from(user_id, &item))
            .transpose()
    }

    async fn withdraw_export(&self, user_id: &str, export_id: &str) -> Result<(), StoreError> {
        let delete = self
            .db
            .client
            .delete_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(key(export_key(user_id))))
            .condition_expression("export_id = :id")
            .set_expression_attribute_values(values(vec![(":id", s(export_id))]));
        self.db.conditional_delete(delete).await.map(|_| ())
    }

    async fn finish_export(
        &self,
        user_id: &str,
        export_id: &str,
        object_key: &str,
        ready_at: i64,
    ) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(key(export_key(user_id))))
            .update_expression("SET ready_at = :ready, object_key = :object")
            .condition_expression("export_id = :id AND attribute_not_exists(ready_at)")
            .set_expression_attribute_values(values(vec![
                (":ready", n(ready_at)),
                (":object", s(object_key)),
                (":id", s(export_id)),
            ]));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}

#[async_trait]
impl AccountRecords for DynamoWallet {
    async fn wallet_records(&self, user_id: &str) -> Result<WalletRecords, StoreError> {
        let profile = self
            .db
            .get(&self.tables.wallet, profile_key(user_id))
            .await?
            .map(|item| from_json(&item))
            .transpose()?;
        let query = self
            .db
            .client
            .query()
            .table_name(&self.tables.wallet)
            .index_name(WALLET_BY_USER_INDEX)
            .key_condition_expression("user_id = :user")
            .set_expression_attribute_values(values(vec![(":user", s(user_id))]));
        let mut records = WalletRecords {
            profile,
            ..WalletRecords::default()
        };
        for item in self.db.query_all(query).await? {
            let pk = get_s(&item, "pk")?;
            if pk.starts_with("RECHARGE#") {
                records.recharges.push(recharge_from(&item)?);
            } else if pk.starts_with("LEDGER#") {
                records.ledger.push(from_json(&item)?);
            } else if let Some(case_id) = pk.strip_prefix("CASE#") {
                records.case_ids.push(case_id.to_string());
            }
        }
        records
            .recharges
            .sort_by(|a, b| (a.created_at, &a.recharge_id).cmp(&(b.created_at, &b.recharge_id)));
        records
            .ledger
            .sort_by(|a, b| (a.at, &a.entry_id).cmp(&(b.at, &b.entry_id)));
        Ok(records)
    }

    async fn audit_about(
        &self,
        user_id: &str,
        targets: &[String],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let own_chain = partition(&user_namespace(user_id));
        let chain = self
            .db
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression("pk = :pk")
            .set_expression_attribute_values(values(vec![(":pk", s(&own_chain))]));
        let mut entries = Vec::new();
        for item in self.db.query_all(chain).await? {
            entries.push(entry_from(&item)?);
        }
        let mut seen = HashSet::new();
        // One query per target, a few at a time (an account may have
        // thousands of recharges).
        for chunk in targets.chunks(TARGETS_AT_ONCE) {
            let mut queries = tokio::task::JoinSet::new();
            for target in chunk {
                let db = self.db.clone();
                let query = self
                    .db
                    .client
                    .query()
                    .table_name(&self.tables.audit)
                    .index_name(AUDIT_BY_TARGET_INDEX)
                    .key_condition_expression("#target = :target")
                    .set_expression_attribute_names(names(&[("#target", "target")]))
                    .set_expression_attribute_values(values(vec![(":target", s(target))]));
                queries.spawn(async move { db.query_all(query).await });
            }
            while let Some(found) = queries.join_next().await {
                let found =
                    found.map_err(|e| StoreError::Unavailable(format!("audit query: {e}")))??;
                for item in found {
                    let pk = get_s(&item, "pk")?;
                    // The account's own entries were read with its chain.
                    if pk != own_chain && seen.insert((pk, get_n::<u64>(&item, "seq")?)) {
                        entries.push(entry_from(&item)?);
                    }
                }
            }
        }
        entries.sort_by_key(|e| (e.at, e.seq));
        Ok(entries)
    }
}
