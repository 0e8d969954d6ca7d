//! The DynamoDB, SES and Secrets Manager adapters keep the same port contract as the
//! in-memory ones, against the local stand-in.

use std::sync::Arc;

use e2e::{emails_to, endpoint, unique_email};
use shared::aws::{load_sdk_config, DynamoStore, SecretsManager, SesMailer, TableNames};
use shared::config::ProcessEnv;
use shared::ports::{Mailer, OutgoingEmail};
use shared::testing::contract::full_contract;

async fn store() -> Arc<DynamoStore> {
    endpoint();
    let tables = TableNames::from_env(&ProcessEnv).expect("tests/run.sh sets the table names");
    Arc::new(DynamoStore::new(&load_sdk_config().await, tables))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_keeps_the_port_contract() {
    let store = store().await;
    full_contract(store.clone(), store.clone(), store).await;
}

#[tokio::test]
async fn ses_mailer_delivers_to_the_stand_in() {
    endpoint();
    let from = std::env::var("MAIL_FROM").expect("tests/run.sh sets MAIL_FROM");
    let mailer = SesMailer::new(&load_sdk_config().await, &from);
    let to = unique_email("mail");
    let email = OutgoingEmail {
        to: to.clone(),
        subject: "Contract".to_string(),
        text: "Hello from the contract suite.".to_string(),
    };
    mailer.send(&email).await.unwrap();
    assert_eq!(
        emails_to(&to),
        vec![(
            "Contract".to_string(),
            "Hello from the contract suite.".to_string()
        )]
    );
}

#[tokio::test]
async fn secrets_manager_keeps_the_secret_source_contract() {
    endpoint();
    let sdk = load_sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let id = format!("contract/{}", shared::auth::secrets::new_id());
    client
        .create_secret()
        .name(&id)
        .secret_string(
            r#"{"WEBHOOK_SECRETS_CONTRACT_A": "alpha", "WEBHOOK_SECRETS_CONTRACT_B": "beta"}"#,
        )
        .send()
        .await
        .unwrap();
    let source = Arc::new(SecretsManager::new(&sdk));
    shared::testing::secret_source_contract(source, &id, "contract/absent", || async {
        client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(r#"{"WEBHOOK_SECRETS_CONTRACT_A": "rotated", "WEBHOOK_SECRETS_CONTRACT_B": "beta"}"#)
            .send()
            .await
            .unwrap();
    })
    .await;
}
