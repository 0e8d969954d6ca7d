//! Emailed single-use tokens and the account standing on DynamoDB.
//!
//! A token is stored in the sessions table as `OTT#<sha256>` (with TTL) and
//! named current on its account (`EMAIL#<email>`) in an attribute per
//! purpose (`token_<purpose>`), so issuing a new one retires the old one.
//! Spending it is one transaction: the token item deleted (it must exist),
//! the account updated (the token must still be current), the `USER#<id>`
//! pointer's standing updated alike; of two concurrent spends exactly one
//! passes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};

use super::db::{built, key, names, values};
use super::dynamo::{epoch_is, pointer_key, session_from, standing_from, user_key, DynamoStore};
use super::item::{get_n, get_s, n, opt_s, s, Item};
use super::keys;
use shared::auth::model::{AccountStanding, OneTimeToken, PasswordReset, Session, TokenPurpose};
use shared::ports::{SessionLiveness, StoreError};

/// The account attributes naming the current tokens a reset retires with
/// its own: a pending address change or sign-in challenge must not outlive
/// the password they were started with.
const OTHER_TOKENS_ON_RESET: [&str; 2] = ["token_verify_email", "token_mfa_challenge"];

/// The account attributes other writes change, compared when an address
/// change copies the account item to its new key.
const UNCHANGED_ON_MOVE: [&str; 9] = [
    "password_hash",
    "session_epoch",
    "role",
    "totp_secret",
    "totp_pending",
    "totp_last_step",
    "backup_codes",
    "known_devices",
    "token_mfa_challenge",
];

/// Every current-token attribute, retired when all sessions end.
pub(crate) const CURRENT_TOKENS: [&str; 3] = [
    "token_verify_email",
    "token_reset_password",
    "token_mfa_challenge",
];

fn token_key(token_hash: &str) -> Item {
    key(format!("OTT#{token_hash}"))
}

/// The account attribute naming the current token of `purpose`.
fn current_attribute(purpose: TokenPurpose) -> String {
    format!("token_{}", purpose.as_str())
}

fn token_item(token: &OneTimeToken) -> Item {
    let mut item = token_key(&token.token_hash);
    item.insert("token_hash".into(), s(&token.token_hash));
    item.insert("purpose".into(), s(token.purpose.as_str()));
    item.insert("user_id".into(), s(&token.user_id));
    item.insert("email".into(), s(&token.email));
    if let Some(new_email) = &token.new_email {
        item.insert("new_email".into(), s(new_email));
    }
    if let Some(device_id) = &token.device_id {
        item.insert("device_id".into(), s(device_id));
    }
    item.insert("expires_at".into(), n(token.expires_at));
    item.insert("ttl".into(), n(token.expires_at));
    item
}

fn token_from(item: &Item) -> Result<OneTimeToken, StoreError> {
    let purpose = get_s(item, "purpose")?;
    Ok(OneTimeToken {
        token_hash: get_s(item, "token_hash")?,
        purpose: TokenPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Unavailable("bad token purpose".into()))?,
        user_id: get_s(item, "user_id")?,
        email: get_s(item, "email")?,
        new_email: opt_s(item, "new_email"),
        device_id: opt_s(item, "device_id"),
        expires_at: get_n(item, "expires_at")?,
    })
}

