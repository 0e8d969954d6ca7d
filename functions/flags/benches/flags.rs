//! Flag evaluation and the warm `GET /v1/flags` handler.
//!
//! Run: `cargo bench -p flags --bench flags`

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use shared::clock::SystemClock;
use shared::flags::{evaluate, EvalContext, FailMode, Flag, FlagKind, Rule, Snapshot, Visibility};
use testkit::{event, test_access_config};

/// 100 flags with a realistic mix of rules.
fn hundred_flags() -> Vec<Flag> {
    (0..100)
        .map(|i| Flag {
            key: format!("feature.{i}"),
            description: String::new(),
            kind: if i % 10 == 0 {
                FlagKind::KillSwitch
            } else {
                FlagKind::Release
            },
            enabled: i % 7 != 0,
            visibility: if i % 4 == 0 {
                Visibility::Internal
            } else {
                Visibility::Public
            },
            default_value: json!(false),
            on_value: json!(true),
            rules: match i % 4 {
                0 => vec![],
                1 => vec![Rule::Rollout {
                    basis_points: 2_500,
                }],
                2 => vec![
                    Rule::DenyUsers {
                        users: (0..50).map(|u| format!("blocked-{u}")).collect(),
                    },
                    Rule::AllowCountries {
                        countries: vec!["FR".into(), "DE".into(), "ES".into()],
                    },
                    Rule::MinAppVersion {
                        version: "2.1.0".into(),
                    },
                    Rule::Rollout {
                        basis_points: 5_000,
                    },
                ],
                _ => vec![
                    Rule::AllowUsers {
                        users: (0..50).map(|u| format!("beta-{u}")).collect(),
                    },
                    Rule::Roles {
                        roles: vec!["user".into()],
                    },
                ],
            },
            fail_mode: FailMode::Closed,
            killed: false,
            version: 1,
        })
        .collect()
}

fn context() -> EvalContext {
    EvalContext {
        user_id: Some(shared::ids::UserId::issued(
            "4f1c2a9e-5d2b-4c0e-9a59-0d6f1e2b7c31",
        )),
        device_id: Some("device-0001-sample".into()),
        country: Some("FR".into()),
        app_version: Some((2, 4, 0)),
        role: "user".into(),
    }
}

fn evaluation(c: &mut Criterion) {
    let flags = hundred_flags();
    let ctx = context();
    c.bench_function("evaluate 100 flags for one user", |b| {
        b.iter(|| {
            flags
                .iter()
                .map(|f| evaluate(f, &ctx, false, false))
                .filter(|e| e.value == json!(true))
                .count()
        })
    });
}

/// A flag store serving one fixed snapshot, as a warm function's cache would.
struct FixedFlags(Snapshot);

#[async_trait::async_trait]
impl shared::ports::FlagStore for FixedFlags {
    async fn load_snapshot(&self) -> Result<Option<Snapshot>, shared::ports::StoreError> {
        Ok(Some(self.0.clone()))
    }
}

fn warm_handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let snapshot = Snapshot {
        version: 42,
        emergency: false,
        flags: hundred_flags(),
    };
    let app = flags::App::new(
        test_access_config(),
        Arc::new(testkit::memory::MemoryStore::new()),
        Arc::new(FixedFlags(snapshot)),
        Arc::new(SystemClock),
        3_600,
        300,
    );
    let request_json = event("flags-get").to_string();
    runtime.block_on(async {
        let req = lambda_http::request::from_str(&request_json).expect("event");
        flags::handle(&app, req).await
    });
    c.bench_function("warm GET /v1/flags (100 flags, anonymous)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let req = lambda_http::request::from_str(&request_json).expect("event");
                flags::handle(&app, req).await.status()
            })
        })
    });
}

criterion_group!(benches, evaluation, warm_handler);
criterion_main!(benches);
