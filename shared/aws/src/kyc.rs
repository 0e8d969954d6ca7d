//! DynamoDB adapter for KYC submissions. KYC table, partition key `pk`:
//! - `SUB#<id>`: the submission as JSON (`data`, PII already encrypted),
//!   with `kyc_status` + `submitted_at` (index `by_status`) and, once
//!   decided and until erased, `purge_due` + `purge_after` (index `by_purge`);
//! - `USER#<user>`: `active` (pending or approved submission), `latest`,
//!   `history` (string set);
//! - `DAY#<user>#<date>`: uploads counted that day, `expires_at` (TTL).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};

use super::db::{built, key, names, unavailable, values, Db};
use super::item::{get_s, get_strings, n, opt_s, s, Item};
use shared::config::{required, ConfigError, Env};
use shared::kyc::model::{KycStatus, KycSubmission, UploadReservation};
use shared::ports::{KycDecisionCommit, KycStore, StoreError};

/// Index of submissions by status, oldest first.
pub const BY_STATUS_INDEX: &str = "by_status";
/// Sparse index of decided, not yet erased submissions by purge time.
pub const BY_PURGE_INDEX: &str = "by_purge";

fn submission_key(id: &str) -> String {
    format!("SUB#{id}")
}

fn user_key(user_id: &str) -> String {
    format!("USER#{user_id}")
}

fn corrupt(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("KYC record unreadable: {err}"))
}

/// The item of a submission.
fn submission_item(sub: &KycSubmission) -> Result<Item, StoreError> {
    let mut item = key(submission_key(&sub.submission_id));
    item.insert(
        "data".into(),
        s(serde_json::to_string(sub).map_err(corrupt)?),
    );
    item.insert("user_id".into(), s(&sub.user_id));
    item.insert("kyc_status".into(), s(sub.status.as_str()));
    item.insert("submitted_at".into(), n(sub.submitted_at));
    if let (Some(at), None) = (sub.purge_after, sub.purged_at) {
        item.insert("purge_due".into(), s("DUE"));
        item.insert("purge_after".into(), n(at));
    }
    Ok(item)
}

fn submission_from(item: &Item) -> Result<KycSubmission, StoreError> {
    serde_json::from_str(&get_s(item, "data")?).map_err(corrupt)
}

/// The writes of a KYC decision (without the audit entries): the decided
/// submission while it is pending, and the user's active pointer released
/// unless approved, both while the submission is the active one.
pub(crate) fn decision_items(
    table: &str,
    commit: &KycDecisionCommit,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let sub = &commit.submission;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(submission_item(sub)?))
        .condition_expression("kyc_status = :pending")
        .set_expression_attribute_values(values(vec![(":pending", s(KycStatus::Pending.as_str()))]))
        .build();
    let pointer_values = values(vec![(":id", s(&sub.submission_id))]);
    let pointer = if sub.status == KycStatus::Approved {
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key(user_key(&sub.user_id))))
            .condition_expression("active = :id")
            .set_expression_attribute_values(pointer_values)
            .build();
        TransactWriteItem::builder()
            .condition_check(built(check)?)
            .build()
    } else {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key(user_key(&sub.user_id))))
            .update_expression("REMOVE active")
            .condition_expression("active = :id")
            .set_expression_attribute_values(pointer_values)
            .build();
        TransactWriteItem::builder().update(built(update)?).build()
    };
    Ok(vec![
        TransactWriteItem::builder().put(built(put)?).build(),
        pointer,
    ])
}

/// KYC submissions on DynamoDB.
#[derive(Clone)]
pub struct DynamoKyc {
    db: Db,
    table: String,
}

impl DynamoKyc {
    pub fn new(config: &aws_config::SdkConfig, table: String) -> Self {
        Self {
            db: Db::new(config),
            table,
        }
    }

    /// Reads `KYC_TABLE`.
    pub fn table_from_env(env: &dyn Env) -> Result<String, ConfigError> {
        required(env, "KYC_TABLE")
    }

    /// How many DynamoDB requests this store has sent.
    pub fn calls(&self) -> u64 {
        self.db.calls()
    }

    async fn user_record(&self, user_id: &str) -> Result<Option<Item>, StoreError> {
        self.db.get(&self.table, user_key(user_id)).await
    }
}

