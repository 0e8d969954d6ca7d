//! The DynamoDB, SES and Secrets Manager adapters keep the same port contract as the
//! in-memory ones, against the local stand-in.

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoStore, MailSettings, SecretsManager, SesMailer, TableNames,
};
use e2e::{
    clear_faults, configuration_sets_used, emails_to, endpoint, inject_fault, unique_email,
    FaultMode,
};
use shared::config::ProcessEnv;
use shared::ports::{MailError, Mailer, OutgoingEmail};
use testkit::contract::full_contract;

async fn store() -> Arc<DynamoStore> {
    endpoint();
    let tables = TableNames::from_env(&ProcessEnv).expect("tests/run.sh sets the table names");
    Arc::new(DynamoStore::new(&load_sdk_config().await, tables))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_keeps_the_port_contract() {
    let store = store().await;
    full_contract(store.clone(), store.clone(), store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_export_requests_keep_the_contract() {
    let store = store().await;
    testkit::export_contract::export_store_contract(store.clone()).await;
    testkit::export_contract::export_claim_race_contract(store, 8).await;
}

#[tokio::test]
async fn dynamodb_audit_reads_about_an_account_keep_the_contract() {
    use aws_adapters::{AdminTables, DynamoAdmin, DynamoWallet, WalletTables};
    endpoint();
    let sdk = load_sdk_config().await;
    let admin = DynamoAdmin::new(&sdk, AdminTables::from_env(&ProcessEnv).unwrap())
        .in_namespace(&shared::auth::secrets::new_id());
    let records = DynamoWallet::new(&sdk, WalletTables::from_env(&ProcessEnv).unwrap());
    testkit::export_contract::account_audit_contract(Arc::new(admin), Arc::new(records)).await;
}

fn mail_settings() -> MailSettings {
    MailSettings::from_env(&ProcessEnv)
        .expect("tests/run.sh sets MAIL_FROM and MAIL_CONFIGURATION_SET")
}

fn contract_email(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: to.to_string(),
        subject: "Contract".to_string(),
        text: "Hello from the contract suite.".to_string(),
    }
}

#[tokio::test]
async fn ses_mailer_delivers_to_the_stand_in() {
    endpoint();
    let settings = mail_settings();
    let mailer = SesMailer::new(&load_sdk_config().await, &settings);
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
    assert_eq!(
        configuration_sets_used(&to),
        vec![Some(settings.configuration_set)],
        "every message names the configuration set"
    );
}

#[tokio::test]
async fn ses_refusals_are_told_apart_from_outages() {
    endpoint();
    let sdk = load_sdk_config().await;
    let mailer = SesMailer::new(&sdk, &mail_settings());
    let unverified = unique_email("sandboxed");
    inject_fault("ses", &unverified, FaultMode::Reject, 1);
    assert!(matches!(
        mailer.send(&contract_email(&unverified)).await,
        Err(MailError::Refused(code)) if code == "MessageRejected"
    ));
    assert_eq!(clear_faults(&unverified), 1);

    let denied = unique_email("denied");
    inject_fault("ses", &denied, FaultMode::Deny, 1);
    match mailer.send(&contract_email(&denied)).await {
        Err(MailError::Unavailable(text)) => assert_eq!(
            text, "AccessDeniedException",
            "named by its code: SES's message names the recipient, which stays out of logs"
        ),
        other => panic!("expected an outage named by its code, got {other:?}"),
    }
    assert_eq!(clear_faults(&denied), 1);

    let busy = unique_email("throttled");
    inject_fault("ses", &busy, FaultMode::Fail, 3);
    assert!(matches!(
        mailer.send(&contract_email(&busy)).await,
        Err(MailError::Unavailable(_))
    ));
    clear_faults(&busy);

    let missing_set = SesMailer::new(
        &sdk,
        &MailSettings {
            configuration_set: format!("missing-{}", shared::auth::secrets::new_id()),
            ..mail_settings()
        },
    );
    let to = unique_email("no-set");
    assert_eq!(
        missing_set.send(&contract_email(&to)).await,
        Err(MailError::Unavailable("NotFoundException".into())),
        "not this recipient's fault: an operator's to fix"
    );
    assert!(
        emails_to(&to).is_empty(),
        "nothing sent under a missing set"
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
    testkit::secret_source_contract(source, &id, "contract/absent", || async {
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
