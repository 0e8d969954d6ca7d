//! The fraud-review worker: one SQS batch at a time, reporting only the
//! messages that failed so SQS retries them, each after a delay that grows
//! with its receives (and moves a poison message to the dead-letter queue
//! after its receive limit).

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoWallet, MailSettings, SesMailer, SqsQueue, WalletTables,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use edge::deadline::Deadline;
use edge::queue_retry::{handle_records, receive_count};
use shared::clock::SystemClock;
use shared::config::{required, ConfigError, Env};
use shared::ports::RetryScheduler;
use shared::review::ReviewWorker;

pub use edge::queue_retry::retry_delay;
pub use shared::review::NOTIFY_ATTEMPTS;

/// Everything built once per cold start.
pub struct App {
    pub worker: ReviewWorker,
    /// Delays the next delivery of a failed message.
    pub retries: Arc<dyn RetryScheduler>,
}

impl App {
    /// Reads `WALLET_TABLE` (with `COUNTERS_TABLE`, `AUDIT_TABLE`),
    /// `MAIL_FROM`, `MAIL_CONFIGURATION_SET`, `REVIEWER_EMAILS` (comma-separated) and
    /// `REVIEW_QUEUE_URL` (the queue it consumes, for retry delays).
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let tables = WalletTables::from_env(env)?;
        let mail = MailSettings::from_env(env)?;
        let reviewers: Vec<String> = required(env, "REVIEWER_EMAILS")?
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        let queue_url = SqsQueue::url_from_env(env)?;
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, tables));
        Ok(Self {
            worker: ReviewWorker {
                reviews: wallet.clone(),
                wallet,
                mailer: Arc::new(SesMailer::new(&sdk, &mail)),
                reviewers,
                clock: Arc::new(SystemClock),
            },
            retries: Arc::new(SqsQueue::new(&sdk, queue_url)),
        })
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
