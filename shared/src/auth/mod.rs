//! Authentication: passwords, access and refresh tokens, TOTP, lockout, and
//! the sign-in flows the login function serves.

pub mod access;
pub mod deletion;
pub mod email;
pub mod error;
pub mod export;
pub mod liveness;
pub mod lockout;
pub mod mfa;
pub mod model;
pub mod password;
pub mod recovery;
pub mod secrets;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod totp;

pub use access::{AccessConfig, AccessGuard, Principal};
pub use error::AuthError;
pub use service::{AuthPolicy, AuthService};
