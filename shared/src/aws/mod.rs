//! AWS adapters for the ports. SDK clients are built once per cold start
//! from the standard chain, which honours `AWS_ENDPOINT_URL` so the same
//! binary talks to AWS or to the local stand-in.

pub mod dynamo;
mod item;
pub mod ses;

pub use dynamo::{DynamoStore, TableNames};
pub use ses::SesMailer;

/// Loads the shared SDK configuration (region, credentials, endpoint).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
