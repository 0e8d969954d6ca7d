//! Common crate for every function: configuration, HTTP contract, logging,
//! domain rules, the ports they need from AWS, and the adapters behind them.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod cors;
pub mod deadline;
pub mod flags;
pub mod http;
pub mod kyc;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod ports;
pub mod queue_retry;
pub mod ratelimit;
pub mod review;
pub mod secrets;
pub mod wallet;
pub mod webhook;
