//! What DynamoDB answers that a retry fixes: the reasons a transaction was
//! cancelled, the single-write conflict code, and the backoff between
//! retries inside the adapter.

use std::time::Duration;

use rand::Rng;

/// Retries after a transient refusal (conflict or throttling) before the
/// adapter gives up with `StoreError::Unavailable`.
pub const TRANSIENT_RETRIES: u32 = 3;
/// Shortest and longest backoff ceilings, in milliseconds.
const BACKOFF_BASE_MS: u64 = 25;
const BACKOFF_CAP_MS: u64 = 200;

/// The code a single write gets when it touches an item inside a pending
/// transaction; the SDK does not retry it.
pub const TRANSACTION_CONFLICT_EXCEPTION: &str = "TransactionConflictException";

/// Cancellation codes that say nothing about the conditions: another
/// transaction held an item, or the request was throttled.
const TRANSIENT_CODES: [&str; 4] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// What a `TransactionCanceledException` means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancellation {
    /// Only conditions failed: the code of each item (`None` where it was
    /// fine), every `Some` being `ConditionalCheckFailed`.
    ConditionFailed(Vec<Option<String>>),
    /// A conflict or throttling cancelled it; nothing was evaluated to an
    /// answer, so the same transaction may be sent again.
    Transient,
    /// Anything else (validation, size limits, no reasons at all).
    Failed,
}

/// Classifies the cancellation reasons of a transaction, one per item in
/// order (`None` where the item was fine, DynamoDB's `"None"` included).
/// A transient code anywhere wins: the conditions are evaluated again on
/// the retry, so a real condition failure shows up then.
pub fn classify(reasons: &[Option<String>]) -> Cancellation {
    let codes = || reasons.iter().flatten().map(String::as_str);
    if codes().any(|code| TRANSIENT_CODES.contains(&code)) {
        return Cancellation::Transient;
    }
    if codes().next().is_some() && codes().all(|code| code == CONDITION_FAILED) {
        return Cancellation::ConditionFailed(reasons.to_vec());
    }
    Cancellation::Failed
}

/// The pause before retry number `attempt` (0-based): "equal jitter" on an
/// exponential ceiling of 25, 50, 100 then 200 ms.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE_MS
        .saturating_mul(1 << attempt.min(8))
        .min(BACKOFF_CAP_MS);
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[Option<&str>]) -> Vec<Option<String>> {
        codes.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn condition_failures_alone_are_condition_failures() {
        let r = reasons(&[None, Some("ConditionalCheckFailed"), None]);
        assert_eq!(classify(&r), Cancellation::ConditionFailed(r.clone()));
    }

    #[test]
    fn a_conflict_or_throttling_anywhere_is_transient() {
        for code in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
            "RequestLimitExceeded",
        ] {
            assert_eq!(
                classify(&reasons(&[Some(code), None])),
                Cancellation::Transient
            );
            assert_eq!(
                classify(&reasons(&[Some("ConditionalCheckFailed"), Some(code)])),
                Cancellation::Transient,
                "{code} beside a condition failure"
            );
        }
    }

    #[test]
    fn other_codes_or_no_reasons_are_failures() {
        assert_eq!(
            classify(&reasons(&[Some("ValidationError"), None])),
            Cancellation::Failed
        );
        assert_eq!(
            classify(&reasons(&[Some("ItemCollectionSizeLimitExceeded")])),
            Cancellation::Failed
        );
        assert_eq!(
            classify(&reasons(&[
                Some("ConditionalCheckFailed"),
                Some("ValidationError")
            ])),
            Cancellation::Failed
        );
        assert_eq!(classify(&reasons(&[None, None])), Cancellation::Failed);
        assert_eq!(classify(&[]), Cancellation::Failed);
    }

    #[test]
    fn backoff_is_jittered_within_25_to_200_ms() {
        for attempt in 0..10 {
            let ceiling = (25u64 << attempt.min(8)).min(200);
            for _ in 0..50 {
                let pause = backoff(attempt).as_millis() as u64;
                assert!(
                    (ceiling / 2..=ceiling).contains(&pause),
                    "attempt {attempt}: {pause} ms"
                );
            }
        }
        let total: Duration = (0..TRANSIENT_RETRIES).map(backoff).sum();
        assert!(total <= Duration::from_millis(175));
    }
}
