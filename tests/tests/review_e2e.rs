//! Fraud review on the local stand-in: the DynamoDB review adapter keeps the
//! contract, a poison message reaches the dead-letter queue, and a held
//! recharge goes from the worker to an admin decision.

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, AdminTables, DynamoAdmin, DynamoWallet, SesMailer, SqsQueue, WalletTables,
};
use aws_lambda_events::event::sqs::SqsEvent;
use e2e::endpoint;
use serde_json::json;
use shared::clock::SystemClock;
use shared::config::ProcessEnv;
use shared::review::ReviewWorker;
use testkit::contract::review_store_contract;

fn worker_app(wallet: &DynamoWallet, sdk: &aws_config::SdkConfig) -> fraud_review_worker::App {
    let wallet = Arc::new(wallet.clone());
    fraud_review_worker::App {
        worker: ReviewWorker {
            reviews: wallet.clone(),
            wallet,
            mailer: Arc::new(SesMailer::new(
                sdk,
                &aws_adapters::MailSettings::from_env(&shared::config::ProcessEnv).unwrap(),
            )),
            reviewers: vec!["fraud-team@example.test".into()],
            clock: Arc::new(SystemClock),
        },
        retries: Arc::new(SqsQueue::new(
            sdk,
            SqsQueue::url_from_env(&ProcessEnv).unwrap(),
        )),
    }
}

fn sqs_event(message_id: &str, body: &str) -> SqsEvent {
    serde_json::from_value(
        json!({"Records": [{"messageId": message_id, "body": body, "eventSource": "aws:sqs"}]}),
    )
    .unwrap()
}

#[tokio::test]
async fn dynamodb_review_cases_keep_the_contract() {
    endpoint();
    let sdk = load_sdk_config().await;
    let wallet = Arc::new(DynamoWallet::new(
        &sdk,
        WalletTables::from_env(&ProcessEnv).unwrap(),
    ));
    let admin = Arc::new(
        DynamoAdmin::new(&sdk, AdminTables::from_env(&ProcessEnv).unwrap())
            .in_namespace(&shared::auth::secrets::new_id()),
    );
    review_store_contract(wallet.clone(), wallet, admin.clone(), admin).await;
}

#[tokio::test]
async fn a_poison_message_reaches_the_dead_letter_queue() {
    endpoint();
    let sdk = load_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let review_url = std::env::var("REVIEW_QUEUE_URL").unwrap();
    let policy = sqs
        .get_queue_attributes()
        .queue_url(&review_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let redrive: serde_json::Value = serde_json::from_str(
        policy.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy]
            .as_str(),
    )
    .unwrap();
    let max_receives: u32 = redrive["maxReceiveCount"]
        .to_string()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert_eq!(
        max_receives, 8,
        "the template's bound (the webhook queue's, with the same backoff) reaches the local queue"
    );

    let suffix = shared::auth::secrets::new_id();
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("poison-dlq-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("poison-{suffix}"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{not json")
        .send()
        .await
        .unwrap();

    let wallet = DynamoWallet::new(&sdk, WalletTables::from_env(&ProcessEnv).unwrap());
    let app = worker_app(&wallet, &sdk);
    let mut deliveries = 0;
    for _ in 0..(max_receives + 3) {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        for message in out.messages() {
            deliveries += 1;
            let event = sqs_event(message.message_id().unwrap(), message.body().unwrap());
            let response = fraud_review_worker::handle_batch(&app, event, None).await;
            assert_eq!(
                response.batch_item_failures.len(),
                1,
                "a poison message is reported, never deleted"
            );
        }
    }
    assert_eq!(deliveries, max_receives, "bounded number of receives");
    let dead = sqs
        .receive_message()
        .queue_url(&dlq_url)
        .send()
        .await
        .unwrap();
    assert_eq!(dead.messages().len(), 1);
    assert_eq!(dead.messages()[0].body(), Some("{not json"));
}
