//! The signed-in user's sessions and password change, through the handler.

mod common;

use common::*;
use serde_json::json;

const NEW_PASSWORD: &str = "saffron lighthouse 77";
const PHONE: &str = "phone-0002-sample";

async fn sign_in_on(h: &Harness, email: &str, device: &str) -> serde_json::Value {
    let reply = h
        .call(
            event("login")
                .body(json!({"email": email, "password": PASSWORD}))
                .device(device),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn access(pair: &serde_json::Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

async fn sessions(h: &Harness, pair: &serde_json::Value, device: &str) -> Reply {
    h.call(event("sessions").bearer(access(pair)).device(device))
        .await
}

#[tokio::test]
async fn the_owner_lists_live_sessions_with_the_current_one_marked() {
    let h = Harness::new();
    let laptop = h.signed_in("list@example.com").await;
    let phone = sign_in_on(&h, "list@example.com", PHONE).await;
    h.clock.advance(60);
    let refreshed = h
        .call(
            event("refresh")
                .body(json!({"refresh_token": phone["refresh_token"]}))
                .device(PHONE),
        )
        .await;
    assert_eq!(refreshed.status, 200);

    let listed = sessions(&h, &laptop, DEVICE).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let all = listed.body["sessions"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    let mine: Vec<_> = all.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["session_id"], laptop["session_id"]);
    assert_eq!(mine[0]["device_hint"], "…mple");
    let other = all.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["session_id"], phone["session_id"]);
    let text = listed.body.to_string();
    assert!(
        !text.contains(PHONE) && !text.contains(DEVICE),
        "whole device ids bind tokens and mark devices known: never listed"
    );
    assert_eq!(
        other["last_used_at"].as_i64().unwrap() - other["created_at"].as_i64().unwrap(),
        60,
        "a refresh counts as use"
    );
}

#[tokio::test]
async fn ending_one_session_refuses_its_tokens_at_once() {
    let h = Harness::new();
    let laptop = h.signed_in("one@example.com").await;
    let phone = sign_in_on(&h, "one@example.com", PHONE).await;
    let path = format!(
        "/v1/auth/sessions/{}",
        phone["session_id"].as_str().unwrap()
    );
    let ended = h
        .call(event("revoke-session").path(&path).bearer(access(&laptop)))
        .await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    let me = h
        .call(event("me").bearer(access(&phone)).device(PHONE))
        .await;
    assert_eq!((me.status, code(&me)), (401, "SESSION_REVOKED"));
    assert_eq!(h.me(access(&laptop)).await.status, 200);
}

#[tokio::test]
async fn nobody_ends_another_accounts_session() {
    let h = Harness::new();
    let mallory = h.signed_in("mallory@example.com").await;
    let victim = sign_in_on(
        &h,
        &{
            h.register("victim@example.com", PASSWORD).await;
            "victim@example.com".to_string()
        },
        PHONE,
    )
    .await;
    for target in [victim["session_id"].as_str().unwrap(), "no-such-session"] {
        let path = format!("/v1/auth/sessions/{target}");
        let reply = h
            .call(event("revoke-session").path(&path).bearer(access(&mallory)))
            .await;
        assert_eq!((reply.status, code(&reply)), (404, "NOT_FOUND"), "{target}");
    }
    let me = h
        .call(event("me").bearer(access(&victim)).device(PHONE))
        .await;
    assert_eq!(me.status, 200, "the victim's session still stands");
}

#[tokio::test]
async fn ending_every_other_session_answers_fresh_tokens() {
    let h = Harness::new();
    let laptop = h.signed_in("others@example.com").await;
    let phone = sign_in_on(&h, "others@example.com", PHONE).await;
    let reply = h.call(event("revoke-others").bearer(access(&laptop))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let fresh = reply.body;
    assert_ne!(fresh["session_id"], laptop["session_id"]);

    for (pair, device) in [(&laptop, DEVICE), (&phone, PHONE)] {
        let me = h
            .call(event("me").bearer(access(pair)).device(device))
            .await;
        assert_eq!(code(&me), "SESSION_REVOKED");
        let refresh = h
            .call(
                event("refresh")
                    .body(json!({"refresh_token": pair["refresh_token"]}))
                    .device(device),
            )
            .await;
        assert_eq!(refresh.status, 401, "{}", refresh.body);
    }
    assert_eq!(h.me(access(&fresh)).await.status, 200);
    let rotated = h.refresh(fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let listed = sessions(&h, &rotated.body, DEVICE).await;
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_other_sessions() {
    let h = Harness::new();
    let laptop = h.signed_in("change@example.com").await;
    let phone = sign_in_on(&h, "change@example.com", PHONE).await;
    let change = |current: &str, new: &str| {
        h.call(
            event("change-password")
                .body(json!({"current_password": current, "new_password": new}))
                .bearer(access(&laptop)),
        )
    };
    let wrong = change("not my password", NEW_PASSWORD).await;
    assert_eq!((wrong.status, code(&wrong)), (401, "INVALID_CREDENTIALS"));
    let weak = change(PASSWORD, "short").await;
    assert_eq!((weak.status, code(&weak)), (400, "VALIDATION_FAILED"));
    assert_eq!(
        h.login("change@example.com", PASSWORD).await.status,
        200,
        "refusals change nothing"
    );
    assert_eq!(
        h.call(event("me").bearer(access(&phone)).device(PHONE))
            .await
            .status,
        200
    );

    let changed = change(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let me = h
        .call(event("me").bearer(access(&phone)).device(PHONE))
        .await;
    assert_eq!(code(&me), "SESSION_REVOKED");
    assert_eq!(h.me(access(&changed.body)).await.status, 200);
    assert_eq!(h.login("change@example.com", PASSWORD).await.status, 401);
    assert_eq!(
        h.login("change@example.com", NEW_PASSWORD).await.status,
        200
    );
    assert!(h
        .subjects_to("change@example.com")
        .contains(&"Wallet: your password was changed".to_string()));
}

#[tokio::test]
async fn wrong_current_passwords_count_towards_the_lockout() {
    let h = Harness::new();
    let pair = h.signed_in("guess@example.com").await;
    let mut last = None;
    for _ in 0..6 {
        let reply = h
            .call(
                event("change-password")
                    .body(json!({"current_password": "a wrong guess 1", "new_password": NEW_PASSWORD}))
                    .bearer(access(&pair)),
            )
            .await;
        last = Some(reply.status);
    }
    assert_eq!(
        last,
        Some(423),
        "the account locks like after failed sign-ins"
    );
}

#[tokio::test]
async fn ending_other_sessions_never_lengthens_the_asking_one() {
    let h = Harness::new();
    let pair = h.signed_in("keep@example.com").await;
    let lifetime = pair["refresh_expires_in"].as_i64().unwrap();
    h.clock.advance(10 * 24 * 3600);
    let refreshed = h.refresh(pair["refresh_token"].as_str().unwrap()).await;
    let reply = h
        .call(event("revoke-others").bearer(access(&refreshed.body)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["refresh_expires_in"].as_i64().unwrap(),
        lifetime - 10 * 24 * 3600,
        "the restarted session ends when the asking one would have"
    );
    let listed = sessions(&h, &reply.body, DEVICE).await;
    let created = listed.body["sessions"][0]["created_at"].as_i64().unwrap();
    assert_eq!(created, START, "it keeps the sign-in time");
}
