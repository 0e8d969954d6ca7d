//! The admin function over in-memory ports: who may call it, flag changes
//! with optimistic concurrency, the emergency switch, unlocks, and the audit
//! chain every action writes.

mod common;

use std::sync::Arc;

use admin::{AdminRole, App, UrlAuth};
use serde_json::{json, Value};
use shared::auth::lockout::lockout_key;
use shared::auth::model::{AccountAttempt, Role};
use shared::clock::{Clock, ManualClock};
use shared::flags::{FeatureGuard, FeatureUnavailable, FlagCache};
use shared::ports::{AttemptStore, UserStore};
use shared::ratelimit::WindowSlot;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{event, invoke, signed_in_account, test_access_config, EventExt, Reply};

const NOW: i64 = 1_900_000_000;
const ADMIN_IP: &str = "203.0.113.10";
/// The role the sample events' IAM caller assumed (`events/admin-*.json`).
const ADMIN_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/wallet-admin";

/// Behind an IAM-auth URL that admits the sample events' role.
fn iam() -> UrlAuth {
    UrlAuth::AwsIam(AdminRole::parse(ADMIN_ROLE_ARN).unwrap())
}

struct Harness {
    app: App,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    clock: Arc<ManualClock>,
    token: String,
}

impl Harness {
    async fn new() -> Self {
        Self::behind(UrlAuth::None).await
    }

    /// The app behind a function URL that authenticates with `url_auth`.
    async fn behind(url_auth: UrlAuth) -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock = Arc::new(ManualClock::new(NOW));
        let ports =
            common::memory_ports(&store, mailer.clone(), Arc::new(testkit::test_pii_keys()));
        let app = App::new(test_access_config(), ports, clock.clone()).with_url_auth(url_auth);
        let (_, token) = signed_in_account(
            &*store,
            &*store,
            Role::Admin,
            &["pwd", "otp"],
            ADMIN_IP,
            NOW,
        )
        .await;
        Self {
            app,
            store,
            mailer,
            clock,
            token,
        }
    }

    async fn call(&self, event: Value) -> Reply {
        invoke(|req| admin::handle(&self.app, req), event).await
    }

    /// Calls with the admin's token.
    async fn admin(&self, name: &str) -> Reply {
        self.call(event(name).header("X-Admin-Session", &self.token))
            .await
    }

    async fn admin_with(&self, event: Value) -> Reply {
        self.call(event.header("X-Admin-Session", &self.token))
            .await
    }

    async fn token_for(&self, role: Role, amr: &[&str], ip: &str) -> String {
        signed_in_account(&*self.store, &*self.store, role, amr, ip, self.clock.now())
            .await
            .1
    }
}

fn flag_body(version: Option<u64>) -> Value {
    let mut body = event("admin-flags-create")["body"]
        .as_str()
        .map(|b| serde_json::from_str::<Value>(b).unwrap())
        .unwrap();
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    body
}

#[tokio::test]
async fn flags_are_created_read_updated_and_deleted_with_versions() {
    let h = Harness::new().await;
    let created = h.admin("admin-flags-create").await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["version"], 1);
    let again = h.admin("admin-flags-create").await;
    assert_eq!((again.status, again.code()), (409, "FLAG_EXISTS"));

    let listed = h.admin("admin-flags-list").await;
    assert_eq!(listed.body["flags"][0]["key"], "new.checkout");
    assert_eq!(h.admin("admin-flags-get").await.body["enabled"], true);

    let updated = h.admin("admin-flags-update").await;
    assert_eq!(
        (updated.status, updated.body["version"].as_u64()),
        (200, Some(2))
    );
    assert_eq!(updated.body["enabled"], false);
    let stale = h.admin("admin-flags-update").await;
    assert_eq!(
        (stale.status, stale.code()),
        (409, "STALE_VERSION"),
        "version 1 was read before the update"
    );

    let deleted = h.admin("admin-flags-delete").await;
    assert_eq!(
        deleted.status, 204,
        "the sample event names version 2, the current one"
    );
    assert_eq!(h.admin("admin-flags-get").await.status, 404);
}

