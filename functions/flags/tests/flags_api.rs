//! `GET /v1/flags` over in-memory ports: public flags only, personalisation,
//! ETag and 304, the snapshot cache with its TTL and stale bound.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use flags::App;
use serde_json::{json, Value};
use shared::auth::model::Role;
use shared::clock::ManualClock;
use shared::flags::{FailMode, Flag, FlagKind, Rule, Snapshot, Visibility};
use shared::ports::{FlagStore, StoreError};
use testkit::{event, invoke, signed_in_account, test_access_config, EventExt, Reply};

const NOW: i64 = 1_900_000_000;

/// A flag store that counts reads and can be switched off.
#[derive(Default)]
struct CountingFlags {
    snapshot: std::sync::Mutex<Option<Snapshot>>,
    reads: AtomicU32,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl FlagStore for CountingFlags {
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("switched off".into()));
        }
        Ok(self.snapshot.lock().unwrap().clone())
    }
}

fn flag(key: &str, visibility: Visibility, rules: Vec<Rule>) -> Flag {
    Flag {
        key: key.to_string(),
        description: String::new(),
        kind: FlagKind::Release,
        enabled: true,
        visibility,
        default_value: json!(false),
        on_value: json!(true),
        rules,
        fail_mode: FailMode::Closed,
        killed: false,
        version: 1,
    }
}

fn sample_snapshot(version: u64) -> Snapshot {
    let mut fail_open = flag("chat.enabled", Visibility::Public, vec![]);
    fail_open.fail_mode = FailMode::Open;
    let mut kill = flag("recharge", Visibility::Public, vec![]);
    kill.kind = FlagKind::KillSwitch;
    Snapshot {
        version,
        emergency: false,
        flags: vec![
            flag(
                "new.checkout",
                Visibility::Public,
                vec![
                    Rule::AllowUsers {
                        users: vec!["vip-user".into()],
                    },
                    Rule::Rollout { basis_points: 0 },
                ],
            ),
            flag("fraud.model.v2", Visibility::Internal, vec![]),
            fail_open,
            kill,
        ],
    }
}

struct Harness {
    app: App,
    sessions: Arc<testkit::memory::MemoryStore>,
    flags: Arc<CountingFlags>,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new() -> Self {
        let flags = Arc::new(CountingFlags::default());
        *flags.snapshot.lock().unwrap() = Some(sample_snapshot(7));
        let clock = Arc::new(ManualClock::new(NOW));
        let sessions = Arc::new(testkit::memory::MemoryStore::new());
        let app = App::new(
            test_access_config(),
            sessions.clone(),
            flags.clone(),
            clock.clone(),
            10,
            300,
        );
        Self {
            app,
            sessions,
            flags,
            clock,
        }
    }

    async fn get(&self, event: Value) -> Reply {
        invoke(|req| flags::handle(&self.app, req), event).await
    }

    fn reads(&self) -> u32 {
        self.flags.reads.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn anonymous_callers_get_public_flags_with_reasons_and_never_internal_ones() {
    let h = Harness::new();
    let reply = h.get(event("flags-get")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["version"], 7);
    assert_eq!(
        reply.body["flags"]["new.checkout"],
        json!({"value": false, "reason": "SPLIT"})
    );
    assert_eq!(
        reply.body["flags"]["chat.enabled"],
        json!({"value": true, "reason": "STATIC"})
    );
    assert!(reply.body["flags"].get("fraud.model.v2").is_none());
    assert!(
        !reply.body.to_string().contains("fraud.model"),
        "internal flags never leave the backend"
    );
    assert_eq!(reply.headers["cache-control"], "private, max-age=10");
}

#[tokio::test]
async fn a_signed_in_user_is_evaluated_as_themselves() {
    let h = Harness::new();
    let store = &*h.sessions;
    let (user_id, token) =
        signed_in_account(store, store, Role::User, &["pwd"], "203.0.113.10", NOW).await;
    let mut snapshot = sample_snapshot(8);
    snapshot.flags[0].rules = vec![Rule::AllowUsers {
        users: vec![user_id],
    }];
    *h.flags.snapshot.lock().unwrap() = Some(snapshot);
    let reply = h.get(event("flags-get").bearer(&token)).await;
    assert_eq!(
        reply.body["flags"]["new.checkout"],
        json!({"value": true, "reason": "TARGETING_MATCH"})
    );

    let forged = h.get(event("flags-get").bearer("not-a-token")).await;
    assert_eq!(forged.status, 401, "a bad token is refused, not ignored");
    let other_device = h
        .get(
            event("flags-get")
                .bearer(&token)
                .device("someone-elses-phone"),
        )
        .await;
    assert_eq!(other_device.status, 401);
}

#[tokio::test]
async fn etag_follows_the_snapshot_and_if_none_match_gets_304() {
    let h = Harness::new();
    let first = h.get(event("flags-get")).await;
    let etag = first.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"7-"), "{etag}");
    let again = h
        .get(event("flags-get").header("If-None-Match", &etag))
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.body, Value::Null);
    assert_eq!(again.headers["etag"], etag.as_str());

    *h.flags.snapshot.lock().unwrap() = Some(sample_snapshot(8));
    h.clock.advance(10);
    let changed = h
        .get(event("flags-get").header("If-None-Match", &etag))
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.headers["etag"], etag.as_str());
}

