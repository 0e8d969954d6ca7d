//! Fraud review cases: opened by the review worker from the queue (once per
//! recharge, whatever the deliveries), decided once by an admin
//! (`crate::admin::reviews`).

pub mod model;
pub mod worker;

pub use model::{CaseKind, CaseStatus, ReviewCase};
pub use worker::{ReviewError, ReviewMessage, ReviewWorker, NOTIFY_ATTEMPTS};
