//! DynamoDB adapter for the flag snapshot: one item, `pk = SNAPSHOT`, in the
//! flags table, holding the version, the emergency switch and the flags as JSON.

use async_trait::async_trait;

use super::db::Db;
use super::item::{get_bool, get_n, get_s, Item};
use shared::config::{required, ConfigError, Env};
use shared::flags::{Flag, Snapshot};
use shared::ports::{FlagStore, StoreError};

/// Partition key of the snapshot item in namespace `namespace` (the
/// deployment uses the empty namespace; tests use their own).
pub fn snapshot_key(namespace: &str) -> String {
    if namespace.is_empty() {
        "SNAPSHOT".to_string()
    } else {
        format!("SNAPSHOT#{namespace}")
    }
}

/// Reads the snapshot from the flags table.
#[derive(Clone)]
pub struct DynamoFlags {
    db: Db,
    table: String,
    namespace: String,
}

impl DynamoFlags {
    pub fn new(config: &aws_config::SdkConfig, table: String) -> Self {
        Self {
            db: Db::new(config),
            table,
            namespace: String::new(),
        }
    }

    /// Uses a separate snapshot, so independent test runs share a table safely.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    /// Reads `FLAGS_TABLE`.
    pub fn table_from_env(env: &dyn Env) -> Result<String, ConfigError> {
        required(env, "FLAGS_TABLE")
    }

    /// How many DynamoDB requests this store has sent.
    pub fn calls(&self) -> u64 {
        self.db.calls()
    }
}

/// The snapshot as a DynamoDB item.
pub fn snapshot_item(snapshot: &Snapshot, namespace: &str) -> Result<Item, StoreError> {
    let flags = serde_json::to_string(&snapshot.flags)
        .map_err(|e| StoreError::Unavailable(format!("flags serialise: {e}")))?;
    let mut item = super::db::key(snapshot_key(namespace));
    item.insert("version".into(), super::item::n(snapshot.version));
    item.insert("emergency".into(), super::item::b(snapshot.emergency));
    item.insert("flags".into(), super::item::s(flags));
    Ok(item)
}

fn snapshot_from(item: &Item) -> Result<Snapshot, StoreError> {
    let flags: Vec<Flag> = serde_json::from_str(&get_s(item, "flags")?)
        .map_err(|e| StoreError::Unavailable(format!("stored flags unreadable: {e}")))?;
    Ok(Snapshot {
        version: get_n(item, "version")?,
        emergency: get_bool(item, "emergency"),
        flags,
    })
}

#[async_trait]
impl FlagStore for DynamoFlags {
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.db
            .get(&self.table, snapshot_key(&self.namespace))
            .await?
            .as_ref()
            .map(snapshot_from)
            .transpose()
    }
}