#[async_trait]
impl KycStore for DynamoKyc {
    async fn reserve_upload(
        &self,
        user_id: &str,
        day: &str,
        cap: u32,
        expires_at: i64,
    ) -> Result<UploadReservation, StoreError> {
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("DAY#{user_id}#{day}"))))
            .update_expression("ADD #count :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :cap")
            .set_expression_attribute_names(names(&[("#count", "count")]))
            .set_expression_attribute_values(values(vec![
                (":one", n(1)),
                (":cap", n(cap)),
                (":expires", n(expires_at)),
            ]))
            .build();
        let free = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_key(user_id))))
            .condition_expression("attribute_not_exists(active)")
            .build();
        let items = vec![
            TransactWriteItem::builder().update(built(count)?).build(),
            TransactWriteItem::builder()
                .condition_check(built(free)?)
                .build(),
        ];
        let Some(reasons) = self.db.transact_with_reasons(items).await? else {
            return Ok(UploadReservation::Reserved);
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
        };
        if failed(0) {
            Ok(UploadReservation::DailyCapReached)
        } else if failed(1) {
            Ok(UploadReservation::Blocked)
        } else {
            Err(StoreError::Unavailable(format!(
                "upload reservation cancelled: {reasons:?}"
            )))
        }
    }

    async fn open_submission(&self, submission: &KycSubmission) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(submission_item(submission)?))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let pointer = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_key(&submission.user_id))))
            .update_expression("SET active = :id, latest = :id ADD history :ids")
            .condition_expression("attribute_not_exists(active)")
            .set_expression_attribute_values(values(vec![
                (":id", s(&submission.submission_id)),
                (
                    ":ids",
                    AttributeValue::Ss(vec![submission.submission_id.clone()]),
                ),
            ]))
            .build();
        let items = vec![
            TransactWriteItem::builder().put(built(put)?).build(),
            TransactWriteItem::builder().update(built(pointer)?).build(),
        ];
        match self.db.transact_with_reasons(items).await? {
            None => Ok(()),
            Some(reasons)
                if reasons
                    .first()
                    .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed")) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Some(_) => Err(StoreError::Conflict),
        }
    }

    async fn submission(&self, submission_id: &str) -> Result<Option<KycSubmission>, StoreError> {
        self.db
            .get(&self.table, submission_key(submission_id))
            .await?
            .as_ref()
            .map(submission_from)
            .transpose()
    }

    async fn latest_submission(&self, user_id: &str) -> Result<Option<KycSubmission>, StoreError> {
        let Some(latest) = self
            .user_record(user_id)
            .await?
            .and_then(|item| opt_s(&item, "latest"))
        else {
            return Ok(None);
        };
        self.submission(&latest).await
    }

    async fn user_submissions(&self, user_id: &str) -> Result<Vec<KycSubmission>, StoreError> {
        let ids = self
            .user_record(user_id)
            .await?
            .map(|item| get_strings(&item, "history"))
            .unwrap_or_default();
        let mut subs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(sub) = self.submission(&id).await? {
                subs.push(sub);
            }
        }
        subs.sort_by_key(|sub| sub.submitted_at);
        Ok(subs)
    }

    async fn submissions(
        &self,
        status: KycStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<(Vec<KycSubmission>, Option<String>), StoreError> {
        let start = match cursor {
            None => None,
            Some(text) => {
                let (at, id) = text.split_once(':').ok_or(StoreError::NotFound)?;
                let at: i64 = at.parse().map_err(|_| StoreError::NotFound)?;
                if id.is_empty() || id.len() > 64 || id.contains('#') {
                    return Err(StoreError::NotFound);
                }
                Some(std::collections::HashMap::from([
                    ("pk".to_string(), s(submission_key(id))),
                    ("kyc_status".to_string(), s(status.as_str())),
                    ("submitted_at".to_string(), n(at)),
                ]))
            }
        };
        self.db.count_call();
        let out = self
            .db
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_STATUS_INDEX)
            .key_condition_expression("kyc_status = :status")
            .set_expression_attribute_values(values(vec![(":status", s(status.as_str()))]))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let subs = out
            .items
            .unwrap_or_default()
            .iter()
            .map(submission_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key
            .and(subs.last())
            .map(|last| format!("{}:{}", last.submitted_at, last.submission_id));
        Ok((subs, next))
    }

    async fn due_for_purge(&self, now: i64, limit: u32) -> Result<Vec<KycSubmission>, StoreError> {
        self.db.count_call();
        let out = self
            .db
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_PURGE_INDEX)
            .key_condition_expression("purge_due = :due AND purge_after <= :now")
            .set_expression_attribute_values(values(vec![(":due", s("DUE")), (":now", n(now))]))
            .scan_index_forward(true)
            .limit(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(submission_from)
            .collect()
    }

    async fn erase(&self, submission_id: &str, now: i64) -> Result<(), StoreError> {
        let sub = self
            .submission(submission_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let put = self
            .db
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(submission_item(&sub.erased(now))?))
            .condition_expression("attribute_exists(pk)");
        if self.db.conditional_put(put).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn forget_user(&self, user_id: &str) -> Result<(), StoreError> {
        let delete = self
            .db
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_key(user_id))));
        self.db
            .send_write(|| delete.clone().send())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
