//! The webhook worker: applies queued provider events to wallets exactly
//! once, reporting only failed messages so SQS retries them (and moves a
//! poison message to the dead-letter queue after its receive limit).

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoFlags, DynamoInbox, DynamoStore, DynamoWallet, SesMailer, SqsQueue,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use edge::deadline::Deadline;
use edge::queue_retry::handle_records;
use shared::clock::SystemClock;
use shared::config::{ConfigError, Env};
use shared::flags::{FeatureGuard, FlagCache};
use shared::ports::RetryScheduler;
use shared::wallet::payments::PaymentApplier;
use shared::webhook::event::ProviderEvent;

mod settings;

pub use edge::queue_retry::{retry_delay, FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS};
pub use settings::Settings;

/// Everything built once per cold start.
pub struct App {
    pub applier: PaymentApplier,
    pub retries: Arc<dyn RetryScheduler>,
}

impl App {
    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the wallet, inbox, users and flags on
    /// DynamoDB, mail on SES and retries on SQS, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, settings.wallet_tables));
        let clock = Arc::new(SystemClock);
        let cache = FlagCache::with_timing(
            Arc::new(DynamoFlags::new(&sdk, settings.flags_table)),
            clock.clone(),
            settings.timing,
        );
        Self {
            applier: PaymentApplier {
                wallet: wallet.clone(),
                inbox: Arc::new(DynamoInbox::new(&sdk, settings.inbox_table)),
                reviews: wallet,
                users: Arc::new(DynamoStore::new(&sdk, settings.auth_tables)),
                mailer: Arc::new(SesMailer::new(&sdk, &settings.mail)),
                guard: FeatureGuard::new(Arc::new(cache)),
                clock,
                audit_keys: Arc::new(settings.audit_keys),
            },
            retries: Arc::new(SqsQueue::new(&sdk, settings.queue_url)),
        }
    }
}

/// Applies every message of the batch within the invocation's `deadline`;
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
        "webhook event",
        |record| async move {
            let parsed: Option<ProviderEvent> = record
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok());
            match parsed {
                Some(provider_event) => app
                    .applier
                    .apply(&provider_event)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("malformed message".to_string()),
            }
        },
    )
    .await
}
