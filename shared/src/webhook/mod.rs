//! Payment-provider webhooks: signature schemes and their verification.

pub mod signature;
