//! The audit log: append-only entries, each holding the hash of the one
//! before it, so a changed or removed entry breaks the chain.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an action records before it is placed in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    /// User id of who acted.
    pub actor: String,
    pub ip: Option<String>,
    /// Stable action name, e.g. `flag.update`.
    pub action: String,
    /// What was acted on, e.g. `flag:new.checkout`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One entry of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize)]
struct HashedFields<'a> {
    seq: u64,
    at: i64,
    actor: &'a str,
    ip: &'a Option<String>,
    action: &'a str,
    target: &'a str,
    before: &'a Option<Value>,
    after: &'a Option<Value>,
    prev_hash: &'a str,
}

/// SHA-256 (hex) over every field of `entry` but its own hash.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let fields = HashedFields {
        seq: entry.seq,
        at: entry.at,
        actor: &entry.actor,
        ip: &entry.ip,
        action: &entry.action,
        target: &entry.target,
        before: &entry.before,
        after: &entry.after,
        prev_hash: &entry.prev_hash,
    };
    let bytes = serde_json::to_vec(&fields).expect("audit fields serialise");
    hex::encode(Sha256::digest(bytes))
}

/// Places `draft` after `head` (the newest entry, if any) at time `at`.
pub fn chain_after(head: Option<&AuditEntry>, draft: AuditDraft, at: i64) -> AuditEntry {
    chain_after_head(head.map(|h| (h.seq, h.hash.as_str())), draft, at)
}

/// Places `draft` after the entry with sequence number and hash `head`.
pub fn chain_after_head(head: Option<(u64, &str)>, draft: AuditDraft, at: i64) -> AuditEntry {
    let mut entry = AuditEntry {
        seq: head.map_or(1, |(seq, _)| seq + 1),
        at,
        actor: draft.actor,
        ip: draft.ip,
        action: draft.action,
        target: draft.target,
        before: draft.before,
        after: draft.after,
        prev_hash: head.map_or_else(|| GENESIS_HASH.to_string(), |(_, hash)| hash.to_string()),
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub intact: bool,
    pub entries: u64,
    /// The first sequence number where the chain does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken_seq: Option<u64>,
}

/// Checks entries in ascending order: numbering without gaps from 1, each
/// hash recomputed, each `prev_hash` equal to the hash before it.
pub fn verify_chain(entries: &[AuditEntry]) -> ChainReport {
    let mut prev_hash = GENESIS_HASH.to_string();
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if entry.seq != expected_seq
            || entry.prev_hash != prev_hash
            || entry.hash != entry_hash(entry)
        {
            return ChainReport {
                intact: false,
                entries: entries.len() as u64,
                first_broken_seq: Some(expected_seq),
            };
        }
        prev_hash = entry.hash.clone();
    }
    ChainReport {
        intact: true,
        entries: entries.len() as u64,
        first_broken_seq: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(n: u32) -> AuditDraft {
        AuditDraft {
            actor: "admin-1".into(),
            ip: Some("203.0.113.10".into()),
            action: "flag.update".into(),
            target: format!("flag:f{n}"),
            before: Some(json!({"enabled": false})),
            after: Some(json!({"enabled": true})),
        }
    }

    fn chain(n: u32) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let next = chain_after(entries.last(), draft(i), 1_000 + i as i64);
            entries.push(next);
        }
        entries
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain(5);
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(entries[3].prev_hash, entries[2].hash);
        assert_eq!(
            verify_chain(&entries),
            ChainReport {
                intact: true,
                entries: 5,
                first_broken_seq: None
            }
        );
    }

    #[test]
    fn edits_removals_and_reordering_are_detected() {
        let mut edited = chain(5);
        edited[2].after = Some(json!({"enabled": false}));
        assert_eq!(verify_chain(&edited).first_broken_seq, Some(3));

        let mut rehashed = chain(5);
        rehashed[2].actor = "someone-else".into();
        rehashed[2].hash = entry_hash(&rehashed[2]);
        assert_eq!(
            verify_chain(&rehashed).first_broken_seq,
            Some(4),
            "the next link breaks"
        );

        let mut removed = chain(5);
        removed.remove(1);
        assert_eq!(verify_chain(&removed).first_broken_seq, Some(2));

        let mut swapped = chain(5);
        swapped.swap(0, 1);
        assert!(!verify_chain(&swapped).intact);
    }
}
