//! The audit chain's items, for every adapter that appends to it or reads it.
//!
//! Audit table: partition `pk = AUDIT` (or `AUDIT#<namespace>`: a user's own
//! chain is namespace `user#<user id>`), sort key `seq` (number); an entry
//! is only ever put if its `seq` is free, never updated or deleted; `kid`
//! names the audit key its `hash` is a MAC under (absent on legacy entries).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::db::{built, key};
use super::item::{get_n, get_s, n, opt_s, s, Item};
use shared::audit::AuditEntry;
use shared::ports::StoreError;

/// Partition of the audit chain in namespace `namespace`.
pub(crate) fn partition(namespace: &str) -> String {
    if namespace.is_empty() {
        "AUDIT".to_string()
    } else {
        format!("AUDIT#{namespace}")
    }
}

/// The namespace of `user_id`'s own chain (wallet and KYC changes).
pub(crate) fn user_namespace(user_id: &str) -> String {
    format!("user#{user_id}")
}

/// The append of `entry` to the chain in `namespace`: the put fails if its
/// sequence number is taken.
pub(crate) fn entry_put(
    table: &str,
    entry: &AuditEntry,
    namespace: &str,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(entry_item(entry, namespace)))
        .condition_expression("attribute_not_exists(seq)")
        .build();
    Ok(TransactWriteItem::builder().put(built(put)?).build())
}

fn json_attr(value: &Option<serde_json::Value>) -> Option<AttributeValue> {
    value.as_ref().map(|v| s(v.to_string()))
}

fn entry_item(entry: &AuditEntry, namespace: &str) -> Item {
    let mut item = key(partition(namespace));
    item.insert("seq".into(), n(entry.seq));
    item.insert("at".into(), n(entry.at));
    item.insert("actor".into(), s(&entry.actor));
    if let Some(ip) = &entry.ip {
        item.insert("ip".into(), s(ip));
    }
    item.insert("action".into(), s(&entry.action));
    item.insert("target".into(), s(&entry.target));
    if let Some(before) = json_attr(&entry.before) {
        item.insert("before".into(), before);
    }
    if let Some(after) = json_attr(&entry.after) {
        item.insert("after".into(), after);
    }
    item.insert("prev_hash".into(), s(&entry.prev_hash));
    if let Some(kid) = &entry.kid {
        item.insert("kid".into(), s(kid));
    }
    item.insert("hash".into(), s(&entry.hash));
    item
}

/// The entry a stored item holds.
pub(crate) fn entry_from(item: &Item) -> Result<AuditEntry, StoreError> {
    let json = |name: &str| -> Result<Option<serde_json::Value>, StoreError> {
        opt_s(item, name)
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Unavailable(format!("audit {name} unreadable: {e}")))
            })
            .transpose()
    };
    Ok(AuditEntry {
        seq: get_n(item, "seq")?,
        at: get_n(item, "at")?,
        actor: get_s(item, "actor")?,
        ip: opt_s(item, "ip"),
        action: get_s(item, "action")?,
        target: get_s(item, "target")?,
        before: json("before")?,
        after: json("after")?,
        prev_hash: get_s(item, "prev_hash")?,
        kid: opt_s(item, "kid"),
        hash: get_s(item, "hash")?,
    })
}
