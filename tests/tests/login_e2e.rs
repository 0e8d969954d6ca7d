//! The login function end to end: its handler fed real API Gateway events,
//! over the DynamoDB and SES adapters on the local stand-in.

use std::sync::Arc;

use aws_adapters::{DynamoStore, MailSettings, TableNames};
use aws_config::BehaviorVersion;
use e2e::{emails_to, endpoint, unique_email};
use login::{App, LoginConfig};
use serde_json::{json, Value};
use shared::clock::SystemClock;
use shared::config::ProcessEnv;
use testkit::{event, invoke, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";

async fn app() -> App {
    endpoint();
    App::from_env(&ProcessEnv)
        .await
        .expect("tests/run.sh sets the configuration")
}

/// The login app over AWS adapters built from `sdk`, with its store.
fn app_over(sdk: &aws_config::SdkConfig) -> (App, DynamoStore) {
    let tables = TableNames::from_env(&ProcessEnv).unwrap();
    let mail = MailSettings::from_env(&ProcessEnv).unwrap();
    let (ports, store) = login::aws_ports(
        sdk,
        tables,
        &mail,
        login::AccountDataSettings::from_env(&ProcessEnv).unwrap(),
    );
    let config = LoginConfig::from_env(&ProcessEnv).unwrap();
    (App::new(config, ports, Arc::new(SystemClock)), store)
}

async fn call(app: &App, event: Value) -> Reply {
    invoke(|req| login::handle(app, req), event).await
}

fn login_event(email: &str, password: &str) -> Value {
    event("login-login").body(json!({"email": email, "password": password}))
}

async fn register(app: &App, email: &str) {
    let reply = call(
        app,
        event("login-register").body(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[tokio::test]
async fn register_login_me_refresh_and_reuse_detection() {
    let app = app().await;
    let email = unique_email("walk");
    register(&app, &email).await;
    assert_eq!(emails_to(&email).len(), 1, "welcome email sent through SES");

    let login = call(&app, login_event(&email, PASSWORD)).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let access = login.body["access_token"].as_str().unwrap();
    let me = call(&app, event("login-me").bearer(access)).await;
    assert_eq!(
        (me.status, me.body["email"].as_str()),
        (200, Some(email.as_str()))
    );

    let first = login.body["refresh_token"].as_str().unwrap();
    let refreshed = call(
        &app,
        event("login-refresh").body(json!({"refresh_token": first})),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    let second = refreshed.body["refresh_token"].as_str().unwrap();

    let reuse = call(
        &app,
        event("login-refresh")
            .body(json!({"refresh_token": first}))
            .device("another-device-0002"),
    )
    .await;
    assert_eq!((reuse.status, reuse.code()), (401, "REFRESH_TOKEN_REUSED"));
    let family = call(
        &app,
        event("login-refresh").body(json!({"refresh_token": second})),
    )
    .await;
    assert_eq!(family.status, 401, "the whole family is revoked");
}

#[tokio::test]
async fn a_refresh_retried_after_a_lost_answer_rotates_the_successor_on_dynamodb() {
    let app = app().await;
    let email = unique_email("grace");
    register(&app, &email).await;
    let login = call(&app, login_event(&email, PASSWORD)).await;
    let first = login.body["refresh_token"].as_str().unwrap();
    let refresh = |token: &str| event("login-refresh").body(json!({"refresh_token": token}));
    let lost = call(&app, refresh(first)).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    let retry = call(&app, refresh(first)).await;
    assert_eq!(
        retry.status, 200,
        "a retry from the same device within the grace window: {}",
        retry.body
    );
    let lost_token = lost.body["refresh_token"].as_str().unwrap();
    let newest = retry.body["refresh_token"].as_str().unwrap();
    assert_ne!(newest, lost_token);
    assert_eq!(call(&app, refresh(newest)).await.status, 200);
}

#[tokio::test]
async fn lockout_on_dynamodb_sends_one_email_and_refuses_the_right_password() {
    let app = app().await;
    let email = unique_email("lock");
    register(&app, &email).await;
    for _ in 0..5 {
        assert_eq!(
            call(&app, login_event(&email, "wrong password"))
                .await
                .status,
            401
        );
    }
    let locked = call(&app, login_event(&email, PASSWORD)).await;
    assert_eq!((locked.status, locked.code()), (423, "ACCOUNT_LOCKED"));
    assert!((55..=60).contains(&locked.retry_after()));
    let subjects: Vec<String> = emails_to(&email).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        subjects.iter().filter(|s| s.contains("locked")).count(),
        1,
        "{subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_on_dynamodb_cannot_slip_past_the_lockout() {
    let app = Arc::new(app().await);
    let email = unique_email("race");
    register(&app, &email).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let app = app.clone();
            let email = email.clone();
            tokio::spawn(async move {
                let ev =
                    login_event(&email, "wrong password").source_ip(&format!("198.51.100.{i}"));
                call(&app, ev).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 423).count(),
        5,
        "{statuses:?}"
    );
}

/// With the retry grace window off, so that every loser of the race is
/// reuse whether it read the token before or after the winner's rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_leave_no_two_live_tokens() {
    endpoint();
    let sdk = aws_adapters::load_sdk_config().await;
    let tables = TableNames::from_env(&ProcessEnv).unwrap();
    let (ports, _) = login::aws_ports(
        &sdk,
        tables,
        &MailSettings::from_env(&ProcessEnv).unwrap(),
        login::AccountDataSettings::from_env(&ProcessEnv).unwrap(),
    );
    let mut config = LoginConfig::from_env(&ProcessEnv).unwrap();
    config.policy.refresh_grace_seconds = 0;
    let app = Arc::new(App::new(config, ports, Arc::new(SystemClock)));
    let email = unique_email("rotate");
    register(&app, &email).await;
    let login = call(&app, login_event(&email, PASSWORD)).await;
    let token = login.body["refresh_token"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move {
                call(
                    &app,
                    event("login-refresh").body(json!({"refresh_token": token})),
                )
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 200 {
            winners.push(reply.body["refresh_token"].as_str().unwrap().to_string());
        } else {
            assert_eq!(reply.status, 401);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    for winner in winners {
        let next = call(
            &app,
            event("login-refresh").body(json!({"refresh_token": winner})),
        )
        .await;
        assert_eq!(next.status, 401, "the race revoked the family");
    }
}

#[tokio::test]
async fn an_unreachable_database_fails_closed_with_503() {
    endpoint();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let (app, _) = app_over(&sdk);
    let reply = call(&app, login_event("someone@example.test", PASSWORD)).await;
    assert_eq!((reply.status, reply.code()), (503, "SERVICE_UNAVAILABLE"));
    assert!(
        !reply.body.to_string().contains("127.0.0.1"),
        "no internals in the body"
    );
}

#[tokio::test]
async fn dynamodb_round_trips_of_login_and_refresh() {
    endpoint();
    let (app, counter) = app_over(&aws_adapters::load_sdk_config().await);
    let email = unique_email("budget");
    register(&app, &email).await;

    let before = counter.calls();
    let login = call(&app, login_event(&email, PASSWORD)).await;
    assert_eq!(login.status, 200);
    let login_calls = counter.calls() - before;

    let before = counter.calls();
    let token = login.body["refresh_token"].as_str().unwrap();
    let refreshed = call(
        &app,
        event("login-refresh").body(json!({"refresh_token": token})),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    let refresh_calls = counter.calls() - before;

    println!("DynamoDB calls: login {login_calls}, refresh {refresh_calls}");
    assert_eq!(
        login_calls, 3,
        "rate-limit+lockout reservation, account read, session write"
    );
    assert_eq!(refresh_calls, 2, "token read, rotation transaction");
}

/// Registers `email` from `ip` (each test its own addresses: the per-IP
/// limit is shared by the tests running at once).
async fn register_from(app: &App, email: &str, ip: &str) {
    let reply = call(
        app,
        event("login-register")
            .body(json!({"email": email, "password": PASSWORD}))
            .source_ip(ip),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

/// The newest token starting with `prefix` in an email to `to`.
fn emailed_token(to: &str, prefix: &str) -> String {
    emails_to(to)
        .into_iter()
        .rev()
        .find_map(|(_, body)| {
            body.split_whitespace()
                .find(|w| w.starts_with(prefix))
                .map(str::to_string)
        })
        .expect("a token was emailed")
}

fn forgot_event(email: &str, ip: &str) -> Value {
    event("login-forgot-password")
        .body(json!({ "email": email }))
        .source_ip(ip)
}

#[tokio::test]
async fn forgot_answers_alike_on_dynamodb_in_body_calls_mail_and_time() {
    endpoint();
    let (app, counter) = app_over(&aws_adapters::load_sdk_config().await);
    let runs = 9;
    let known: Vec<String> = (0..runs).map(|_| unique_email("forgot-known")).collect();
    for (i, email) in known.iter().enumerate() {
        register_from(&app, email, &format!("198.51.100.{}", 10 + i)).await;
    }
    let unknown: Vec<String> = (0..runs).map(|_| unique_email("forgot-absent")).collect();
    let mut times = (Vec::new(), Vec::new());
    let mut calls = (Vec::new(), Vec::new());
    let mut replies = (Vec::new(), Vec::new());
    for i in 0..runs {
        for (known_address, email) in [(true, &known[i]), (false, &unknown[i])] {
            let before = counter.calls();
            let started = std::time::Instant::now();
            let reply = call(
                &app,
                forgot_event(email, &format!("198.51.100.{}", 100 + i)),
            )
            .await;
            let elapsed = started.elapsed().as_micros();
            let used = counter.calls() - before;
            let mut body = reply.body.clone();
            body.as_object_mut().map(|b| b.remove("request_id"));
            let (t, c, r) = if known_address {
                (&mut times.0, &mut calls.0, &mut replies.0)
            } else {
                (&mut times.1, &mut calls.1, &mut replies.1)
            };
            t.push(elapsed);
            c.push(used);
            r.push((reply.status, body));
        }
    }
    assert_eq!(replies.0, replies.1, "the same status and body");
    assert!(replies.0.iter().all(|(status, _)| *status == 202));
    assert_eq!(calls.0, calls.1, "the same DynamoDB requests");
    let sent = e2e::sent_emails();
    for (address, subject) in known
        .iter()
        .map(|a| (a, "reset your password"))
        .chain(unknown.iter().map(|a| (a, "password reset requested")))
    {
        let count = sent
            .iter()
            .filter(|(to, s, _)| to.contains(address) && s.contains(subject))
            .count();
        assert_eq!(count, 1, "one email each, through SES: {address}");
    }
    times.0.sort_unstable();
    times.1.sort_unstable();
    let (known_median, unknown_median) = (times.0[runs / 2], times.1[runs / 2]);
    let ratio = known_median as f64 / unknown_median as f64;
    println!(
        "forgot on the stand-in: {} DynamoDB calls each; median known {known_median} µs, unknown {unknown_median} µs, ratio {ratio:.2}",
        calls.0[0]
    );
    assert!((0.5..2.0).contains(&ratio), "ratio {ratio:.2}");
}

#[tokio::test]
async fn a_taken_address_costs_sign_up_the_same_requests_on_dynamodb() {
    endpoint();
    let (app, counter) = app_over(&aws_adapters::load_sdk_config().await);
    let taken = unique_email("taken");
    register_from(&app, &taken, "198.51.100.30").await;
    let mut used = Vec::new();
    for (i, email) in [taken, unique_email("free")].into_iter().enumerate() {
        let before = counter.calls();
        register_from(&app, &email, &format!("198.51.100.{}", 31 + i)).await;
        used.push(counter.calls() - before);
    }
    println!(
        "DynamoDB calls of sign-up: taken {}, free {}",
        used[0], used[1]
    );
    assert_eq!(used[0], used[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_resets_with_one_token_on_dynamodb_one_wins() {
    let app = Arc::new(app().await);
    let email = unique_email("reset-race");
    register_from(&app, &email, "198.51.100.40").await;
    let forgot = call(&app, forgot_event(&email, "198.51.100.200")).await;
    assert_eq!(forgot.status, 202);
    let token = emailed_token(&email, "pr_");
    let racers: Vec<_> = ["first racing passphrase 1", "second racing passphrase 2"]
        .into_iter()
        .map(|password| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let ev = event("login-reset-password")
                    .body(json!({ "token": token, "password": password }))
                    .source_ip("198.51.100.41");
                (password, call(&app, ev).await.status)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (password, status) = racer.await.unwrap();
        if status == 204 {
            winners.push(password);
        } else {
            assert_eq!(status, 400, "the loser is told the token is spent");
        }
    }
    assert_eq!(winners.len(), 1, "exactly one reset wins");
    let signed_in = call(
        &app,
        login_event(&email, winners[0]).source_ip("198.51.100.42"),
    )
    .await;
    assert_eq!(signed_in.status, 200);
}
