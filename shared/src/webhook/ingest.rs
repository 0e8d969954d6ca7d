//! Ingesting a delivery: verify the signature over the raw body, read the
//! event, store it once (deduplicated on the provider's event id), queue it
//! for the worker. 200 only after it is stored and queued.

use std::sync::Arc;

use super::event::{parse_plain, parse_stripe, ProviderEvent};
use super::signature::{
    decode_standard_secret, verify_generic, verify_standard, verify_stripe, SignatureError,
};
use crate::clock::Clock;
use crate::config::{parsed_or, required, ConfigError, Env};
use crate::ports::{InboxOutcome, StoreError, WebhookInbox, WebhookQueue};

/// Largest delivery accepted, in bytes.
pub const MAX_WEBHOOK_BODY: usize = 256 * 1024;

/// How a provider signs its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Stripe,
    Standard,
    /// Hex HMAC-SHA256 of the body in the named header.
    Generic {
        header: String,
    },
}

/// One configured provider.
#[derive(Clone)]
pub struct Provider {
    pub name: String,
    pub scheme: Scheme,
    /// Every secret currently accepted (more than one while rotating).
    pub secrets: Vec<Vec<u8>>,
}

/// The ingestion settings.
#[derive(Clone)]
pub struct IngestPolicy {
    pub providers: Vec<Provider>,
    pub tolerance_seconds: i64,
    /// How long an event id is remembered (at least the provider's retry period).
    pub dedupe_seconds: i64,
}

fn invalid(var: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.to_string(),
    }
}

impl IngestPolicy {
    /// Reads `WEBHOOK_PROVIDERS` (`stripe=stripe,std=standard,acme=generic:X-Acme-Signature`),
    /// each provider's `WEBHOOK_SECRETS_<NAME>` (comma-separated, rotation),
    /// `WEBHOOK_TOLERANCE_SECONDS` (300) and `WEBHOOK_DEDUPE_SECONDS` (3 days).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let mut providers = Vec::new();
        for entry in required(env, "WEBHOOK_PROVIDERS")?
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (name, scheme) = entry
                .split_once('=')
                .ok_or_else(|| invalid("WEBHOOK_PROVIDERS", "entries are name=scheme"))?;
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(invalid(
                    "WEBHOOK_PROVIDERS",
                    "names are lower-case letters, digits and '-'",
                ));
            }
            let scheme = match scheme.split_once(':') {
                None if scheme == "stripe" => Scheme::Stripe,
                None if scheme == "standard" => Scheme::Standard,
                Some(("generic", header)) if !header.is_empty() => Scheme::Generic {
                    header: header.to_ascii_lowercase(),
                },
                _ => {
                    return Err(invalid(
                        "WEBHOOK_PROVIDERS",
                        "schemes are stripe, standard or generic:<header>",
                    ))
                }
            };
            let var = format!(
                "WEBHOOK_SECRETS_{}",
                name.to_ascii_uppercase().replace('-', "_")
            );
            let raw = required(env, &var)?;
            let secrets = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match scheme {
                    Scheme::Standard => decode_standard_secret(s),
                    _ => Some(s.as_bytes().to_vec()).filter(|b| b.len() >= 16),
                })
                .collect::<Option<Vec<_>>>()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ConfigError::Weak {
                    var: var.clone(),
                    reason: "each secret needs at least 16 bytes".into(),
                })?;
            providers.push(Provider {
                name: name.to_string(),
                scheme,
                secrets,
            });
        }
        Ok(Self {
            providers,
            tolerance_seconds: parsed_or(env, "WEBHOOK_TOLERANCE_SECONDS", 300i64)?,
            dedupe_seconds: parsed_or(env, "WEBHOOK_DEDUPE_SECONDS", 3 * 86_400i64)?,
        })
    }
}

/// Why a delivery was refused (nothing stored) or not taken yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("no such provider")]
    UnknownProvider,
    #[error("delivery too large")]
    TooLarge,
    #[error("signature headers missing or malformed")]
    SignatureHeader,
    #[error("signature timestamp outside the tolerance")]
    StaleSignature,
    #[error("signature does not match")]
    BadSignature,
    #[error("event payload unreadable")]
    MalformedEvent,
    /// Not stored or not queued; the provider retries.
    #[error("dependency unavailable")]
    Unavailable,
}

