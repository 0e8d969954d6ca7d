//! The time an invocation has left. Lambda kills an invocation at its
//! deadline without a word; an HTTP function answers 503 shortly before it
//! and a queue worker stops taking messages, so a slow dependency ends in a
//! clear answer (and a retry with backoff) rather than a timeout.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// What an HTTP function keeps back to write its 503 and its log line.
pub const HTTP_RESERVE: Duration = Duration::from_secs(1);
/// A queue worker starts no message with less than this left.
pub const WORKER_START_RESERVE: Duration = Duration::from_secs(6);
/// A queue worker abandons a message still running with this left, which
/// covers scheduling the retries and answering the batch.
pub const WORKER_CUT_RESERVE: Duration = Duration::from_secs(3);

/// Lambda's longest function timeout.
const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// How far the wall clock and a context's deadline may disagree.
const PLAUSIBLE_SKEW: Duration = Duration::from_secs(60);

/// When the invocation ends, on the runtime's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// The deadline `left` from now.
    pub fn after(left: Duration) -> Self {
        Self {
            at: Instant::now() + left,
        }
    }

    /// The deadline of a Lambda context (`deadline_ms`, milliseconds since
    /// the epoch) read at wall-clock time `now`; a deadline just passed
    /// leaves no time. `None` for a value no Lambda runtime gives: more than
    /// `PLAUSIBLE_SKEW` in the past, or beyond Lambda's 15-minute maximum
    /// timeout (local emulators send a fixed number, `cargo lambda watch`
    /// 600000).
    pub fn from_epoch_ms(deadline_ms: u64, now: SystemTime) -> Option<Self> {
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let skew = PLAUSIBLE_SKEW.as_millis() as u64;
        let latest = now_ms.saturating_add(LAMBDA_MAX_TIMEOUT.as_millis() as u64 + skew);
        if deadline_ms.saturating_add(skew) < now_ms || deadline_ms > latest {
            return None;
        }
        Some(Self::after(Duration::from_millis(
            deadline_ms.saturating_sub(now_ms),
        )))
    }

    /// The time left.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether more than `reserve` is left.
    pub fn has_more_than(&self, reserve: Duration) -> bool {
        self.remaining() > reserve
    }

    /// Runs `work` until `reserve` before the deadline; `None` if it was cut
    /// (or there was no time to start it).
    pub async fn run<T>(&self, reserve: Duration, work: impl Future<Output = T>) -> Option<T> {
        if !self.has_more_than(reserve) {
            return None;
        }
        let cut_at = self.at.checked_sub(reserve).unwrap_or(self.at);
        tokio::time::timeout_at(cut_at, work).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_context_deadline_counts_from_the_wall_clock() {
        let now = SystemTime::now();
        let now_ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let left = Deadline::from_epoch_ms(now_ms + 2_500, now)
            .unwrap()
            .remaining();
        assert!(left <= Duration::from_millis(2_500) && left > Duration::from_millis(2_000));
        let passed = Deadline::from_epoch_ms(now_ms - 1_000, now).unwrap();
        assert_eq!(passed.remaining(), Duration::ZERO);
        let longest = Deadline::from_epoch_ms(now_ms + 900_000, now).unwrap();
        assert!(longest.remaining() > Duration::from_secs(899));
    }

    #[test]
    fn values_no_lambda_runtime_gives_are_no_deadline() {
        let now = SystemTime::now();
        let now_ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert_eq!(Deadline::from_epoch_ms(0, now), None);
        assert_eq!(
            Deadline::from_epoch_ms(600_000, now),
            None,
            "cargo lambda watch's fixed header"
        );
        assert_eq!(Deadline::from_epoch_ms(now_ms - 120_000, now), None);
        assert_eq!(Deadline::from_epoch_ms(now_ms + 3_600_000, now), None);
        assert_eq!(Deadline::from_epoch_ms(u64::MAX, now), None);
    }

    #[tokio::test]
    async fn work_is_cut_its_reserve_before_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(1_300));
        let started = Instant::now();
        let cut = deadline
            .run(Duration::from_secs(1), std::future::pending::<()>())
            .await;
        assert_eq!(cut, None);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1_300));
    }

    #[tokio::test]
    async fn work_that_ends_in_time_keeps_its_result() {
        let deadline = Deadline::after(Duration::from_secs(10));
        let done = deadline
            .run(Duration::from_secs(1), async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                7
            })
            .await;
        assert_eq!(done, Some(7));
    }

    #[tokio::test]
    async fn nothing_starts_inside_the_reserve() {
        let deadline = Deadline::after(Duration::from_millis(900));
        let started = std::sync::atomic::AtomicBool::new(false);
        let run = deadline
            .run(Duration::from_secs(1), async {
                started.store(true, std::sync::atomic::Ordering::SeqCst);
            })
            .await;
        assert_eq!(run, None);
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
    }
}
