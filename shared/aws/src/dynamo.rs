//! DynamoDB adapter for the user, session and attempt ports.
//!
//! Tables (see `infra/template.yaml`), each keyed by a string `pk`:
//! - users: `EMAIL#<email>` (the account) and `USER#<id>` (pointer to the
//!   email, with the standing other functions read: `email_verified`,
//!   `session_epoch`, kept equal to the account's in every write)
//! - sessions: `SESSION#<id>` (refresh-token family), `RT#<sha256>` (a
//!   refresh token) and `OTT#<sha256>` (an emailed single-use token)
//! - counters: `RL#...` (per-IP windows) and `LOCK#...` (per-account lockout), with TTL

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::batch::BatchReader;
use super::db::{built, key, names, values, Db};
use super::item::{b, get_bool, get_n, get_s, get_strings, list, n, opt_n, opt_s, s, Item};
use super::second_factor::{factor_spend, update_expression};
use super::{keys, lockout};
use shared::auth::model::{
    AccountAttempt, AccountErasure, AccountStanding, AttemptOutcome, LockoutState, OneTimeToken,
    PasswordReset, RefreshRecord, Role, SecondFactor, Session, SessionStart, SessionsEnd,
    TotpState, UserRecord,
};
use shared::clock::{Clock, SystemClock};
use shared::config::{required, ConfigError, Env};
use shared::ports::{AttemptStore, SessionStore, StoreError, UserStore};
use shared::ratelimit::WindowSlot;

/// Names of the tables this adapter uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub users: String,
    pub sessions: String,
    pub counters: String,
}

impl TableNames {
    /// Reads `USERS_TABLE`, `SESSIONS_TABLE` and `COUNTERS_TABLE`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            users: required(env, "USERS_TABLE")?,
            sessions: required(env, "SESSIONS_TABLE")?,
            counters: required(env, "COUNTERS_TABLE")?,
        })
    }
}

/// Users, sessions and counters on DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) db: Db,
    pub(crate) tables: TableNames,
    pub(crate) batches: BatchReader,
}

pub(crate) fn user_key(email: &str) -> Item {
    key(format!("EMAIL#{email}"))
}

pub(crate) fn pointer_key(user_id: &str) -> Item {
    key(format!("USER#{user_id}"))
}

pub(crate) fn session_key(session_id: &str) -> Item {
    key(format!("SESSION#{session_id}"))
}

/// The condition that an item's `session_epoch` is `:epoch` (absent reads as 0).
pub(crate) fn epoch_is(epoch: u64) -> &'static str {
    if epoch == 0 {
        "(attribute_not_exists(session_epoch) OR session_epoch = :epoch)"
    } else {
        "session_epoch = :epoch"
    }
}

impl DynamoStore {
    pub fn new(config: &aws_config::SdkConfig, tables: TableNames) -> Self {
        Self {
            db: Db::new(config),
            tables,
            batches: BatchReader::default(),
        }
    }

    /// How many DynamoDB requests this store has sent (for budgets and benchmarks).
    pub fn calls(&self) -> u64 {
        self.db.calls()
    }
}

fn user_item(user: &UserRecord) -> Item {
    let mut item = user_key(&user.email);
    item.insert("user_id".into(), s(&user.user_id));
    item.insert("email".into(), s(&user.email));
    item.insert("password_hash".into(), s(&user.password_hash));
    item.insert("role".into(), s(user.role.as_str()));
    item.insert("created_at".into(), n(user.created_at));
    if !user.known_devices.is_empty() {
        item.insert(
            "known_devices".into(),
            AttributeValue::Ss(user.known_devices.clone()),
        );
    }
    if let Some(secret) = &user.totp.secret {
        item.insert("totp_secret".into(), s(secret));
    }
    if let Some(pending) = &user.totp.pending {
        item.insert("totp_pending".into(), s(pending));
    }
    item.insert("totp_last_step".into(), n(user.totp.last_step));
    if !user.totp.backup_codes.is_empty() {
        item.insert(
            "backup_codes".into(),
            AttributeValue::Ss(user.totp.backup_codes.clone()),
        );
    }
    item.insert("email_verified".into(), b(user.email_verified));
    item.insert("session_epoch".into(), n(user.session_epoch));
    item
}

