//! KYC: identity documents and age. Field encryption for PII, the age
//! rule, document file checks, the submission form and rules, the
//! applicant's service, the reviewers' desk and the retention sweep.

pub mod age;
pub mod desk;
pub mod erasure;
pub mod files;
pub mod form;
pub mod model;
pub mod pii;
pub mod policy;
pub mod retention;
pub mod service;