#[tokio::test]
async fn deleting_needs_the_current_version() {
    let h = Harness::new().await;
    h.admin("admin-flags-create").await;
    let mut stale = event("admin-flags-delete");
    stale["rawQueryString"] = json!("version=7");
    stale["queryStringParameters"] = json!({"version": "7"});
    let reply = h.admin_with(stale).await;
    assert_eq!((reply.status, reply.code()), (409, "STALE_VERSION"));
    let mut missing = event("admin-flags-delete");
    missing["rawQueryString"] = json!("");
    missing["queryStringParameters"] = Value::Null;
    assert_eq!(h.admin_with(missing).await.status, 400);
    assert_eq!(
        h.admin("admin-flags-get").await.status,
        200,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn invalid_flags_are_refused_with_field_details_and_change_nothing() {
    let h = Harness::new().await;
    let mut bad = flag_body(None);
    bad["key"] = json!("Not A Key");
    bad["rules"] = json!([{"type": "rollout", "basis_points": 20000}]);
    let reply = h.admin_with(event("admin-flags-create").body(bad)).await;
    assert_eq!(reply.status, 400);
    let fields: Vec<&str> = reply.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["key", "rules[0]"]);

    let mut unknown = flag_body(None);
    unknown["owner"] = json!("me");
    assert_eq!(
        h.admin_with(event("admin-flags-create").body(unknown))
            .await
            .status,
        400
    );
    assert_eq!(h.admin("admin-flags-list").await.body["flags"], json!([]));
    assert_eq!(
        h.admin("admin-audit").await.body["entries"],
        json!([]),
        "refusals are not audited changes"
    );
}

#[tokio::test]
async fn only_admins_with_totp_from_their_pinned_ip_get_in() {
    let h = Harness::new().await;
    let no_token = h
        .call(event("admin-flags-list").without_header("x-admin-session"))
        .await;
    assert_eq!((no_token.status, no_token.code()), (401, "UNAUTHENTICATED"));

    let user = h.token_for(Role::User, &["pwd"], ADMIN_IP).await;
    let as_user = h
        .call(
            event("admin-flags-list")
                .header("X-Admin-Session", &user)
                .device("device-0001-sample"),
        )
        .await;
    assert_eq!((as_user.status, as_user.code()), (403, "ADMIN_REQUIRED"));

    let no_totp = h.token_for(Role::Admin, &["pwd"], ADMIN_IP).await;
    let reply = h
        .call(event("admin-flags-list").header("X-Admin-Session", &no_totp))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "TOTP_REQUIRED"));

    let moved = h
        .admin_with(event("admin-flags-list").source_ip("203.0.113.77"))
        .await;
    assert_eq!((moved.status, moved.code()), (403, "IP_NOT_ALLOWED"));

    let outside = h
        .token_for(Role::Admin, &["pwd", "otp"], "198.51.100.5")
        .await;
    let reply = h
        .call(
            event("admin-flags-list")
                .header("X-Admin-Session", &outside)
                .source_ip("198.51.100.5"),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (403, "IP_NOT_ALLOWED"));

    let other_device = h
        .admin_with(event("admin-flags-list").device("stolen-laptop-99"))
        .await;
    assert_eq!(other_device.status, 401);
    assert_eq!(h.admin("admin-flags-list").await.status, 200);
}

#[tokio::test]
async fn a_revoked_admin_session_is_refused_at_once() {
    let h = Harness::new().await;
    let claims = testkit::claims(&h.token);
    use shared::ports::SessionStore;
    h.store
        .revoke_session(claims["sid"].as_str().unwrap())
        .await
        .unwrap();
    let reply = h.admin("admin-flags-list").await;
    assert_eq!((reply.status, reply.code()), (403, "SESSION_REVOKED"));
}

