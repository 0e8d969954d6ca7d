//! Backoff for SQS workers: a failed message stays hidden for a delay that
//! doubles with each receive before SQS delivers it again, so an outage of a
//! few minutes does not use up the queue's receive limit and send the
//! message to the dead-letter queue.

use aws_lambda_events::event::sqs::SqsMessage;

use crate::ports::RetryScheduler;

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