/// The `USER#<id>` item: the account's email and its standing.
pub(crate) fn pointer_item(user: &UserRecord) -> Item {
    let mut pointer = pointer_key(&user.user_id);
    pointer.insert("email".into(), s(&user.email));
    pointer.insert("email_verified".into(), b(user.email_verified));
    pointer.insert("session_epoch".into(), n(user.session_epoch));
    pointer.insert("mfa_enabled".into(), b(user.totp.secret.is_some()));
    pointer
}

/// The standing an account's `USER#<id>` item records; none for a
/// deleted account (its record is kept for the ledger only).
pub(crate) fn standing_from(item: &Item) -> Option<AccountStanding> {
    (!get_bool(item, "deleted")).then(|| AccountStanding {
        email_verified: get_bool(item, "email_verified"),
        session_epoch: opt_n(item, "session_epoch").unwrap_or(0),
        mfa_enabled: get_bool(item, "mfa_enabled"),
    })
}

fn user_from(item: &Item) -> Result<UserRecord, StoreError> {
    let role = get_s(item, "role")?;
    Ok(UserRecord {
        user_id: get_s(item, "user_id")?,
        email: get_s(item, "email")?,
        password_hash: get_s(item, "password_hash")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Unavailable("bad role".into()))?,
        created_at: get_n(item, "created_at")?,
        known_devices: get_strings(item, "known_devices"),
        totp: TotpState {
            secret: opt_s(item, "totp_secret"),
            pending: opt_s(item, "totp_pending"),
            last_step: opt_n(item, "totp_last_step").unwrap_or(0),
            backup_codes: get_strings(item, "backup_codes"),
        },
        email_verified: get_bool(item, "email_verified"),
        session_epoch: opt_n(item, "session_epoch").unwrap_or(0),
    })
}

pub(crate) fn session_item(session: &Session) -> Item {
    let mut item = session_key(&session.session_id);
    item.insert("session_id".into(), s(&session.session_id));
    item.insert("user_id".into(), s(&session.user_id));
    item.insert("session_user".into(), s(&session.user_id));
    item.insert("device_id".into(), s(&session.device_id));
    if let Some(ip) = &session.ip {
        item.insert("ip".into(), s(ip));
    }
    item.insert("created_at".into(), n(session.created_at));
    item.insert("last_used_at".into(), n(session.last_used_at));
    item.insert("expires_at".into(), n(session.expires_at));
    item.insert("revoked".into(), b(session.revoked));
    item.insert("epoch".into(), n(session.epoch));
    item.insert("ttl".into(), n(session.expires_at));
    item
}

pub(crate) fn session_from(item: &Item) -> Result<Session, StoreError> {
    let created_at = get_n(item, "created_at")?;
    Ok(Session {
        session_id: get_s(item, "session_id")?,
        user_id: get_s(item, "user_id")?,
        device_id: get_s(item, "device_id")?,
        ip: opt_s(item, "ip"),
        created_at,
        last_used_at: opt_n(item, "last_used_at").unwrap_or(created_at),
        expires_at: get_n(item, "expires_at")?,
        revoked: get_bool(item, "revoked"),
        epoch: opt_n(item, "epoch").unwrap_or(0),
    })
}

pub(crate) fn token_item(token: &RefreshRecord) -> Item {
    let mut item = key(format!("RT#{}", token.token_hash));
    item.insert("token_hash".into(), s(&token.token_hash));
    item.insert("session_id".into(), s(&token.session_id));
    item.insert("user_id".into(), s(&token.user_id));
    item.insert("device_id".into(), s(&token.device_id));
    item.insert("role".into(), s(token.role.as_str()));
    item.insert("amr".into(), list(&token.amr));
    if let Some(ip) = &token.ip {
        item.insert("ip".into(), s(ip));
    }
    item.insert("expires_at".into(), n(token.expires_at));
    item.insert("rotated".into(), b(token.rotated));
    item.insert("epoch".into(), n(token.epoch));
    item.insert("ttl".into(), n(token.expires_at));
    item
}

