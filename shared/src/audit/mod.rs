//! The audit log: append-only entries, each holding the MAC of the one
//! before it, so a changed or removed entry breaks the chain. An entry's
//! `hash` is an HMAC-SHA256 under the audit key named by its `kid`
//! ([`keys`]): without the key an entry cannot be rewritten and re-chained.
//! Entries written before the keys existed have no `kid` and a plain SHA-256
//! `hash`; they verify as [`LEGACY_UNKEYED`], only as a prefix of the chain
//! and only up to the sequence number the operator configured as the last
//! legacy one ([`AuditKeys::legacy_max_seq`], `AUDIT_LEGACY_MAX_SEQ`, 0 on a
//! new stack): anyone can compute a legacy hash, so without the cutoff a
//! chain rewritten entirely in the legacy format would verify.

pub mod keys;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use keys::AuditKeys;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How [`verify_chain`] names the entries hashed without a key.
pub const LEGACY_UNKEYED: &str = "legacy-unkeyed";

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
    /// The audit key `hash` is a MAC under; `None` for a legacy entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// The bytes an entry's `hash` covers: every field but the hash itself (the
/// `kid` too, when there is one).
fn hashed_bytes(entry: &AuditEntry) -> Vec<u8> {
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
        kid: entry.kid.as_deref(),
    };
    serde_json::to_vec(&fields).expect("audit fields serialise")
}

/// The unkeyed SHA-256 (hex) of a legacy entry (no `kid`): anyone can
/// compute it, so it shows accidents, not tampering.
pub fn legacy_hash(entry: &AuditEntry) -> String {
    hex::encode(Sha256::digest(hashed_bytes(entry)))
}

/// Places `draft` after `head` (the newest entry, if any) at time `at`.
pub fn chain_after(
    keys: &AuditKeys,
    head: Option<&AuditEntry>,
    draft: AuditDraft,
    at: i64,
) -> AuditEntry {
    chain_after_head(keys, head.map(|h| (h.seq, h.hash.as_str())), draft, at)
}

/// Places `draft` after the entry with sequence number and hash `head`,
/// MACed under the signing key of `keys`.
pub fn chain_after_head(
    keys: &AuditKeys,
    head: Option<(u64, &str)>,
    draft: AuditDraft,
    at: i64,
) -> AuditEntry {
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
        kid: Some(keys.signing_kid().to_string()),
        hash: String::new(),
    };
    entry.hash = keys
        .mac(keys.signing_kid(), &hashed_bytes(&entry))
        .expect("the signing kid names a key");
    entry
}

/// Consecutive entries checked by one key id (or [`LEGACY_UNKEYED`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedRun {
    pub kid: String,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub intact: bool,
    pub entries: u64,
    /// The first sequence number where the chain does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken_seq: Option<u64>,
    /// Why it does not hold there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Which key checked each entry before the break, in runs.
    pub checked_by: Vec<CheckedRun>,
}

/// Why `entry` does not hold after `prev_hash` (and a keyed entry), or the
/// key id that checked it.
fn check_entry(
    keys: &AuditKeys,
    entry: &AuditEntry,
    expected_seq: u64,
    prev_hash: &str,
    keyed_before: bool,
) -> Result<String, &'static str> {
    if entry.seq != expected_seq {
        return Err("sequence");
    }
    if entry.prev_hash != prev_hash {
        return Err("prev-hash");
    }
    match &entry.kid {
        None if keyed_before => Err("unkeyed-after-keyed"),
        None if entry.seq > keys.legacy_max_seq() => Err("legacy-after-cutoff"),
        None if entry.hash == legacy_hash(entry) => Ok(LEGACY_UNKEYED.to_string()),
        None => Err("hash"),
        Some(kid) if !keys.knows(kid) => Err("unknown-kid"),
        Some(kid) if keys.verifies(kid, &hashed_bytes(entry), &entry.hash) => Ok(kid.clone()),
        Some(_) => Err("mac"),
    }
}

