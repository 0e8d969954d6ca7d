//! AWS adapters for the ports. SDK clients are built once per cold start
//! from the standard chain, which honours `AWS_ENDPOINT_URL` so the same
//! binary talks to AWS or to the local stand-in.

pub mod admin;
mod audit;
mod batch;
mod db;
pub mod dynamo;
pub mod flags;
pub mod inbox;
mod item;
pub mod kyc;
mod lockout;
pub mod review;
pub mod s3;
pub mod secrets;
pub mod ses;
pub mod sqs;
mod transient;
pub mod wallet;

use std::sync::Arc;

pub use admin::{AdminTables, DynamoAdmin};
pub use dynamo::{DynamoStore, TableNames};
pub use flags::DynamoFlags;
pub use inbox::DynamoInbox;
pub use kyc::DynamoKyc;
pub use s3::{Encryption, S3Documents};
pub use secrets::{secrets_manager, SecretsManager};
pub use ses::{MailSettings, SesMailer};
pub use sqs::SqsQueue;
pub use wallet::{DynamoWallet, WalletTables};

use shared::auth::service::AuthPorts;

/// The auth ports on DynamoDB and SES; the store is returned too so callers
/// can read its request count.
pub fn auth_ports(
    config: &aws_config::SdkConfig,
    tables: TableNames,
    mail: &MailSettings,
) -> (AuthPorts, DynamoStore) {
    let store = DynamoStore::new(config, tables);
    let shared = Arc::new(store.clone());
    let ports = AuthPorts {
        users: shared.clone(),
        sessions: shared.clone(),
        attempts: shared,
        mailer: Arc::new(SesMailer::new(config, mail)),
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

/// The wallet ports on DynamoDB and SQS, and the flag store for the kill
/// switch, from `WALLET_TABLE`, `COUNTERS_TABLE`, `AUDIT_TABLE`,
/// `USERS_TABLE`, `SESSIONS_TABLE`, `FLAGS_TABLE`, `REVIEW_QUEUE_URL` and
/// the audit keys (`AUDIT_HMAC_KEYS`, `AUDIT_HMAC_KID`).
pub async fn wallet_ports_from_env(
    env: &dyn shared::config::Env,
) -> Result<
    (
        shared::wallet::service::WalletPorts,
        Arc<dyn shared::ports::FlagStore>,
    ),
    shared::config::ConfigError,
> {
    let wallet_tables = WalletTables::from_env(env)?;
    let auth_tables = TableNames::from_env(env)?;
    let flags_table = DynamoFlags::table_from_env(env)?;
    let queue_url = SqsQueue::url_from_env(env)?;
    let audit_keys = Arc::new(shared::audit::AuditKeys::from_env(env)?);
    let sdk = load_sdk_config().await;
    let wallet = Arc::new(DynamoWallet::new(&sdk, wallet_tables));
    let ports = shared::wallet::service::WalletPorts {
        wallet: wallet.clone(),
        idempotency: wallet,
        users: Arc::new(DynamoStore::new(&sdk, auth_tables)),
        reviews: Arc::new(SqsQueue::new(&sdk, queue_url)),
        audit_keys,
    };
    Ok((ports, Arc::new(DynamoFlags::new(&sdk, flags_table))))
}
