//! The small traits the domain needs from storage, queues and email, one
//! module per area. The AWS adapters live in `aws-adapters` (`shared/aws`),
//! the in-memory ones in `testkit::memory`; `testkit::contract` holds both
//! to the same contract. Each port and the types it takes is re-exported
//! here, as `shared::ports::X`.

mod admin;
mod auth;
mod error;
mod export;
mod flags;
mod kyc;
mod mail;
mod queue;
mod review;
mod wallet;
mod webhook;

pub use admin::{AdminChange, AdminStore, AuditLog, KycDecisionCommit, ProfileChange};
pub use auth::{AttemptStore, SessionLiveness, SessionStore, UserStore, MAX_LISTED_SESSIONS};
pub use error::StoreError;
pub use export::{
    AccountRecords, ExportJob, ExportQueue, ExportRequest, ExportStore, WalletRecords,
};
pub use flags::FlagStore;
pub use kyc::{DocumentStore, KycStore};
pub use mail::{MailError, Mailer, OutgoingEmail};
pub use queue::RetryScheduler;
pub use review::{ReviewQueue, ReviewStore};
pub use wallet::{
    CommitOutcome, CounterAdd, IdempotencyBegin, IdempotencyStore, PaymentCommit, RechargeCommit,
    RechargeReadings, WalletStore,
};
pub use webhook::{InboxOutcome, WebhookInbox, WebhookQueue};