/// The delete that spends `token` (it must still be stored) and the name
/// of the account attribute that names it current, for a write that spends
/// it with other changes to the account.
pub(crate) fn spend_current(
    sessions_table: &str,
    token: &OneTimeToken,
) -> Result<(TransactWriteItem, String), StoreError> {
    let delete = built(
        Delete::builder()
            .table_name(sessions_table)
            .set_key(Some(token_key(&token.token_hash)))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    Ok((
        TransactWriteItem::builder().delete(delete).build(),
        current_attribute(token.purpose),
    ))
}

impl DynamoStore {
    pub(crate) async fn store_token(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let put = built(
            Put::builder()
                .table_name(&self.tables.sessions)
                .set_item(Some(token_item(token)))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let name_current = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(&token.email)))
                .update_expression("SET #current = :hash")
                .condition_expression("user_id = :user")
                .set_expression_attribute_names(names(&[(
                    "#current",
                    &current_attribute(token.purpose),
                )]))
                .set_expression_attribute_values(values(vec![
                    (":hash", s(&token.token_hash)),
                    (":user", s(&token.user_id)),
                ]))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(name_current).build(),
        ];
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    pub(crate) async fn stored_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        self.db
            .get(&self.tables.sessions, format!("OTT#{token_hash}"))
            .await?
            .as_ref()
            .map(token_from)
            .transpose()
    }

    /// The writes every spend shares: the token deleted (it must exist) and
    /// the account updated with `set` (the token must be current, the
    /// account the token's), plus `extra_condition` on the account.
    fn spend_items(
        &self,
        token: &OneTimeToken,
        set: &str,
        extra_condition: &str,
        mut vals: Vec<(&str, AttributeValue)>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(&self.tables.sessions)
                .set_key(Some(token_key(&token.token_hash)))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        vals.push((":hash", s(&token.token_hash)));
        vals.push((":user", s(&token.user_id)));
        let account = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(&token.email)))
                .update_expression(if set.contains(" REMOVE ") {
                    format!("{set}, #current")
                } else {
                    format!("{set} REMOVE #current")
                })
                .condition_expression(format!(
                    "#current = :hash AND user_id = :user{extra_condition}"
                ))
                .set_expression_attribute_names(names(&[(
                    "#current",
                    &current_attribute(token.purpose),
                )]))
                .set_expression_attribute_values(values(vals))
                .build(),
        )?;
        Ok(vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(account).build(),
        ])
    }

    fn pointer_update(
        &self,
        user_id: &str,
        set: &str,
        vals: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(pointer_key(user_id)))
                .update_expression(set)
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values(values(vals))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(crate) async fn spend_verification(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let verified = vec![(":yes", AttributeValue::Bool(true))];
        let mut items =
            self.spend_items(token, "SET email_verified = :yes", "", verified.clone())?;
        items.push(self.pointer_update(&token.user_id, "SET email_verified = :yes", verified)?);
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Moves the account to `token.new_email`: the account item is read,
    /// then written under the new address (which must be free) while the
    /// old one is deleted (only while the token is current and nothing the
    /// copy carries moved: password, epoch, TOTP step), and the pointer
    /// follows.
    pub(crate) async fn move_account(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let new_email = token.new_email.as_deref().ok_or(StoreError::Conflict)?;
        let Some(mut item) = self
            .db
            .get(&self.tables.users, format!("EMAIL#{}", token.email))
            .await?
        else {
            return Err(StoreError::Conflict);
        };
        // The old item goes only if nothing changed since it was read: a
        // factor spent, TOTP reset, a role or password changed, a device
        // remembered would otherwise be undone by the copy.
        let mut condition = vec![
            "#current = :hash".to_string(),
            "user_id = :user".to_string(),
        ];
        let mut vals = vec![
            (":hash".to_string(), s(&token.token_hash)),
            (":user".to_string(), s(&token.user_id)),
        ];
        let mut attribute_names = vec![("#current".to_string(), current_attribute(token.purpose))];
        for (i, name) in UNCHANGED_ON_MOVE.iter().enumerate() {
            let placeholder = format!("#a{i}");
            match item.get(*name) {
                Some(value) => {
                    condition.push(format!("{placeholder} = :v{i}"));
                    vals.push((format!(":v{i}"), value.clone()));
                }
                None => condition.push(format!("attribute_not_exists({placeholder})")),
            }
            attribute_names.push((placeholder, name.to_string()));
        }
        item.remove(&current_attribute(token.purpose));
        item.insert("pk".into(), s(format!("EMAIL#{new_email}")));
        item.insert("email".into(), s(new_email));
        item.insert("email_verified".into(), AttributeValue::Bool(true));
        let put = built(
            Put::builder()
                .table_name(&self.tables.users)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let (spent, _) = spend_current(&self.tables.sessions, token)?;
        let delete_old = built(
            Delete::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(&token.email)))
                .condition_expression(condition.join(" AND "))
                .set_expression_attribute_names(Some(attribute_names.into_iter().collect()))
                .set_expression_attribute_values(Some(vals.into_iter().collect()))
                .build(),
        )?;
        let pointer = self.pointer_update(
            &token.user_id,
            "SET email = :email, email_verified = :yes",
            vec![
                (":email", s(new_email)),
                (":yes", AttributeValue::Bool(true)),
            ],
        )?;
        let items = vec![
            TransactWriteItem::builder().delete(delete_old).build(),
            TransactWriteItem::builder().put(put).build(),
            pointer,
            spent,
        ];
        match self.db.transact_with_reasons(items).await? {
            None => Ok(()),
            Some(reasons) if reasons.get(1).is_some_and(Option::is_some) => {
                Err(StoreError::AlreadyExists)
            }
            Some(_) => Err(StoreError::Conflict),
        }
    }

    pub(crate) async fn spend_reset(&self, reset: &PasswordReset) -> Result<(), StoreError> {
        let next = reset.epoch + 1;
        let mut items = self.spend_items(
            &reset.token,
            &format!(
                "SET password_hash = :hash_pw, session_epoch = :next REMOVE {}",
                OTHER_TOKENS_ON_RESET.join(", ")
            ),
            &format!(" AND {}", epoch_is(reset.epoch)),
            vec![
                (":hash_pw", s(&reset.password_hash)),
                (":next", n(next)),
                (":epoch", n(reset.epoch)),
            ],
        )?;
        items.push(self.pointer_update(
            &reset.token.user_id,
            "SET session_epoch = :next",
            vec![(":next", n(next))],
        )?);
        for lockout in &reset.lockout_keys {
            let delete = built(
                Delete::builder()
                    .table_name(&self.tables.counters)
                    .set_key(Some(key(keys::lockout(lockout))))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}

#[async_trait::async_trait]
impl SessionLiveness for DynamoStore {
    async fn session_and_standing(
        &self,
        session_id: &str,
        user_id: &str,
    ) -> Result<(Option<Session>, Option<AccountStanding>), StoreError> {
        let request = HashMap::from([
            (
                self.tables.sessions.clone(),
                built(
                    KeysAndAttributes::builder()
                        .keys(key(format!("SESSION#{session_id}")))
                        .consistent_read(true)
                        .build(),
                )?,
            ),
            (
                self.tables.users.clone(),
                built(
                    KeysAndAttributes::builder()
                        .keys(pointer_key(user_id))
                        .consistent_read(true)
                        .build(),
                )?,
            ),
        ]);
        let mut session = None;
        let mut standing = None;
        for item in self.batches.get_all(&self.db, request).await? {
            let pk = get_s(&item, "pk")?;
            if pk.starts_with("SESSION#") {
                session = Some(session_from(&item)?);
            } else if pk.starts_with("USER#") {
                standing = standing_from(&item);
            }
        }
        Ok((session, standing))
    }
}
