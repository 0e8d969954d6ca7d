//! Webhook ingestion over in-memory ports, driven by API Gateway events
//! signed by the providers' official libraries.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};
use shared::clock::ManualClock;
use shared::ports::WebhookInbox;
use shared::webhook::event::EventKind;
use shared::webhook::ingest::IngestPolicy;
use testkit::memory::MemoryStore;
use testkit::{event, invoke, EventExt, Reply};
use webhook::App;

const SIGNED_AT: i64 = 1_900_000_000;

fn vectors() -> Value {
    let path = format!(
        "{}/../../tests/vectors/webhook_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let v = vectors();
    let env: HashMap<String, String> = [
        (
            "WEBHOOK_PROVIDERS",
            "stripe=stripe,standard=standard,acme=generic:X-Acme-Signature".to_string(),
        ),
        (
            "WEBHOOK_SECRETS_STRIPE",
            format!(
                "whsec_rotated_in_next_0123456789,{}",
                v["stripe"]["secret"].as_str().unwrap()
            ),
        ),
        (
            "WEBHOOK_SECRETS_STANDARD",
            v["standard"]["secret"].as_str().unwrap().to_string(),
        ),
        (
            "WEBHOOK_SECRETS_ACME",
            "test-only-generic-provider-key-42".to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(SIGNED_AT + 10));
    let app = App::new(
        IngestPolicy::from_env(&env).unwrap(),
        store.clone(),
        store.clone(),
        clock.clone(),
    );
    Harness { app, store, clock }
}

impl Harness {
    async fn post(&self, ev: Value) -> Reply {
        invoke(|req| webhook::handle(&self.app, req), ev).await
    }
}

#[tokio::test]
async fn signed_deliveries_are_stored_queued_and_answered_200() {
    let h = harness();
    let stripe = h.post(event("webhook-stripe")).await;
    assert_eq!(stripe.status, 200, "{}", stripe.body);
    let standard = h.post(event("webhook-standard")).await;
    assert_eq!(standard.status, 200, "{}", standard.body);
    let queued = h.store.webhook_messages();
    assert_eq!(queued.len(), 2);
    assert_eq!(
        (queued[0].provider.as_str(), queued[0].event_id.as_str()),
        ("stripe", "evt_1")
    );
    assert_eq!(queued[0].kind, EventKind::PaymentSucceeded);
    assert_eq!(
        (queued[1].provider.as_str(), queued[1].event_id.as_str()),
        ("standard", "msg_0")
    );
}

#[tokio::test]
async fn api_gateway_base64_bodies_are_verified_on_the_decoded_bytes() {
    let h = harness();
    let mut ev = event("webhook-stripe");
    let raw = ev["body"].as_str().unwrap().to_string();
    ev["body"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    ev["isBase64Encoded"] = json!(true);
    assert_eq!(h.post(ev).await.status, 200);
}

#[tokio::test]
async fn refused_deliveries_change_nothing() {
    let h = harness();
    let tampered = {
        let mut ev = event("webhook-stripe");
        ev["body"] = json!(ev["body"].as_str().unwrap().replace("2000", "9000"));
        ev
    };
    let cases = [
        (tampered, 401, "INVALID_SIGNATURE"),
        (
            event("webhook-stripe").without_header("Stripe-Signature"),
            400,
            "INVALID_SIGNATURE_HEADER",
        ),
        (
            event("webhook-stripe").header("Stripe-Signature", "t=abc,v1=zz"),
            400,
            "INVALID_SIGNATURE_HEADER",
        ),
        (
            event("webhook-standard").header("webhook-id", "msg_other"),
            401,
            "INVALID_SIGNATURE",
        ),
        (
            event("webhook-stripe").path("/v1/webhooks/standard"),
            400,
            "INVALID_SIGNATURE_HEADER",
        ),
        (
            event("webhook-stripe").path("/v1/webhooks/unknown"),
            404,
            "UNKNOWN_PROVIDER",
        ),
    ];
    for (ev, status, code) in cases {
        let reply = h.post(ev).await;
        assert_eq!((reply.status, reply.code()), (status, code));
        assert!(!reply.body.to_string().contains("evt_1"), "no body echoed");
    }
    h.clock.set(SIGNED_AT + 301);
    let stale = h.post(event("webhook-stripe")).await;
    assert_eq!((stale.status, stale.code()), (401, "STALE_SIGNATURE"));
    h.clock.set(SIGNED_AT - 301);
    assert_eq!(
        h.post(event("webhook-stripe")).await.code(),
        "STALE_SIGNATURE",
        "future-dated"
    );
    let big = event("webhook-stripe").raw_body(&"x".repeat(256 * 1024 + 1));
    assert_eq!(h.post(big).await.status, 413);
    assert!(h.store.webhook_messages().is_empty());
}

#[tokio::test]
async fn a_signed_but_malformed_event_is_400() {
    let h = harness();
    let body = br#"{"type":"payment.succeeded"}"#;
    let signature = {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"test-only-generic-provider-key-42")
                .unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let ev = event("webhook-stripe")
        .path("/v1/webhooks/acme")
        .raw_body(std::str::from_utf8(body).unwrap())
        .header("X-Acme-Signature", &signature);
    let reply = h.post(ev).await;
    assert_eq!((reply.status, reply.code()), (400, "MALFORMED_EVENT"));
}

#[tokio::test]
async fn redelivery_requeues_until_processed_then_answers_at_once() {
    let h = harness();
    assert_eq!(h.post(event("webhook-stripe")).await.status, 200);
    assert_eq!(h.post(event("webhook-stripe")).await.status, 200);
    assert_eq!(
        h.store.webhook_messages().len(),
        2,
        "stored but unprocessed: queued again"
    );
    h.store.mark_processed("stripe", "evt_1").await.unwrap();
    assert_eq!(h.post(event("webhook-stripe")).await.status, 200);
    assert_eq!(
        h.store.webhook_messages().len(),
        2,
        "processed: answered at once"
    );
}

#[tokio::test]
async fn a_queue_outage_is_503_and_the_providers_retry_completes() {
    let h = harness();
    h.store.set_queue_unavailable(true);
    let failed = h.post(event("webhook-stripe")).await;
    assert_eq!(failed.status, 503);
    h.store.set_queue_unavailable(false);
    assert_eq!(h.post(event("webhook-stripe")).await.status, 200);
    assert_eq!(
        h.store.webhook_messages().len(),
        1,
        "the stored event is queued on the retry"
    );
    h.store.set_unavailable(true);
    assert_eq!(h.post(event("webhook-standard")).await.status, 503);
}

#[tokio::test]
async fn a_repeated_signature_header_is_refused() {
    let h = harness();
    let mut ev = event("webhook-stripe");
    let header = ev["headers"]["Stripe-Signature"]
        .as_str()
        .unwrap()
        .to_string();
    ev["multiValueHeaders"] = json!({ "Stripe-Signature": [header.clone(), header] });
    let ev = ev.without_header("Stripe-Signature");
    let reply = h.post(ev).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "INVALID_SIGNATURE_HEADER")
    );
    assert!(h.store.webhook_messages().is_empty());
}
