//! DynamoDB adapter for received webhook events: `EVT#<provider>#<event id>`
//! in the webhooks table with `status` (`stored`, `processed`) and `ttl`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::db::{key, names, unavailable, values, Db};
use super::item::{n, opt_s, s};
use shared::config::{required, ConfigError, Env};
use shared::ports::{InboxOutcome, StoreError, WebhookInbox};
use shared::webhook::event::ProviderEvent;

/// Received events on DynamoDB.
#[derive(Clone)]
pub struct DynamoInbox {
    db: Db,
    table: String,
}

fn event_key(provider: &str, event_id: &str) -> String {
    format!("EVT#{provider}#{event_id}")
}

impl DynamoInbox {
    pub fn new(config: &aws_config::SdkConfig, table: String) -> Self {
        Self {
            db: Db::new(config),
            table,
        }
    }

    /// Reads `WEBHOOKS_TABLE`.
    pub fn table_from_env(env: &dyn Env) -> Result<String, ConfigError> {
        required(env, "WEBHOOKS_TABLE")
    }

    /// How many DynamoDB requests this store has sent.
    pub fn calls(&self) -> u64 {
        self.db.calls()
    }
}

#[async_trait]
impl WebhookInbox for DynamoInbox {
    async fn record(
        &self,
        event: &ProviderEvent,
        expires_at: i64,
    ) -> Result<InboxOutcome, StoreError> {
        let mut item = key(event_key(&event.provider, &event.event_id));
        item.insert(
            "data".into(),
            s(serde_json::to_string(event).map_err(|e| StoreError::Unavailable(e.to_string()))?),
        );
        item.insert("status".into(), s("stored"));
        item.insert("ttl".into(), n(expires_at));
        let put = self
            .db
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .set_expression_attribute_names(names(&[("#ttl", "ttl")]))
            .set_expression_attribute_values(values(vec![(":now", n(event.received_at))]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = self.db.send_write(|| put.clone().send()).await;
        let old = match put {
            Ok(_) => return Ok(InboxOutcome::New),
            Err(err) => match err.as_service_error() {
                Some(service) if service.is_conditional_check_failed_exception() => {
                    match service {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => e.item().cloned(),
                        _ => None,
                    }
                }
                _ => return Err(unavailable(err)),
            },
        };
        let old = match old {
            Some(item) => Some(item),
            None => {
                self.db
                    .get(&self.table, event_key(&event.provider, &event.event_id))
                    .await?
            }
        };
        Ok(
            match old
                .as_ref()
                .and_then(|item| opt_s(item, "status"))
                .as_deref()
            {
                Some("processed") => InboxOutcome::Processed,
                _ => InboxOutcome::Stored,
            },
        )
    }

    async fn mark_processed(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        let update = self
            .db
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(event_key(provider, event_id))))
            .update_expression("SET #status = :done")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(names(&[("#status", "status")]))
            .set_expression_attribute_values(values(vec![(":done", s("processed"))]));
        if self.db.conditional_update(update).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}
