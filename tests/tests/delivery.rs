//! Provider events through the real queue the way a standard SQS queue may
//! deliver them: several consumers at once, each message possibly to two of
//! them at the same time, batches out of order, and the producer's own
//! duplicates. The wallet ends where one in-order delivery would leave it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_adapters::SqsQueue;
use e2e::{pump_queue, DynamoPayments};
use shared::ports::{RetryScheduler, StoreError, WalletStore, WebhookInbox, WebhookQueue};
use shared::wallet::model::RechargeStatus;
use shared::webhook::event::EventKind;

/// Failed messages come straight back (the pump receives with no
/// visibility timeout), so the test does not wait out the worker's backoff.
struct RetryAtOnce;

#[async_trait]
impl RetryScheduler for RetryAtOnce {
    async fn retry_after(&self, _receipt_handle: &str, _seconds: i32) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicated_reordered_events_on_three_consumers_settle_the_wallet_once() {
    let payments = DynamoPayments::pending().await;
    let paid = payments.succeeded(1_900_000_000).await;
    let DynamoPayments {
        applier,
        wallet,
        inbox,
        user_id,
        recharge_id,
    } = payments;
    let mut events = Vec::new();
    for total in [500, 1_200] {
        let mut refund = paid.clone();
        refund.kind = EventKind::Refunded;
        refund.amount = Some(total);
        refund.event_id = format!("evt_{}", shared::auth::secrets::new_id());
        inbox
            .record(&refund, refund.received_at + 86_400)
            .await
            .unwrap();
        events.push(refund);
    }
    events.push(paid);

    let queue_url = std::env::var("WEBHOOK_QUEUE_URL").expect("tests/run.sh sets it");
    let webhook_queue = SqsQueue::new(&aws_adapters::load_sdk_config().await, queue_url.clone());
    for event in events.iter().chain(events.iter()) {
        webhook_queue.enqueue_event(event).await.unwrap();
    }

    let app = webhook_worker::App {
        applier: Arc::try_unwrap(applier)
            .ok()
            .expect("the pump's worker holds the only applier"),
        retries: Arc::new(RetryAtOnce),
    };
    let deliveries = pump_queue(
        &queue_url,
        &recharge_id,
        events.len() * 2,
        3,
        Duration::from_secs(60),
        |batch| webhook_worker::handle_batch(&app, batch, None),
    )
    .await;
    println!("{deliveries} deliveries of {} messages", events.len() * 2);
    assert!(deliveries >= events.len() * 2, "{deliveries} deliveries");

    assert_eq!(
        testkit::balance(&*wallet, &user_id, "EUR").await,
        2_000 - 1_200,
        "credited 20.00 once, refunds debited up to their 12.00 total once"
    );
    let recharge = wallet.recharge(&recharge_id).await.unwrap().unwrap();
    assert_eq!(recharge.status, RechargeStatus::PartiallyRefunded);
    assert_eq!(recharge.refunded, 1_200);
}