#[tokio::test]
async fn every_action_is_audited_in_an_intact_chain_and_tampering_shows() {
    let h = Harness::new().await;
    let admin_id = testkit::claims(&h.token)["sub"]
        .as_str()
        .unwrap()
        .to_string();
    h.admin("admin-flags-create").await;
    h.admin("admin-flags-update").await;
    h.admin("admin-emergency-disable").await;
    h.admin("admin-emergency-restore").await;

    let page = h.admin("admin-audit").await;
    let entries = page.body["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "emergency.restore",
            "emergency.disable",
            "flag.update",
            "flag.create"
        ]
    );
    let update = &entries[2];
    assert_eq!(update["actor"], admin_id.as_str());
    assert_eq!(update["ip"], ADMIN_IP);
    assert_eq!(update["before"]["enabled"], true);
    assert_eq!(update["after"]["enabled"], false);
    assert_eq!(update["at"], NOW);

    let verify = h.admin("admin-audit-verify").await;
    assert_eq!(
        verify.body,
        json!({"intact": true, "entries": 4,
               "checked_by": [{"kid": "test", "first_seq": 1, "last_seq": 4}]})
    );

    h.store.tamper_audit(2, |e| {
        e.after = Some(json!({"enabled": true}));
        e.hash = shared::audit::legacy_hash(e);
    });
    let verify = h.admin("admin-audit-verify").await;
    assert_eq!(
        verify.body,
        json!({"intact": false, "entries": 4, "first_broken_seq": 2, "reason": "mac",
               "checked_by": [{"kid": "test", "first_seq": 1, "last_seq": 1}]})
    );
}

#[tokio::test]
async fn a_chain_rewritten_in_the_legacy_format_without_the_key_is_reported() {
    let h = Harness::new().await;
    h.admin("admin-flags-create").await;
    h.admin("admin-flags-update").await;
    h.admin("admin-emergency-disable").await;

    // Table write access, no key: strip every kid, edit an entry, and
    // recompute the plain hashes from the start of the chain.
    let mut prev_hash = shared::audit::GENESIS_HASH.to_string();
    for seq in 1..=3 {
        h.store.tamper_audit(seq, |e| {
            e.kid = None;
            if seq == 2 {
                e.actor = "someone-else".into();
            }
            e.prev_hash = prev_hash.clone();
            e.hash = shared::audit::legacy_hash(e);
            prev_hash = e.hash.clone();
        });
    }
    let verify = h.admin("admin-audit-verify").await;
    assert_eq!(
        verify.body,
        json!({"intact": false, "entries": 3, "first_broken_seq": 1,
               "reason": "legacy-after-cutoff", "checked_by": []})
    );
}

#[tokio::test]
async fn audit_pages_walk_backwards_with_a_cursor() {
    let h = Harness::new().await;
    for i in 0..5 {
        let on = if i % 2 == 0 {
            "admin-emergency-disable"
        } else {
            "admin-emergency-restore"
        };
        assert_eq!(h.admin(on).await.status, 200);
    }
    let mut first = event("admin-audit");
    first["rawQueryString"] = json!("limit=2");
    first["queryStringParameters"] = json!({"limit": "2"});
    let page = h.admin_with(first).await;
    let seqs = |r: &Reply| {
        r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&page), vec![5, 4]);
    assert_eq!(page.body["next_before"], 4);
    let mut next = event("admin-audit");
    next["rawQueryString"] = json!("limit=10&before=4");
    next["queryStringParameters"] = json!({"limit": "10", "before": "4"});
    let rest = h.admin_with(next).await;
    assert_eq!(seqs(&rest), vec![3, 2, 1]);
    let mut bad = event("admin-audit");
    bad["rawQueryString"] = json!("sort=asc");
    bad["queryStringParameters"] = json!({"sort": "asc"});
    assert_eq!(h.admin_with(bad).await.status, 400);
}

