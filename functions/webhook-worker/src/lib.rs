//! The webhook worker: applies queued provider events to wallets exactly
//! once, reporting only failed messages so SQS retries them (and moves a
//! poison message to the dead-letter queue after its receive limit).

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoFlags, DynamoInbox, DynamoStore, DynamoWallet, MailSettings, SesMailer,
    SqsQueue, TableNames, WalletTables,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use edge::deadline::Deadline;
use edge::queue_retry::handle_records;
use shared::audit::AuditKeys;
use shared::clock::SystemClock;
use shared::config::{required, ConfigError, Env};
use shared::flags::{CacheTiming, FeatureGuard, FlagCache};
use shared::ports::RetryScheduler;
use shared::wallet::payments::PaymentApplier;
use shared::webhook::event::ProviderEvent;

pub use edge::queue_retry::{retry_delay, FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS};

/// Everything built once per cold start.
pub struct App {
    pub applier: PaymentApplier,
    pub retries: Arc<dyn RetryScheduler>,
}

impl App {
    /// Reads the wallet, webhooks, users and flags tables, `MAIL_FROM`, `MAIL_CONFIGURATION_SET` and
    /// the audit keys (`AUDIT_HMAC_KEYS`, `AUDIT_HMAC_KID`).
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let wallet_tables = WalletTables::from_env(env)?;
        let inbox_table = DynamoInbox::table_from_env(env)?;
        let auth_tables = TableNames::from_env(env)?;
        let flags_table = DynamoFlags::table_from_env(env)?;
        let mail = MailSettings::from_env(env)?;
        let queue_url = required(env, "WEBHOOK_QUEUE_URL")?;
        let audit_keys = Arc::new(AuditKeys::from_env(env)?);
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, wallet_tables));
        let clock = Arc::new(SystemClock);
        let cache = FlagCache::with_timing(
            Arc::new(DynamoFlags::new(&sdk, flags_table)),
            clock.clone(),
            CacheTiming::from_env(env)?,
        );
        Ok(Self {
            applier: PaymentApplier {
                wallet: wallet.clone(),
                inbox: Arc::new(DynamoInbox::new(&sdk, inbox_table)),
                reviews: wallet,
                users: Arc::new(DynamoStore::new(&sdk, auth_tables)),
                mailer: Arc::new(SesMailer::new(&sdk, &mail)),
                guard: FeatureGuard::new(Arc::new(cache)),
                clock,
                audit_keys,
            },
            retries: Arc::new(SqsQueue::new(&sdk, queue_url)),
        })
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
