//! KYC building blocks: field encryption for PII, the age rule, and
//! document file checks.

pub mod age;
pub mod files;
pub mod pii;