#[tokio::test]
async fn emergency_disable_turns_every_guarded_feature_off_until_restored() {
    let h = Harness::new().await;
    let mut kill_switch = flag_body(None);
    kill_switch["key"] = json!("recharge");
    kill_switch["kind"] = json!("kill_switch");
    kill_switch["rules"] = json!([]);
    assert_eq!(
        h.admin_with(event("admin-flags-create").body(kill_switch))
            .await
            .status,
        201
    );

    let guard = FeatureGuard::new(Arc::new(FlagCache::new(
        h.store.clone(),
        h.clock.clone(),
        0,
        300,
    )));
    assert!(guard.require("recharge").await.is_ok());
    assert!(
        guard.require("kyc-upload").await.is_ok(),
        "a feature without a flag runs"
    );

    assert_eq!(
        h.admin("admin-emergency-disable").await.body["emergency"],
        true
    );
    for feature in ["recharge", "kyc-upload"] {
        let refused = guard.require(feature).await.unwrap_err();
        assert_eq!(refused, FeatureUnavailable::SwitchedOff);
    }
    assert_eq!(
        h.admin("admin-emergency-restore").await.body["emergency"],
        false
    );
    assert!(guard.require("recharge").await.is_ok());
}

#[tokio::test]
async fn a_locked_account_is_unlocked_and_the_unlock_audited() {
    let h = Harness::new().await;
    let email = "locked@example.test";
    let mut user = testkit::contract::sample_user(email);
    user.user_id = "00000000-0000-4000-8000-00000000000a".to_string();
    h.store.create_user(&user).await.unwrap();
    let account = AccountAttempt {
        key: lockout_key(email),
        max_failures: 5,
        expires_at: NOW + 999,
    };
    let ip = WindowSlot {
        key: "t".into(),
        limit: 100,
        resets_at: NOW + 60,
    };
    for _ in 0..5 {
        h.store
            .reserve_attempt(&ip, Some(&account), NOW)
            .await
            .unwrap();
    }
    h.store
        .lock_account(&account.key, 5, 0, NOW + 60, NOW + 999)
        .await
        .unwrap();

    let reply = h.admin("admin-users-unlock").await;
    assert_eq!(reply.status, 204);
    assert_eq!(h.store.lockout_state(&account.key).await.unwrap(), None);
    let audit = h.admin("admin-audit").await;
    assert_eq!(audit.body["entries"][0]["action"], "user.unlock");
    assert_eq!(
        audit.body["entries"][0]["target"],
        format!("user:{}", user.user_id)
    );

    let missing = h
        .admin_with(event("admin-users-unlock").path("/admin/users/nobody/unlock"))
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn store_outage_fails_closed() {
    let h = Harness::new().await;
    h.store.set_unavailable(true);
    let reply = h.admin("admin-flags-list").await;
    assert_eq!(reply.status, 503);
}

/// A recharge held for review, with its open case; returns the case id.
async fn held_case(h: &Harness) -> String {
    use shared::ports::ReviewStore;
    use shared::review::{CaseStatus, ReviewCase};
    use shared::wallet::model::RechargeStatus;
    let (id, owner_id) = recharge_of_new_user(h, RechargeStatus::PendingReview).await;
    h.store
        .open_case(&ReviewCase {
            case_id: id.clone(),
            kind: shared::review::CaseKind::HeldRecharge,
            user_id: owner_id,
            amount: 2_000,
            currency: "EUR".into(),
            score: 70,
            reasons: vec!["SHARED_DEVICE".into()],
            status: CaseStatus::Open,
            opened_at: NOW,
            notified: true,
            decided_by: None,
            note: None,
        })
        .await
        .unwrap();
    id
}

/// A 20.00 EUR Stripe recharge in `status` for a new user: (recharge id, user id).
async fn recharge_of_new_user(
    h: &Harness,
    status: shared::wallet::model::RechargeStatus,
) -> (String, String) {
    use shared::ports::{RechargeCommit, WalletStore};
    use shared::wallet::fraud::Decision;
    use shared::wallet::model::{Recharge, WalletProfile};
    let owner = testkit::contract::sample_user(&format!(
        "owner-{}@example.test",
        shared::auth::secrets::new_id()
    ));
    h.store.create_user(&owner).await.unwrap();
    let id = format!("rc_{}", shared::auth::secrets::new_id());
    let audit = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        None,
        shared::audit::AuditDraft {
            actor: owner.user_id.clone(),
            ip: None,
            action: "recharge.review".into(),
            target: id.clone(),
            before: None,
            after: None,
        },
        NOW,
    );
    let mut profile = WalletProfile::new(&owner.user_id, NOW);
    profile.audit_seq = 1;
    let recharge = Recharge {
        recharge_id: id.clone(),
        user_id: owner.user_id.clone(),
        amount: 2_000,
        currency: "EUR".into(),
        provider: "stripe".into(),
        provider_reference: "pay_x".into(),
        status,
        created_at: NOW,
        score: 70,
        reasons: vec!["SHARED_DEVICE".into()],
        decision: Decision::Review,
        refunded: 0,
    };
    let commit = RechargeCommit {
        recharge,
        profile,
        expected_audit_seq: None,
        audit,
        counters: vec![],
        device_account: None,
        idempotency: None,
    };
    h.store.commit_recharge(&commit).await.unwrap();
    (id, owner.user_id)
}

