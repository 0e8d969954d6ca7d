//! CORS as a browser meets it: a preflight from an allowed origin is
//! answered with the allowed methods and headers, any other origin is
//! refused; real responses echo only an allowed origin. The allowlist is
//! the app's own: an app built without one allows no origin.

use std::sync::Arc;

use edge::cors::CorsPolicy;
use edge::lambda::HttpApp;
use shared::clock::SystemClock;
use testkit::memory::MemoryStore;
use testkit::{event, invoke, test_access_config, EventExt, Reply};

const ALLOWED: &str = "https://app.wallet.test";

async fn flags_call(ev: serde_json::Value) -> Reply {
    let store = Arc::new(MemoryStore::new());
    let app = flags::App::new(
        test_access_config(),
        store.clone(),
        store,
        Arc::new(SystemClock),
        10,
        300,
    )
    .with_cors(CorsPolicy::new(vec![ALLOWED.to_string()]).unwrap());
    invoke(|req| flags::handle(&app, req), ev).await
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let allowed = flags_call(
        event("flags-get")
            .method("OPTIONS")
            .header("Origin", ALLOWED)
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    assert_eq!(allowed.status, 204);
    assert_eq!(allowed.headers["access-control-allow-origin"], ALLOWED);
    assert!(allowed.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-device-id"));
    assert_eq!(allowed.headers["x-content-type-options"], "nosniff");

    let other = flags_call(
        event("flags-get")
            .method("OPTIONS")
            .header("Origin", "https://app.wallet.test.evil.example"),
    )
    .await;
    assert_eq!((other.status, other.code()), (403, "CORS_ORIGIN_REFUSED"));
    assert!(other.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn responses_echo_only_an_allowed_origin() {
    let allowed = flags_call(event("flags-get").header("Origin", ALLOWED)).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.headers["access-control-allow-origin"], ALLOWED);
    assert_eq!(allowed.headers["vary"], "Origin");

    let other = flags_call(event("flags-get").header("Origin", "https://evil.example")).await;
    assert_eq!(other.status, 200);
    assert!(other.headers.get("access-control-allow-origin").is_none());
    let no_origin = flags_call(event("flags-get")).await;
    assert!(no_origin
        .headers
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn an_app_built_without_an_allowlist_allows_no_origin() {
    let store = Arc::new(MemoryStore::new());
    let app = flags::App::new(
        test_access_config(),
        store.clone(),
        store,
        Arc::new(SystemClock),
        10,
        300,
    );
    let preflight = invoke(
        |req| flags::handle(&app, req),
        event("flags-get")
            .method("OPTIONS")
            .header("Origin", ALLOWED)
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    assert_eq!(
        (preflight.status, preflight.code()),
        (403, "CORS_ORIGIN_REFUSED")
    );
    let call = invoke(
        |req| flags::handle(&app, req),
        event("flags-get").header("Origin", ALLOWED),
    )
    .await;
    assert_eq!(call.status, 200);
    assert!(call.headers.get("access-control-allow-origin").is_none());
}
