//! The grace window of refresh rotation: a refresh whose rotation landed
//! but whose answer was lost, retried from the same device shortly after,
//! gets a fresh rotation of the live successor instead of revoking the
//! session; the same token from another device, or after the window, is
//! still reuse and revokes the whole family.

mod common;

use common::*;
use serde_json::json;

/// Signs in and rotates once, "losing" the answer: returns the rotated
/// token and the access token of the sign-in.
async fn rotated_with_lost_answer(h: &Harness, email: &str) -> (String, String) {
    let pair = h.signed_in(email).await;
    let first = pair["refresh_token"].as_str().unwrap().to_string();
    let lost = h.refresh(&first).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    (first, pair["access_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_retry_within_the_window_from_the_same_device_rotates_the_successor() {
    let h = Harness::new();
    let (first, access) = rotated_with_lost_answer(&h, "grace@example.com").await;
    h.clock.advance(9);
    let retry = h.refresh(&first).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    let next = retry.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(next, first);
    assert_eq!(h.me(&access).await.status, 200, "the session lives");
    assert_eq!(
        h.refresh(&next).await.status,
        200,
        "the retry's token works"
    );
}

#[tokio::test]
async fn a_spent_token_earns_one_retry_only() {
    let h = Harness::new();
    let (first, access) = rotated_with_lost_answer(&h, "replay-twice@example.com").await;
    assert_eq!(h.refresh(&first).await.status, 200, "the retry");
    let replay = h.refresh(&first).await;
    assert_eq!(
        (replay.status, code(&replay)),
        (401, "REFRESH_TOKEN_REUSED"),
        "a second presentation of the same spent token is a replay: {}",
        replay.body
    );
    let me = h.me(&access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
}

#[tokio::test]
async fn a_spent_token_whose_successor_was_used_is_reuse_within_the_window() {
    let h = Harness::new();
    let pair = h.signed_in("replay-after-use@example.com").await;
    let first = pair["refresh_token"].as_str().unwrap().to_string();
    let received = h.refresh(&first).await;
    let second = received.body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        h.refresh(&second).await.status,
        200,
        "the client got its answer and used it"
    );
    let replay = h.refresh(&first).await;
    assert_eq!(
        (replay.status, code(&replay)),
        (401, "REFRESH_TOKEN_REUSED"),
        "nothing was lost: the old token is a replay: {}",
        replay.body
    );
}

#[tokio::test]
async fn the_rotated_token_from_another_device_is_reuse_even_within_the_window() {
    let h = Harness::new();
    let (first, access) = rotated_with_lost_answer(&h, "grace-thief@example.com").await;
    h.clock.advance(1);
    let stolen = h
        .call(
            event("refresh")
                .body(json!({ "refresh_token": first }))
                .device("attacker-device-9"),
        )
        .await;
    assert_eq!(
        (stolen.status, code(&stolen)),
        (401, "REFRESH_TOKEN_REUSED")
    );
    let me = h.me(&access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
}

#[tokio::test]
async fn the_rotated_token_after_the_window_is_reuse() {
    let h = Harness::new();
    let (first, access) = rotated_with_lost_answer(&h, "grace-late@example.com").await;
    h.clock
        .advance(shared::auth::service::REFRESH_GRACE_SECONDS);
    let late = h.refresh(&first).await;
    assert_eq!((late.status, code(&late)), (401, "REFRESH_TOKEN_REUSED"));
    let me = h.me(&access).await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
}

#[tokio::test]
async fn a_zero_window_turns_the_grace_off() {
    let h = Harness::with_env(&[("REFRESH_GRACE_SECONDS", "0")]);
    let (first, _) = rotated_with_lost_answer(&h, "grace-off@example.com").await;
    let retry = h.refresh(&first).await;
    assert_eq!((retry.status, code(&retry)), (401, "REFRESH_TOKEN_REUSED"));
}
