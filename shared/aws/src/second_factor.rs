//! TOTP enrolment and second factors on DynamoDB, on the account item
//! (`EMAIL#<email>`: `totp_secret`, `totp_pending`, `totp_last_step`,
//! `backup_codes`, a string set of hashes) with the `USER#<id>` pointer's
//! `mfa_enabled` kept equal in the same transaction. A factor is spent by a
//! conditional update: a TOTP step only if newer than the last one used, a
//! backup code only if still in the set (it is deleted from it), so of two
//! concurrent uses exactly one passes.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::db::{built, values};
use super::dynamo::{pointer_key, user_key, DynamoStore};
use super::item::{n, s};
use shared::auth::model::SecondFactor;
use shared::ports::StoreError;

/// The clauses an update needs to spend a factor.
pub(crate) struct FactorSpend {
    /// A `SET` assignment, if any.
    pub set: Option<&'static str>,
    /// A `DELETE` clause, if any.
    pub delete: Option<&'static str>,
    /// The condition, to be joined with `AND`.
    pub condition: &'static str,
    pub values: Vec<(&'static str, AttributeValue)>,
}

/// How `factor` is spent on the account item.
pub(crate) fn factor_spend(factor: &SecondFactor) -> FactorSpend {
    match factor {
        SecondFactor::TotpStep(step) => FactorSpend {
            set: Some("totp_last_step = :factor_step"),
            delete: None,
            condition: "(attribute_not_exists(totp_last_step) OR totp_last_step < :factor_step)",
            values: vec![(":factor_step", n(step))],
        },
        SecondFactor::BackupCode(hash) => FactorSpend {
            set: None,
            delete: Some("backup_codes :factor_codes"),
            condition: "contains(backup_codes, :factor_code)",
            values: vec![
                (":factor_codes", AttributeValue::Ss(vec![hash.clone()])),
                (":factor_code", s(hash)),
            ],
        },
    }
}

/// The update expression of `set`, `remove`, `add` and `delete` clauses.
pub(crate) fn update_expression(
    set: &[&str],
    remove: &[&str],
    add: &[&str],
    delete: &[&str],
) -> String {
    let mut parts = Vec::new();
    for (verb, clauses) in [
        ("SET", set),
        ("REMOVE", remove),
        ("ADD", add),
        ("DELETE", delete),
    ] {
        if !clauses.is_empty() {
            parts.push(format!("{verb} {}", clauses.join(", ")));
        }
    }
    parts.join(" ")
}

/// The pointer's `mfa_enabled` set to `enabled`.
pub(crate) fn mfa_flag(
    users_table: &str,
    user_id: &str,
    enabled: bool,
) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(users_table)
            .set_key(Some(pointer_key(user_id)))
            .update_expression("SET mfa_enabled = :enabled")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(values(vec![(
                ":enabled",
                AttributeValue::Bool(enabled),
            )]))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Removes the TOTP enrolment of the account (spending `factor` when
/// given) and clears the pointer's flag.
pub(crate) fn removal_items(
    users_table: &str,
    email: &str,
    user_id: &str,
    factor: Option<&SecondFactor>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let spend = factor.map(factor_spend);
    let mut set = Vec::new();
    let mut condition = "user_id = :user".to_string();
    let mut vals = vec![(":user", s(user_id))];
    if let Some(spend) = spend {
        set.extend(spend.set);
        condition.push_str(" AND ");
        condition.push_str(spend.condition);
        vals.extend(spend.values);
    }
    let account = built(
        Update::builder()
            .table_name(users_table)
            .set_key(Some(user_key(email)))
            .update_expression(update_expression(
                &set,
                &["totp_secret", "totp_pending", "backup_codes"],
                &[],
                &[],
            ))
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .build(),
    )?;
    Ok(vec![
        TransactWriteItem::builder().update(account).build(),
        mfa_flag(users_table, user_id, false)?,
    ])
}

impl DynamoStore {
    pub(crate) async fn confirm_enrolment(
        &self,
        email: &str,
        user_id: &str,
        pending: &str,
        step: u64,
        codes: &[String],
    ) -> Result<(), StoreError> {
        let mut set = vec!["totp_secret = :secret", "totp_last_step = :step"];
        let mut vals = vec![
            (":secret", s(pending)),
            (":step", n(step)),
            (":user", s(user_id)),
        ];
        if !codes.is_empty() {
            set.push("backup_codes = :codes");
            vals.push((":codes", AttributeValue::Ss(codes.to_vec())));
        }
        let account = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(email)))
                .update_expression(update_expression(&set, &["totp_pending"], &[], &[]))
                .condition_expression(
                    "totp_pending = :secret AND attribute_not_exists(totp_secret) AND user_id = :user",
                )
                .set_expression_attribute_values(values(vals))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(account).build(),
            mfa_flag(&self.tables.users, user_id, true)?,
        ];
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    pub(crate) async fn spend_factor(
        &self,
        email: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        let spend = factor_spend(factor);
        let set: Vec<&str> = spend.set.into_iter().collect();
        let delete: Vec<&str> = spend.delete.into_iter().collect();
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.users)
            .set_key(Some(user_key(email)))
            .update_expression(update_expression(&set, &[], &[], &delete))
            .condition_expression(format!("attribute_exists(pk) AND {}", spend.condition))
            .set_expression_attribute_values(values(spend.values));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    pub(crate) async fn replace_codes(
        &self,
        email: &str,
        step: u64,
        codes: &[String],
    ) -> Result<(), StoreError> {
        let spend = factor_spend(&SecondFactor::TotpStep(step));
        let mut set: Vec<&str> = spend.set.into_iter().collect();
        let mut remove = Vec::new();
        let mut vals = spend.values;
        if codes.is_empty() {
            remove.push("backup_codes");
        } else {
            set.push("backup_codes = :codes");
            vals.push((":codes", AttributeValue::Ss(codes.to_vec())));
        }
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.users)
            .set_key(Some(user_key(email)))
            .update_expression(update_expression(&set, &remove, &[], &[]))
            .condition_expression(format!(
                "attribute_exists(totp_secret) AND {}",
                spend.condition
            ))
            .set_expression_attribute_values(values(vals));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    pub(crate) async fn remove_enrolment(
        &self,
        email: &str,
        user_id: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        let items = removal_items(&self.tables.users, email, user_id, Some(factor))?;
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}
