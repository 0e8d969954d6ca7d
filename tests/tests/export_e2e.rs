//! The account data export end to end on the stand-in: the login handler
//! fed API Gateway events over its AWS adapters, the request carried by
//! SQS to the export worker, the document read back through the
//! pre-signed link the status route answers, and gone with the account.

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoStore, MailSettings, TableNames};
use aws_lambda_events::event::sqs::SqsEvent;
use e2e::{emails_to, endpoint, take_messages, unique_email, RechargeStack};
use serde_json::{json, Value};
use shared::clock::SystemClock;
use shared::config::ProcessEnv;
use testkit::{event, invoke, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";
const DEVICE: &str = "device-0001-sample";

/// The login app over the AWS adapters, with the test kit's token keys (so
/// the recharge stack accepts its tokens), and its store (for its request
/// count).
async fn login_app_and_store() -> (login::App, DynamoStore) {
    endpoint();
    let sdk = load_sdk_config().await;
    let (ports, store) = login::aws_ports(
        &sdk,
        TableNames::from_env(&ProcessEnv).unwrap(),
        &MailSettings::from_env(&ProcessEnv).unwrap(),
        login::AccountDataSettings::from_env(&ProcessEnv).unwrap(),
    );
    let env = testkit::test_login_env(&[("AUTH_IP_LIMIT_PER_MINUTE", "1000")]);
    let config = login::LoginConfig::from_env(&env).unwrap();
    (login::App::new(config, ports, Arc::new(SystemClock)), store)
}

async fn login_app() -> login::App {
    login_app_and_store().await.0
}

/// Calls the login app from this file's own address (the per-IP limit's
/// counters are shared by the tests running at once).
async fn call(app: &login::App, event: Value) -> Reply {
    invoke(
        |req| login::handle(app, req),
        event.source_ip("198.51.100.60"),
    )
    .await
}

/// `POST account/export` with the password.
async fn ask_export(app: &login::App, access: &str) -> Reply {
    let ask = event("login-account-export").bearer(access);
    call(app, ask.body(json!({"password": PASSWORD}))).await
}

/// A verified, signed-in account: its access token.
async fn verified_account(app: &login::App, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    assert_eq!(
        call(app, event("login-register").body(body.clone()))
            .await
            .status,
        202
    );
    let token = emails_to(email)
        .into_iter()
        .find_map(|(_, text)| {
            text.split_whitespace()
                .find(|w| w.starts_with("ev_"))
                .map(str::to_string)
        })
        .expect("a verification token was emailed");
    let verified = call(
        app,
        event("login-verify-email").body(json!({"token": token})),
    )
    .await;
    assert_eq!(verified.status, 204, "{}", verified.body);
    let signed_in = call(app, event("login-login").body(body)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    signed_in.body["access_token"].as_str().unwrap().to_string()
}

fn sqs_event(bodies: &[Value]) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body.to_string(), "eventSource": "aws:sqs"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn an_export_goes_through_the_queue_to_a_link_that_serves_the_account_and_dies_with_it() {
    let (login, store) = login_app_and_store().await;
    let email = unique_email("export");
    let access = verified_account(&login, &email).await;
    let user_id = testkit::claims(&access)["sub"]
        .as_str()
        .unwrap()
        .to_string();

    let stack = RechargeStack::new(&[], Arc::new(SystemClock)).await;
    let stack = RechargeStack {
        user_id: user_id.clone(),
        token: access.clone(),
        device: DEVICE.to_string(),
        ..stack
    };
    let recharge = stack.recharge(&format!("export-{user_id}"), 1_500).await;
    assert_eq!(recharge.status, 201, "{}", recharge.body);
    let recharge_id = recharge.body["recharge_id"].as_str().unwrap().to_string();

    let before = store.calls();
    let asked = ask_export(&login, &access).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(
        store.calls() - before,
        7,
        "session and standing, account (2), request, attempt counted and cleared, claim"
    );
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    let again = ask_export(&login, &access).await;
    assert_eq!((again.status, again.code()), (429, "RATE_LIMITED"));

    let queue = std::env::var("EXPORT_QUEUE_URL").expect("tests/run.sh sets EXPORT_QUEUE_URL");
    let messages = take_messages(&queue, &export_id, 5).await;
    assert_eq!(
        messages,
        vec![json!({"user_id": user_id, "export_id": export_id})]
    );
    let worker = account_export::App::from_env(&ProcessEnv).await.unwrap();
    let response = account_export::handle_batch(&worker, sqs_event(&messages), None).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(emails_to(&email)
        .iter()
        .any(|(subject, _)| subject.ends_with("your data export is ready")));

    let before = store.calls();
    let status = call(&login, event("login-account-export-status").bearer(&access)).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(store.calls() - before, 2, "session and standing, request");
    assert_eq!(status.body["status"], "ready");
    let url = status.body["download_url"].as_str().unwrap().to_string();
    let download = ureq::get(&url).call().expect("the link serves the export");
    assert!(download
        .header("Content-Disposition")
        .is_some_and(|d| d.starts_with("attachment")));
    let text = download.into_string().unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("\"score\""),
        "no secret, no fraud score"
    );
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["profile"]["email"], email.as_str());
    assert_eq!(
        document["recharges"][0]["recharge_id"],
        recharge_id.as_str()
    );
    assert_eq!(document["recharges"][0]["amount"], 1_500);
    assert!(
        document["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == format!("recharge:{recharge_id}") && e["by"] == "you"),
        "{}",
        document["audit"]
    );
    assert!(!document["sessions"].as_array().unwrap().is_empty());

    let unsigned = url.split('?').next().unwrap();
    assert!(
        ureq::get(unsigned).call().is_err(),
        "the object is not readable without the signature"
    );

    let deleted = call(
        &login,
        event("login-delete-account")
            .bearer(&access)
            .body(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(
        ureq::get(&url).call().is_err(),
        "the export went with the account"
    );
}

#[tokio::test]
async fn a_redelivered_or_stale_export_message_changes_nothing() {
    let login = login_app().await;
    let email = unique_email("export-stale");
    let access = verified_account(&login, &email).await;
    let user_id = testkit::claims(&access)["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let asked = ask_export(&login, &access).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let export_id = asked.body["export_id"].as_str().unwrap().to_string();
    let queue = std::env::var("EXPORT_QUEUE_URL").unwrap();
    let messages = take_messages(&queue, &export_id, 5).await;
    let stale = json!({"user_id": user_id, "export_id": "exp-stale"});
    let worker = account_export::App::from_env(&ProcessEnv).await.unwrap();
    let batch = [
        messages[0].clone(),
        messages[0].clone(),
        stale,
        json!({"nope": 1}),
    ];
    let response = account_export::handle_batch(&worker, sqs_event(&batch), None).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        vec!["m3".to_string()],
        "only the malformed message is retried"
    );
    let store = DynamoStore::new(
        &load_sdk_config().await,
        TableNames::from_env(&ProcessEnv).unwrap(),
    );
    let request = shared::ports::ExportStore::export_request(&store, &user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.export_id, export_id);
    assert!(request.ready_at.is_some());
}

#[tokio::test]
async fn an_accounts_recharges_and_ledger_are_read_through_the_wallet_index() {
    use shared::ports::AccountRecords;
    let payments = e2e::DynamoPayments::pending().await;
    let paid = payments
        .succeeded(shared::clock::Clock::now(&SystemClock))
        .await;
    payments.applier.apply(&paid).await.unwrap();
    let other = e2e::DynamoPayments::pending().await;
    let case_id = format!("{}~{}", payments.recharge_id, "0123456789ab");
    shared::ports::ReviewStore::open_case(
        &*payments.wallet,
        &testkit::export_contract::payment_event_case(&case_id, &payments.user_id),
    )
    .await
    .unwrap();
    let records = payments
        .wallet
        .wallet_records(&payments.user_id)
        .await
        .unwrap();
    let recharges: Vec<&str> = records
        .recharges
        .iter()
        .map(|r| r.recharge_id.as_str())
        .collect();
    assert_eq!(
        recharges,
        vec![payments.recharge_id.as_str()],
        "not {}'s",
        other.recharge_id
    );
    assert_eq!(records.case_ids, vec![case_id], "the account's review case");
    assert_eq!(records.ledger.len(), 1, "{:?}", records.ledger);
    assert_eq!(
        (
            records.ledger[0].recharge_id.as_str(),
            records.ledger[0].amount
        ),
        (payments.recharge_id.as_str(), 2_000)
    );
    assert_eq!(
        records.profile.map(|p| p.balances.get("EUR").copied()),
        Some(Some(2_000))
    );
}
