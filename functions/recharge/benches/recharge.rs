//! Warm `POST /v1/wallet/recharge` handler time over the in-memory ports:
//! a new allowed recharge, and an idempotent replay.
//!
//! Run: `cargo bench -p recharge --bench recharge`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::auth::model::Role;
use shared::clock::SystemClock;
use shared::ports::WalletStore;
use shared::wallet::model::WalletProfile;
use shared::wallet::service::WalletPorts;
use testkit::memory::MemoryStore;
use testkit::{event, signed_in_account, test_access_config, EventExt};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let now = shared::clock::Clock::now(&SystemClock);
    let (user_id, token) = runtime.block_on(signed_in_account(
        &*store,
        &*store,
        Role::User,
        &["pwd"],
        "203.0.113.10",
        now,
    ));
    let mut profile = WalletProfile::new(&user_id, now - 400 * 86_400);
    profile.age_verified = true;
    profile.devices = vec![shared::auth::secrets::digest(
        "device",
        "device-0001-sample",
    )];
    runtime
        .block_on(store.ensure_profile(&profile))
        .expect("profile");
    let env: HashMap<String, String> =
        [("SPENDING_LIMITS", "900000000000,900000000000,900000000000")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let ports = WalletPorts {
        audit_keys: testkit::test_audit_keys(),
        wallet: store.clone(),
        idempotency: store.clone(),
        users: store.clone(),
        reviews: store.clone(),
        liveness: store.clone(),
    };
    let app = recharge::App::new(
        test_access_config(),
        ports,
        store.clone(),
        recharge::policy_from_env(&env).expect("policy"),
        Arc::new(SystemClock),
    );
    let base = event("recharge-start").bearer(&token);
    let counter = AtomicU64::new(0);
    c.bench_function("warm POST /v1/wallet/recharge (allowed, in-memory)", |b| {
        b.iter(|| {
            let key = format!("bench-{}", counter.fetch_add(1, Ordering::Relaxed));
            let json = base.clone().header("Idempotency-Key", &key).to_string();
            runtime.block_on(async {
                let req = lambda_http::request::from_str(&json).expect("event");
                recharge::handle(&app, req).await.status()
            })
        })
    });
    let replay = base
        .clone()
        .header("Idempotency-Key", "bench-replay")
        .to_string();
    c.bench_function("warm POST /v1/wallet/recharge (idempotent replay)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let req = lambda_http::request::from_str(&replay).expect("event");
                recharge::handle(&app, req).await.status()
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
