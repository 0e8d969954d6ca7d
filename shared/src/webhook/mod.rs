//! Payment-provider webhooks: signature schemes, events and ingestion.

pub mod event;
pub mod ingest;
pub mod signature;
