//! AWS adapters for the ports. SDK clients are built once per cold start
//! from the standard chain, which honours `AWS_ENDPOINT_URL` so the same
//! binary talks to AWS or to the local stand-in.

pub mod dynamo;
mod item;
pub mod ses;

pub use dynamo::{DynamoStore, TableNames};
pub use ses::SesMailer;

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
