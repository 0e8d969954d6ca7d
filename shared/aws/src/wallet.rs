//! DynamoDB adapter for wallet profiles, recharges and idempotency records
//! (wallet table, `pk` only) and velocity counters (counters table).
//!
//! - `PROFILE#<user>`: the profile as JSON, with `audit_seq` for the
//!   optimistic condition every decision writes under
//! - `RECHARGE#<id>`: the recharge as JSON, with `status` and `user_id`
//! - `IDEM#<user>#<key>`: fingerprint, lock, the stored `outcome`, `ttl`
//!   (a record completed before outcomes were stored has `response_status`
//!   instead: it is never claimed or released again, and answers 409 until
//!   its `ttl`)
//! - counters: `VEL#...` (`hits`, `amount`, `ttl`), `DEVACC#<device>` (`accounts` set)

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};

use super::audit::{entry_put, user_namespace};
use super::batch::BatchReader;
use super::db::{built, key, names, unavailable, values, Db};
use super::item::{get_s, n, opt_n, opt_s, s, Item};
use super::keys;
use shared::audit::AuditEntry;
use shared::config::{required, ConfigError, Env};
use shared::ports::{
    CommitOutcome, IdempotencyBegin, IdempotencyStore, RechargeCommit, RechargeReadings,
    StoreError, WalletStore,
};
use shared::wallet::model::{Recharge, WalletProfile};
use shared::wallet::velocity::Tally;

/// Tables the wallet adapter uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletTables {
    pub wallet: String,
    pub counters: String,
    pub audit: String,
}

impl WalletTables {
    /// Reads `WALLET_TABLE`, `COUNTERS_TABLE` and `AUDIT_TABLE`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            wallet: required(env, "WALLET_TABLE")?,
            counters: required(env, "COUNTERS_TABLE")?,
            audit: required(env, "AUDIT_TABLE")?,
        })
    }
}

