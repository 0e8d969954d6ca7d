//! The KYC retention function: on each schedule tick, erases the documents
//! and PII of submissions decided longer ago than the retention period.

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoKyc, S3Documents};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::kyc::retention::{RetentionSweep, SweepReport};
use shared::kyc::service::KycPorts;
use shared::ports::StoreError;

mod settings;

pub use settings::Settings;

/// Everything built once per cold start.
pub struct App {
    sweep: RetentionSweep,
}

impl App {
    pub fn new(ports: KycPorts, clock: Arc<dyn Clock>) -> Self {
        Self {
            sweep: RetentionSweep::new(ports, clock),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the KYC store on DynamoDB and the documents on
    /// S3, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let ports = KycPorts {
            store: Arc::new(DynamoKyc::new(&sdk, settings.kyc_table)),
            documents: Arc::new(S3Documents::from_settings(&sdk, settings.bucket)),
        };
        Self::new(ports, Arc::new(SystemClock))
    }
}

/// Runs one sweep; an unreachable store fails the invocation (it is
/// counted as a function error and alarmed on).
pub async fn handle_tick(app: &App, _event: serde_json::Value) -> Result<SweepReport, StoreError> {
    app.sweep.run().await
}