fn token_from(item: &Item) -> Result<RefreshRecord, StoreError> {
    let role = get_s(item, "role")?;
    Ok(RefreshRecord {
        token_hash: get_s(item, "token_hash")?,
        session_id: get_s(item, "session_id")?,
        user_id: get_s(item, "user_id")?,
        device_id: get_s(item, "device_id")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Unavailable("bad role".into()))?,
        amr: get_strings(item, "amr"),
        ip: opt_s(item, "ip"),
        expires_at: get_n(item, "expires_at")?,
        rotated: get_bool(item, "rotated"),
        rotated_at: opt_n(item, "rotated_at"),
        successor: opt_s(item, "successor"),
        epoch: opt_n(item, "epoch").unwrap_or(0),
    })
}

pub(crate) fn put_if_absent(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let items = vec![
            put_if_absent(&self.tables.users, user_item(user))?,
            put_if_absent(&self.tables.users, pointer_item(user))?,
        ];
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        self.db
            .get(&self.tables.users, format!("EMAIL#{email}"))
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        let Some(pointer) = self
            .db
            .get(&self.tables.users, format!("USER#{user_id}"))
            .await?
        else {
            return Ok(None);
        };
        self.user_by_email(&get_s(&pointer, "email")?).await
    }

    async fn set_role(&self, email: &str, role: Role) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.users)
            .set_key(Some(user_key(email)))
            .update_expression("SET #role = :role")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(names(&[("#role", "role")]))
            .set_expression_attribute_values(values(vec![(":role", s(role.as_str()))]));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn set_pending_totp(&self, email: &str, secret: &str) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.users)
            .set_key(Some(user_key(email)))
            .update_expression("SET totp_pending = :secret")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(totp_secret)")
            .set_expression_attribute_values(values(vec![(":secret", s(secret))]));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn confirm_totp(
        &self,
        email: &str,
        user_id: &str,
        pending: &str,
        step: u64,
        backup_codes: &[String],
    ) -> Result<(), StoreError> {
        self.confirm_enrolment(email, user_id, pending, step, backup_codes)
            .await
    }

    async fn spend_second_factor(
        &self,
        email: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        self.spend_factor(email, factor).await
    }

    async fn replace_backup_codes(
        &self,
        email: &str,
        step: u64,
        codes: &[String],
    ) -> Result<(), StoreError> {
        self.replace_codes(email, step, codes).await
    }

    async fn remove_totp(
        &self,
        email: &str,
        user_id: &str,
        factor: &SecondFactor,
    ) -> Result<(), StoreError> {
        self.remove_enrolment(email, user_id, factor).await
    }

    async fn issue_token(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        self.store_token(token).await
    }

    async fn one_time_token(&self, token_hash: &str) -> Result<Option<OneTimeToken>, StoreError> {
        self.stored_token(token_hash).await
    }

    async fn confirm_email(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        self.spend_verification(token).await
    }

    async fn erase_account(&self, erasure: &AccountErasure) -> Result<(), StoreError> {
        self.erase(erasure).await
    }

    async fn change_email(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        self.move_account(token).await
    }

    async fn reset_password(&self, reset: &PasswordReset) -> Result<(), StoreError> {
        self.spend_reset(reset).await
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn start_session(&self, start: &SessionStart) -> Result<(), StoreError> {
        let mut set = vec!["last_login_at = :now"];
        let mut condition = format!("attribute_exists(pk) AND {}", epoch_is(start.session.epoch));
        let mut vals = vec![
            (":now", n(start.session.created_at)),
            (":epoch", n(start.session.epoch)),
        ];
        let mut remove = Vec::new();
        let mut add = Vec::new();
        let mut delete = Vec::new();
        let mut names = Vec::new();
        let factor = match (start.totp_step, &start.backup_code) {
            (Some(step), _) => Some(SecondFactor::TotpStep(step)),
            (None, Some(hash)) => Some(SecondFactor::BackupCode(hash.clone())),
            (None, None) => None,
        };
        if let Some(spend) = factor.as_ref().map(factor_spend) {
            set.extend(spend.set);
            delete.extend(spend.delete);
            condition.push_str(" AND ");
            condition.push_str(spend.condition);
            vals.extend(spend.values);
        }
        if let Some(device) = &start.new_device {
            add.push("known_devices :device");
            vals.push((":device", AttributeValue::Ss(vec![device.clone()])));
        }
        let mut extra = Vec::new();
        if let Some(challenge) = &start.challenge {
            let (spent, current) =
                super::account_tokens::spend_current(&self.tables.sessions, challenge)?;
            extra.push(spent);
            remove.push("#current");
            condition.push_str(" AND #current = :challenge AND user_id = :user");
            vals.push((":challenge", s(&challenge.token_hash)));
            vals.push((":user", s(&challenge.user_id)));
            names.push(("#current", current));
        }
        let expression = update_expression(&set, &remove, &add, &delete);
        let name_pairs: Vec<(&str, &str)> = names.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let user_update = built(
            Update::builder()
                .table_name(&self.tables.users)
                .set_key(Some(user_key(&start.email)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_values(values(vals))
                .set_expression_attribute_names(if name_pairs.is_empty() {
                    None
                } else {
                    super::db::names(&name_pairs)
                })
                .build(),
        )?;
        let clear_lockout = built(
            Delete::builder()
                .table_name(&self.tables.counters)
                .set_key(Some(key(keys::lockout(&start.lockout_key))))
                .build(),
        )?;
        let mut items = vec![
            put_if_absent(&self.tables.sessions, session_item(&start.session))?,
            put_if_absent(&self.tables.sessions, token_item(&start.token))?,
            TransactWriteItem::builder().update(user_update).build(),
            TransactWriteItem::builder().delete(clear_lockout).build(),
        ];
        items.extend(extra);
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        self.db
            .get(&self.tables.sessions, format!("RT#{token_hash}"))
            .await?
            .as_ref()
            .map(token_from)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mark_rotated = built(
            Update::builder()
                .table_name(&self.tables.sessions)
                .set_key(Some(key(format!("RT#{old_hash}"))))
                .update_expression("SET rotated = :yes, rotated_at = :now, successor = :next")
                .condition_expression("attribute_exists(pk) AND rotated = :no")
                .set_expression_attribute_values(values(vec![
                    (":yes", b(true)),
                    (":no", b(false)),
                    (":now", n(now)),
                    (":next", s(&next.token_hash)),
                ]))
                .build(),
        )?;
        let session_used = built(
            Update::builder()
                .table_name(&self.tables.sessions)
                .set_key(Some(session_key(&next.session_id)))
                .update_expression("SET last_used_at = :now")
                .condition_expression("revoked = :no")
                .set_expression_attribute_values(values(vec![(":no", b(false)), (":now", n(now))]))
                .build(),
        )?;
        let epoch_current = built(
            ConditionCheck::builder()
                .table_name(&self.tables.users)
                .set_key(Some(pointer_key(&next.user_id)))
                .condition_expression(format!("attribute_exists(pk) AND {}", epoch_is(next.epoch)))
                .set_expression_attribute_values(values(vec![(":epoch", n(next.epoch))]))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(mark_rotated).build(),
            put_if_absent(&self.tables.sessions, token_item(next))?,
            TransactWriteItem::builder().update(session_used).build(),
            TransactWriteItem::builder()
                .condition_check(epoch_current)
                .build(),
        ];
        if self.db.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn session(&self, session_id: &str) -> Result<Option<Session>, StoreError> {
        self.db
            .get(&self.tables.sessions, format!("SESSION#{session_id}"))
            .await?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn revoke_session(&self, session_id: &str) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(key(format!("SESSION#{session_id}"))))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(values(vec![(":yes", b(true))]));
        self.db.conditional_update(update).await.map(|_| ())
    }

    async fn sessions_of(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        self.list_sessions(user_id).await
    }

    async fn end_sessions(&self, end: &SessionsEnd) -> Result<(), StoreError> {
        self.raise_epoch(end).await
    }
}

#[async_trait]
impl AttemptStore for DynamoStore {
    async fn reserve_attempt(
        &self,
        ip: &WindowSlot,
        account: Option<&AccountAttempt>,
        now: i64,
    ) -> Result<AttemptOutcome, StoreError> {
        if ip.limit == 0 {
            return Ok(AttemptOutcome::RateLimited);
        }
        let ip_update = Update::builder()
            .table_name(&self.tables.counters)
            .set_key(Some(key(keys::rate_window(&ip.key))))
            .update_expression("ADD hits :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![
                (":one", n(1)),
                (":limit", n(ip.limit)),
                (":ttl", n(ip.resets_at + 60)),
            ]));
        let Some(account) = account else {
            let update = built(ip_update.build())?;
            let builder = self
                .db
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .set_update_expression(Some(update.update_expression))
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values);
            return Ok(if self.db.conditional_update(builder).await? {
                AttemptOutcome::Reserved
            } else {
                AttemptOutcome::RateLimited
            });
        };
        let ip_update = built(ip_update.build())?;
        let both = |account_update: Update| {
            vec![
                TransactWriteItem::builder()
                    .update(ip_update.clone())
                    .build(),
                TransactWriteItem::builder().update(account_update).build(),
            ]
        };
        let mut restarted = false;
        loop {
            if self
                .db
                .transact(both(lockout::count_failure(
                    &self.tables.counters,
                    account,
                    now,
                )?))
                .await?
            {
                return Ok(AttemptOutcome::Reserved);
            }
            let hits: u32 = self
                .db
                .get(&self.tables.counters, keys::rate_window(&ip.key))
                .await?
                .and_then(|item| opt_n(&item, "hits"))
                .unwrap_or(0);
            if hits >= ip.limit {
                return Ok(AttemptOutcome::RateLimited);
            }
            let record = self
                .db
                .get(&self.tables.counters, keys::lockout(&account.key))
                .await?;
            if !restarted
                && record
                    .as_ref()
                    .is_some_and(|item| lockout::expired(item, now))
            {
                restarted = true;
                if self
                    .db
                    .transact(both(lockout::restart(&self.tables.counters, account, now)?))
                    .await?
                {
                    return Ok(AttemptOutcome::Reserved);
                }
                continue;
            }
            let state = lockout::live_state(record, now).unwrap_or_default();
            return Ok(AttemptOutcome::Locked {
                until: state.locked_until.filter(|until| *until > now),
            });
        }
    }

    async fn clear_failures(&self, key_text: &str) -> Result<(), StoreError> {
        let delete = self
            .db
            .client
            .delete_item()
            .table_name(&self.tables.counters)
            .set_key(Some(key(keys::lockout(key_text))));
        self.db
            .send_write(|| delete.clone().send())
            .await
            .map_err(super::db::unavailable)?;
        Ok(())
    }

    /// A record past its TTL reads as absent (DynamoDB deletes it late);
    /// TTL runs on wall-clock time, so that is the time compared.
    async fn lockout_state(&self, key_text: &str) -> Result<Option<LockoutState>, StoreError> {
        let record = self
            .db
            .get(&self.tables.counters, keys::lockout(key_text))
            .await?;
        Ok(lockout::live_state(record, SystemClock.now()))
    }

    async fn lock_account(
        &self,
        key_text: &str,
        max_failures: u32,
        level: u32,
        until: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let level_condition = if level == 0 {
            "(attribute_not_exists(lock_level) OR lock_level = :level)"
        } else {
            "lock_level = :level"
        };
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.tables.counters)
            .set_key(Some(key(keys::lockout(key_text))))
            .update_expression(
                "SET failures = :zero, lock_level = :next, locked_until = :until, #ttl = :ttl",
            )
            .condition_expression(format!("failures >= :max AND {level_condition}"))
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![
                (":zero", n(0)),
                (":max", n(max_failures)),
                (":level", n(level)),
                (":next", n(level + 1)),
                (":until", n(until)),
                (":ttl", n(expires_at)),
            ]));
        self.db.conditional_update(update).await
    }
}
