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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_credit_once_on_dynamodb() {
    use shared::aws::{
        DynamoFlags, DynamoStore, DynamoWallet, SesMailer, TableNames, WalletTables,
    };
    use shared::flags::{FeatureGuard, FlagCache};
    use shared::ports::{WalletStore, WebhookInbox};
    use shared::wallet::model::RechargeStatus;
    use shared::wallet::payments::{Applied, PaymentApplier};
    use shared::webhook::event::{EventKind, ProviderEvent};

    endpoint();
    let sdk = load_sdk_config().await;
    let wallet = Arc::new(DynamoWallet::new(
        &sdk,
        WalletTables::from_env(&ProcessEnv).unwrap(),
    ));
    let inbox = Arc::new(DynamoInbox::new(
        &sdk,
        DynamoInbox::table_from_env(&ProcessEnv).unwrap(),
    ));
    let user = shared::auth::secrets::new_id();
    let commit = shared::testing::contract::sample_commit(
        &user,
        &format!("VEL#user#{user}#EUR#D#1"),
        2_000,
        1_000_000,
    );
    wallet.commit_recharge(&commit).await.unwrap();
    let recharge_id = commit.recharge.recharge_id.clone();
    let clock = Arc::new(shared::clock::SystemClock);
    let flags = DynamoFlags::new(&sdk, DynamoFlags::table_from_env(&ProcessEnv).unwrap())
        .in_namespace(&shared::auth::secrets::new_id());
    let applier = Arc::new(PaymentApplier {
        wallet: wallet.clone(),
        inbox: inbox.clone(),
        reviews: wallet.clone(),
        users: Arc::new(DynamoStore::new(
            &sdk,
            TableNames::from_env(&ProcessEnv).unwrap(),
        )),
        mailer: Arc::new(SesMailer::new(&sdk, &std::env::var("MAIL_FROM").unwrap())),
        guard: FeatureGuard::new(Arc::new(FlagCache::new(
            Arc::new(flags),
            clock.clone(),
            10,
            300,
        ))),
        clock,
    });
    let event = ProviderEvent {
        provider: "stripe".into(),
        event_id: format!("evt_{}", shared::auth::secrets::new_id()),
        kind: EventKind::PaymentSucceeded,
        recharge_id: Some(recharge_id.clone()),
        amount: Some(2_000),
        currency: Some("EUR".into()),
        received_at: 1_900_000_000,
    };
    inbox.record(&event, 1_900_086_400).await.unwrap();
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
    let profile = wallet
        .readings(&user, &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(profile.balances.get("EUR"), Some(&2_000));
    assert_eq!(
        applier.apply(&event).await.unwrap(),
        Applied::AlreadyApplied,
        "a later delivery changes nothing"
    );
}
