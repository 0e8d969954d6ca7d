//! The domain every function shares: rules and models per area, the ports
//! (traits) they need from storage, queues and email, configuration, and the
//! HTTP error contract. No AWS SDK here: the adapters are `aws-adapters`
//! (`shared/aws`), the Lambda edge is `edge` (`shared/edge`).

pub mod admin;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod flags;
pub mod http;
pub mod kyc;
pub mod metrics;
pub mod ports;
pub mod ratelimit;
pub mod review;
pub mod secrets;
pub mod wallet;
pub mod webhook;
