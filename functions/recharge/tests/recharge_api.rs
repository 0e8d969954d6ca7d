//! The recharge routes over in-memory ports: idempotency, eligibility,
//! limits and velocity, scoring decisions, audit, kill switch.

use std::sync::Arc;

use recharge::App;
use serde_json::{json, Value};
use shared::audit::verify_chain;
use shared::auth::model::Role;
use shared::clock::ManualClock;
use shared::flags::Snapshot;
use shared::ports::{AdminChange, AdminStore, IdempotencyBegin, IdempotencyStore, WalletStore};
use shared::wallet::model::{RechargeStatus, WalletProfile};
use testkit::memory::MemoryStore;
use testkit::torn::{Missed, TornReads};
use testkit::{event, invoke, signed_in_account, test_access_config, test_signer, EventExt, Reply};

const NOW: i64 = 1_900_000_000;
const DAY: i64 = 86_400;

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    /// The wallet port as the service sees it: true reads until armed.
    reads: Arc<TornReads>,
    clock: Arc<ManualClock>,
    user_id: String,
    token: String,
}

fn env(overrides: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Harness {
    /// A user with an established, age-verified French account.
    async fn new(overrides: &[(&str, &str)]) -> Self {
        let h = Self::unverified(overrides).await;
        let mut profile = WalletProfile::new(&h.user_id, NOW - 400 * DAY);
        profile.age_verified = true;
        profile.country = Some("FR".into());
        profile.devices = vec![shared::auth::secrets::digest(
            "device",
            "device-0001-sample",
        )];
        h.store.ensure_profile(&profile).await.unwrap();
        h
    }

    /// As `unverified`, but every decision reads the user's velocity
    /// counters as unused (a torn read): only the commit's own caps can
    /// refuse.
    async fn reading_stale_counters(overrides: &[(&str, &str)]) -> Self {
        let h = Self::unverified(overrides).await;
        h.reads.arm(u32::MAX, Missed::UserCounters);
        h
    }

    /// A user with no wallet profile yet (account created now).
    async fn unverified(overrides: &[(&str, &str)]) -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(NOW));
        let (user_id, token) =
            signed_in_account(&*store, &*store, Role::User, &["pwd"], "203.0.113.10", NOW).await;
        let reads = Arc::new(TornReads::new(store.clone()));
        let ports = shared::wallet::service::WalletPorts {
            audit_keys: testkit::test_audit_keys(),
            wallet: reads.clone(),
            idempotency: store.clone(),
            users: store.clone(),
            reviews: store.clone(),
            liveness: store.clone(),
        };
        let policy = recharge::policy_from_env(&env(overrides)).unwrap();
        let app = App::new(
            test_access_config(),
            ports,
            store.clone(),
            policy,
            clock.clone(),
        );
        Self {
            app,
            store,
            reads,
            clock,
            user_id,
            token,
        }
    }

    /// A fresh access token for the same session at the harness clock's now.
    fn current_token(&self) -> String {
        use shared::clock::Clock;
        let claims = testkit::claims(&self.token);
        let amr = vec!["pwd".to_string()];
        test_signer().issue(
            &shared::auth::tokens::TokenSubject {
                user_id: &self.user_id,
                session_id: claims["sid"].as_str().unwrap(),
                device_id: "device-0001-sample",
                role: Role::User,
                amr: &amr,
                ip: Some("203.0.113.10"),
            },
            self.clock.now(),
        )
    }

    async fn call(&self, ev: Value) -> Reply {
        let token = self.current_token();
        invoke(|req| recharge::handle(&self.app, req), ev.bearer(&token)).await
    }

    async fn recharge(&self, key: &str, amount: i64) -> Reply {
        self.recharge_in(key, amount, "EUR").await
    }

    async fn recharge_in(&self, key: &str, amount: i64, currency: &str) -> Reply {
        let body = json!({"amount": amount, "currency": currency, "provider": "stripe", "payment_fingerprint": "card_fp_4242abcd"});
        self.call(
            event("recharge-start")
                .body(body)
                .header("Idempotency-Key", key),
        )
        .await
    }
}