fn decision_event(case_id: &str, decision: &str) -> Value {
    event("admin-reviews-decision")
        .path(&format!("/admin/reviews/{case_id}/decision"))
        .body(json!({"decision": decision, "note": "checked with the bank"}))
}

#[tokio::test]
async fn a_review_is_decided_once_and_moves_the_recharge_on() {
    use shared::ports::WalletStore;
    use shared::wallet::model::RechargeStatus;
    let h = Harness::new().await;
    let id = held_case(&h).await;
    let open = h.admin("admin-reviews").await;
    assert_eq!(open.body["cases"][0]["case_id"], id.as_str());

    let approved = h.admin_with(decision_event(&id, "approve")).await;
    assert_eq!(
        (approved.status, approved.body["status"].as_str()),
        (200, Some("approved")),
        "{}",
        approved.body
    );
    assert_eq!(
        h.store.recharge(&id).await.unwrap().unwrap().status,
        RechargeStatus::PendingPayment
    );
    let again = h.admin_with(decision_event(&id, "reject")).await;
    assert_eq!((again.status, again.code()), (409, "CASE_ALREADY_DECIDED"));
    assert_eq!(h.admin("admin-reviews").await.body["cases"], json!([]));
    let audit = h.admin("admin-audit").await;
    assert_eq!(audit.body["entries"][0]["action"], "review.approve");
}

#[tokio::test]
async fn a_case_the_webhook_worker_opened_is_decided_without_touching_the_recharge() {
    use shared::ports::{WalletStore, WebhookInbox};
    use shared::wallet::model::RechargeStatus;
    use shared::wallet::payments::{Applied, PaymentApplier};
    use shared::webhook::event::{EventKind, ProviderEvent};
    let h = Harness::new().await;
    let (id, _) = recharge_of_new_user(&h, RechargeStatus::PendingPayment).await;
    let applier = PaymentApplier {
        audit_keys: testkit::test_audit_keys(),
        wallet: h.store.clone(),
        inbox: h.store.clone(),
        reviews: h.store.clone(),
        users: h.store.clone(),
        mailer: h.mailer.clone(),
        guard: FeatureGuard::new(Arc::new(FlagCache::new(
            h.store.clone(),
            h.clock.clone(),
            0,
            300,
        ))),
        clock: h.clock.clone(),
    };
    let foreign = ProviderEvent {
        provider: "generic".into(),
        event_id: "evt_foreign".into(),
        kind: EventKind::PaymentSucceeded,
        recharge_id: Some(id.clone()),
        amount: Some(2_000),
        currency: Some("EUR".into()),
        received_at: NOW,
    };
    h.store.record(&foreign, NOW + 86_400).await.unwrap();
    assert_eq!(
        applier.apply(&foreign).await.unwrap(),
        Applied::Reviewed("PROVIDER_MISMATCH")
    );
    let open = h.admin("admin-reviews").await;
    let case_id = open.body["cases"][0]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(case_id.starts_with(&format!("{id}~")), "{case_id}");

    let decided = h.admin_with(decision_event(&case_id, "reject")).await;
    assert_eq!(
        (decided.status, decided.body["status"].as_str()),
        (200, Some("rejected")),
        "{}",
        decided.body
    );
    assert_eq!(
        h.store.recharge(&id).await.unwrap().unwrap().status,
        RechargeStatus::PendingPayment,
        "the recharge waits for its own provider's payment"
    );
    assert!(h.mailer.sent().is_empty(), "no cancellation email");
    let again = h.admin_with(decision_event(&case_id, "approve")).await;
    assert_eq!((again.status, again.code()), (409, "CASE_ALREADY_DECIDED"));
    let audit = h.admin("admin-audit").await;
    assert_eq!(audit.body["entries"][0]["action"], "review.reject");
}

