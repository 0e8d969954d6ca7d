//! AWS adapters for the ports. SDK clients are built once per cold start
//! from the standard chain, which honours `AWS_ENDPOINT_URL` so the same
//! binary talks to AWS or to the local stand-in.

mod account_sessions;
mod account_tokens;
pub mod admin;
mod audit;
mod batch;
mod db;
pub mod dynamo;
mod exports;
pub mod flags;
pub mod inbox;
mod item;
pub mod keys;
pub mod kyc;
mod lockout;
pub mod review;
pub mod s3;
mod second_factor;
pub mod secrets;
pub mod ses;
pub mod sqs;
mod transient;
pub mod wallet;

pub use admin::{AdminTables, DynamoAdmin};
pub use dynamo::{DynamoStore, TableNames};
pub use exports::{AUDIT_BY_TARGET_INDEX, WALLET_BY_USER_INDEX};
pub use flags::DynamoFlags;
pub use inbox::DynamoInbox;
pub use kyc::DynamoKyc;
pub use s3::{BucketSettings, Encryption, S3Documents};
pub use secrets::{secrets_manager, SecretsManager};
pub use ses::{MailSettings, SesMailer};
pub use sqs::SqsQueue;
pub use wallet::{DynamoWallet, WalletTables};

pub use aws_config::SdkConfig;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Loads the shared SDK configuration (region, credentials, endpoint) with
/// short timeouts and bounded retries, so a dependency outage fails the
/// request quickly (503) instead of running into the function timeout.
pub async fn load_sdk_config() -> SdkConfig {
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
