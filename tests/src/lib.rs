//! Helpers for tests that run against the local AWS stand-in (moto's
//! server) started by `tests/run.sh`.

use serde_json::Value;

/// The stand-in's endpoint. Panics with directions when the tests were not
/// started through `tests/run.sh` (these tests are never skipped).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run these tests with tests/run.sh, which starts the local AWS stand-in")
    })
}

/// A fresh address under a test-only domain.
pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.test", shared::auth::secrets::new_id())
}

/// Emails the stand-in recorded for `to`, as (subject, body), oldest first.
/// Every message the stand-in sent, as (recipients, subject, body), in one
/// read of its state (which is slow: read it once per test, not per address).
pub fn sent_emails() -> Vec<(Vec<String>, String, String)> {
    let text = ureq::get(&format!("{}/moto-api/data.json", endpoint()))
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let data: Value = serde_json::from_str(&text).expect("JSON");
    data["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    let to = m["destinations"]["ToAddresses"]
                        .as_array()
                        .map(|list| {
                            list.iter()
                                .filter_map(|t| t.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    (
                        to,
                        m["subject"].as_str().unwrap_or_default().to_string(),
                        m["body"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn emails_to(to: &str) -> Vec<(String, String)> {
    let text = ureq::get(&format!("{}/moto-api/data.json", endpoint()))
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let data: Value = serde_json::from_str(&text).expect("JSON");
    data["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|to_list| to_list.iter().any(|t| t == to))
                })
                .map(|m| {
                    (
                        m["subject"].as_str().unwrap_or_default().to_string(),
                        m["body"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The configuration set of each message the stand-in sent to `to`
/// (`None`: sent without one), oldest first.
pub fn configuration_sets_used(to: &str) -> Vec<Option<String>> {
    let text = ureq::get(&format!("{}/_stand_in/mail", endpoint()))
        .query("to", to)
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let data: Value = serde_json::from_str(&text).expect("JSON");
    data["configuration_sets"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|set| set.as_str().map(str::to_string))
        .collect()
}

/// How an injected fault misbehaves (see `infra/local/stand_in.py`).
#[derive(Debug, Clone, Copy)]
pub enum FaultMode {
    /// The service's throttling error, retried by the SDK with backoff.
    Throttle,
    /// HTTP 500.
    Fail,
    /// Held for the given seconds, then failed unapplied.
    StallDrop(f64),
    /// Held for the given seconds, then applied (a lost response).
    StallApply(f64),
    /// (`dynamodb:TransactWriteItems`) cancelled, not applied, with the
    /// cancellation `code` (`TransactionConflict`, `ThrottlingError`, ...)
    /// at item `position` and `None` at the others.
    Cancel { code: &'static str, position: usize },
    /// (`dynamodb:PutItem`/`UpdateItem`/`DeleteItem`) refused with
    /// `TransactionConflictException`, not applied.
    Conflict,
    /// Applied, then answered HTTP 500: a write whose answer was lost, which
    /// the SDK sends again (a TransactWriteItems with its same
    /// `ClientRequestToken`, which the stand-in honours).
    ApplyFail,
    /// (`dynamodb:BatchGetItem`) only the request's first key read, the
    /// others (a one-key request: its key) answered in `UnprocessedKeys`.
    Unprocessed,
    /// (`ses`) `MessageRejected`, not sent: the SES sandbox refusing a
    /// recipient that is not a verified identity.
    Reject,
    /// (`ses`) `AccessDeniedException` naming the recipient: the sandbox
    /// refusing a role that may not send to that recipient.
    Deny,
}

/// Makes the stand-in misbehave on the next `times` requests to `service`
/// (`dynamodb:<Operation>`, `sqs`, `ses` or `s3`) whose body contains
/// `matching` (a key of the calling test's own, so other tests are not hit).
pub fn inject_fault(service: &str, matching: &str, mode: FaultMode, times: u32) {
    let cancel = match mode {
        FaultMode::Cancel { code, position } => Some((code, position)),
        _ => None,
    };
    let (mode, seconds) = match mode {
        FaultMode::Throttle => ("throttle", 0.0),
        FaultMode::Fail => ("fail", 0.0),
        FaultMode::StallDrop(s) => ("stall_drop", s),
        FaultMode::StallApply(s) => ("stall_apply", s),
        FaultMode::Cancel { .. } => ("cancel", 0.0),
        FaultMode::Conflict => ("conflict", 0.0),
        FaultMode::ApplyFail => ("apply_fail", 0.0),
        FaultMode::Unprocessed => ("unprocessed", 0.0),
        FaultMode::Reject => ("reject", 0.0),
        FaultMode::Deny => ("deny", 0.0),
    };
    let mut fault = serde_json::json!({
        "service": service, "match": matching, "mode": mode, "times": times, "seconds": seconds,
    });
    if let Some((code, position)) = cancel {
        fault["code"] = code.into();
        fault["position"] = position.into();
    }
    ureq::post(&format!("{}/_stand_in/faults", endpoint()))
        .send_string(&fault.to_string())
        .expect("the stand-in takes the fault");
}

/// The recharge function over the DynamoDB and SQS adapters on the stand-in,
/// with a signed-in user of its own on a device of its own.
pub struct RechargeStack {
    pub app: recharge::App,
    pub wallet: aws_adapters::DynamoWallet,
    pub users: aws_adapters::DynamoStore,
    pub user_id: String,
    pub token: String,
    /// A device of this stack's own, so scoring sees no shared device.
    pub device: String,
}

impl RechargeStack {
    /// Builds the stack with policy `overrides`; `clock` drives the function.
    pub async fn new(
        overrides: &[(&str, &str)],
        clock: std::sync::Arc<dyn shared::clock::Clock>,
    ) -> Self {
        use aws_adapters::{
            load_sdk_config, DynamoFlags, DynamoStore, DynamoWallet, SqsQueue, TableNames,
            WalletTables,
        };
        use shared::auth::model::Role;
        use shared::config::ProcessEnv;
        use std::sync::Arc;
        use testkit::{signed_in_account, test_access_config, test_signer};

        endpoint();
        let sdk = load_sdk_config().await;
        let tables = TableNames::from_env(&ProcessEnv).unwrap();
        let wallet = DynamoWallet::new(&sdk, WalletTables::from_env(&ProcessEnv).unwrap())
            .with_session_tables(&tables.users, &tables.sessions);
        let users = DynamoStore::new(&sdk, tables);
        let flags = DynamoFlags::new(&sdk, DynamoFlags::table_from_env(&ProcessEnv).unwrap())
            .in_namespace(&shared::auth::secrets::new_id());
        let queue = SqsQueue::new(&sdk, SqsQueue::url_from_env(&ProcessEnv).unwrap());
        let now = clock.now();
        let (user_id, shared_device_token) =
            signed_in_account(&users, &users, Role::User, &["pwd"], "203.0.113.10", now).await;
        let claims = testkit::claims(&shared_device_token);
        let device = format!("device-{}", shared::auth::secrets::new_id());
        let amr = vec!["pwd".to_string()];
        let token = test_signer().issue(
            &shared::auth::tokens::TokenSubject {
                user_id: &user_id,
                session_id: claims["sid"].as_str().unwrap(),
                device_id: &device,
                role: Role::User,
                amr: &amr,
                ip: None,
            },
            now,
        );
        let ports = shared::wallet::service::WalletPorts {
            audit_keys: testkit::test_audit_keys(),
            wallet: Arc::new(wallet.clone()),
            idempotency: Arc::new(wallet.clone()),
            users: Arc::new(users.clone()),
            liveness: Arc::new(users.clone()),
            reviews: Arc::new(queue),
        };
        let env: std::collections::HashMap<String, String> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let policy = recharge::policy_from_env(&env).unwrap();
        let app = recharge::App::new(test_access_config(), ports, Arc::new(flags), policy, clock);
        Self {
            app,
            wallet,
            users,
            user_id,
            token,
            device,
        }
    }

    /// `POST /v1/wallet/recharge` of `amount` EUR cents under `key`.
    pub async fn recharge(&self, key: &str, amount: i64) -> testkit::Reply {
        testkit::invoke(
            |req| recharge::handle(&self.app, req),
            self.recharge_event(key, amount),
        )
        .await
    }

    /// The same recharge in an invocation with `left` before its deadline.
    pub async fn recharge_within(
        &self,
        key: &str,
        amount: i64,
        left: std::time::Duration,
    ) -> testkit::Reply {
        testkit::invoke(
            |req| recharge::handle(&self.app, testkit::with_deadline(req, left)),
            self.recharge_event(key, amount),
        )
        .await
    }

    /// The API Gateway event of that recharge, from this stack's user and device.
    fn recharge_event(&self, key: &str, amount: i64) -> Value {
        use testkit::EventExt;
        let body = serde_json::json!({"amount": amount, "currency": "EUR", "provider": "stripe"});
        testkit::event("recharge-start")
            .body(body)
            .header("Idempotency-Key", key)
            .bearer(&self.token)
            .device(&self.device)
    }

    /// `method path` of the recharge function with `body`, from this
    /// stack's user and device.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> testkit::Reply {
        use testkit::EventExt;
        let mut event = testkit::event("recharge-get")
            .method(method)
            .path(path)
            .bearer(&self.token)
            .device(&self.device);
        if let Some(body) = body {
            event = event.body(body);
        }
        testkit::invoke(|req| recharge::handle(&self.app, req), event).await
    }

    /// DynamoDB requests made so far by the stack's adapters.
    pub fn calls(&self) -> u64 {
        self.wallet.calls() + self.users.calls()
    }
}

/// Drops the faults injected with `matching` and answers how many requests
/// they hit (so a test shows its fault really happened).
pub fn clear_faults(matching: &str) -> u64 {
    let url = format!("{}/_stand_in/faults", endpoint());
    let text = ureq::get(&url)
        .query("match", matching)
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let used: Value = serde_json::from_str(&text).expect("JSON");
    ureq::delete(&url)
        .query("match", matching)
        .call()
        .expect("the stand-in clears the faults");
    used["used"].as_u64().expect("a count")
}

/// How many requests the faults injected with `matching` have hit so far
/// (the faults stay in place).
pub fn faults_used(matching: &str) -> u64 {
    let text = ureq::get(&format!("{}/_stand_in/faults", endpoint()))
        .query("match", matching)
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let used: Value = serde_json::from_str(&text).expect("JSON");
    used["used"].as_u64().expect("a count")
}

/// How long a test waits for something the stand-in or a cache will make
/// true: generous, since the stand-in serves one request at a time and the
/// machine may be loaded; a condition that holds ends the wait at once.
pub const EVENTUALLY: std::time::Duration = std::time::Duration::from_secs(30);

/// Polls `check` until it holds, failing the test with `what` when
/// `within` passes first.
pub async fn eventually<F, Fut>(what: &str, within: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A 20.00 EUR recharge waiting for its payment on the stand-in, and the
/// webhook worker's applier over the DynamoDB, SES and flag adapters.
pub struct DynamoPayments {
    pub applier: std::sync::Arc<shared::wallet::payments::PaymentApplier>,
    pub wallet: std::sync::Arc<aws_adapters::DynamoWallet>,
    pub inbox: std::sync::Arc<aws_adapters::DynamoInbox>,
    pub user_id: String,
    pub recharge_id: String,
}

impl DynamoPayments {
    pub async fn pending() -> Self {
        use aws_adapters::{
            load_sdk_config, DynamoFlags, DynamoInbox, DynamoStore, DynamoWallet, SesMailer,
            TableNames, WalletTables,
        };
        use shared::config::ProcessEnv;
        use shared::flags::{FeatureGuard, FlagCache};
        use shared::ports::WalletStore;
        use std::sync::Arc;

        endpoint();
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(
            &sdk,
            WalletTables::from_env(&ProcessEnv).unwrap(),
        ));
        let inbox = Arc::new(DynamoInbox::new(
            &sdk,
            DynamoInbox::table_from_env(&ProcessEnv).unwrap(),
        ));
        let user_id = shared::auth::secrets::new_id();
        let commit = testkit::contract::sample_commit(
            &user_id,
            &format!("user#{user_id}#EUR#D#1"),
            2_000,
            1_000_000,
        );
        wallet.commit_recharge(&commit).await.unwrap();
        let clock = Arc::new(shared::clock::SystemClock);
        let flags = DynamoFlags::new(&sdk, DynamoFlags::table_from_env(&ProcessEnv).unwrap())
            .in_namespace(&shared::auth::secrets::new_id());
        let applier = Arc::new(shared::wallet::payments::PaymentApplier {
            audit_keys: testkit::test_audit_keys(),
            wallet: wallet.clone(),
            inbox: inbox.clone(),
            reviews: wallet.clone(),
            users: Arc::new(DynamoStore::new(
                &sdk,
                TableNames::from_env(&ProcessEnv).unwrap(),
            )),
            mailer: Arc::new(SesMailer::new(
                &sdk,
                &aws_adapters::MailSettings::from_env(&shared::config::ProcessEnv).unwrap(),
            )),
            guard: FeatureGuard::new(Arc::new(FlagCache::new(
                Arc::new(flags),
                clock.clone(),
                10,
                300,
            ))),
            clock,
        });
        Self {
            applier,
            wallet,
            inbox,
            user_id,
            recharge_id: commit.recharge.recharge_id,
        }
    }

    /// A new "payment succeeded" event for the whole recharge, received at
    /// `received_at` and recorded in the inbox (as ingestion does).
    pub async fn succeeded(&self, received_at: i64) -> shared::webhook::event::ProviderEvent {
        use shared::ports::WebhookInbox;
        let event = shared::webhook::event::ProviderEvent {
            provider: "stripe".into(),
            event_id: format!("evt_{}", shared::auth::secrets::new_id()),
            kind: shared::webhook::event::EventKind::PaymentSucceeded,
            recharge_id: Some(self.recharge_id.clone()),
            amount: Some(2_000),
            currency: Some("EUR".into()),
            received_at,
        };
        self.inbox
            .record(&event, received_at + 86_400)
            .await
            .expect("the inbox records");
        event
    }

    /// The user's EUR balance (0 before any credit).
    pub async fn balance(&self) -> i64 {
        testkit::balance(&*self.wallet, &self.user_id, "EUR").await
    }
}

/// Receives from `queue_url` `polls` times and takes (deletes) the messages
/// whose body contains `containing`, answering their bodies; the others are
/// left visible to the tests they belong to.
pub async fn take_messages(queue_url: &str, containing: &str, polls: usize) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&aws_adapters::load_sdk_config().await);
    let mut taken = Vec::new();
    for _ in 0..polls {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("the stand-in answers");
        for message in out.messages() {
            let body = message.body().unwrap_or_default();
            if !body.contains(containing) {
                continue;
            }
            taken.push(serde_json::from_str(body).expect("a JSON message"));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("the stand-in deletes");
        }
    }
    taken
}

/// Hands the messages of `queue_url` whose body contains `containing` to
/// `consumers` concurrent consumers, the way Lambda's pollers do on a
/// standard queue at its worst: received with no visibility timeout, so two
/// consumers can take one message at the same time (a duplicate delivery),
/// and each consumer handing its batch over in an order of its own (the
/// `k`-th consumer starts `k` messages in, then wraps round, reversed, and
/// the consumers start 50 ms apart, the last first): out of order. A
/// message the
/// handler does not report failed is deleted. Runs until `expected`
/// distinct messages were deleted; answers how many deliveries it made.
/// Panics after `within`.
pub async fn pump_queue<F, Fut>(
    queue_url: &str,
    containing: &str,
    expected: usize,
    consumers: usize,
    within: std::time::Duration,
    handle: F,
) -> usize
where
    F: Fn(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    use std::collections::HashSet;
    use std::sync::Mutex;

    let sqs = aws_sdk_sqs::Client::new(&aws_adapters::load_sdk_config().await);
    let deleted = Mutex::new(HashSet::new());
    let deliveries = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let (sqs, deleted, deliveries_ref, handle) = (&sqs, &deleted, &deliveries, &handle);
    let consumer = move |k: usize| async move {
        tokio::time::sleep(std::time::Duration::from_millis(
            50 * (consumers - 1 - k) as u64,
        ))
        .await;
        while deleted.lock().unwrap().len() < expected {
            assert!(
                started.elapsed() < within,
                "{} of {expected} messages handled within {within:?}",
                deleted.lock().unwrap().len()
            );
            let out = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await
                .expect("the stand-in answers");
            let mut records: Vec<Value> = out
                .messages()
                .iter()
                .filter(|m| m.body().unwrap_or_default().contains(containing))
                .map(|m| {
                    let receives = m
                        .attributes()
                        .and_then(|a| {
                            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                        })
                        .cloned()
                        .unwrap_or_else(|| "1".into());
                    serde_json::json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": {"ApproximateReceiveCount": receives},
                    })
                })
                .collect();
            if records.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            let start = k % records.len();
            records.rotate_left(start);
            records.reverse();
            deliveries_ref.fetch_add(records.len(), std::sync::atomic::Ordering::SeqCst);
            let event: aws_lambda_events::event::sqs::SqsEvent =
                serde_json::from_value(serde_json::json!({ "Records": records.clone() }))
                    .expect("an SQS event");
            let response = handle(event).await;
            let failed: HashSet<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            for record in &records {
                let id = record["messageId"].as_str().unwrap_or_default().to_string();
                if failed.contains(&id) {
                    continue;
                }
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(record["receiptHandle"].as_str().unwrap_or_default())
                    .send()
                    .await
                    .expect("the stand-in deletes");
                deleted.lock().unwrap().insert(id);
            }
        }
    };
    futures_util::future::join_all((0..consumers).map(consumer)).await;
    deliveries.into_inner()
}