#[tokio::test]
async fn an_allowed_recharge_is_201_and_replays_byte_for_byte() {
    let h = Harness::new(&[]).await;
    let first = h.recharge("key-1", 2_000).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["status"], "pending_payment");
    assert!(first.body["provider_reference"]
        .as_str()
        .unwrap()
        .starts_with("pay_"));
    assert!(first.body.get("score").is_none());

    let replay = h.recharge("key-1", 2_000).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body, first.body, "the stored response is replayed");
    assert_eq!(replay.headers["idempotent-replayed"], "true");

    let reused = h.recharge("key-1", 3_000).await;
    assert_eq!(
        (reused.status, reused.code()),
        (422, "IDEMPOTENCY_KEY_REUSED")
    );
    let missing = h
        .call(event("recharge-start").without_header("Idempotency-Key"))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body["error"]["details"][0]["field"],
        "Idempotency-Key"
    );
}

/// A recharge of `amount` EUR under `key`, sent as API Gateway request `request_id`.
fn recharge_request(key: &str, amount: i64, request_id: &str) -> Value {
    let mut ev = event("recharge-start")
        .body(json!({"amount": amount, "currency": "EUR", "provider": "stripe"}))
        .header("Idempotency-Key", key);
    ev["requestContext"]["requestId"] = json!(request_id);
    ev
}

#[tokio::test]
async fn a_replay_answers_with_the_request_id_of_the_request_that_asked_again() {
    let h = Harness::unverified(&[]).await;
    let first = h.call(recharge_request("key-r", 2_501, "req-first")).await;
    assert_eq!(
        (first.status, first.code()),
        (403, "AGE_VERIFICATION_REQUIRED")
    );
    assert_eq!(first.body["error"]["request_id"], "req-first");
    let replay = h.call(recharge_request("key-r", 2_501, "req-second")).await;
    assert_eq!(
        (replay.status, replay.code()),
        (403, "AGE_VERIFICATION_REQUIRED")
    );
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(
        replay.body["error"]["request_id"], "req-second",
        "the outcome is stored, not the first request's response"
    );
    assert_eq!(replay.headers["x-request-id"], "req-second");
}

