//! The DynamoDB client every adapter shares: request counting, and the
//! conditional-write outcomes the ports need.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::item::{s, Item};
use super::transient::{
    backoff, classify, Cancellation, TRANSACTION_CONFLICT_EXCEPTION, TRANSIENT_RETRIES,
};
use shared::ports::StoreError;

/// A DynamoDB client that counts the requests it sends.
#[derive(Clone)]
pub struct Db {
    pub client: Client,
    calls: Arc<AtomicU64>,
}

pub fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    err: SdkError<E, R>,
) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(err).to_string())
}

pub fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Unavailable(format!("request build: {e}")))
}

pub fn key(pk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk))])
}

pub fn names(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub fn values(pairs: Vec<(&str, AttributeValue)>) -> Option<HashMap<String, AttributeValue>> {
    Some(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl Db {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Requests sent so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Counts one request about to be sent.
    pub fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// A strongly consistent read of the item with partition key `pk`.
    pub async fn get(&self, table: &str, pk: String) -> Result<Option<Item>, StoreError> {
        self.count_call();
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Runs a transaction; `Ok(false)` when a condition cancelled it.
    /// Conflicts and throttling are retried (see `transact_with_reasons`).
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        Ok(self.transact_with_reasons(items).await?.is_none())
    }

    /// Runs a transaction; when conditions cancelled it, returns the
    /// cancellation code of each item (`None` where the item was fine; every
    /// code is `ConditionalCheckFailed`). A cancellation for a conflict with
    /// another transaction or for throttling is retried with jittered
    /// backoff, then answered `Unavailable`, as is any other cancellation.
    /// Each send carries the SDK's own `ClientRequestToken`, so the SDK's
    /// retry of an attempt whose answer was lost does not apply it twice.
    pub async fn transact_with_reasons(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<Option<String>>>, StoreError> {
        let mut attempt = 0;
        loop {
            let reasons = self.transact_once(items.clone()).await?;
            let Some(reasons) = reasons else {
                return Ok(None);
            };
            match classify(&reasons) {
                Cancellation::ConditionFailed(reasons) => return Ok(Some(reasons)),
                Cancellation::Transient if attempt < TRANSIENT_RETRIES => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Cancellation::Transient | Cancellation::Failed => {
                    return Err(StoreError::Unavailable(format!(
                        "transaction cancelled: {reasons:?}"
                    )))
                }
            }
        }
    }

    /// One TransactWriteItems: `Some(codes)` when it was cancelled.
    async fn transact_once(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<Option<String>>>, StoreError> {
        self.count_call();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                    Ok(Some(
                        cancel
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                            .collect(),
                    ))
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    /// Sends a single write, again after a `TransactionConflictException`
    /// (the item was inside a pending transaction; the SDK does not retry
    /// that), with jittered backoff and at most `TRANSIENT_RETRIES` times.
    pub async fn send_write<T, E, R, F, Fut>(&self, mut send: F) -> Result<T, SdkError<E, R>>
    where
        E: ProvideErrorMetadata,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    {
        let mut attempt = 0;
        loop {
            self.count_call();
            match send().await {
                Err(err)
                    if attempt < TRANSIENT_RETRIES
                        && err.as_service_error().and_then(|e| e.code())
                            == Some(TRANSACTION_CONFLICT_EXCEPTION) =>
                {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Every item `query` matches, page after page.
    pub async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            self.count_call();
            let page = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Runs a put; `Ok(false)` when its condition did not hold (conflicts
    /// with a pending transaction are retried, see `send_write`).
    pub async fn conditional_put(
        &self,
        builder: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        condition_held(self.send_write(|| builder.clone().send()).await)
    }

    /// Runs a delete; `Ok(false)` when its condition did not hold.
    pub async fn conditional_delete(
        &self,
        builder: aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        condition_held(self.send_write(|| builder.clone().send()).await)
    }

    /// Runs an update; `Ok(false)` when its condition did not hold.
    pub async fn conditional_update(
        &self,
        builder: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        condition_held(self.send_write(|| builder.clone().send()).await)
    }
}

/// `Ok(true)` when a conditional write went through, `Ok(false)` when its
/// condition did not hold, the dependency error otherwise.
fn condition_held<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(unavailable(err)),
    }
}
