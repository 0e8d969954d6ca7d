//! Progressive lockout per account and the per-IP limit on auth routes.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;

async fn fail_times(h: &Harness, email: &str, times: usize) {
    for _ in 0..times {
        let reply = h.login(email, "definitely wrong").await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
}

fn retry_after(reply: &Reply) -> i64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn five_failures_lock_for_a_minute_and_the_right_password_does_not_unlock() {
    let h = Harness::new();
    h.signed_in("nina@example.com").await;
    fail_times(&h, "nina@example.com", 5).await;

    let locked = h.login("nina@example.com", PASSWORD).await;
    assert_eq!((locked.status, code(&locked)), (423, "ACCOUNT_LOCKED"));
    assert_eq!(retry_after(&locked), 60);

    h.clock.advance(59);
    assert_eq!(h.login("nina@example.com", PASSWORD).await.status, 423);
    h.clock.advance(1);
    assert_eq!(h.login("nina@example.com", PASSWORD).await.status, 200);

    let locks = h
        .mailer
        .sent()
        .iter()
        .filter(|m| m.subject.contains("locked"))
        .count();
    assert_eq!(locks, 1, "the owner is told once");
}

#[tokio::test]
async fn each_further_lock_doubles_up_to_an_hour() {
    let h = Harness::new();
    h.signed_in("omar@example.com").await;
    let mut seen = Vec::new();
    for _ in 0..8 {
        fail_times(&h, "omar@example.com", 5).await;
        let locked = h.login("omar@example.com", PASSWORD).await;
        assert_eq!(locked.status, 423);
        let wait = retry_after(&locked);
        seen.push(wait);
        h.clock.advance(wait);
    }
    assert_eq!(seen, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
}

#[tokio::test]
async fn a_success_resets_failures_and_lock_level() {
    let h = Harness::new();
    h.signed_in("pia@example.com").await;
    fail_times(&h, "pia@example.com", 4).await;
    assert_eq!(h.login("pia@example.com", PASSWORD).await.status, 200);
    fail_times(&h, "pia@example.com", 4).await;
    assert_eq!(
        h.login("pia@example.com", PASSWORD).await.status,
        200,
        "count restarted"
    );

    fail_times(&h, "pia@example.com", 5).await;
    h.clock.advance(60);
    assert_eq!(h.login("pia@example.com", PASSWORD).await.status, 200);
    fail_times(&h, "pia@example.com", 5).await;
    let locked = h.login("pia@example.com", PASSWORD).await;
    assert_eq!(
        retry_after(&locked),
        60,
        "level went back to the first lock"
    );
}

#[tokio::test]
async fn unknown_accounts_lock_the_same_way() {
    let h = Harness::new();
    fail_times(&h, "ghost@example.com", 5).await;
    let locked = h.login("ghost@example.com", "anything").await;
    assert_eq!(
        locked.status, 423,
        "lockout must not reveal which accounts exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_cannot_slip_past_the_limit() {
    let h = Arc::new(Harness::new());
    h.signed_in("quinn@example.com").await;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.login("quinn@example.com", "wrong guess").await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!(
        checked, 5,
        "exactly five guesses were checked: {statuses:?}"
    );
    assert_eq!(refused, 7);
}

#[tokio::test]
async fn per_ip_limit_answers_429_with_retry_after() {
    let h = Harness::with_env(&[("AUTH_IP_LIMIT_PER_MINUTE", "3")]);
    for i in 0..3 {
        let reply = h
            .login(&format!("user{i}@example.com"), "wrong password")
            .await;
        assert_eq!(reply.status, 401);
    }
    let limited = h.login("user9@example.com", "wrong password").await;
    assert_eq!((limited.status, code(&limited)), (429, "RATE_LIMITED"));
    assert!(retry_after(&limited) >= 1 && retry_after(&limited) <= 60);
    let limited_register = h.register("new@example.com", PASSWORD).await;
    assert_eq!(
        limited_register.status, 429,
        "register shares the auth limit"
    );

    let elsewhere = h
        .call(
            event("login")
                .body(json!({"email": "user9@example.com", "password": "wrong password"}))
                .source_ip("198.51.100.23"),
        )
        .await;
    assert_eq!(elsewhere.status, 401, "another IP has its own budget");

    h.clock.advance(retry_after(&limited));
    assert_eq!(
        h.login("user9@example.com", "wrong password").await.status,
        401
    );
}
