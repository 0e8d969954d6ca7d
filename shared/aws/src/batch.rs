//! Batch reads until every key is answered: DynamoDB may leave keys
//! unprocessed (throughput, size limits); they are asked again after a
//! jittered pause that doubles each round, for a bounded number of rounds,
//! then the read is `Unavailable`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use rand::Rng;

use super::db::{unavailable, Db};
use super::item::Item;
use shared::ports::StoreError;

/// BatchGetItem requests at most per read (so at most one fewer pauses).
pub const BATCH_ROUNDS: u32 = 4;
const PAUSE_BASE_MS: u64 = 25;
const PAUSE_CAP_MS: u64 = 200;

/// The pause before round `round + 1`: between half and all of 25 ms
/// doubled `round` times, at most 200 ms.
pub fn pause(round: u32) -> Duration {
    let ceiling = PAUSE_BASE_MS
        .saturating_mul(1 << round.min(8))
        .min(PAUSE_CAP_MS);
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

/// Runs batch reads, counting the pauses it takes between rounds.
#[derive(Clone, Default)]
pub struct BatchReader {
    pauses: Arc<AtomicU64>,
}

impl BatchReader {
    /// Pauses taken so far between rounds.
    pub fn pauses(&self) -> u64 {
        self.pauses.load(Ordering::Relaxed)
    }

    /// Every item of `request` that exists, once all its keys were answered.
    pub async fn get_all(
        &self,
        db: &Db,
        request: HashMap<String, KeysAndAttributes>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut pending = request;
        for round in 0..BATCH_ROUNDS {
            if round > 0 {
                self.pauses.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(pause(round - 1)).await;
            }
            db.count_call();
            let out = db
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(unavailable)?;
            for (_, mut table_items) in out.responses.unwrap_or_default() {
                items.append(&mut table_items);
            }
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
        }
        Err(StoreError::Unavailable(format!(
            "batch read left keys unprocessed after {BATCH_ROUNDS} rounds"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_jittered_and_double_up_to_200_ms() {
        for round in 0..12 {
            let ceiling = (25u64 << round.min(8)).min(200);
            for _ in 0..50 {
                let ms = pause(round).as_millis() as u64;
                assert!(
                    (ceiling / 2..=ceiling).contains(&ms),
                    "round {round}: {ms} ms"
                );
            }
        }
    }
}