/// Checks entries in ascending order: numbering without gaps from 1, each
/// MAC recomputed under its entry's key id (an unknown kid fails), each
/// `prev_hash` equal to the hash before it; unkeyed legacy entries only
/// before the first keyed one and only up to the keys' legacy cutoff.
pub fn verify_chain(keys: &AuditKeys, entries: &[AuditEntry]) -> ChainReport {
    let mut prev_hash = GENESIS_HASH;
    let mut checked_by: Vec<CheckedRun> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        let keyed_before = checked_by.iter().any(|run| run.kid != LEGACY_UNKEYED);
        match check_entry(keys, entry, expected_seq, prev_hash, keyed_before) {
            Ok(kid) => match checked_by.last_mut() {
                Some(run) if run.kid == kid => run.last_seq = entry.seq,
                _ => checked_by.push(CheckedRun {
                    kid,
                    first_seq: entry.seq,
                    last_seq: entry.seq,
                }),
            },
            Err(reason) => {
                return ChainReport {
                    intact: false,
                    entries: entries.len() as u64,
                    first_broken_seq: Some(expected_seq),
                    reason: Some(reason),
                    checked_by,
                }
            }
        }
        prev_hash = &entry.hash;
    }
    ChainReport {
        intact: true,
        entries: entries.len() as u64,
        first_broken_seq: None,
        reason: None,
        checked_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(signing: &str, kids: &[&str]) -> AuditKeys {
        let pairs = kids
            .iter()
            .map(|kid| {
                (
                    kid.to_string(),
                    crate::auth::secrets::random_bytes::<32>().to_vec(),
                )
            })
            .collect();
        AuditKeys::new(signing, pairs).expect("generated keys are valid")
    }

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

    fn extend(keys: &AuditKeys, entries: &mut Vec<AuditEntry>, n: u32) {
        for _ in 0..n {
            let i = entries.len() as u32;
            let next = chain_after(keys, entries.last(), draft(i), 1_000 + i as i64);
            entries.push(next);
        }
    }

    fn chain(keys: &AuditKeys, n: u32) -> Vec<AuditEntry> {
        let mut entries = Vec::new();
        extend(keys, &mut entries, n);
        entries
    }

    fn run(kid: &str, first_seq: u64, last_seq: u64) -> CheckedRun {
        CheckedRun {
            kid: kid.into(),
            first_seq,
            last_seq,
        }
    }

    /// What someone with table access but no key can do: recompute the
    /// plain hash of every entry from `from` on.
    fn rechain_without_key(entries: &mut [AuditEntry], from: usize) {
        for i in from..entries.len() {
            if i > 0 {
                entries[i].prev_hash = entries[i - 1].hash.clone();
            }
            entries[i].hash = legacy_hash(&entries[i]);
        }
    }

    #[test]
    fn an_untouched_chain_verifies_and_names_its_key() {
        let keys = keys("a1", &["a1"]);
        let entries = chain(&keys, 5);
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(entries[3].prev_hash, entries[2].hash);
        assert_eq!(entries[3].kid.as_deref(), Some("a1"));
        assert_eq!(
            verify_chain(&keys, &entries),
            ChainReport {
                intact: true,
                entries: 5,
                first_broken_seq: None,
                reason: None,
                checked_by: vec![run("a1", 1, 5)],
            }
        );
    }

    #[test]
    fn edits_removals_and_reordering_are_detected() {
        let keys = keys("a1", &["a1"]);
        let mut edited = chain(&keys, 5);
        edited[2].after = Some(json!({"enabled": false}));
        let report = verify_chain(&keys, &edited);
        assert_eq!(report.first_broken_seq, Some(3));
        assert_eq!(report.reason, Some("mac"));
        assert_eq!(report.checked_by, vec![run("a1", 1, 2)]);

        let mut removed = chain(&keys, 5);
        removed.remove(1);
        assert_eq!(verify_chain(&keys, &removed).first_broken_seq, Some(2));

        let mut swapped = chain(&keys, 5);
        swapped.swap(0, 1);
        assert!(!verify_chain(&keys, &swapped).intact);
    }

    #[test]
    fn an_entry_rewritten_and_rechained_without_the_key_is_reported() {
        let keys = keys("a1", &["a1"]);
        let mut entries = chain(&keys, 5);
        entries[2].actor = "someone-else".into();
        rechain_without_key(&mut entries, 2);
        let report = verify_chain(&keys, &entries);
        assert!(!report.intact);
        assert_eq!(report.first_broken_seq, Some(3));
        assert_eq!(report.reason, Some("mac"));

        let mut unkeyed = chain(&keys, 5);
        unkeyed[2].actor = "someone-else".into();
        for entry in &mut unkeyed[2..] {
            entry.kid = None;
        }
        rechain_without_key(&mut unkeyed, 2);
        let report = verify_chain(&keys, &unkeyed);
        assert_eq!(report.first_broken_seq, Some(3));
        assert_eq!(report.reason, Some("unkeyed-after-keyed"));
    }

    #[test]
    fn a_rotated_key_keeps_old_entries_verifying_and_signs_new_ones() {
        let a1 = crate::auth::secrets::random_bytes::<32>().to_vec();
        let a2 = crate::auth::secrets::random_bytes::<32>().to_vec();
        let before = AuditKeys::new("a1", vec![("a1".into(), a1.clone())]).unwrap();
        let mut entries = chain(&before, 3);
        let rotated = AuditKeys::new("a2", vec![("a1".into(), a1), ("a2".into(), a2)]).unwrap();
        extend(&rotated, &mut entries, 2);
        assert_eq!(entries[2].kid.as_deref(), Some("a1"));
        assert_eq!(entries[4].kid.as_deref(), Some("a2"));
        let report = verify_chain(&rotated, &entries);
        assert!(report.intact, "{report:?}");
        assert_eq!(report.checked_by, vec![run("a1", 1, 3), run("a2", 4, 5)]);
    }

    #[test]
    fn an_unknown_kid_fails() {
        let old = keys("a1", &["a1"]);
        let entries = chain(&old, 3);
        let other = keys("b1", &["b1"]);
        let report = verify_chain(&other, &entries);
        assert!(!report.intact);
        assert_eq!(report.first_broken_seq, Some(1));
        assert_eq!(report.reason, Some("unknown-kid"));
    }

    /// What someone with table write access but no key can do to the
    /// whole chain: strip every `kid`, edit, and recompute the plain hashes.
    fn rewrite_as_legacy(entries: &mut [AuditEntry]) {
        for entry in entries.iter_mut() {
            entry.kid = None;
        }
        rechain_without_key(entries, 0);
    }

    #[test]
    fn a_chain_rewritten_entirely_in_the_legacy_format_is_reported() {
        let keys = keys("a1", &["a1"]);
        let mut entries = chain(&keys, 5);
        entries[2].actor = "someone-else".into();
        rewrite_as_legacy(&mut entries);
        let report = verify_chain(&keys, &entries);
        assert!(!report.intact, "{report:?}");
        assert_eq!(report.first_broken_seq, Some(1));
        assert_eq!(report.reason, Some("legacy-after-cutoff"));
        assert_eq!(report.checked_by, vec![]);
    }

    #[test]
    fn legacy_entries_verify_as_a_prefix_and_are_named_so() {
        let keys = keys("a1", &["a1"]).with_legacy_max_seq(3);
        let mut entries = chain(&keys, 3);
        for entry in &mut entries {
            entry.kid = None;
        }
        rechain_without_key(&mut entries, 0);
        extend(&keys, &mut entries, 2);
        let report = verify_chain(&keys, &entries);
        assert!(report.intact, "{report:?}");
        assert_eq!(
            report.checked_by,
            vec![run(LEGACY_UNKEYED, 1, 3), run("a1", 4, 5)]
        );
        entries[1].target = "flag:other".into();
        assert_eq!(verify_chain(&keys, &entries).reason, Some("hash"));
    }
}
