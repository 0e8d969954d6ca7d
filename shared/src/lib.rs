//! The domain every function shares: rules and models per area, the ports
//! (traits) they need from storage, queues and email, and configuration.
//! Neither HTTP nor an AWS SDK here: services answer typed outcomes and
//! errors; the edge (`edge`, `shared/edge`) maps them to statuses and error
//! codes, and the adapters (`aws-adapters`, `shared/aws`) implement the ports.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod export;
pub mod flags;
pub mod ids;
pub mod kyc;
pub mod metrics;
pub mod ports;
pub mod ratelimit;
pub mod review;
pub mod secrets;
pub mod validation;
pub mod wallet;
pub mod webhook;
