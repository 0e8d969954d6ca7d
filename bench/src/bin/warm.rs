//! Warm handler time of every HTTP route over the in-memory ports, in one
//! process: API Gateway event parsing, routing, validation, domain work and
//! the JSON answer, without network. Prints JSON (p50/p99 in µs per route).
//!
//! Run: `cargo run --release -p bench --bin warm`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::auth::model::Role;
use shared::clock::{Clock, SystemClock};
use shared::flags::Snapshot;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use shared::ports::{AdminChange, AdminStore, AuditLog, WalletStore};
use shared::wallet::model::WalletProfile;
use shared::webhook::ingest::IngestPolicy;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    event, memory_auth_ports, memory_kyc_desk_ports, memory_wallet_ports, signed_in_account,
    test_access_config, test_audit_keys, test_login_env, test_pii_keys, EventExt,
};

const RUNS: usize = 2_000;
const HASHING_RUNS: usize = 30;
const WEBHOOK_SECRET: &str = "whsec_bench_only_7c1d9e3a5b";

fn env() -> HashMap<String, String> {
    test_login_env(&[
        ("AUTH_IP_LIMIT_PER_MINUTE", "100000000"),
        ("WEBHOOK_PROVIDERS", "stripe=stripe"),
        ("WEBHOOK_SECRETS_STRIPE", WEBHOOK_SECRET),
        ("SPENDING_LIMITS", "900000000000,900000000000,900000000000"),
    ])
}

/// Times `runs` calls of `call` on events made by `make`; returns p50, p99 in µs.
async fn time<M, C, F>(runs: usize, mut make: M, call: C) -> (f64, f64, u16)
where
    M: FnMut(usize) -> String,
    C: Fn(lambda_http::Request) -> F,
    F: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let mut samples = Vec::with_capacity(runs);
    let mut status = 0;
    for i in 0..runs {
        let json = make(i);
        let started = Instant::now();
        let req = lambda_http::request::from_str(&json).expect("event");
        status = call(req).await.status().as_u16();
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), status)
}

