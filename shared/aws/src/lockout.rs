//! The lockout record (`LOCK#...` in the counters table, `keys::lockout`) as DynamoDB keeps
//! it: `failures`, `lock_level`, `locked_until` and a `ttl` after which the
//! record is forgotten. DynamoDB deletes expired items up to two days late,
//! so a record past its `ttl` is treated as absent here: the count restarts
//! rather than adding to failures that should be gone.

use aws_sdk_dynamodb::types::Update;

use super::db::{built, key, names, values};
use super::item::{n, opt_n, Item};
use super::keys;
use shared::auth::model::{AccountAttempt, LockoutState};
use shared::ports::StoreError;

/// Whether `item` is past its `ttl` at `now` (eligible for deletion).
pub fn expired(item: &Item, now: i64) -> bool {
    opt_n::<i64>(item, "ttl").is_some_and(|ttl| ttl <= now)
}

/// The state of a record read at `now`; `None` when absent or expired.
pub fn live_state(record: Option<Item>, now: i64) -> Option<LockoutState> {
    record
        .filter(|item| !expired(item, now))
        .map(|item| LockoutState {
            failures: opt_n(&item, "failures").unwrap_or(0),
            level: opt_n(&item, "lock_level").unwrap_or(0),
            locked_until: opt_n(&item, "locked_until"),
        })
}

/// Counts one more failure on a live (or absent) record that is neither
/// locked nor out of failures; an expired record fails the condition.
pub fn count_failure(
    table: &str,
    account: &AccountAttempt,
    now: i64,
) -> Result<Update, StoreError> {
    built(
        Update::builder()
            .table_name(table)
            .set_key(Some(key(keys::lockout(&account.key))))
            .update_expression("ADD failures :one SET #ttl = :ttl")
            .condition_expression(
                "(attribute_not_exists(#ttl) OR #ttl > :now) \
                 AND (attribute_not_exists(locked_until) OR locked_until <= :now) \
                 AND (attribute_not_exists(failures) OR failures < :max)",
            )
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![
                (":one", n(1)),
                (":now", n(now)),
                (":max", n(account.max_failures)),
                (":ttl", n(account.expires_at)),
            ]))
            .build(),
    )
}

/// Starts the count again at one failure, lock and level forgotten, only
/// while the record is still past its `ttl` (so a concurrent restart or
/// count is not undone).
pub fn restart(table: &str, account: &AccountAttempt, now: i64) -> Result<Update, StoreError> {
    built(
        Update::builder()
            .table_name(table)
            .set_key(Some(key(keys::lockout(&account.key))))
            .update_expression("SET failures = :one, #ttl = :ttl REMOVE lock_level, locked_until")
            .condition_expression("#ttl <= :now")
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![
                (":one", n(1)),
                (":now", n(now)),
                (":ttl", n(account.expires_at)),
            ]))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(failures: i64, ttl: i64) -> Item {
        let mut item = key("LOCK#x".into());
        item.insert("failures".into(), n(failures));
        item.insert("ttl".into(), n(ttl));
        item
    }

    #[test]
    fn a_record_past_its_ttl_reads_as_absent() {
        assert_eq!(live_state(Some(record(10, 99)), 100), None);
        assert_eq!(live_state(Some(record(10, 100)), 100), None);
        assert_eq!(
            live_state(Some(record(3, 101)), 100).map(|s| s.failures),
            Some(3)
        );
        assert_eq!(live_state(None, 100), None);
    }
}
