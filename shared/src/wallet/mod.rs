//! The wallet: recharge requests with idempotency, spending limits,
//! velocity, fraud scoring and the review decision.

pub mod decide;
pub mod fraud;
pub mod limits;
pub mod model;
pub mod money;
pub mod payments;
pub mod reference;
pub mod service;
pub mod settle;
pub mod velocity;
