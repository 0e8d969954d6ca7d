//! The export worker: one SQS batch at a time, reporting only the messages
//! that failed so SQS retries them, each after a delay that grows with its
//! receives (and moves a poison message to the dead-letter queue after its
//! receive limit). The work itself is `shared::export::worker`.

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoKyc, DynamoStore, DynamoWallet, S3Documents, SesMailer, SqsQueue,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use edge::deadline::Deadline;
use edge::queue_retry::handle_records;
use shared::clock::SystemClock;
use shared::config::{ConfigError, Env};
use shared::export::worker::{ExportError, ExportWorker};
use shared::ports::RetryScheduler;

mod settings;

pub use settings::Settings;

/// Everything built once per cold start.
pub struct App {
    pub worker: ExportWorker,
    /// Delays the next delivery of a failed message.
    pub retries: Arc<dyn RetryScheduler>,
}

impl App {
    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: accounts, sessions, exports, wallet and audit
    /// on DynamoDB, the document on S3, mail on SES, retries on SQS.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let store = Arc::new(DynamoStore::new(&sdk, settings.tables));
        Self {
            worker: ExportWorker {
                users: store.clone(),
                sessions: store.clone(),
                exports: store,
                records: Arc::new(DynamoWallet::new(&sdk, settings.wallet_tables)),
                kyc: Arc::new(DynamoKyc::new(&sdk, settings.kyc_table)),
                documents: Arc::new(S3Documents::from_settings(&sdk, settings.bucket)),
                mailer: Arc::new(SesMailer::new(&sdk, &settings.mail)),
                clock: Arc::new(SystemClock),
                product_name: settings.product_name,
            },
            retries: Arc::new(SqsQueue::new(&sdk, settings.queue_url)),
        }
    }
}

/// Handles every message of the batch within the invocation's `deadline`;
/// the response names the failures (and the messages there was no time for).
pub async fn handle_batch(
    app: &App,
    event: SqsEvent,
    deadline: Option<Deadline>,
) -> SqsBatchResponse {
    handle_records(
        event.records,
        deadline,
        app.retries.as_ref(),
        "export message",
        |record| async move {
            match record.body.as_deref() {
                Some(body) => app.worker.handle(body).await.map(|_| ()),
                None => Err(ExportError::Malformed),
            }
            .map_err(|err| err.to_string())
        },
    )
    .await
}
