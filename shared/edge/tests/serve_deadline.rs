//! `HttpShell::serve` against the invocation's deadline: a request still
//! running near it is answered 503; one that ends in time keeps its answer.
use edge::http::ApiError;
use edge::lambda::{HttpShell, Served};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use std::time::Duration;

fn request_with_deadline(left: Duration) -> Request {
    let event = testkit::event("recharge-get");
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    testkit::with_deadline(req, left)
}

#[tokio::test]
async fn a_request_still_running_near_its_deadline_is_answered_503() {
    let started = tokio::time::Instant::now();
    let response = HttpShell::new("test")
        .serve(
            request_with_deadline(Duration::from_millis(1_500)),
            |_, _| std::future::pending::<Served>(),
        )
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value =
        serde_json::from_slice(edge::http::body_bytes(response.body())).unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(1_500),
        "answered {elapsed:?} in, before the 1.5 s deadline"
    );
}

#[tokio::test]
async fn a_request_that_ends_in_time_keeps_its_answer() {
    let response = HttpShell::new("test")
        .serve(
            request_with_deadline(Duration::from_secs(10)),
            |_, _| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(ApiError::new(StatusCode::CONFLICT, "BUSY", "busy"))
            },
        )
        .await;
    assert_eq!(response.status(), 409);
}
