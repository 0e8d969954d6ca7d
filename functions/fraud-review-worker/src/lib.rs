//! The fraud-review worker: one SQS batch at a time, reporting only the
//! messages that failed so SQS retries them, each after a delay that grows
//! with its receives (and moves a poison message to the dead-letter queue
//! after its receive limit).

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoWallet, SesMailer, SqsQueue};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use edge::deadline::Deadline;
use edge::queue_retry::{handle_records, receive_count};
use shared::clock::SystemClock;
use shared::config::{ConfigError, Env};
use shared::ports::RetryScheduler;
use shared::review::ReviewWorker;

mod settings;

pub use edge::queue_retry::retry_delay;
pub use settings::Settings;
pub use shared::review::NOTIFY_ATTEMPTS;

/// Everything built once per cold start.
pub struct App {
    pub worker: ReviewWorker,
    /// Delays the next delivery of a failed message.
    pub retries: Arc<dyn RetryScheduler>,
}

impl App {
    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: reviews and wallet on DynamoDB, mail on SES and
    /// retries on SQS, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, settings.tables));
        Self {
            worker: ReviewWorker {
                reviews: wallet.clone(),
                wallet,
                mailer: Arc::new(SesMailer::new(&sdk, &settings.mail)),
                reviewers: settings.reviewers,
                clock: Arc::new(SystemClock),
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
        "review message",
        |record| async move {
            match record.body.as_deref() {
                Some(body) => app.worker.handle(body, receive_count(&record)).await,
                None => Err(shared::review::ReviewError::Malformed),
            }
            .map_err(|err| err.to_string())
        },
    )
    .await
}
