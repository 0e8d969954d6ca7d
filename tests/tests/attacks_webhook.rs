//! Webhook replay and forgery against the real path a payment takes: a
//! recharge started through the recharge function, its provider's delivery
//! posted to the webhook function, and the queued event applied by the
//! webhook worker's applier, all over one in-memory store with a manual
//! clock. Each attack is tried and refused (or absorbed), and the wallet is
//! credited exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::clock::{Clock, ManualClock};
use shared::flags::{FeatureGuard, FlagCache};
use shared::ports::WalletStore;
use shared::wallet::model::RechargeStatus;
use shared::wallet::payments::PaymentApplier;
use shared::webhook::ingest::IngestPolicy;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    event, invoke, memory_wallet_ports, stripe_signature_header, test_access_config,
    test_login_env, verified_wallet_user, EventExt, Reply,
};

const START: i64 = 1_900_000_000;
const STRIPE_SECRET: &str = "whsec_test_only_stripe_replay_0123456789";
const STANDARD_SECRET: &[u8] = b"test-only-standard-webhooks-key!";
const ACME_SECRET: &str = "test-only-generic-provider-key-42";
const TOLERANCE: i64 = 300;
const DEDUPE: i64 = 3 * 86_400;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A delivery as a provider sends it: path, headers and the exact body.
#[derive(Clone)]
struct Delivery {
    provider: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

impl Delivery {
    fn stripe(body: &str, signed_at: i64) -> Self {
        Self {
            provider: "stripe",
            headers: vec![(
                "Stripe-Signature".into(),
                stripe_signature_header(STRIPE_SECRET, body, signed_at),
            )],
            body: body.to_string(),
        }
    }

    fn standard(id: &str, body: &str, signed_at: i64) -> Self {
        let t = signed_at.to_string();
        let signature = STANDARD.encode(hmac(
            STANDARD_SECRET,
            &[id.as_bytes(), b".", t.as_bytes(), b".", body.as_bytes()],
        ));
        Self {
            provider: "standard",
            headers: vec![
                ("webhook-id".into(), id.to_string()),
                ("webhook-timestamp".into(), t),
                ("webhook-signature".into(), format!("v1,{signature}")),
            ],
            body: body.to_string(),
        }
    }

    fn acme(body: &str) -> Self {
        Self {
            provider: "acme",
            headers: vec![(
                "X-Acme-Signature".into(),
                hex::encode(hmac(ACME_SECRET.as_bytes(), &[body.as_bytes()])),
            )],
            body: body.to_string(),
        }
    }

    fn to(mut self, provider: &'static str) -> Self {
        self.provider = provider;
        self
    }

    fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn event(&self) -> Value {
        let mut ev = event("webhook-stripe")
            .without_header("Stripe-Signature")
            .path(&format!("/v1/webhooks/{}", self.provider))
            .raw_body(&self.body);
        ev["pathParameters"] = json!({ "provider": self.provider });
        for (name, value) in &self.headers {
            ev = ev.header(name, value);
        }
        ev
    }
}

struct Payments {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    webhook: webhook::App,
    applier: PaymentApplier,
    user_id: String,
    recharge_id: String,
    applied: std::sync::Mutex<usize>,
}

impl Payments {
    /// A user with an allowed 20.00 EUR Stripe recharge waiting for its payment.
    async fn new() -> Self {
        Self::paid_through("stripe").await
    }

    /// As `new`, the recharge to be paid through `provider`.
    async fn paid_through(provider: &str) -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(START));
        let now = clock.now();
        let (user_id, token) = verified_wallet_user(&store, now).await;
        let recharge_app = recharge::App::new(
            test_access_config(),
            memory_wallet_ports(&store),
            store.clone(),
            recharge::policy_from_env(&test_login_env(&[(
                "RECHARGE_PROVIDERS",
                "stripe,standard,acme",
            )]))
            .unwrap(),
            clock.clone(),
        );
        let started = invoke(
            |req| recharge::handle(&recharge_app, req),
            event("recharge-start")
                .body(
                    json!({"amount": 2000, "currency": "EUR", "provider": provider,
                    "payment_fingerprint": "card_fp_4242abcd"}),
                )
                .bearer(&token)
                .header("Idempotency-Key", "replay-suite-0001"),
        )
        .await;
        assert_eq!(started.status, 201, "{}", started.body);
        assert_eq!(started.body["status"], "pending_payment");
        let recharge_id = started.body["recharge_id"].as_str().unwrap().to_string();

