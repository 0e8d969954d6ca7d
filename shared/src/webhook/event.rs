//! Provider events, normalised from each provider's payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    Refunded,
    /// Recorded and ignored.
    Other(String),
}

/// One provider event, as queued for the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    pub provider: String,
    /// The provider's id for the event; deliveries are deduplicated on it.
    pub event_id: String,
    pub kind: EventKind,
    /// The recharge the event names (from payment metadata).
    pub recharge_id: Option<String>,
    /// Minor units, as the provider reports them; for a refund, the
    /// cumulative total refunded so far.
    pub amount: Option<i64>,
    /// ISO 4217, upper case.
    pub currency: Option<String>,
    pub received_at: i64,
}

/// Why a verified payload could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event payload is not a valid provider event")]
pub struct MalformedEvent;

fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .map(str::to_string)
}

fn currency(value: &Value) -> Option<String> {
    text(value)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|c| c.to_ascii_uppercase())
}

/// Reads a Stripe event: `id`, `type`, `data.object` with `amount` (or
/// `amount_refunded`), `currency` and `metadata.recharge_id`.
pub fn parse_stripe(
    body: &Value,
    provider: &str,
    now: i64,
) -> Result<ProviderEvent, MalformedEvent> {
    let event_id = text(&body["id"]).ok_or(MalformedEvent)?;
    let kind = match body["type"].as_str().ok_or(MalformedEvent)? {
        "payment_intent.succeeded" | "checkout.session.completed" => EventKind::PaymentSucceeded,
        "payment_intent.payment_failed" => EventKind::PaymentFailed,
        "charge.refunded" => EventKind::Refunded,
        other => EventKind::Other(other.chars().take(100).collect()),
    };
    let object = &body["data"]["object"];
    let amount = if kind == EventKind::Refunded {
        object["amount_refunded"].as_i64()
    } else {
        object["amount"].as_i64()
    };
    Ok(ProviderEvent {
        provider: provider.to_string(),
        event_id,
        kind,
        recharge_id: text(&object["metadata"]["recharge_id"]),
        amount,
        currency: currency(&object["currency"]),
        received_at: now,
    })
}

/// Reads a Standard Webhooks or generic event: `type` of `payment.succeeded`,
/// `payment.failed` or `payment.refunded` and `data` with `recharge_id`,
/// `amount` (for a refund: the cumulative refunded total), `currency`. The
/// event id is `webhook-id` (Standard Webhooks) or the body's `id` (generic).
pub fn parse_plain(
    body: &Value,
    provider: &str,
    header_id: Option<&str>,
    now: i64,
) -> Result<ProviderEvent, MalformedEvent> {
    let event_id = match header_id {
        Some(id) => id.to_string(),
        None => text(&body["id"]).ok_or(MalformedEvent)?,
    };
    let kind = match body["type"].as_str().ok_or(MalformedEvent)? {
        "payment.succeeded" => EventKind::PaymentSucceeded,
        "payment.failed" => EventKind::PaymentFailed,
        "payment.refunded" => EventKind::Refunded,
        other => EventKind::Other(other.chars().take(100).collect()),
    };
    let data = &body["data"];
    Ok(ProviderEvent {
        provider: provider.to_string(),
        event_id,
        kind,
        recharge_id: text(&data["recharge_id"]),
        amount: data["amount"].as_i64(),
        currency: currency(&data["currency"]),
        received_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stripe_payloads_normalise() {
        let body = json!({"id": "evt_9", "type": "payment_intent.succeeded",
            "data": {"object": {"amount": 2000, "currency": "eur", "metadata": {"recharge_id": "rc_1"}}}});
        let event = parse_stripe(&body, "stripe", 5).unwrap();
        assert_eq!(event.kind, EventKind::PaymentSucceeded);
        assert_eq!(
            (
                event.amount,
                event.currency.as_deref(),
                event.recharge_id.as_deref()
            ),
            (Some(2000), Some("EUR"), Some("rc_1"))
        );
        let refund = json!({"id": "evt_10", "type": "charge.refunded", "data": {"object": {"amount": 2000, "amount_refunded": 500}}});
        assert_eq!(
            parse_stripe(&refund, "stripe", 5).unwrap().amount,
            Some(500)
        );
        let other = json!({"id": "evt_11", "type": "customer.created"});
        assert_eq!(
            parse_stripe(&other, "stripe", 5).unwrap().kind,
            EventKind::Other("customer.created".into())
        );
        assert!(parse_stripe(&json!({"type": "x"}), "stripe", 5).is_err());
        assert!(parse_stripe(&json!({"id": "e"}), "stripe", 5).is_err());
    }

    #[test]
    fn plain_payloads_take_the_header_id_when_given() {
        let body = json!({"type": "payment.refunded", "data": {"recharge_id": "rc_2", "amount": 300, "currency": "usd"}});
        let event = parse_plain(&body, "standard", Some("msg_7"), 5).unwrap();
        assert_eq!(
            (event.event_id.as_str(), event.kind.clone()),
            ("msg_7", EventKind::Refunded)
        );
        assert!(
            parse_plain(&body, "acme", None, 5).is_err(),
            "generic needs an id in the body"
        );
    }
}
