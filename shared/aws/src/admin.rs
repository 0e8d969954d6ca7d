//! DynamoDB adapter for the audit chain (its items are encoded in `audit`)
//! and for admin changes, each committed in one transaction with its audit
//! entry.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::audit::{entry_from, entry_put, partition, user_namespace};
use super::db::{built, key, unavailable, values, Db};
use super::flags::snapshot_item;
use super::item::{n, s};
use super::keys;
use shared::audit::AuditEntry;
use shared::config::{required, ConfigError, Env};
use shared::ports::{AdminChange, AdminStore, AuditLog, StoreError};

/// Tables the admin adapter writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTables {
    pub flags: String,
    pub audit: String,
    pub counters: String,
    pub wallet: String,
    pub kyc: String,
    pub users: String,
}

impl AdminTables {
    /// Reads `FLAGS_TABLE`, `AUDIT_TABLE`, `COUNTERS_TABLE`, `WALLET_TABLE`,
    /// `KYC_TABLE` and `USERS_TABLE`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            flags: required(env, "FLAGS_TABLE")?,
            audit: required(env, "AUDIT_TABLE")?,
            counters: required(env, "COUNTERS_TABLE")?,
            wallet: required(env, "WALLET_TABLE")?,
            kyc: required(env, "KYC_TABLE")?,
            users: required(env, "USERS_TABLE")?,
        })
    }
}

/// Audit reads and audited admin writes on DynamoDB.
#[derive(Clone)]
pub struct DynamoAdmin {
    db: Db,
    tables: AdminTables,
    namespace: String,
}

impl DynamoAdmin {
    pub fn new(config: &aws_config::SdkConfig, tables: AdminTables) -> Self {
        Self {
            db: Db::new(config),
            tables,
            namespace: String::new(),
        }
    }

    /// Uses a separate snapshot and audit chain (see `DynamoFlags::in_namespace`).
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    async fn query(
        &self,
        before: Option<u64>,
        limit: Option<u32>,
        newest_first: bool,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(Vec<AuditEntry>, Option<HashMap<String, AttributeValue>>), StoreError> {
        self.db.count_call();
        let mut condition = "pk = :pk".to_string();
        let mut vals = vec![(":pk", s(partition(&self.namespace)))];
        if let Some(before) = before {
            condition.push_str(" AND seq < :before");
            vals.push((":before", n(before)));
        }
        let out = self
            .db
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .scan_index_forward(!newest_first)
            .consistent_read(true)
            .set_limit(limit.map(|l| l as i32))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(entry_from)
            .collect::<Result<_, _>>()?;
        Ok((entries, out.last_evaluated_key))
    }
}

#[async_trait]
impl AuditLog for DynamoAdmin {
    async fn head(&self) -> Result<Option<AuditEntry>, StoreError> {
        Ok(self
            .query(None, Some(1), true, None)
            .await?
            .0
            .into_iter()
            .next())
    }

    async fn page(&self, before: Option<u64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.query(before, Some(limit), true, None).await?.0)
    }

    async fn all(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let (mut page, next) = self.query(None, None, false, start).await?;
            entries.append(&mut page);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(entries),
            }
        }
    }
}

#[async_trait]
impl AdminStore for DynamoAdmin {
    async fn commit(&self, change: &AdminChange, entry: &AuditEntry) -> Result<(), StoreError> {
        let change_item = match change {
            AdminChange::SaveSnapshot {
                snapshot,
                expected_version,
            } => {
                let condition = if *expected_version == 0 {
                    "attribute_not_exists(pk)"
                } else {
                    "version = :expected"
                };
                let mut put = Put::builder()
                    .table_name(&self.tables.flags)
                    .set_item(Some(snapshot_item(snapshot, &self.namespace)?))
                    .condition_expression(condition);
                if *expected_version != 0 {
                    put = put.set_expression_attribute_values(values(vec![(
                        ":expected",
                        n(*expected_version),
                    )]));
                }
                vec![TransactWriteItem::builder()
                    .put(built(put.build())?)
                    .build()]
            }
            AdminChange::ClearLockout { key: lockout } => {
                let delete = Delete::builder()
                    .table_name(&self.tables.counters)
                    .set_key(Some(key(keys::lockout(lockout))))
                    .build();
                vec![TransactWriteItem::builder().delete(built(delete)?).build()]
            }
            AdminChange::ResetTotp { email, user_id } => {
                super::second_factor::removal_items(&self.tables.users, email, user_id, None)?
            }
            AdminChange::EndSessions {
                email,
                user_id,
                epoch,
            } => super::account_sessions::epoch_items(&self.tables.users, email, user_id, *epoch)?,
            AdminChange::DecideReview {
                case_id,
                releases_recharge,
                approve,
                decided_by,
                note,
            } => super::review::decision_items(
                &self.tables.wallet,
                case_id,
                *releases_recharge,
                *approve,
                decided_by,
                note,
            )?,
            AdminChange::DecideKyc(commit) => {
                let mut items = super::kyc::decision_items(&self.tables.kyc, commit)?;
                if let Some(change) = &commit.profile {
                    items.push(super::wallet::profile_put(
                        &self.tables.wallet,
                        &change.profile,
                        change.expected_audit_seq,
                    )?);
                    items.push(entry_put(
                        &self.tables.audit,
                        &change.audit,
                        &user_namespace(&change.profile.user_id),
                    )?);
                }
                items
            }
            AdminChange::RecordOnly => Vec::new(),
        };
        let mut items = change_item;
        items.push(entry_put(&self.tables.audit, entry, &self.namespace)?);
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}