        let env: HashMap<String, String> = [
            (
                "WEBHOOK_PROVIDERS",
                "stripe=stripe,standard=standard,acme=generic:X-Acme-Signature".to_string(),
            ),
            ("WEBHOOK_SECRETS_STRIPE", STRIPE_SECRET.to_string()),
            (
                "WEBHOOK_SECRETS_STANDARD",
                format!("whsec_{}", STANDARD.encode(STANDARD_SECRET)),
            ),
            ("WEBHOOK_SECRETS_ACME", ACME_SECRET.to_string()),
            ("WEBHOOK_TOLERANCE_SECONDS", TOLERANCE.to_string()),
            ("WEBHOOK_DEDUPE_SECONDS", DEDUPE.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let webhook = webhook::App::new(
            IngestPolicy::from_env(&env).unwrap(),
            store.clone(),
            store.clone(),
            clock.clone(),
        );
        let applier = PaymentApplier {
            audit_keys: testkit::test_audit_keys(),
            wallet: store.clone(),
            inbox: store.clone(),
            reviews: store.clone(),
            users: store.clone(),
            mailer: Arc::new(MemoryMailer::new()),
            guard: FeatureGuard::new(Arc::new(FlagCache::new(
                store.clone(),
                clock.clone(),
                0,
                300,
            ))),
            clock: clock.clone(),
        };
        Self {
            store,
            clock,
            webhook,
            applier,
            user_id,
            recharge_id,
            applied: std::sync::Mutex::new(0),
        }
    }

    fn stripe_body(&self, event_id: &str) -> String {
        json!({"id": event_id, "type": "payment_intent.succeeded",
            "data": {"object": {"amount": 2000, "currency": "eur",
                "metadata": {"recharge_id": self.recharge_id}}}})
        .to_string()
    }

    fn plain_body(&self, event_id: &str) -> String {
        json!({"id": event_id, "type": "payment.succeeded",
            "data": {"recharge_id": self.recharge_id, "amount": 2000, "currency": "EUR"}})
        .to_string()
    }

    async fn post(&self, delivery: &Delivery) -> Reply {
        invoke(|req| webhook::handle(&self.webhook, req), delivery.event()).await
    }

    /// Runs the worker over every event queued since the last run.
    async fn work(&self) -> usize {
        let fresh = {
            let mut applied = self.applied.lock().unwrap();
            let queued = self.store.webhook_messages();
            let fresh = queued[*applied..].to_vec();
            *applied = queued.len();
            fresh
        };
        for event in &fresh {
            self.applier.apply(event).await.expect("applies");
        }
        fresh.len()
    }

    fn queued(&self) -> usize {
        self.store.webhook_messages().len()
    }

    async fn balance(&self) -> i64 {
        testkit::balance(&*self.store, &self.user_id, "EUR").await
    }

    async fn status(&self) -> RechargeStatus {
        self.store
            .recharge(&self.recharge_id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    /// Asserts `delivery` is refused with `status`/`code`, queues nothing
    /// and leaves the wallet as it was.
    async fn refused(&self, case: &str, delivery: &Delivery, status: u16, code: &str) {
        let (queued, balance) = (self.queued(), self.balance().await);
        let reply = self.post(delivery).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{case}: {}",
            reply.body
        );
        let text = reply.body.to_string();
        for leak in ["hmac", "Hmac", "secret", "whsec", "expected", "v1="] {
            assert!(
                !text.contains(leak),
                "{case}: answer mentions {leak}: {text}"
            );
        }
        assert_eq!(self.queued(), queued, "{case}: nothing queued");
        self.work().await;
        assert_eq!(self.balance().await, balance, "{case}: wallet unchanged");
    }
}

#[tokio::test]
async fn a_replay_inside_the_dedupe_window_credits_once() {
    let p = Payments::new().await;
    let delivery = Delivery::stripe(&p.stripe_body("evt_replay_in"), START);
    assert_eq!(p.post(&delivery).await.status, 200);
    // Replayed before the worker ran: queued again, applied once.
    assert_eq!(p.post(&delivery).await.status, 200);
    assert_eq!(p.work().await, 2);
    assert_eq!(p.balance().await, 2000);
    assert_eq!(p.status().await, RechargeStatus::Credited);

    // Replayed after it was processed, still within the tolerance: answered
    // at once, not even queued.
    p.clock.advance(120);
    let queued = p.queued();
    assert_eq!(p.post(&delivery).await.status, 200);
    assert_eq!(p.queued(), queued, "a processed event is not queued again");
    assert_eq!(p.balance().await, 2000);
}

#[tokio::test]
async fn a_captured_delivery_replayed_after_the_tolerance_is_stale() {
    let p = Payments::new().await;
    let delivery = Delivery::stripe(&p.stripe_body("evt_replay_late"), START);
    assert_eq!(p.post(&delivery).await.status, 200);
    p.work().await;
    p.clock.advance(TOLERANCE + 1);
    p.refused("stripe within dedupe", &delivery, 401, "STALE_SIGNATURE")
        .await;
    p.clock.advance(DEDUPE);
    p.refused("stripe after dedupe", &delivery, 401, "STALE_SIGNATURE")
        .await;

    let standard = Delivery::standard("msg_replay_late", &p.plain_body("x"), START);
    p.refused("standard after dedupe", &standard, 401, "STALE_SIGNATURE")
        .await;
    assert_eq!(p.balance().await, 2000);
}

#[tokio::test]
async fn an_untimed_provider_replayed_after_the_dedupe_window_is_not_credited_twice() {
    let p = Payments::paid_through("acme").await;
    let delivery = Delivery::acme(&p.plain_body("acme_evt_1"));
    assert_eq!(p.post(&delivery).await.status, 200);
    p.work().await;
    assert_eq!(p.balance().await, 2000);

    // The generic scheme signs no timestamp and the inbox has forgotten the
    // event: the replay is accepted and queued, and the ledger refuses it.
    p.clock.advance(DEDUPE + 1);
    assert_eq!(p.post(&delivery).await.status, 200);
    assert_eq!(p.work().await, 1, "the replay reached the worker");
    assert_eq!(p.balance().await, 2000, "and credited nothing");
    assert_eq!(p.status().await, RechargeStatus::Credited);
}

#[tokio::test]
async fn a_signature_for_another_provider_is_refused() {
    let p = Payments::new().await;
    let stripe = Delivery::stripe(&p.stripe_body("evt_cross"), START);
    let standard = Delivery::standard("msg_cross", &p.plain_body("x"), START);
    let acme = Delivery::acme(&p.plain_body("acme_cross"));

    // Another provider's headers: this provider's header is missing.
    p.refused(
        "stripe → acme",
        &stripe.clone().to("acme"),
        400,
        "INVALID_SIGNATURE_HEADER",
    )
    .await;
    p.refused(
        "acme → standard",
        &acme.clone().to("standard"),
        400,
        "INVALID_SIGNATURE_HEADER",
    )
    .await;
    // This provider's header, signed with another provider's secret.
    let acme_signed_by_stripe = acme.clone().with_header(
        "X-Acme-Signature",
        &hex::encode(hmac(STRIPE_SECRET.as_bytes(), &[acme.body.as_bytes()])),
    );
    p.refused(
        "acme header, stripe key",
        &acme_signed_by_stripe,
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    let stripe_header_on_standard = standard.clone().with_header(
        "webhook-signature",
        &format!(
            "v1,{}",
            STANDARD.encode(hmac(
                STRIPE_SECRET.as_bytes(),
                &[
                    b"msg_cross.",
                    START.to_string().as_bytes(),
                    b".",
                    standard.body.as_bytes()
                ]
            ))
        ),
    );
    p.refused(
        "standard header, stripe key",
        &stripe_header_on_standard,
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    p.refused(
        "unknown provider",
        &stripe.clone().to("paypal"),
        404,
        "UNKNOWN_PROVIDER",
    )
    .await;
    assert_eq!(p.status().await, RechargeStatus::PendingPayment);
}

#[tokio::test]
async fn timestamps_outside_the_tolerance_are_refused_either_way() {
    let p = Payments::new().await;
    let body = p.stripe_body("evt_skew");
    for (case, skew) in [
        ("301 s old", -TOLERANCE - 1),
        ("301 s ahead", TOLERANCE + 1),
        ("a day old", -86_400),
        ("year 2286", 10_000_000_000),
    ] {
        p.refused(
            case,
            &Delivery::stripe(&body, START + skew),
            401,
            "STALE_SIGNATURE",
        )
        .await;
    }
    let plain = p.plain_body("x");
    for (case, skew) in [
        ("standard 301 s old", -TOLERANCE - 1),
        ("standard 301 s ahead", TOLERANCE + 1),
    ] {
        p.refused(
            case,
            &Delivery::standard("msg_skew", &plain, START + skew),
            401,
            "STALE_SIGNATURE",
        )
        .await;
    }
    // A genuine signature with its timestamp moved into the window.
    let moved = Delivery::stripe(&body, START - 3600);
    let header = moved.headers[0]
        .1
        .replace(&format!("t={}", START - 3600), &format!("t={START}"));
    p.refused(
        "timestamp rewritten",
        &moved.with_header("Stripe-Signature", &header),
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    let standard = Delivery::standard("msg_moved", &plain, START - 3600)
        .with_header("webhook-timestamp", &START.to_string());
    p.refused(
        "standard timestamp rewritten",
        &standard,
        401,
        "INVALID_SIGNATURE",
    )
    .await;

    // Just inside, both ways and for both timed schemes: accepted and queued.
    for (case, delivery) in [
        (
            "stripe 300 s old",
            Delivery::stripe(&p.stripe_body("evt_skew_old"), START - TOLERANCE),
        ),
        (
            "stripe 300 s ahead",
            Delivery::stripe(&p.stripe_body("evt_skew_ahead"), START + TOLERANCE),
        ),
        (
            "standard 300 s old",
            Delivery::standard("msg_skew_old", &p.plain_body("x"), START - TOLERANCE),
        ),
        (
            "standard 300 s ahead",
            Delivery::standard("msg_skew_ahead", &p.plain_body("x"), START + TOLERANCE),
        ),
    ] {
        let queued = p.queued();
        let reply = p.post(&delivery).await;
        assert_eq!(reply.status, 200, "{case}: {}", reply.body);
        assert_eq!(p.queued(), queued + 1, "{case}: queued");
    }
    assert_eq!(p.work().await, 4);
    assert_eq!(p.balance().await, 2000, "credited once");
}

#[tokio::test]
async fn a_standard_webhooks_delivery_signed_as_the_tests_sign_is_accepted_and_credits() {
    // The control for every refusal of a Standard Webhooks delivery above:
    // the helper signs as the scheme says, so those were refused for the
    // one thing each changed.
    let p = Payments::paid_through("standard").await;
    let delivery = Delivery::standard("msg_control", &p.plain_body("x"), START);
    let reply = p.post(&delivery).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(p.work().await, 1);
    assert_eq!(p.balance().await, 2000);
    assert_eq!(p.status().await, RechargeStatus::Credited);
}

#[tokio::test]
async fn a_body_altered_after_signing_is_refused() {
    let p = Payments::new().await;
    let body = p.stripe_body("evt_altered");
    let signed = Delivery::stripe(&body, START);
    let alterations = [
        ("amount raised", body.replace("2000", "200000")),
        (
            "recharge swapped",
            body.replace(&p.recharge_id, "rc_someone_else"),
        ),
        ("whitespace added", body.replacen(':', ": ", 1)),
        ("trailing newline", format!("{body}\n")),
        ("keys reordered", {
            let value: Value = serde_json::from_str(&body).unwrap();
            format!(
                r#"{{"type":{},"id":{},"data":{}}}"#,
                value["type"], value["id"], value["data"]
            )
        }),
        (
            "duplicate key appended",
            body.replacen('{', r#"{"type":"payment_intent.succeeded","#, 1),
        ),
        ("truncated", body[..body.len() - 1].to_string()),
    ];
    for (case, altered) in &alterations {
        assert_ne!(altered, &body, "{case} changes the body");
        p.refused(
            case,
            &signed.clone().with_body(altered),
            401,
            "INVALID_SIGNATURE",
        )
        .await;
    }
    let standard = Delivery::standard("msg_altered", &p.plain_body("x"), START);
    let raised = standard.body.replace("2000", "9000");
    p.refused(
        "standard amount raised",
        &standard.clone().with_body(&raised),
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    p.refused(
        "standard id swapped",
        &standard.clone().with_header("webhook-id", "msg_fresh_id"),
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    let acme = Delivery::acme(&p.plain_body("acme_altered"));
    let raised = acme.body.replace("2000", "9000");
    p.refused(
        "generic amount raised",
        &acme.with_body(&raised),
        401,
        "INVALID_SIGNATURE",
    )
    .await;

    assert_eq!(
        p.post(&signed).await.status,
        200,
        "the untouched delivery passes"
    );
    p.work().await;
    assert_eq!(p.balance().await, 2000);
}
