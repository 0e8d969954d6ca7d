//! Backoff for SQS workers: a failed message stays hidden for a delay that
//! doubles with each receive before SQS delivers it again, so an outage of a
//! few minutes does not use up the queue's receive limit and send the
//! message to the dead-letter queue. A batch is worked through against its
//! invocation's deadline: messages not started in time, and a message still
//! running near it, are reported failed rather than lost with a timeout.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};

use crate::deadline::{Deadline, WORKER_CUT_RESERVE, WORKER_START_RESERVE};
use shared::ports::RetryScheduler;

/// First retry delay; each further receive doubles it, up to `MAX_RETRY_SECONDS`.
pub const FIRST_RETRY_SECONDS: i32 = 10;
/// The longest delay between two deliveries.
pub const MAX_RETRY_SECONDS: i32 = 900;

/// The delay before the next delivery after `receive_count` receives.
pub fn retry_delay(receive_count: u32) -> i32 {
    let doublings = receive_count.saturating_sub(1).min(10);
    (FIRST_RETRY_SECONDS << doublings).min(MAX_RETRY_SECONDS)
}

/// How many times SQS has delivered `record` (1 when it does not say).
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

/// Hides the failed `record` for its next delay and returns that delay.
/// If the delay cannot be set, the queue's own visibility timeout applies.
pub async fn retry_later(retries: &dyn RetryScheduler, record: &SqsMessage) -> i32 {
    let delay = retry_delay(receive_count(record));
    if let Some(handle) = record.receipt_handle.as_deref() {
        if let Err(err) = retries.retry_after(handle, delay).await {
            tracing::warn!(error = %err, "retry delay not set; the queue's default applies");
        }
    }
    delay
}

/// Handles `records` one at a time with `handle` (its error text is for
/// logs), within `deadline` when there is one: no message starts with less
/// than `WORKER_START_RESERVE` left, and one still running at
/// `WORKER_CUT_RESERVE` is dropped. Every failed or cut message gets its
/// retry delay while time remains; messages never started are reported
/// failed as they are, reappearing after the queue's visibility timeout.
/// `what` names the message kind in logs.
pub async fn handle_records<F, Fut>(
    records: Vec<SqsMessage>,
    deadline: Option<Deadline>,
    retries: &dyn RetryScheduler,
    what: &str,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut response = SqsBatchResponse::default();
    let mut not_started = Vec::new();
    for record in records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let outcome = match deadline {
            Some(deadline) if !deadline.has_more_than(WORKER_START_RESERVE) => {
                not_started.push(message_id);
                continue;
            }
            Some(deadline) => deadline
                .run(WORKER_CUT_RESERVE, handle(record.clone()))
                .await
                .unwrap_or_else(|| {
                    shared::metrics::count(shared::metrics::Event::DeadlineCut);
                    Err("cut short by the invocation's deadline".into())
                }),
            None => handle(record.clone()).await,
        };
        if let Err(reason) = outcome {
            let delay = match deadline {
                Some(deadline) => deadline
                    .run(RETRY_RESERVE, retry_later(retries, &record))
                    .await
                    .unwrap_or(0),
                None => retry_later(retries, &record).await,
            };
            tracing::warn!(message_id = %message_id, reason = %reason, receives = receive_count(&record), delay, "{what} left for retry");
            response.add_failure(message_id);
        }
    }
    if !not_started.is_empty() {
        for _ in &not_started {
            shared::metrics::count(shared::metrics::Event::DeadlineCut);
        }
        tracing::warn!(
            count = not_started.len(),
            "deadline near: {what}s not started, left for redelivery"
        );
        for message_id in not_started {
            response.add_failure(message_id);
        }
    }
    response
}

/// What a worker keeps back, after a failure, to answer its batch.
const RETRY_RESERVE: std::time::Duration = std::time::Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_ten_seconds_to_fifteen_minutes() {
        let delays: Vec<i32> = (1..=9).map(retry_delay).collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(retry_delay(0), 10);
        assert_eq!(retry_delay(u32::MAX), 900);
    }
}