/// Wallet state on DynamoDB.
#[derive(Clone)]
pub struct DynamoWallet {
    pub(crate) db: Db,
    pub(crate) tables: WalletTables,
    batches: BatchReader,
    /// Users and sessions tables, for reading a caller's session with the rest.
    session_tables: Option<(String, String)>,
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(s)
        .map_err(|e| StoreError::Unavailable(format!("serialise: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&get_s(item, "data")?)
        .map_err(|e| StoreError::Unavailable(format!("stored record unreadable: {e}")))
}

/// The recharge a `RECHARGE#<id>` item holds (its `status` and `refunded`
/// attributes are newer than its JSON).
pub(crate) fn recharge_from(item: &Item) -> Result<Recharge, StoreError> {
    let mut recharge: Recharge = from_json(item)?;
    if let Some(status) = opt_s(item, "status") {
        recharge.status = serde_json::from_value(serde_json::Value::String(status))
            .map_err(|e| StoreError::Unavailable(format!("stored status unreadable: {e}")))?;
    }
    if let Some(refunded) = opt_n(item, "refunded") {
        recharge.refunded = refunded;
    }
    Ok(recharge)
}

pub(crate) fn profile_key(user_id: &str) -> String {
    format!("PROFILE#{user_id}")
}

/// A recharge status as stored in the `status` attribute.
pub fn status_text(status: shared::wallet::model::RechargeStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl DynamoWallet {
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn wallet_table(&self) -> &str {
        &self.tables.wallet
    }

    pub fn new(config: &aws_config::SdkConfig, tables: WalletTables) -> Self {
        Self {
            db: Db::new(config),
            tables,
            batches: BatchReader::default(),
            session_tables: None,
        }
    }

    /// The same adapter, reading sessions (`SESSION#<id>` in `sessions`) and
    /// account standings (`USER#<id>` in `users`) in its batch reads.
    pub fn with_session_tables(mut self, users: &str, sessions: &str) -> Self {
        self.session_tables = Some((users.to_string(), sessions.to_string()));
        self
    }

    /// How many times a batch read paused before asking again for the keys
    /// DynamoDB left unprocessed.
    pub fn batch_pauses(&self) -> u64 {
        self.batches.pauses()
    }

    /// How many DynamoDB requests this store has sent.
    pub fn calls(&self) -> u64 {
        self.db.calls()
    }

    fn profile_put(
        &self,
        profile: &WalletProfile,
        expected_audit_seq: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        profile_put(&self.tables.wallet, profile, expected_audit_seq)
    }
}

/// The put of a profile, guarded by its audit head (`None`: must not exist).
pub(crate) fn profile_put(
    table: &str,
    profile: &WalletProfile,
    expected_audit_seq: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = key(profile_key(&profile.user_id));
    item.insert("data".into(), json_of(profile)?);
    item.insert("audit_seq".into(), n(profile.audit_seq));
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = match expected_audit_seq {
        None => put.condition_expression("attribute_not_exists(pk)"),
        Some(seq) => put
            .condition_expression("audit_seq = :seq")
            .set_expression_attribute_values(values(vec![(":seq", n(seq))])),
    };
    Ok(TransactWriteItem::builder()
        .put(built(put.build())?)
        .build())
}

#[async_trait]
impl WalletStore for DynamoWallet {
    async fn readings(
        &self,
        user_id: &str,
        session_id: &str,
        counter_keys: &[String],
        device_hash: &str,
    ) -> Result<RechargeReadings, StoreError> {
        let keys_of = |pks: Vec<String>| {
            KeysAndAttributes::builder()
                .set_keys(Some(pks.into_iter().map(key).collect()))
                .consistent_read(true)
                .build()
        };
        let mut counter_pks: Vec<String> = counter_keys.iter().map(|k| keys::velocity(k)).collect();
        if !device_hash.is_empty() {
            counter_pks.push(keys::device_accounts(device_hash));
        }
        let mut request = HashMap::from([(
            self.tables.wallet.clone(),
            built(keys_of(vec![profile_key(user_id)]))?,
        )]);
        if !counter_pks.is_empty() {
            request.insert(self.tables.counters.clone(), built(keys_of(counter_pks))?);
        }
        if !session_id.is_empty() {
            let (users, sessions) = self
                .session_tables
                .as_ref()
                .ok_or_else(|| StoreError::Unavailable("session tables not configured".into()))?;
            request.insert(
                sessions.clone(),
                built(keys_of(vec![format!("SESSION#{session_id}")]))?,
            );
            request.insert(
                users.clone(),
                built(keys_of(vec![format!("USER#{user_id}")]))?,
            );
        }
        let items = self.batches.get_all(&self.db, request).await?;
        let mut readings = RechargeReadings::default();
        for item in &items {
            let pk = get_s(item, "pk")?;
            if pk.starts_with("PROFILE#") {
                readings.profile = Some(from_json(item)?);
            } else if pk.starts_with("SESSION#") {
                readings.session = Some(super::dynamo::session_from(item)?);
            } else if pk.starts_with("USER#") {
                readings.standing = super::dynamo::standing_from(item);
            } else if keys::is_device_accounts(&pk) {
                readings.device_accounts = super::item::get_strings(item, "accounts");
            } else if let Some(name) = keys::velocity_name(&pk) {
                let tally = Tally {
                    count: opt_n(item, "hits").unwrap_or(0),
                    amount: opt_n(item, "amount").unwrap_or(0),
                };
                readings.counters.insert(name.to_string(), tally);
            }
        }
        Ok(readings)
    }

    async fn commit_recharge(&self, commit: &RechargeCommit) -> Result<CommitOutcome, StoreError> {
        let r = &commit.recharge;
        let mut recharge_item = key(format!("RECHARGE#{}", r.recharge_id));
        recharge_item.insert("data".into(), json_of(r)?);
        recharge_item.insert("user_id".into(), s(&r.user_id));
        recharge_item.insert("status".into(), s(status_text(r.status)));
        let recharge_put = Put::builder()
            .table_name(&self.tables.wallet)
            .set_item(Some(recharge_item))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let mut items = vec![
            TransactWriteItem::builder()
                .put(built(recharge_put)?)
                .build(),
            self.profile_put(&commit.profile, commit.expected_audit_seq)?,
            entry_put(
                &self.tables.audit,
                &commit.audit,
                &user_namespace(&r.user_id),
            )?,
        ];
        for add in &commit.counters {
            let mut vals = vec![
                (":one", n(1)),
                (":amount", n(add.amount)),
                (":ttl", n(add.expires_at)),
            ];
            let mut update = Update::builder()
                .table_name(&self.tables.counters)
                .set_key(Some(key(keys::velocity(&add.key))))
                .update_expression("ADD hits :one, amount :amount SET #ttl = :ttl")
                .set_expression_attribute_names(names(&[("#ttl", "ttl")]));
            let mut conditions = Vec::new();
            if let Some(cap) = add.cap {
                conditions.push("(attribute_not_exists(amount) OR amount <= :room)");
                vals.push((":room", n(cap - add.amount)));
            }
            match add.expected_count {
                Some(0) => conditions.push("attribute_not_exists(hits)"),
                Some(seen) => {
                    conditions.push("hits = :seen");
                    vals.push((":seen", n(seen)));
                }
                None => {}
            }
            if !conditions.is_empty() {
                update = update.condition_expression(conditions.join(" AND "));
            }
            let update = built(update.set_expression_attribute_values(values(vals)).build())?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        if let Some((device, user)) = &commit.device_account {
            let update = Update::builder()
                .table_name(&self.tables.counters)
                .set_key(Some(key(keys::device_accounts(device))))
                .update_expression("ADD accounts :user SET #ttl = :ttl")
                .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
                .set_expression_attribute_values(values(vec![
                    (":user", AttributeValue::Ss(vec![user.clone()])),
                    (":ttl", n(commit.recharge.created_at + 90 * 86_400)),
                ]))
                .build();
            items.push(TransactWriteItem::builder().update(built(update)?).build());
        }
        if let Some((idem_key, outcome)) = &commit.idempotency {
            let update = Update::builder()
                .table_name(&self.tables.wallet)
                .set_key(Some(key(format!("IDEM#{idem_key}"))))
                .update_expression("SET outcome = :outcome")
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values(values(vec![(":outcome", s(outcome.clone()))]))
                .build();
            items.push(TransactWriteItem::builder().update(built(update)?).build());
        }
        let Some(reasons) = self.db.transact_with_reasons(items).await? else {
            return Ok(CommitOutcome::Committed);
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
        };
        if failed(0) {
            return Ok(CommitOutcome::Duplicate);
        }
        for (i, add) in commit.counters.iter().enumerate() {
            if add.cap.is_some() && add.expected_count.is_none() && failed(3 + i) {
                return Ok(CommitOutcome::CapExceeded(add.key.clone()));
            }
        }
        Ok(CommitOutcome::Conflict)
    }

    async fn recharge(&self, recharge_id: &str) -> Result<Option<Recharge>, StoreError> {
        let Some(item) = self
            .db
            .get(&self.tables.wallet, format!("RECHARGE#{recharge_id}"))
            .await?
        else {
            return Ok(None);
        };
        recharge_from(&item).map(Some)
    }

    async fn apply_payment(
        &self,
        commit: &shared::ports::PaymentCommit,
    ) -> Result<CommitOutcome, StoreError> {
        let mut vals = vec![(":next".to_string(), s(status_text(commit.new_status)))];
        let mut alternatives = Vec::new();
        for (i, status) in commit.expected_statuses.iter().enumerate() {
            let name = format!(":expected{i}");
            alternatives.push(format!("#status = {name}"));
            vals.push((name, s(status_text(*status))));
        }
        let mut update = "SET #status = :next".to_string();
        let mut condition = format!("attribute_exists(pk) AND ({})", alternatives.join(" OR "));
        if let Some((was, total)) = commit.refunded {
            update.push_str(", refunded = :refunded");
            condition.push_str(if was == 0 {
                " AND (attribute_not_exists(refunded) OR refunded = :was)"
            } else {
                " AND refunded = :was"
            });
            vals.push((":was".to_string(), n(was)));
            vals.push((":refunded".to_string(), n(total)));
        }
        let status_update = Update::builder()
            .table_name(&self.tables.wallet)
            .set_key(Some(key(format!("RECHARGE#{}", commit.recharge_id))))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[("#status", "status")]))
            .set_expression_attribute_values(Some(vals.into_iter().collect()))
            .build();
        let mut items = vec![TransactWriteItem::builder()
            .update(built(status_update)?)
            .build()];
        let entry_index = commit.entry.as_ref().map(|_| items.len());
        if let Some(entry) = &commit.entry {
            let mut item = key(format!("LEDGER#{}", entry.entry_id));
            item.insert("data".into(), json_of(entry)?);
            item.insert("user_id".into(), s(&commit.profile.user_id));
            let put = Put::builder()
                .table_name(&self.tables.wallet)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build();
            items.push(TransactWriteItem::builder().put(built(put)?).build());
        }
        items.push(self.profile_put(&commit.profile, Some(commit.expected_audit_seq))?);
        items.push(entry_put(
            &self.tables.audit,
            &commit.audit,
            &user_namespace(&commit.profile.user_id),
        )?);
        let Some(reasons) = self.db.transact_with_reasons(items).await? else {
            return Ok(CommitOutcome::Committed);
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
        };
        if entry_index.is_some_and(failed) {
            return Ok(CommitOutcome::Duplicate);
        }
        Ok(CommitOutcome::Conflict)
    }

    async fn ensure_profile(&self, profile: &WalletProfile) -> Result<(), StoreError> {
        let mut item = key(profile_key(&profile.user_id));
        item.insert("data".into(), json_of(profile)?);
        item.insert("audit_seq".into(), n(profile.audit_seq));
        let put = self
            .db
            .client
            .put_item()
            .table_name(&self.tables.wallet)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        self.db.conditional_put(put).await.map(|_| ())
    }

    async fn save_limits(
        &self,
        profile: &WalletProfile,
        expected_audit_seq: u64,
        audit: &AuditEntry,
    ) -> Result<CommitOutcome, StoreError> {
        let items = vec![
            self.profile_put(profile, Some(expected_audit_seq))?,
            entry_put(&self.tables.audit, audit, &user_namespace(&profile.user_id))?,
        ];
        Ok(if self.db.transact(items).await? {
            CommitOutcome::Committed
        } else {
            CommitOutcome::Conflict
        })
    }
}

#[async_trait]
impl IdempotencyStore for DynamoWallet {
    async fn begin(
        &self,
        idem_key: &str,
        fingerprint: &str,
        now: i64,
        lock_until: i64,
        expires_at: i64,
    ) -> Result<IdempotencyBegin, StoreError> {
        let pk = format!("IDEM#{idem_key}");
        let mut item = key(pk.clone());
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("lock_until".into(), n(lock_until));
        item.insert("ttl".into(), n(expires_at));
        let put = self
            .db
            .client
            .put_item()
            .table_name(&self.tables.wallet)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR #ttl <= :now \
                 OR (attribute_not_exists(outcome) AND attribute_not_exists(response_status) \
                     AND lock_until <= :now AND fingerprint = :fp)",
            )
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![
                (":now", n(now)),
                (":fp", s(fingerprint)),
            ]));
        let put = self.db.send_write(|| put.clone().send()).await;
        match put {
            Ok(_) => return Ok(IdempotencyBegin::Started),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
            Err(err) => return Err(unavailable(err)),
        }
        let existing = self
            .db
            .get(&self.tables.wallet, pk)
            .await?
            .ok_or(StoreError::Conflict)?;
        if opt_s(&existing, "fingerprint").as_deref() != Some(fingerprint) {
            return Ok(IdempotencyBegin::Mismatch);
        }
        match opt_s(&existing, "outcome") {
            Some(outcome) => Ok(IdempotencyBegin::Replay { outcome }),
            None => Ok(IdempotencyBegin::InProgress),
        }
    }

    async fn complete(&self, idem_key: &str, outcome: &str) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.wallet)
            .set_key(Some(key(format!("IDEM#{idem_key}"))))
            .update_expression("SET outcome = :outcome")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(values(vec![(":outcome", s(outcome))]));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn release(&self, idem_key: &str) -> Result<(), StoreError> {
        let delete = self
            .db
            .client
            .delete_item()
            .table_name(&self.tables.wallet)
            .set_key(Some(key(format!("IDEM#{idem_key}"))))
            .condition_expression(
                "attribute_not_exists(outcome) AND attribute_not_exists(response_status)",
            );
        self.db.conditional_delete(delete).await.map(|_| ())
    }
}