#[tokio::test]
async fn a_rejected_review_cancels_the_recharge_and_emails_the_user() {
    use shared::ports::WalletStore;
    use shared::wallet::model::RechargeStatus;
    let h = Harness::new().await;
    let id = held_case(&h).await;
    let rejected = h.admin_with(decision_event(&id, "reject")).await;
    assert_eq!(rejected.status, 200);
    assert_eq!(
        h.store.recharge(&id).await.unwrap().unwrap().status,
        RechargeStatus::Cancelled
    );
    assert_eq!(h.mailer.sent().len(), 1);
    assert!(h.mailer.sent()[0].subject.contains("cancelled"));
    let bad = h.admin_with(decision_event(&id, "maybe")).await;
    assert_eq!(bad.status, 400);
    let missing = h.admin_with(decision_event("rc_nope", "approve")).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn the_session_travels_in_its_own_header_never_as_a_bearer_token() {
    for url_auth in [iam(), UrlAuth::None] {
        let h = Harness::behind(url_auth.clone()).await;
        let old_way = h
            .call(
                event("admin-flags-list")
                    .without_header("x-admin-session")
                    .bearer(&h.token),
            )
            .await;
        assert_eq!(
            (old_way.status, old_way.code()),
            (401, "ADMIN_SESSION_HEADER_REQUIRED"),
            "{url_auth:?}: {}",
            old_way.body
        );
        let both = h
            .call(
                event("admin-flags-list")
                    .header("X-Admin-Session", &h.token)
                    .header("Authorization", &format!("bearer {}", h.token)),
            )
            .await;
        assert_eq!(
            (both.status, both.code()),
            (401, "ADMIN_SESSION_HEADER_REQUIRED"),
            "{url_auth:?}: a bearer token next to the session is still refused"
        );
        let signed = event("admin-flags-list");
        assert!(
            signed["headers"]["authorization"]
                .as_str()
                .unwrap()
                .starts_with("AWS4-HMAC-SHA256 Credential="),
            "the sample event carries a SigV4 Authorization header"
        );
        let reply = h.call(signed.header("X-Admin-Session", &h.token)).await;
        assert_eq!(
            reply.status, 200,
            "{url_auth:?}: SigV4 in Authorization plus the session header: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn behind_an_iam_url_a_request_without_the_iam_caller_is_refused() {
    let h = Harness::behind(iam()).await;
    let mut unsigned = event("admin-flags-list");
    unsigned["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let reply = h.admin_with(unsigned.clone()).await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "IAM_CALLER_REQUIRED"),
        "{}",
        reply.body
    );
    let local = Harness::new().await;
    assert_eq!(
        local.admin_with(unsigned).await.status,
        200,
        "the local emulator (ADMIN_URL_AUTH=NONE) does not sign"
    );
}

#[tokio::test]
async fn behind_an_iam_url_only_the_admin_roles_sessions_get_in() {
    let h = Harness::behind(iam()).await;
    for caller in [
        "arn:aws:sts::123456789012:assumed-role/PowerUser/ci",
        "arn:aws:sts::210987654321:assumed-role/wallet-admin/admin",
        "arn:aws:iam::123456789012:user/deployer",
    ] {
        let mut other = event("admin-flags-list").header("X-Admin-Session", &h.token);
        other["requestContext"]["authorizer"]["iam"]["userArn"] = caller.into();
        let reply = h.call(other).await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "ADMIN_ROLE_REQUIRED"),
            "{caller}: {}",
            reply.body
        );
    }
    let admin = h
        .call(event("admin-flags-list").header("X-Admin-Session", &h.token))
        .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
}

#[test]
fn admin_url_auth_is_required_and_aws_iam_names_the_role() {
    let env = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let missing = UrlAuth::from_env(&env(&[])).unwrap_err();
    assert!(missing.to_string().contains("ADMIN_URL_AUTH"), "{missing}");
    assert_eq!(
        UrlAuth::from_env(&env(&[("ADMIN_URL_AUTH", "NONE")])).unwrap(),
        UrlAuth::None
    );
    assert_eq!(
        UrlAuth::from_env(&env(&[
            ("ADMIN_URL_AUTH", "AWS_IAM"),
            ("ADMIN_ROLE_ARN", ADMIN_ROLE_ARN)
        ]))
        .unwrap(),
        iam()
    );
    let no_role = UrlAuth::from_env(&env(&[("ADMIN_URL_AUTH", "AWS_IAM")])).unwrap_err();
    assert!(no_role.to_string().contains("ADMIN_ROLE_ARN"), "{no_role}");
    let wide = UrlAuth::from_env(&env(&[
        ("ADMIN_URL_AUTH", "AWS_IAM"),
        ("ADMIN_ROLE_ARN", "*"),
    ]))
    .unwrap_err();
    assert!(wide.to_string().contains("ADMIN_ROLE_ARN"), "{wide}");
    let err = UrlAuth::from_env(&env(&[("ADMIN_URL_AUTH", "aws_iam")])).unwrap_err();
    assert!(err.to_string().contains("ADMIN_URL_AUTH"), "{err}");
}

/// Each sample event names a route of the table; a wrong method on any
/// route is 405 (after the admin is admitted) and a path of none is 404.
#[tokio::test]
async fn every_route_refuses_other_methods_and_unknown_paths() {
    let h = Harness::new().await;
    let samples = [
        "admin-flags-list",
        "admin-flags-create",
        "admin-flags-get",
        "admin-flags-update",
        "admin-flags-delete",
        "admin-emergency-disable",
        "admin-emergency-restore",
        "admin-audit",
        "admin-audit-verify",
        "admin-reviews",
        "admin-reviews-decision",
        "admin-kyc-list",
        "admin-kyc-get",
        "admin-kyc-decision",
        "admin-users-kyc-erasure",
        "admin-users-unlock",
        "admin-users-end-sessions",
        "admin-users-reset-totp",
    ];
    let table: Vec<(&str, &str)> = admin::ROUTER.table().collect();
    assert_eq!(table.len(), samples.len(), "one sample per route");
    for name in samples {
        let sample = event(name);
        let http = &sample["requestContext"]["http"];
        let method = http["method"].as_str().unwrap().to_string();
        let path = http["path"].as_str().unwrap().to_string();
        let route = admin::ROUTER.resolve(&method, &path);
        assert!(route.is_ok(), "{name}: {method} {path} is in the table");
        let wrong = if method == "PATCH" { "GET" } else { "PATCH" };
        let reply = h.admin_with(sample.method(wrong)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (405, "METHOD_NOT_ALLOWED"),
            "{name}"
        );
    }
    for unknown in [
        "/admin/reviews/c1",
        "/admin/flags/a/b",
        "/admin/users/u1",
        "/admin/nothing",
    ] {
        let reply = h.admin_with(event("admin-flags-list").path(unknown)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (404, "NOT_FOUND"),
            "{unknown}"
        );
    }
}