#[tokio::test]
async fn one_read_per_ttl_and_none_while_warm() {
    let h = Harness::new();
    h.get(event("flags-get")).await;
    assert_eq!(h.reads(), 1, "a cold start reads once");
    for _ in 0..20 {
        h.get(event("flags-get")).await;
    }
    assert_eq!(h.reads(), 1, "warm requests read nothing");
    h.clock.advance(9);
    h.get(event("flags-get")).await;
    assert_eq!(h.reads(), 1);
    h.clock.advance(1);
    h.get(event("flags-get")).await;
    assert_eq!(h.reads(), 2, "re-read after the TTL");
}

#[tokio::test]
async fn an_outage_serves_stale_then_fail_modes_and_with_nothing_cached_503() {
    let h = Harness::new();
    h.get(event("flags-get")).await;
    h.flags.down.store(true, Ordering::SeqCst);
    h.clock.advance(60);
    let stale = h.get(event("flags-get")).await;
    assert_eq!(stale.status, 200);
    assert_eq!(
        stale.body["flags"]["chat.enabled"]["reason"], "STATIC",
        "stale within bound"
    );
    let reads = h.reads();
    h.get(event("flags-get")).await;
    assert_eq!(
        h.reads(),
        reads,
        "no retry storm: at most one attempt per TTL"
    );

    h.clock.advance(300);
    let beyond = h.get(event("flags-get")).await;
    assert_eq!(
        beyond.body["flags"]["chat.enabled"],
        json!({"value": true, "reason": "ERROR"}),
        "fails open"
    );
    assert_eq!(
        beyond.body["flags"]["new.checkout"],
        json!({"value": false, "reason": "ERROR"}),
        "fails closed"
    );

    let cold = Harness::new();
    cold.flags.down.store(true, Ordering::SeqCst);
    let reply = cold.get(event("flags-get")).await;
    assert_eq!((reply.status, reply.code()), (503, "FLAGS_UNAVAILABLE"));
}

#[tokio::test]
async fn emergency_and_kill_switches_show_as_killed() {
    let h = Harness::new();
    let mut snapshot = sample_snapshot(9);
    snapshot.emergency = true;
    *h.flags.snapshot.lock().unwrap() = Some(snapshot);
    let reply = h.get(event("flags-get")).await;
    assert_eq!(
        reply.body["flags"]["recharge"],
        json!({"value": false, "reason": "KILLED"})
    );
    assert_eq!(
        reply.body["flags"]["chat.enabled"]["reason"], "STATIC",
        "only kill switches are guarded"
    );
}

#[tokio::test]
async fn unknown_query_parameters_and_other_methods_are_refused() {
    let h = Harness::new();
    let mut with_query = event("flags-get");
    with_query["queryStringParameters"] = json!({"debug": "1"});
    with_query["multiValueQueryStringParameters"] = json!({"debug": ["1"]});
    let reply = h.get(with_query).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["details"][0]["field"], "debug");
    assert_eq!(h.get(event("flags-get").method("POST")).await.status, 405);
    assert_eq!(h.reads(), 0, "refused before any read");
}
