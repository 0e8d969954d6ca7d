//! The DynamoDB and SES adapters keep the same port contract as the
//! in-memory ones, against the local stand-in.

use std::sync::Arc;

use e2e::{emails_to, endpoint, unique_email};
use shared::aws::{load_sdk_config, DynamoStore, SesMailer, TableNames};
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
