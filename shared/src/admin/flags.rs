//! The flags desk: flag changes with optimistic concurrency and the global
//! emergency switch, each committed with its audit entry.

use std::sync::Arc;

use serde_json::{json, Value};

use super::actor::Actor;
use super::commit::{AuditedCommits, COMMIT_ATTEMPTS};
use super::AdminError;
use crate::audit::AuditDraft;
use crate::flags::{Flag, Snapshot};
use crate::ports::{AdminChange, FlagStore, StoreError};
use crate::validation::FieldIssue;

/// Flag management and the emergency switch.
pub struct FlagsAdmin {
    flags: Arc<dyn FlagStore>,
    commits: AuditedCommits,
}

impl FlagsAdmin {
    /// Flags read from `flags`, changed through `commits`.
    pub fn new(flags: Arc<dyn FlagStore>, commits: AuditedCommits) -> Self {
        Self { flags, commits }
    }

    /// The current snapshot, read from the store (never cached).
    pub async fn snapshot(&self) -> Result<Snapshot, AdminError> {
        Ok(self.flags.load_snapshot().await?.unwrap_or_default())
    }

    /// Flag `key` from the current snapshot.
    pub async fn flag(&self, key: &str) -> Result<Flag, AdminError> {
        self.snapshot()
            .await?
            .flag(key)
            .cloned()
            .ok_or(AdminError::NotFound)
    }

    /// Adds a new flag at version 1.
    pub async fn create_flag(&self, actor: &Actor, mut flag: Flag) -> Result<Flag, AdminError> {
        invalid_if_any(flag.problems())?;
        flag.version = 1;
        let created = flag.clone();
        self.change_snapshot(
            actor,
            "flag.create",
            &format!("flag:{}", flag.key),
            |snap| {
                if snap.flag(&flag.key).is_some() {
                    return Err(AdminError::Conflict("FLAG_EXISTS"));
                }
                snap.flags.push(flag.clone());
                Ok((None, Some(json!(flag))))
            },
        )
        .await?;
        Ok(created)
    }

    /// Replaces flag `key`, only if it is still at `expected_version`.
    pub async fn update_flag(
        &self,
        actor: &Actor,
        key: &str,
        mut flag: Flag,
        expected_version: u64,
    ) -> Result<Flag, AdminError> {
        if flag.key != key {
            return Err(AdminError::Invalid(vec![FieldIssue::new(
                "key",
                "must match the flag in the path",
            )]));
        }
        invalid_if_any(flag.problems())?;
        let mut updated = None;
        self.change_snapshot(actor, "flag.update", &format!("flag:{key}"), |snap| {
            let current = snap
                .flags
                .iter_mut()
                .find(|f| f.key == key)
                .ok_or(AdminError::NotFound)?;
            if current.version != expected_version {
                return Err(AdminError::Conflict("STALE_VERSION"));
            }
            let before = json!(current);
            flag.version = expected_version + 1;
            *current = flag.clone();
            updated = Some(flag.clone());
            Ok((Some(before), Some(json!(flag))))
        })
        .await?;
        updated.ok_or(AdminError::Unavailable)
    }

    /// Removes flag `key`, only if it is still at `expected_version`.
    pub async fn delete_flag(
        &self,
        actor: &Actor,
        key: &str,
        expected_version: u64,
    ) -> Result<(), AdminError> {
        self.change_snapshot(actor, "flag.delete", &format!("flag:{key}"), |snap| {
            let index = snap
                .flags
                .iter()
                .position(|f| f.key == key)
                .ok_or(AdminError::NotFound)?;
            if snap.flags[index].version != expected_version {
                return Err(AdminError::Conflict("STALE_VERSION"));
            }
            let removed = snap.flags.remove(index);
            Ok((Some(json!(removed)), None))
        })
        .await
    }

    /// Turns the global emergency switch on (every kill-switch feature off) or off.
    pub async fn set_emergency(
        &self,
        actor: &Actor,
        on: bool,
        reason: &str,
    ) -> Result<Snapshot, AdminError> {
        let action = if on {
            "emergency.disable"
        } else {
            "emergency.restore"
        };
        let mut result = None;
        self.change_snapshot(actor, action, "flags:emergency", |snap| {
            let before = json!({ "emergency": snap.emergency });
            snap.emergency = on;
            result = Some(snap.clone());
            Ok((
                Some(before),
                Some(json!({ "emergency": on, "reason": reason })),
            ))
        })
        .await?;
        result.ok_or(AdminError::Unavailable)
    }

    /// Reads the snapshot, lets `edit` change it (returning the before and
    /// after values to audit), and commits it with its audit entry; retried
    /// when another action committed first.
    async fn change_snapshot<F>(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        mut edit: F,
    ) -> Result<(), AdminError>
    where
        F: FnMut(&mut Snapshot) -> Result<(Option<Value>, Option<Value>), AdminError>,
    {
        for _ in 0..COMMIT_ATTEMPTS {
            let mut snapshot = self.snapshot().await?;
            let expected_version = snapshot.version;
            let (before, after) = edit(&mut snapshot)?;
            snapshot.version = expected_version + 1;
            let change = AdminChange::SaveSnapshot {
                snapshot,
                expected_version,
            };
            let draft = AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: action.to_string(),
                target: target.to_string(),
                before,
                after,
            };
            match self.commits.try_commit(&change, draft).await {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(AdminError::from),
            }
        }
        Err(AdminError::Conflict("BUSY"))
    }
}

fn invalid_if_any(problems: Vec<FieldIssue>) -> Result<(), AdminError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(problems))
    }
}
