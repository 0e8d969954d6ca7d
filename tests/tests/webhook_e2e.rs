//! Webhook ingestion on the local stand-in: the inbox adapter keeps the
//! contract, and a signed delivery is stored and queued in one DynamoDB
//! write and one SQS send.

use std::collections::HashMap;
use std::sync::Arc;

use e2e::endpoint;
use serde_json::{json, Value};
use shared::aws::{load_sdk_config, DynamoInbox, SqsQueue};
use shared::clock::ManualClock;
use shared::config::ProcessEnv;
use shared::testing::contract::webhook_inbox_contract;
use shared::testing::{event, invoke, EventExt};
use shared::webhook::ingest::IngestPolicy;

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
    let signature = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("1900000000.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let delivery = event("webhook-stripe")
        .raw_body(&body)
        .header("Stripe-Signature", &format!("t=1900000000,v1={signature}"));
    let before = inbox.calls();
    let reply = invoke(|req| webhook::handle(&app, req), delivery).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    println!("DynamoDB calls per new webhook: {}", inbox.calls() - before);
    assert_eq!(inbox.calls() - before, 1, "one conditional write");

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut found = false;
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for message in out.messages() {
            let queued: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            if queued["event_id"] == event_id.as_str() {
                found = true;
                assert_eq!(queued["recharge_id"], "rc_e2e");
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        if found {
            break;
        }
    }
    assert!(found, "the event is on the webhook queue");
}