/// A delivery's headers as received: each name with its value when the
/// value is text. Names compare without regard to case.
#[derive(Debug, Clone, Default)]
pub struct DeliveryHeaders(Vec<(String, Option<String>)>);

impl FromIterator<(String, Option<String>)> for DeliveryHeaders {
    fn from_iter<I: IntoIterator<Item = (String, Option<String>)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl DeliveryHeaders {
    /// The one value of header `name`; a repeated header or one that is not
    /// text is malformed.
    fn single(&self, name: &str) -> Result<Option<&str>, SignatureError> {
        let mut values = self
            .0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().ok_or(SignatureError::Malformed));
        let first = values.next().transpose()?;
        if values.next().is_some() {
            return Err(SignatureError::Malformed);
        }
        Ok(first)
    }
}

/// The ingestion flow over its ports.
pub struct WebhookIngest {
    pub inbox: Arc<dyn WebhookInbox>,
    pub queue: Arc<dyn WebhookQueue>,
    pub policy: IngestPolicy,
    pub clock: Arc<dyn Clock>,
}

fn refused(provider: &str, err: SignatureError) -> IngestError {
    crate::metrics::count(crate::metrics::Event::WebhookRejected);
    tracing::warn!(provider, reason = %err, "webhook delivery refused");
    match err {
        SignatureError::Missing | SignatureError::Malformed => IngestError::SignatureHeader,
        SignatureError::Stale => IngestError::StaleSignature,
        SignatureError::Mismatch => IngestError::BadSignature,
    }
}

fn unavailable(err: StoreError) -> IngestError {
    tracing::error!(error = %err, "webhook not stored or not queued; the provider will retry");
    IngestError::Unavailable
}

impl WebhookIngest {
    /// Ingests one delivery for `provider_name`; `Ok` means stored and queued
    /// (or already processed).
    pub async fn ingest(
        &self,
        provider_name: &str,
        headers: &DeliveryHeaders,
        body: &[u8],
    ) -> Result<(), IngestError> {
        let provider = self
            .policy
            .providers
            .iter()
            .find(|p| p.name == provider_name)
            .ok_or(IngestError::UnknownProvider)?;
        if body.len() > MAX_WEBHOOK_BODY {
            tracing::warn!(
                provider = provider_name,
                size = body.len(),
                "webhook delivery refused: too large"
            );
            return Err(IngestError::TooLarge);
        }
        let now = self.clock.now();
        let tolerance = self.policy.tolerance_seconds;
        let secrets = &provider.secrets;
        let header_id = match &provider.scheme {
            Scheme::Stripe => {
                let header = headers
                    .single("stripe-signature")
                    .map_err(|e| refused(provider_name, e))?;
                verify_stripe(header, body, secrets, now, tolerance)
                    .map_err(|e| refused(provider_name, e))?;
                None
            }
            Scheme::Standard => {
                let get = |name| headers.single(name).map_err(|e| refused(provider_name, e));
                let (id, stamp, signature) = (
                    get("webhook-id")?,
                    get("webhook-timestamp")?,
                    get("webhook-signature")?,
                );
                verify_standard(id, stamp, signature, body, secrets, now, tolerance)
                    .map_err(|e| refused(provider_name, e))?;
                id
            }
            Scheme::Generic { header } => {
                let value = headers
                    .single(header)
                    .map_err(|e| refused(provider_name, e))?;
                verify_generic(value, body, secrets).map_err(|e| refused(provider_name, e))?;
                None
            }
        };
        let malformed = || {
            tracing::warn!(
                provider = provider_name,
                "webhook delivery refused: malformed event"
            );
            IngestError::MalformedEvent
        };
        let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed())?;
        let event: ProviderEvent = match provider.scheme {
            Scheme::Stripe => parse_stripe(&json, provider_name, now),
            _ => parse_plain(&json, provider_name, header_id, now),
        }
        .map_err(|_| malformed())?;
        match self
            .inbox
            .record(&event, now + self.policy.dedupe_seconds)
            .await
            .map_err(unavailable)?
        {
            InboxOutcome::Processed => {
                tracing::info!(provider = provider_name, event_id = %event.event_id, "webhook already processed");
                return Ok(());
            }
            InboxOutcome::New | InboxOutcome::Stored => {}
        }
        self.queue
            .enqueue_event(&event)
            .await
            .map_err(unavailable)?;
        tracing::info!(provider = provider_name, event_id = %event.event_id, "webhook stored and queued");
        Ok(())
    }
}