fn stripe(recharge: &str, i: usize) -> String {
    let body = json!({"id": format!("evt_bench_{i}"), "type": "payment_intent.succeeded",
        "data": {"object": {"amount": 2000, "currency": "eur", "metadata": {"recharge_id": recharge}}}})
    .to_string();
    let stamp = SystemClock.now();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("key");
    mac.update(format!("{stamp}.{body}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    event("webhook-stripe")
        .raw_body(&body)
        .header("Stripe-Signature", &format!("t={stamp},v1={signature}"))
        .to_string()
}

fn kyc_body() -> (Vec<u8>, String) {
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .expect("png");
    let boundary = "bench-boundary-5f2c";
    let mut body = Vec::new();
    for (name, value) in [
        ("document_type", "passport"),
        ("issuing_country", "FR"),
        ("date_of_birth", "1990-04-12"),
        ("document_number", "12AB34567"),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"front\"; filename=\"f.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = env();
    let store = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let mut results: Vec<Value> = Vec::new();
    let mut record =
        |function: &str, route: &str, runs: usize, (p50, p99, status): (f64, f64, u16)| {
            results.push(json!({"function": function, "route": route, "runs": runs,
            "p50_us": p50, "p99_us": p99, "status": status}));
        };

    let login = login::App::new(
        login::LoginConfig::from_env(&env).expect("login config"),
        memory_auth_ports(&store),
        clock.clone(),
    );
    let login_call = |req| login::handle(&login, req);
    let register = |i: usize| {
        event("login-register")
            .body(json!({"email": format!("bench-{i}@example.test"), "password": "violet tangerine 42"}))
            .to_string()
    };
    record(
        "login",
        "POST /v1/auth/register (argon2id)",
        HASHING_RUNS,
        time(HASHING_RUNS, register, login_call).await,
    );
    let sign_in = |_| {
        event("login-login")
            .body(json!({"email": "bench-0@example.test", "password": "violet tangerine 42"}))
            .to_string()
    };
    record(
        "login",
        "POST /v1/auth/login (argon2id)",
        HASHING_RUNS,
        time(HASHING_RUNS, sign_in, login_call).await,
    );
    let (user_id, token) =
        signed_in_account(&*store, &*store, Role::User, &["pwd"], "203.0.113.10", now).await;
    let me = event("login-me").bearer(&token).to_string();
    record(
        "login",
        "GET /v1/auth/me",
        RUNS,
        time(RUNS, |_| me.clone(), login_call).await,
    );

    let flags_app = flags::App::new(
        test_access_config(),
        store.clone(),
        store.clone(),
        clock.clone(),
        3600,
        300,
    );
    let flags_call = |req| flags::handle(&flags_app, req);
    let head = store.head().await.expect("audit");
    let entry = shared::audit::chain_after(
        &testkit::test_audit_keys(),
        head.as_ref(),
        shared::audit::AuditDraft {
            actor: "bench".into(),
            ip: None,
            action: "flags".into(),
            target: "flags".into(),
            before: None,
            after: None,
        },
        now,
    );
    let snapshot: Snapshot = serde_json::from_value(json!({"version": 1, "emergency": false, "flags":
        (0..100).map(|i| json!({"key": format!("feature.{i}"), "description": "", "kind": "release",
            "enabled": i % 7 != 0, "visibility": "public", "default_value": false, "on_value": true,
            "rules": [{"type": "rollout", "basis_points": 2500}], "fail_mode": "closed", "killed": false, "version": 1}))
        .collect::<Vec<_>>()}))
    .expect("snapshot");
    store
        .commit(
            &AdminChange::SaveSnapshot {
                snapshot,
                expected_version: 0,
            },
            &entry,
        )
        .await
        .expect("flags");
    let flags_event = event("flags-get").to_string();
    record(
        "flags",
        "GET /v1/flags (100 flags)",
        RUNS,
        time(RUNS, |_| flags_event.clone(), flags_call).await,
    );

    let mut profile = WalletProfile::new(&user_id, now - 400 * 86_400);
    profile.age_verified = true;
    profile.devices = vec![shared::auth::secrets::digest(
        "device",
        "device-0001-sample",
    )];
    store.ensure_profile(&profile).await.expect("profile");
    let recharge_app = recharge::App::new(
        test_access_config(),
        memory_wallet_ports(&store),
        store.clone(),
        recharge::policy_from_env(&env).expect("policy"),
        clock.clone(),
    );
    let recharge_call = |req| recharge::handle(&recharge_app, req);
    let start = event("recharge-start").bearer(&token);
    record(
        "recharge",
        "POST /v1/wallet/recharge",
        RUNS,
        time(
            RUNS,
            |i| {
                start
                    .clone()
                    .header("Idempotency-Key", &format!("bench-{i}"))
                    .to_string()
            },
            recharge_call,
        )
        .await,
    );
    let wallet = event("recharge-wallet").bearer(&token).to_string();
    record(
        "recharge",
        "GET /v1/wallet",
        RUNS,
        time(RUNS, |_| wallet.clone(), recharge_call).await,
    );

    let webhook_app = webhook::App::new(
        IngestPolicy::from_env(&env).expect("policy"),
        store.clone(),
        store.clone(),
        clock.clone(),
    );
    let webhook_call = |req| webhook::handle(&webhook_app, req);
    record(
        "webhook",
        "POST /v1/webhooks/stripe",
        RUNS,
        time(RUNS, |i| stripe("rc_bench", i), webhook_call).await,
    );

    let kyc_app = kyc_upload::App::new(
        shared::auth::liveness::SignedInCallers {
            access: test_access_config(),
            sessions: store.clone(),
        },
        KycPorts {
            store: store.clone(),
            documents: store.clone(),
        },
        store.clone(),
        test_pii_keys(),
        KycPolicy {
            daily_uploads: 20,
            ..KycPolicy::default()
        },
        clock.clone(),
        shared::flags::CacheTiming::default(),
    );
    let kyc_call = |req| kyc_upload::handle(&kyc_app, req);
    let status = event("kyc-upload-status").bearer(&token).to_string();
    record(
        "kyc-upload",
        "GET /v1/kyc/status",
        RUNS,
        time(RUNS, |_| status.clone(), kyc_call).await,
    );
    let (body, content_type) = kyc_body();
    let issuer = testkit::test_signer();
    let amr = vec!["pwd".to_string()];
    let submit = |i: usize| {
        let user = format!("bench-kyc-{i}");
        let token = issuer.issue(
            &shared::auth::tokens::TokenSubject {
                user_id: &user,
                session_id: "bench",
                device_id: "device-0001-sample",
                role: Role::User,
                amr: &amr,
                ip: None,
            },
            now,
        );
        event("kyc-upload-submit")
            .bearer(&token)
            .binary_body(&body, &content_type)
            .to_string()
    };
    record(
        "kyc-upload",
        "POST /v1/kyc/submissions (small PNG)",
        RUNS,
        time(RUNS, submit, kyc_call).await,
    );

    let (_, admin_token) = signed_in_account(
        &*store,
        &*store,
        Role::Admin,
        &["pwd", "otp"],
        "203.0.113.10",
        now,
    )
    .await;
    let admin_ports = admin::AdminPorts {
        flags: store.clone(),
        audit: store.clone(),
        store: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        liveness: store.clone(),
        reviews: store.clone(),
        mailer: Arc::new(MemoryMailer::new()),
        kyc: memory_kyc_desk_ports(store.clone(), Arc::new(test_pii_keys())),
        audit_keys: test_audit_keys(),
    };
    let admin_app = admin::App::new(test_access_config(), admin_ports, clock.clone());
    let admin_call = |req| admin::handle(&admin_app, req);
    let admin_flags = event("admin-flags-list")
        .header("X-Admin-Session", &admin_token)
        .to_string();
    record(
        "admin",
        "GET /admin/flags",
        RUNS,
        time(RUNS, |_| admin_flags.clone(), admin_call).await,
    );
    let admin_kyc = event("admin-kyc-list")
        .header("X-Admin-Session", &admin_token)
        .to_string();
    record(
        "admin",
        "GET /admin/kyc?status=pending",
        RUNS,
        time(RUNS, |_| admin_kyc.clone(), admin_call).await,
    );

    println!("{}", serde_json::to_string_pretty(&results).expect("json"));
}
