//! The SQS batch loop against the invocation's deadline: messages not
//! started in time and one still running near it are reported failed.

use aws_lambda_events::event::sqs::SqsMessage;
use edge::deadline::{Deadline, WORKER_CUT_RESERVE};
use edge::queue_retry::handle_records;

fn message(n: u32) -> SqsMessage {
    serde_json::from_value(serde_json::json!({
        "messageId": format!("m-{n}"),
        "receiptHandle": format!("rh-{n}"),
        "body": n.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_batch_stops_before_its_deadline_and_reports_the_rest() {
    let retries = testkit::memory::MemoryStore::new();
    let started = std::sync::Mutex::new(Vec::new());
    let deadline = Deadline::after(std::time::Duration::from_millis(7_200));
    let response = handle_records(
        vec![message(1), message(2), message(3)],
        Some(deadline),
        &retries,
        "test message",
        |record| {
            let body = record.body.clone().unwrap_or_default();
            started.lock().unwrap().push(body.clone());
            async move {
                match body.as_str() {
                    "1" => tokio::time::sleep(std::time::Duration::from_millis(600)).await,
                    _ => std::future::pending::<()>().await,
                }
                Ok(())
            }
        },
    )
    .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-2", "m-3"]);
    assert_eq!(
        *started.lock().unwrap(),
        vec!["1", "2"],
        "the third never started"
    );
    assert_eq!(
        retries.retries(),
        vec![("rh-2".to_string(), 10)],
        "the cut message waits its backoff; the one never started is left as it is"
    );
    let left = deadline.remaining();
    assert!(
        left <= WORKER_CUT_RESERVE && left > std::time::Duration::from_secs(2),
        "stopped at the cut reserve, {left:?} before the deadline"
    );
}

#[tokio::test]
async fn without_a_deadline_every_message_is_handled() {
    let retries = testkit::memory::MemoryStore::new();
    let response = handle_records(
        vec![message(1), message(2)],
        None,
        &retries,
        "test message",
        |record| async move {
            match record.body.as_deref() {
                Some("2") => Err("refused".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(retries.retries(), vec![("rh-2".to_string(), 10)]);
}
