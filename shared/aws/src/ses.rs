//! Email through SES (v2 API), every message under the stack's
//! configuration set (suppression list, reputation metrics, TLS required).

use async_trait::async_trait;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use shared::config::{required, ConfigError, Env};
use shared::ports::{MailError, Mailer, OutgoingEmail};

/// Where email comes from and the configuration set it is sent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The verified sender address.
    pub from: String,
    /// The SES configuration set every message names.
    pub configuration_set: String,
}

impl MailSettings {
    /// Reads `MAIL_FROM` and `MAIL_CONFIGURATION_SET`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            from: required(env, "MAIL_FROM")?,
            configuration_set: required(env, "MAIL_CONFIGURATION_SET")?,
        })
    }
}

/// Sends plain-text email from one verified sender address.
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    settings: MailSettings,
}

impl SesMailer {
    pub fn new(config: &aws_config::SdkConfig, settings: &MailSettings) -> Self {
        Self {
            client: aws_sdk_sesv2::Client::new(config),
            settings: settings.clone(),
        }
    }
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Refused(e.to_string()))
}

/// Whether SES refused this recipient outright (in the sandbox: not a
/// verified identity); sending to it again cannot help.
fn refused_recipient(err: &SendEmailError) -> bool {
    matches!(
        err,
        SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_)
    )
}

/// Sorts a failed send into a refused recipient or anything else (worth
/// retrying, or an operator's to fix: a paused account, a missing set, a
/// role not allowed). The text is the error's code or kind only: SES's
/// messages can name the recipient, which stays out of logs.
fn classify(err: SdkError<SendEmailError>) -> MailError {
    let kind = match &err {
        SdkError::ServiceError(service) => {
            let code = service
                .err()
                .meta()
                .code()
                .unwrap_or("unnamed service error");
            if refused_recipient(service.err()) {
                return MailError::Refused(code.to_string());
            }
            code.to_string()
        }
        SdkError::TimeoutError(_) => "timeout".to_string(),
        SdkError::DispatchFailure(_) => "dispatch failure".to_string(),
        SdkError::ResponseError(_) => "unreadable response".to_string(),
        _ => "request not sent".to_string(),
    };
    MailError::Unavailable(kind)
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.settings.from)
            .configuration_set_name(&self.settings.configuration_set)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
