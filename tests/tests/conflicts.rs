//! Transactions DynamoDB cancels for a conflict with another transaction or
//! for throttling, and single writes refused because their item is inside a
//! pending transaction, injected into the local stand-in under the real
//! adapters. None of them is read as "a condition failed": the adapter
//! retries them with backoff, then answers 503, with nothing half-written.

use e2e::{clear_faults, emails_to, endpoint, inject_fault, unique_email, FaultMode};
use serde_json::{json, Value};
use shared::config::ProcessEnv;
use testkit::{claims, event, invoke, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";
const TRANSACTION: &str = "dynamodb:TransactWriteItems";

async fn login_app() -> login::App {
    endpoint();
    login::App::from_env(&ProcessEnv)
        .await
        .expect("tests/run.sh sets the configuration")
}

async fn call(app: &login::App, event: Value) -> Reply {
    invoke(|req| login::handle(app, req), event).await
}

/// A fresh address of the IPv6 documentation range, so the per-IP counter
/// key is the calling test's own.
fn fresh_ip() -> String {
    let id = shared::auth::secrets::new_id();
    let hash = id.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!(
        "2001:db8:{:x}:{:x}::1",
        hash & 0xffff,
        (hash >> 16) & 0xffff
    )
}

async fn register(app: &login::App, email: &str) {
    let register = event("login-register")
        .body(json!({"email": email, "password": PASSWORD}))
        .source_ip(&fresh_ip());
    let reply = call(app, register).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

fn sign_in(email: &str, ip: &str) -> Value {
    event("login-login")
        .body(json!({"email": email, "password": PASSWORD}))
        .source_ip(ip)
}

fn conflict_at(position: usize) -> FaultMode {
    FaultMode::Cancel {
        code: "TransactionConflict",
        position,
    }
}

#[tokio::test]
async fn a_right_password_signs_in_when_the_attempt_counters_conflict_once() {
    let app = login_app().await;
    let email = unique_email("counter-conflict");
    register(&app, &email).await;
    let ip = fresh_ip();
    let matching = format!("#{ip}#");
    inject_fault(TRANSACTION, &matching, conflict_at(0), 1);
    let reply = call(&app, sign_in(&email, &ip)).await;
    assert_eq!(
        clear_faults(&matching),
        1,
        "the counter transaction conflicted"
    );
    assert_eq!(
        reply.status, 200,
        "a conflict is not a lockout: {}",
        reply.body
    );
}

#[tokio::test]
async fn lasting_conflicts_on_the_counters_are_503_and_count_nothing() {
    let app = login_app().await;
    let email = unique_email("counter-throttled");
    register(&app, &email).await;
    let ip = fresh_ip();
    let matching = format!("#{ip}#");
    let throttled = FaultMode::Cancel {
        code: "ThrottlingError",
        position: 1,
    };
    inject_fault(TRANSACTION, &matching, throttled, 50);
    let reply = call(&app, sign_in(&email, &ip)).await;
    assert_eq!(
        clear_faults(&matching),
        4,
        "one attempt and three retries, then the adapter gave up"
    );
    assert_eq!(
        (reply.status, reply.code()),
        (503, "SERVICE_UNAVAILABLE"),
        "{}",
        reply.body
    );
    let counters = aws_adapters::DynamoStore::new(
        &aws_adapters::load_sdk_config().await,
        aws_adapters::TableNames::from_env(&ProcessEnv).unwrap(),
    );
    use shared::ports::AttemptStore;
    let lockout = counters
        .lockout_state(&shared::auth::lockout::lockout_key(&email))
        .await
        .unwrap();
    assert_eq!(lockout, None, "no failure was counted");
    assert_eq!(call(&app, sign_in(&email, &ip)).await.status, 200);
}

#[tokio::test]
async fn a_conflict_on_the_session_start_is_not_a_reused_totp_step() {
    let app = login_app().await;
    let email = unique_email("session-conflict");
    register(&app, &email).await;
    let matching = format!("EMAIL#{email}");
    inject_fault(TRANSACTION, &matching, conflict_at(2), 1);
    let reply = call(&app, sign_in(&email, &fresh_ip())).await;
    assert_eq!(clear_faults(&matching), 1, "the session start conflicted");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn a_conflict_on_sign_up_still_creates_the_account() {
    let app = login_app().await;
    let email = unique_email("signup-conflict");
    let matching = format!("EMAIL#{email}");
    inject_fault(TRANSACTION, &matching, conflict_at(1), 1);
    register(&app, &email).await;
    assert_eq!(clear_faults(&matching), 1, "the sign-up conflicted");
    assert_eq!(
        call(&app, sign_in(&email, &fresh_ip())).await.status,
        200,
        "the account exists"
    );
}

#[tokio::test]
async fn a_sign_up_whose_answer_was_lost_is_not_a_taken_address_on_the_sdk_retry() {
    let app = login_app().await;
    let email = unique_email("signup-lost");
    let matching = format!("EMAIL#{email}");
    inject_fault(TRANSACTION, &matching, FaultMode::ApplyFail, 1);
    register(&app, &email).await;
    assert_eq!(clear_faults(&matching), 1, "the first answer was lost");
    let subjects: Vec<String> = emails_to(&email).into_iter().map(|(s, _)| s).collect();
    assert!(
        subjects.len() == 1 && subjects[0].starts_with("Welcome"),
        "the SDK's retry carried the same ClientRequestToken and was not \
         applied again: {subjects:?}"
    );
}

#[tokio::test]
async fn a_conflict_on_the_refresh_rotation_is_not_token_reuse() {
    let app = login_app().await;
    let email = unique_email("rotation-conflict");
    register(&app, &email).await;
    let login = call(&app, sign_in(&email, &fresh_ip())).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let sid = claims(login.body["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let matching = format!("SESSION#{sid}");
    inject_fault(TRANSACTION, &matching, conflict_at(0), 2);
    let refresh = |token: &str| event("login-refresh").body(json!({"refresh_token": token}));
    let first = login.body["refresh_token"].as_str().unwrap();
    let rotated = call(&app, refresh(first)).await;
    assert_eq!(clear_faults(&matching), 2, "the rotation conflicted twice");
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let next = rotated.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        call(&app, refresh(next)).await.status,
        200,
        "the session was not revoked"
    );
}

#[tokio::test]
async fn a_single_write_refused_for_a_pending_transaction_is_retried() {
    let app = login_app().await;
    let email = unique_email("write-conflict");
    register(&app, &email).await;
    let login = call(&app, sign_in(&email, &fresh_ip())).await;
    let access = login.body["access_token"].as_str().unwrap();
    let sid = claims(access)["sid"].as_str().unwrap().to_string();
    let matching = format!("SESSION#{sid}");
    inject_fault("dynamodb:UpdateItem", &matching, FaultMode::Conflict, 1);
    let logout = call(&app, event("login-logout").bearer(access)).await;
    assert_eq!(clear_faults(&matching), 1, "the revocation conflicted");
    assert_eq!(logout.status, 204, "{}", logout.body);
    let refresh = event("login-refresh")
        .body(json!({"refresh_token": login.body["refresh_token"].as_str().unwrap()}));
    assert_eq!(
        call(&app, refresh).await.status,
        401,
        "the session is revoked"
    );
}

async fn kyc_store() -> aws_adapters::DynamoKyc {
    endpoint();
    aws_adapters::DynamoKyc::new(
        &aws_adapters::load_sdk_config().await,
        aws_adapters::DynamoKyc::table_from_env(&ProcessEnv).unwrap(),
    )
}

#[tokio::test]
async fn a_conflict_on_the_upload_reservation_reserves_it() {
    use shared::kyc::model::UploadReservation;
    use shared::ports::KycStore;
    let kyc = kyc_store().await;
    let user = shared::auth::secrets::new_id();
    let matching = format!("USER#{user}");
    inject_fault(TRANSACTION, &matching, conflict_at(1), 1);
    let reserved = kyc
        .reserve_upload(&user, "2030-01-01", 3, 1_900_000_000)
        .await;
    assert_eq!(clear_faults(&matching), 1, "the reservation conflicted");
    assert!(
        matches!(reserved, Ok(UploadReservation::Reserved)),
        "{reserved:?}"
    );
}

#[tokio::test]
async fn a_conflict_on_opening_a_kyc_submission_opens_it() {
    use shared::ports::KycStore;
    let kyc = kyc_store().await;
    let user = shared::auth::secrets::new_id();
    let submission = testkit::kyc_contract::sample_submission(&user, 1_900_000_000);
    let matching = format!("USER#{user}");
    inject_fault(TRANSACTION, &matching, conflict_at(1), 1);
    let opened = kyc.open_submission(&submission).await;
    assert_eq!(clear_faults(&matching), 1, "the opening conflicted");
    assert!(opened.is_ok(), "not a 409 for a conflict: {opened:?}");
    assert_eq!(
        kyc.latest_submission(&user)
            .await
            .unwrap()
            .map(|s| s.submission_id),
        Some(submission.submission_id)
    );
}
