//! Outgoing email.

use async_trait::async_trait;

/// One plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Why an email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Refused for good: sending it again will not help (a recipient the
    /// sandbox has not verified, a suppressed address, a paused account, a
    /// missing configuration set). The text is for logs only.
    #[error("email refused: {0}")]
    Refused(String),
    /// A failure worth retrying (throttling, network, a server error).
    #[error("email service unavailable: {0}")]
    Unavailable(String),
}

/// Sends email.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}