#[tokio::test]
async fn a_duplicate_in_flight_is_409_and_a_crashed_claim_expires() {
    let h = Harness::new(&[]).await;
    let request = shared::wallet::service::RechargeRequest {
        amount: 2_000,
        currency: "EUR".into(),
        provider: "stripe".into(),
        payment_fingerprint: Some("card_fp_4242abcd".into()),
    };
    let fingerprint = shared::auth::secrets::digest(
        "recharge-request",
        &serde_json::to_string(&request).unwrap(),
    );
    let scoped = format!("{}#key-2", h.user_id);
    assert_eq!(
        h.store
            .begin(&scoped, &fingerprint, NOW, NOW + 60, NOW + DAY)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let busy = h.recharge("key-2", 2_000).await;
    assert_eq!((busy.status, busy.code()), (409, "IDEMPOTENCY_IN_PROGRESS"));
    h.clock.advance(60);
    assert_eq!(
        h.recharge("key-2", 2_000).await.status,
        201,
        "the crashed claim expired"
    );
}

#[tokio::test]
async fn records_expire_after_24_hours() {
    let h = Harness::new(&[]).await;
    let first = h.recharge("key-3", 2_000).await;
    assert_eq!(first.status, 201);
    h.clock.advance(DAY - 1);
    assert_eq!(
        h.recharge("key-3", 9_000).await.status,
        422,
        "still the same key"
    );
    h.clock.advance(1);
    let after = h.recharge("key-3", 9_000).await;
    assert_eq!(
        (
            after.status,
            &after.body["recharge_id"],
            after.body["amount"].as_i64()
        ),
        (201, &first.body["recharge_id"], Some(2_000)),
        "the record expired, so no key-reuse refusal; the key still names its one recharge: {}",
        after.body
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_stored() {
    let h = Harness::new(&[]).await;
    for body in [
        json!({"amount": 50, "currency": "EUR", "provider": "stripe"}),
        json!({"amount": -100, "currency": "EUR", "provider": "stripe"}),
        json!({"amount": 9_000_000_000_000i64, "currency": "EUR", "provider": "stripe"}),
        json!({"amount": 2000, "currency": "eur", "provider": "stripe"}),
        json!({"amount": 2000, "currency": "XXX", "provider": "stripe"}),
        json!({"amount": 2000, "currency": "EUR", "provider": "paypal"}),
        json!({"amount": 20.5, "currency": "EUR", "provider": "stripe"}),
        json!({"amount": 2000, "currency": "EUR", "provider": "stripe", "bonus": 1}),
    ] {
        let reply = h.call(event("recharge-start").body(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}");
    }
    let fresh = h.recharge("key-after", 2_000).await;
    assert_eq!(fresh.status, 201, "no key was consumed by refused input");
    assert_eq!(h.store.money_audit().len(), 1);
}

#[tokio::test]
async fn unverified_accounts_are_refused_above_the_age_threshold() {
    let h = Harness::unverified(&[]).await;
    let refused = h.recharge("key-4", 2_501).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "AGE_VERIFICATION_REQUIRED")
    );
    let small = h.recharge("key-5", 2_500).await;
    assert_eq!(
        (small.status, small.body["status"].as_str()),
        (201, Some("pending_payment")),
        "{}",
        small.body
    );
}

#[tokio::test]
async fn the_daily_limit_holds_to_the_unit_and_resets_with_the_window() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,30000,60000")]).await;
    h.clock.set((NOW / DAY + 1) * DAY);
    assert_eq!(h.recharge("a", 6_000).await.status, 201);
    assert_eq!(
        h.recharge("b", 4_000).await.status,
        201,
        "exactly at the limit"
    );
    let over = h.recharge("c", 100).await;
    assert_eq!((over.status, over.code()), (422, "SPENDING_LIMIT_EXCEEDED"));
    assert!(over.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("daily"));
    h.clock.advance(DAY);
    assert_eq!(h.recharge("d", 10_000).await.status, 201, "a new day");
    h.clock.advance(DAY);
    assert_eq!(h.recharge("e", 10_000).await.status, 201);
}

#[tokio::test]
async fn the_weekly_limit_binds_across_days_of_one_week() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,15000,60000")]).await;
    let week = 7 * DAY;
    h.clock.set((NOW / week + 1) * week);
    assert_eq!(h.recharge("w1", 10_000).await.status, 201);
    h.clock.advance(DAY);
    assert_eq!(h.recharge("w2", 5_000).await.status, 201);
    let over = h.recharge("w3", 100).await;
    assert_eq!(over.code(), "SPENDING_LIMIT_EXCEEDED");
    assert!(over.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("weekly"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_recharges_cannot_together_pass_the_limit() {
    let h = Arc::new(Harness::new(&[("SPENDING_LIMITS", "50000,150000,300000")]).await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move { h.recharge(&format!("race-{i}"), 20_000).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => allowed += 1,
            422 | 409 => {}
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(
        allowed <= 2,
        "{allowed} recharges of 200.00 passed a 500.00 limit"
    );
    assert!(allowed >= 1);
}

#[tokio::test]
async fn risky_recharges_go_to_review_and_the_worst_are_blocked_without_a_score() {
    let review = Harness::unverified(&[("FRAUD_REVIEW_AT", "40"), ("FRAUD_BLOCK_AT", "90")]).await;
    let held = review.recharge("r1", 2_000).await;
    assert_eq!(held.status, 202, "{}", held.body);
    assert_eq!(held.body["status"], "pending_review");
    let id = held.body["recharge_id"].as_str().unwrap();
    assert_eq!(
        review.store.review_messages(),
        vec![(id.to_string(), review.user_id.clone())]
    );
    let stored = review.store.recharge(id).await.unwrap().unwrap();
    assert_eq!(stored.status, RechargeStatus::PendingReview);
    assert_eq!(
        stored.reasons,
        vec!["NEW_DEVICE", "NEW_ACCOUNT", "KYC_UNVERIFIED"]
    );
    assert_eq!(
        review.recharge("r1", 2_000).await.body,
        held.body,
        "replayed, not re-queued"
    );
    assert_eq!(review.store.review_messages().len(), 1);

    let block = Harness::unverified(&[("FRAUD_REVIEW_AT", "30"), ("FRAUD_BLOCK_AT", "40")]).await;
    let refused = block.recharge("b1", 2_000).await;
    assert_eq!((refused.status, refused.code()), (403, "RECHARGE_BLOCKED"));
    let text = refused.body.to_string();
    assert!(
        !text.contains("score") && !text.contains("50") && !text.contains("KYC"),
        "{text}"
    );
    assert!(block.store.review_messages().is_empty());
}

#[tokio::test]
async fn every_decision_is_audited_in_the_accounts_chain() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,30000,60000")]).await;
    h.recharge("k1", 2_000).await;
    h.recharge("k2", 3_000).await;
    let entries = h.store.money_audit();
    assert_eq!(entries.len(), 2);
    assert!(verify_chain(&testkit::test_audit_keys(), &entries).intact);
    assert_eq!(entries[0].action, "recharge.allow");
    assert_eq!(entries[1].after.as_ref().unwrap()["amount"], 3_000);
}

#[tokio::test]
async fn the_kill_switch_refuses_before_anything_is_written() {
    let h = Harness::new(&[]).await;
    let snapshot = Snapshot {
        version: 1,
        emergency: true,
        flags: vec![],
    };
    let entry = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        None,
        shared::audit::AuditDraft {
            actor: "ops".into(),
            ip: None,
            action: "emergency.disable".into(),
            target: "flags".into(),
            before: None,
            after: None,
        },
        NOW,
    );
    h.store
        .commit(
            &AdminChange::SaveSnapshot {
                snapshot,
                expected_version: 0,
            },
            &entry,
        )
        .await
        .unwrap();
    let refused = h.recharge("k-kill", 2_000).await;
    assert_eq!((refused.status, refused.code()), (503, "FEATURE_DISABLED"));
    assert!(h.store.money_audit().is_empty());
}

#[tokio::test]
async fn owners_read_their_recharges_and_nobody_else_does() {
    let h = Harness::new(&[]).await;
    let created = h.recharge("k-read", 2_000).await;
    let id = created.body["recharge_id"].as_str().unwrap();
    let path = format!("/v1/wallet/recharges/{id}");
    let mine = h.call(event("recharge-get").path(&path)).await;
    assert_eq!(
        (mine.status, mine.body["amount"].as_i64()),
        (200, Some(2_000))
    );
    let (_, other_token) = signed_in_account(
        &*h.store,
        &*h.store,
        Role::User,
        &["pwd"],
        "203.0.113.10",
        NOW,
    )
    .await;
    let theirs = invoke(
        |req| recharge::handle(&h.app, req),
        event("recharge-get").path(&path).bearer(&other_token),
    )
    .await;
    assert_eq!(
        theirs.status, 404,
        "another user's recharge does not exist for them"
    );
}

#[tokio::test]
async fn limits_lower_at_once_and_rise_after_cooling_off() {
    let h = Harness::new(&[("SPENDING_LIMITS", "50000,150000,300000")]).await;
    let lower = h.call(event("recharge-limits")).await;
    assert_eq!(lower.status, 200, "{}", lower.body);
    assert_eq!(lower.body["current"]["daily"], 20_000);
    let raise = h
        .call(
            event("recharge-limits")
                .body(json!({"daily": 40000, "weekly": 60000, "monthly": 150000})),
        )
        .await;
    assert_eq!(raise.body["current"]["daily"], 20_000);
    assert_eq!(raise.body["pending"]["limits"]["daily"], 40_000);
    assert_eq!(raise.body["pending"]["effective_at"], NOW + DAY);
    assert_eq!(
        h.recharge("over-new-limit", 25_000).await.code(),
        "SPENDING_LIMIT_EXCEEDED"
    );
    let invalid = h
        .call(event("recharge-limits").body(json!({"daily": 0, "weekly": 1, "monthly": 1})))
        .await;
    assert_eq!(invalid.status, 400);
    let above = h
        .call(
            event("recharge-limits")
                .body(json!({"daily": 60000, "weekly": 150000, "monthly": 300000})),
        )
        .await;
    assert_eq!(above.status, 400, "not above the platform maximum");
}

#[tokio::test]
async fn a_database_outage_fails_closed_and_frees_the_key() {
    let h = Harness::new(&[]).await;
    h.store.set_unavailable(true);
    assert_eq!(h.recharge("k-down", 2_000).await.status, 503);
    h.store.set_unavailable(false);
    assert_eq!(
        h.recharge("k-down", 2_000).await.status,
        201,
        "the retry completes"
    );
}

#[tokio::test]
async fn the_wallet_shows_balances_entries_and_limits_in_force() {
    use shared::wallet::model::LedgerEntry;
    let h = Harness::new(&[("SPENDING_LIMITS", "50000,150000,300000")]).await;
    let wallet = h.call(event("recharge-get").path("/v1/wallet")).await;
    assert_eq!(wallet.status, 200, "{}", wallet.body);
    assert_eq!(wallet.body["balances"], json!({}));
    assert_eq!(wallet.body["limits"]["daily"], 50_000);

    let mut profile = h
        .store
        .readings(&h.user_id, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    profile.balances.insert("EUR".into(), 2_000);
    profile.recent_entries.push(LedgerEntry {
        entry_id: "le_1".into(),
        recharge_id: "rc_1".into(),
        amount: 2_000,
        currency: "EUR".into(),
        kind: "credit".into(),
        at: NOW,
    });
    let other = Harness::unverified(&[]).await;
    profile.user_id = other.user_id.clone();
    other.store.ensure_profile(&profile).await.unwrap();
    let credited = invoke(
        |req| recharge::handle(&other.app, req),
        event("recharge-get")
            .path("/v1/wallet")
            .bearer(&other.current_token()),
    )
    .await;
    assert_eq!(credited.body["balances"]["EUR"], 2_000);
    assert_eq!(credited.body["entries"][0]["recharge_id"], "rc_1");
}

#[tokio::test]
async fn the_monthly_limit_binds_across_weeks_of_one_month() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,10000,15000")]).await;
    let month = 30 * DAY;
    h.clock.set((NOW / month + 1) * month);
    assert_eq!(h.recharge("m1", 10_000).await.status, 201);
    h.clock.advance(8 * DAY);
    assert_eq!(
        h.recharge("m2", 5_000).await.status,
        201,
        "a new week, same month"
    );
    h.clock.advance(8 * DAY);
    let over = h.recharge("m3", 100).await;
    assert_eq!(over.code(), "SPENDING_LIMIT_EXCEEDED");
    assert!(over.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("monthly"));
}

const RATES: (&str, &str) = ("RECHARGE_RATES", "USD:0.95,GBP:1.20");

#[tokio::test]
async fn limits_are_a_persons_whatever_the_currency() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,30000,60000"), RATES]).await;
    h.clock.set((NOW / DAY + 1) * DAY);
    assert_eq!(h.recharge_in("eur", 10_000, "EUR").await.status, 201);
    for currency in ["USD", "GBP"] {
        let over = h.recharge_in(currency, 100, currency).await;
        assert_eq!(
            (over.status, over.code()),
            (422, "SPENDING_LIMIT_EXCEEDED"),
            "{currency} after a full day in EUR: {}",
            over.body
        );
    }
    let wallet = h.call(event("recharge-get").path("/v1/wallet")).await;
    assert_eq!(wallet.body["limits_currency"], "EUR");
}

#[tokio::test]
async fn converted_amounts_round_against_the_user() {
    let h = Harness::new(&[("SPENDING_LIMITS", "10000,30000,60000"), RATES]).await;
    h.clock.set((NOW / DAY + 1) * DAY);
    assert_eq!(h.recharge_in("a", 9_900, "EUR").await.status, 201);
    let over = h.recharge_in("b", 106, "USD").await;
    assert_eq!(
        (over.status, over.code()),
        (422, "SPENDING_LIMIT_EXCEEDED"),
        "1.06 USD counts 1.01 EUR (1.007 rounded up): {}",
        over.body
    );
    let fits = h.recharge_in("c", 105, "USD").await;
    assert_eq!(fits.status, 201, "1.05 USD counts 1.00 EUR: {}", fits.body);
}

#[tokio::test]
async fn velocity_counts_every_currency_together() {
    let h = Harness::new(&[RATES]).await;
    h.clock.set((NOW / DAY + 1) * DAY);
    for (i, currency) in ["EUR", "USD", "GBP", "EUR", "USD"].iter().enumerate() {
        let reply = h.recharge_in(&format!("v{i}"), 1_000, currency).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let sixth = h.recharge_in("v5", 1_000, "GBP").await;
    assert_eq!(sixth.status, 201, "{}", sixth.body);
    let id = shared::wallet::service::recharge_id_for(&h.user_id, "v5");
    let stored = h.store.recharge(&id).await.unwrap().unwrap();
    for reason in ["HIGH_VELOCITY", "DEVICE_VELOCITY", "CARD_VELOCITY"] {
        assert!(
            stored.reasons.iter().any(|r| r == reason),
            "{reason}: five recharges today from one device and card in three currencies: {:?}",
            stored.reasons
        );
    }
}

#[tokio::test]
async fn the_age_rule_applies_to_the_months_total_not_each_recharge() {
    let h = Harness::unverified(&[RATES]).await;
    assert_eq!(h.recharge("age-1", 2_400).await.status, 201);
    let up_to = h.recharge("age-2", 100).await;
    assert_eq!(
        up_to.status, 201,
        "the month's total is exactly the threshold: {}",
        up_to.body
    );
    for (key, currency) in [("age-3", "EUR"), ("age-4", "USD"), ("age-5", "GBP")] {
        let over = h.recharge_in(key, 100, currency).await;
        assert_eq!(
            (over.status, over.code()),
            (403, "AGE_VERIFICATION_REQUIRED"),
            "one more unit in {currency}: {}",
            over.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_recharges_in_several_currencies_cannot_together_pass_the_limit() {
    let h = Arc::new(Harness::new(&[("SPENDING_LIMITS", "50000,150000,300000"), RATES]).await);
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let h = h.clone();
            let currency = ["EUR", "USD", "GBP"][i % 3];
            tokio::spawn(
                async move { h.recharge_in(&format!("mixed-{i}"), 20_000, currency).await },
            )
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            201 => {
                counted += match reply.body["currency"].as_str().unwrap() {
                    "USD" => 19_000,
                    "GBP" => 24_000,
                    _ => 20_000,
                }
            }
            422 | 409 => {}
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(
        (19_000..=50_000).contains(&counted),
        "{counted} counted against a 50000 daily limit"
    );
}

#[tokio::test]
async fn the_commit_holds_the_age_threshold_when_the_read_was_stale() {
    let h = Harness::reading_stale_counters(&[("FRAUD_REVIEW_AT", "0"), ("FRAUD_BLOCK_AT", "100")])
        .await;
    let held = h.recharge("held-1", 2_000).await;
    assert_eq!(held.status, 202, "{}", held.body);
    let over = h.recharge("held-2", 1_000).await;
    assert_eq!(
        (over.status, over.code()),
        (403, "AGE_VERIFICATION_REQUIRED"),
        "the read saw nothing, the counter holds 2000 of 2500: {}",
        over.body
    );
    let fits = h.recharge("held-3", 500).await;
    assert_eq!(fits.status, 202, "up to the threshold: {}", fits.body);
}

#[tokio::test]
async fn the_commit_holds_the_spending_limit_when_the_read_was_stale() {
    let h = Harness::reading_stale_counters(&[("SPENDING_LIMITS", "2000,30000,60000")]).await;
    assert_eq!(h.recharge("s-1", 1_500).await.status, 201);
    let over = h.recharge("s-2", 600).await;
    assert_eq!(
        (over.status, over.code()),
        (422, "SPENDING_LIMIT_EXCEEDED"),
        "the daily limit is below the age threshold: {}",
        over.body
    );
}

#[tokio::test]
async fn an_unverified_account_cannot_pass_the_threshold_across_windows() {
    let h = Harness::unverified(&[RATES]).await;
    let month = 30 * DAY;
    h.clock.set((NOW / month + 1) * month - DAY);
    assert_eq!(h.recharge("w-1", 2_500).await.status, 201);
    h.clock.advance(8 * DAY);
    let next_window = h.recharge("w-2", 2_500).await;
    assert_eq!(
        (next_window.status, next_window.code()),
        (403, "AGE_VERIFICATION_REQUIRED"),
        "a new day, week and 30-day window, the same unverified account: {}",
        next_window.body
    );
}

impl Harness {
    /// Another signed-in account on the harness's device: (user id, token).
    async fn other_account(&self) -> (String, String) {
        signed_in_account(
            &*self.store,
            &*self.store,
            Role::User,
            &["pwd"],
            "203.0.113.10",
            NOW,
        )
        .await
    }

    async fn recharge_as(&self, token: &str, key: &str, amount: i64) -> Reply {
        let body = json!({"amount": amount, "currency": "EUR", "provider": "stripe", "payment_fingerprint": "card_fp_4242abcd"});
        let ev = event("recharge-start")
            .body(body)
            .header("Idempotency-Key", key)
            .bearer(token);
        invoke(|req| recharge::handle(&self.app, req), ev).await
    }
}

#[tokio::test]
async fn device_and_card_signals_hold_when_the_read_missed_other_accounts_recharges() {
    let h = Harness::unverified(&[("FRAUD_REVIEW_AT", "100"), ("FRAUD_BLOCK_AT", "100")]).await;
    for n in 0..2 {
        let (_, token) = h.other_account().await;
        for i in 0..3 {
            let reply = h.recharge_as(&token, &format!("other-{n}-{i}"), 100).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
    }
    h.reads.arm(1, Missed::Everything);
    let raced = h.recharge("raced", 100).await;
    assert_eq!(
        (raced.status, raced.code()),
        (403, "RECHARGE_BLOCKED"),
        "scored on what is stored, not on the stale read: {}",
        raced.body
    );
    let id = shared::wallet::service::recharge_id_for(&h.user_id, "raced");
    let stored = h.store.recharge(&id).await.unwrap().unwrap();
    for reason in ["DEVICE_VELOCITY", "CARD_VELOCITY", "SHARED_DEVICE"] {
        assert!(
            stored.reasons.iter().any(|r| r == reason),
            "{reason}: six recharges from two other accounts on this device and card, \
             read as none: {:?}",
            stored.reasons
        );
    }
}
