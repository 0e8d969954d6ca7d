//! Webhook ingestion on the local stand-in: the inbox adapter keeps the
//! contract, and a signed delivery is stored and queued in one DynamoDB
//! write and one SQS send.

use std::collections::HashMap;
use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoInbox, SqsQueue};
use e2e::endpoint;
use serde_json::{json, Value};
use shared::clock::ManualClock;
use shared::config::ProcessEnv;
use shared::webhook::ingest::IngestPolicy;
use testkit::contract::webhook_inbox_contract;
use testkit::{event, invoke, EventExt};

fn vectors() -> Value {
    let path = format!(
        "{}/vectors/webhook_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_inbox_keeps_the_contract() {
    endpoint();
    let sdk = load_sdk_config().await;
    let table = DynamoInbox::table_from_env(&ProcessEnv).unwrap();
    webhook_inbox_contract(Arc::new(DynamoInbox::new(&sdk, table))).await;
}

#[tokio::test]
async fn a_signed_delivery_costs_one_write_and_one_send_and_reaches_the_queue() {
    endpoint();
    let sdk = load_sdk_config().await;
    let v = vectors();
    let env: HashMap<String, String> = [
        ("WEBHOOK_PROVIDERS", "stripe=stripe".to_string()),
        (
            "WEBHOOK_SECRETS_STRIPE",
            v["stripe"]["secret"].as_str().unwrap().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let inbox = DynamoInbox::new(&sdk, DynamoInbox::table_from_env(&ProcessEnv).unwrap());
    let url = std::env::var("WEBHOOK_QUEUE_URL").unwrap();
    let app = webhook::App::new(
        IngestPolicy::from_env(&env).unwrap(),
        Arc::new(inbox.clone()),
        Arc::new(SqsQueue::new(&sdk, url.clone())),
        Arc::new(ManualClock::new(1_900_000_010)),
    );
    let event_id = format!("evt_{}", shared::auth::secrets::new_id());
    let body = json!({"id": event_id, "type": "payment_intent.succeeded",
        "data": {"object": {"amount": 2000, "currency": "eur", "metadata": {"recharge_id": "rc_e2e"}}}})
    .to_string();
    let secret = v["stripe"]["secret"].as_str().unwrap();
    let delivery = event("webhook-stripe").raw_body(&body).header(
        "Stripe-Signature",
        &testkit::stripe_signature_header(secret, &body, 1_900_000_000),
    );
    let before = inbox.calls();
    let reply = invoke(|req| webhook::handle(&app, req), delivery).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    println!("DynamoDB calls per new webhook: {}", inbox.calls() - before);
    assert_eq!(inbox.calls() - before, 1, "one conditional write");

    let queued = e2e::take_messages(&url, &event_id, 5).await;
    assert_eq!(queued.len(), 1, "the event is on the webhook queue");
    assert_eq!(queued[0]["event_id"], event_id.as_str());
    assert_eq!(queued[0]["recharge_id"], "rc_e2e");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_credit_once_on_dynamodb() {
    use shared::ports::WalletStore;
    use shared::wallet::model::RechargeStatus;
    use shared::wallet::payments::Applied;
    use shared::webhook::event::EventKind;

    let payments = e2e::DynamoPayments::pending().await;
    let (applier, wallet, inbox) = (&payments.applier, &payments.wallet, &payments.inbox);
    let recharge_id = payments.recharge_id.clone();
    let event = payments.succeeded(1_900_000_000).await;
    let (wallet_before, inbox_before) = (wallet.calls(), inbox.calls());
    let mut probe = event.clone();
    probe.kind = EventKind::PaymentFailed;
    probe.event_id = format!("evt_{}", shared::auth::secrets::new_id());
    let fail_first = applier.apply(&probe).await.unwrap();
    assert_eq!(fail_first, Applied::MarkedFailed);
    let calls = (wallet.calls() - wallet_before) + (inbox.calls() - inbox_before);
    println!("DynamoDB calls to apply one payment outcome: {calls}");
    assert_eq!(
        calls, 4,
        "recharge read, profile read, one transaction, inbox update"
    );
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let applier = applier.clone();
            let event = event.clone();
            tokio::spawn(async move { applier.apply(&event).await })
        })
        .collect();
    let mut credited = 0;
    for worker in workers {
        if let Ok(Applied::Credited) = worker.await.unwrap() {
            credited += 1;
        }
    }
    assert_eq!(credited, 1, "credited once");
    assert_eq!(
        wallet.recharge(&recharge_id).await.unwrap().unwrap().status,
        RechargeStatus::Credited
    );
    assert_eq!(payments.balance().await, 2_000);
    assert_eq!(
        applier.apply(&event).await.unwrap(),
        Applied::AlreadyApplied,
        "a later delivery changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_refunds_debit_the_largest_total_once_on_dynamodb() {
    use shared::ports::{WalletStore, WebhookInbox};
    use shared::wallet::model::RechargeStatus;
    use shared::wallet::payments::Applied;
    use shared::webhook::event::EventKind;

    let payments = e2e::DynamoPayments::pending().await;
    let paid = payments.succeeded(1_900_000_000).await;
    assert_eq!(
        payments.applier.apply(&paid).await.unwrap(),
        Applied::Credited
    );
    let mut refunds = Vec::new();
    for total in [500, 1_000, 1_500, 2_000] {
        let mut refund = paid.clone();
        refund.kind = EventKind::Refunded;
        refund.amount = Some(total);
        refund.event_id = format!("evt_{}", shared::auth::secrets::new_id());
        payments
            .inbox
            .record(&refund, refund.received_at + 86_400)
            .await
            .unwrap();
        refunds.push(refund);
    }
    let workers: Vec<_> = refunds
        .iter()
        .chain(refunds.iter())
        .map(|event| {
            let applier = payments.applier.clone();
            let event = event.clone();
            tokio::spawn(async move { applier.apply(&event).await })
        })
        .collect();
    for worker in workers {
        match worker.await.unwrap() {
            Ok(Applied::Debited | Applied::AlreadyApplied) => {}
            Err(busy) => println!("retried later as the queue would: {busy}"),
            Ok(other) => panic!("{other:?}"),
        }
    }
    for refund in &refunds {
        let applied = payments.applier.apply(refund).await.unwrap();
        assert!(
            matches!(applied, Applied::Debited | Applied::AlreadyApplied),
            "a redelivery: {applied:?}"
        );
    }
    let recharge = payments
        .wallet
        .recharge(&payments.recharge_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (recharge.status, recharge.refunded),
        (RechargeStatus::Refunded, 2_000)
    );
    assert_eq!(
        payments.balance().await,
        0,
        "2000 credited, 2000 debited, no more"
    );
}
