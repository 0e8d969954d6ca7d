//! Listing an account's sessions and ending them all on DynamoDB.
//!
//! Sessions carry `session_user` (their account) so the sessions table's
//! `user_sessions` index (`session_user`, `created_at`) lists one account's
//! sessions; refresh tokens and emailed tokens lack it, so the index holds
//! sessions only. Ending every session raises `session_epoch` on the
//! account and on its `USER#<id>` pointer in one transaction, with what
//! the change adds (new password, TOTP step, a fresh session).

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

use super::db::{built, values};
use super::dynamo::{
    epoch_is, pointer_key, put_if_absent, session_from, session_item, session_key, token_item,
    user_key, DynamoStore,
};
use super::item::{n, s};
use super::second_factor::{factor_spend, update_expression};
use shared::auth::model::{AccountErasure, Session, SessionsEnd};
use shared::ports::{StoreError, MAX_LISTED_SESSIONS};

/// The sessions table's index of sessions by account.
pub const USER_SESSIONS_INDEX: &str = "user_sessions";

/// The writes that raise an account's session epoch from `epoch`: the
/// account (only while it is `user_id`'s and still at `epoch`) and its
/// `USER#<id>` pointer.
pub(crate) fn epoch_items(
    users_table: &str,
    email: &str,
    user_id: &str,
    epoch: u64,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    epoch_items_with(
        users_table,
        email,
        user_id,
        epoch,
        EpochUpdate {
            set: Vec::new(),
            delete: None,
            condition: String::new(),
            vals: Vec::new(),
        },
    )
}

/// More to write with an epoch raise: assignments (`set`), a `delete`
/// clause, a `condition` (starting with ` AND`) and their values.
struct EpochUpdate<'a> {
    set: Vec<&'a str>,
    delete: Option<&'a str>,
    condition: String,
    vals: Vec<(&'a str, AttributeValue)>,
}

/// [`epoch_items`] with what `more` adds to the account's update.
fn epoch_items_with(
    users_table: &str,
    email: &str,
    user_id: &str,
    epoch: u64,
    more: EpochUpdate<'_>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let next = epoch + 1;
    let EpochUpdate {
        mut set,
        delete,
        condition,
        mut vals,
    } = more;
    set.insert(0, "session_epoch = :next");
    vals.extend([
        (":next", n(next)),
        (":epoch", n(epoch)),
        (":user", s(user_id)),
    ]);
    let account = built(
        Update::builder()
            .table_name(users_table)
            .set_key(Some(user_key(email)))
            .update_expression(update_expression(
                &set,
                &super::account_tokens::CURRENT_TOKENS,
                &[],
                &delete.into_iter().collect::<Vec<_>>(),
            ))
            .condition_expression(format!(
                "user_id = :user AND {}{condition}",
                epoch_is(epoch)
            ))
            .set_expression_attribute_values(values(vals))
            .build(),
    )?;
    let pointer = built(
        Update::builder()
            .table_name(users_table)
            .set_key(Some(pointer_key(user_id)))
            .update_expression("SET session_epoch = :next")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(values(vec![(":next", n(next))]))
            .build(),
    )?;
    Ok(vec![
        TransactWriteItem::builder().update(account).build(),
        TransactWriteItem::builder().update(pointer).build(),
    ])
}

impl DynamoStore {
    /// Deletes the account item and keeps the `USER#<id>` record with the
    /// address replaced, the standing cleared and the epoch raised.
    pub(crate) async fn erase(&self, erasure: &AccountErasure) -> Result<(), StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(&erasure.email)))
                .condition_expression(format!("user_id = :user AND {}", epoch_is(erasure.epoch)))
                .set_expression_attribute_values(values(vec![
                    (":user", s(&erasure.user_id)),
                    (":epoch", n(erasure.epoch)),
                ]))
                .build(),
        )?;
        let record = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(pointer_key(&erasure.user_id)))
                .update_expression(
                    "SET email = :erased, deleted = :yes, session_epoch = :next, \
                     email_verified = :no, mfa_enabled = :no",
                )
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values(values(vec![
                    (":erased", s(&erasure.erased_email)),
                    (":yes", AttributeValue::Bool(true)),
                    (":no", AttributeValue::Bool(false)),
                    (":next", n(erasure.epoch + 1)),
                ]))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(record).build(),
        ];
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    pub(crate) async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.db.count_call();
        let out = self
            .db
            .client
            .query()
            .table_name(&self.tables.sessions)
            .index_name(USER_SESSIONS_INDEX)
            .key_condition_expression("session_user = :user")
            .set_expression_attribute_values(values(vec![(":user", s(user_id))]))
            .scan_index_forward(false)
            .limit(MAX_LISTED_SESSIONS as i32)
            .send()
            .await
            .map_err(super::db::unavailable)?;
        out.items().iter().map(session_from).collect()
    }

    pub(crate) async fn raise_epoch(&self, end: &SessionsEnd) -> Result<(), StoreError> {
        let mut set = Vec::new();
        let mut condition = String::new();
        let mut vals = Vec::new();
        if let Some(hash) = &end.password_hash {
            set.push("password_hash = :password");
            vals.push((":password", s(hash)));
        }
        let mut delete = None;
        if let Some(spend) = end.factor.as_ref().map(factor_spend) {
            set.extend(spend.set);
            delete = spend.delete;
            condition.push_str(" AND ");
            condition.push_str(spend.condition);
            vals.extend(spend.values);
        }
        let mut items = epoch_items_with(
            &self.tables.users,
            &end.email,
            &end.user_id,
            end.epoch,
            EpochUpdate {
                set,
                delete,
                condition,
                vals,
            },
        )?;
        if let Some(asking) = &end.asking_session {
            let stands = built(
                ConditionCheck::builder()
                    .table_name(&self.tables.sessions)
                    .set_key(Some(session_key(asking)))
                    .condition_expression(format!(
                        "revoked = :no AND {}",
                        if end.epoch == 0 {
                            "(attribute_not_exists(epoch) OR epoch = :epoch)"
                        } else {
                            "epoch = :epoch"
                        }
                    ))
                    .set_expression_attribute_values(values(vec![
                        (":no", AttributeValue::Bool(false)),
                        (":epoch", n(end.epoch)),
                    ]))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().condition_check(stands).build());
        }
        if let Some((session, token)) = &end.restart {
            items.push(put_if_absent(&self.tables.sessions, session_item(session))?);
            items.push(put_if_absent(&self.tables.sessions, token_item(token))?);
        }
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}
