//! AWS adapters for the ports. SDK clients are built once per cold start
//! from the standard chain, which honours `AWS_ENDPOINT_URL` so the same
//! binary talks to AWS or to the local stand-in.

pub mod admin;
mod db;
pub mod dynamo;
pub mod flags;
mod item;
pub mod ses;

use std::sync::Arc;

pub use admin::{AdminTables, DynamoAdmin};
pub use dynamo::{DynamoStore, TableNames};
pub use flags::DynamoFlags;
pub use ses::SesMailer;

use crate::auth::service::AuthPorts;

/// The auth ports on DynamoDB and SES; the store is returned too so callers
/// can read its request count.
pub fn auth_ports(
    config: &aws_config::SdkConfig,
    tables: TableNames,
    mail_from: &str,
) -> (AuthPorts, DynamoStore) {
    let store = DynamoStore::new(config, tables);
    let shared = Arc::new(store.clone());
    let ports = AuthPorts {
        users: shared.clone(),
        sessions: shared.clone(),
        attempts: shared,
        mailer: Arc::new(SesMailer::new(config, mail_from)),
    };
    (ports, store)
}

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Loads the shared SDK configuration (region, credentials, endpoint) with
/// short timeouts and bounded retries, so a dependency outage fails the
/// request quickly (503) instead of running into the function timeout.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}
