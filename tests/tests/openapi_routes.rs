//! `infra/openapi.yaml` and the functions agree, both ways: every route a
//! function declares is in the spec and every spec route is declared by
//! exactly one function; each function answers its routes (not "no such
//! route", not 405) and refuses every other spec route as unknown, so its
//! declared list is the whole of what it serves. Requests carry a valid
//! access token of a fresh user, so a declared route without a handler
//! answers "no such route" rather than hiding behind authentication's 401.
//! In-memory ports only.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use shared::clock::{Clock, SystemClock};
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use shared::webhook::ingest::IngestPolicy;
use testkit::memory::MemoryStore;
use testkit::{
    event, invoke, memory_auth_ports, memory_wallet_ports, test_access_config, test_login_env,
    test_pii_keys, verified_wallet_user, EventExt, Reply,
};

type Route = (String, String);

/// The (METHOD, path) pairs under `paths:` of the spec. The spec keeps
/// paths at two spaces of indent and their operations at four.
fn spec_routes() -> BTreeSet<Route> {
    let path = format!("{}/../infra/openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("infra/openapi.yaml");
    let mut routes = BTreeSet::new();
    let mut in_paths = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            current = Some(format!("/{p}"));
        } else if let Some(op) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')) {
            if ["get", "post", "put", "patch", "delete"].contains(&op) {
                let path = current.clone().expect("an operation sits under a path");
                routes.insert((op.to_ascii_uppercase(), path));
            }
        }
    }
    routes
}

/// A concrete path for a template (`{param}` → a sample segment).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                if seg == "{provider}" {
                    "stripe"
                } else {
                    "sample-id"
                }
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn declared<R: Copy>(router: &edge::router::Router<R>) -> Vec<Route> {
    router
        .table()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

struct Functions {
    store: Arc<MemoryStore>,
    login: login::App,
    flags: flags::App,
    recharge: recharge::App,
    webhook: webhook::App,
    kyc: kyc_upload::App,
}

impl Functions {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(SystemClock);
        let env = test_login_env(&[
            ("WEBHOOK_PROVIDERS", "stripe=stripe"),
            (
                "WEBHOOK_SECRETS_STRIPE",
                "whsec_test_only_route_probe_5b1f9e",
            ),
        ]);
        Self {
            store: store.clone(),
            login: login::App::new(
                login::LoginConfig::from_env(&env).unwrap(),
                memory_auth_ports(&store),
                clock.clone(),
            ),
            flags: flags::App::new(
                test_access_config(),
                store.clone(),
                store.clone(),
                clock.clone(),
                10,
                300,
            ),
            recharge: recharge::App::new(
                test_access_config(),
                memory_wallet_ports(&store),
                store.clone(),
                recharge::policy_from_env(&env).unwrap(),
                clock.clone(),
            ),
            webhook: webhook::App::new(
                IngestPolicy::from_env(&env).unwrap(),
                store.clone(),
                store.clone(),
                clock.clone(),
            ),
            kyc: kyc_upload::App::new(
                shared::auth::liveness::SignedInCallers {
                    access: test_access_config(),
                    sessions: store.clone(),
                },
                KycPorts {
                    store: store.clone(),
                    documents: store.clone(),
                },
                store,
                test_pii_keys(),
                KycPolicy::default(),
                clock,
                shared::flags::CacheTiming::default(),
            ),
        }
    }

    /// Every function with the routes it declares.
    fn declarations(&self) -> Vec<(&'static str, Vec<Route>)> {
        vec![
            ("login", declared(&login::ROUTER)),
            ("flags", declared(&flags::ROUTER)),
            ("recharge", declared(&recharge::ROUTER)),
            ("webhook", declared(&webhook::ROUTER)),
            ("kyc-upload", declared(&kyc_upload::ROUTER)),
        ]
    }

    /// `method path` from a fresh signed-in user (a session of its own, so
    /// a logout earlier in the walk revokes nothing later calls need).
    async fn call(&self, function: &str, method: &str, path: &str) -> Reply {
        let (_, token) = verified_wallet_user(&self.store, SystemClock.now()).await;
        let device = testkit::claims(&token)["did"].as_str().unwrap().to_string();
        let ev: Value = event("recharge-wallet")
            .method(method)
            .path(&concrete(path))
            .bearer(&token)
            .device(&device)
            .raw_body("{}");
        match function {
            "login" => invoke(|req| login::handle(&self.login, req), ev).await,
            "flags" => invoke(|req| flags::handle(&self.flags, req), ev).await,
            "recharge" => invoke(|req| recharge::handle(&self.recharge, req), ev).await,
            "webhook" => invoke(|req| webhook::handle(&self.webhook, req), ev).await,
            "kyc-upload" => invoke(|req| kyc_upload::handle(&self.kyc, req), ev).await,
            other => panic!("unknown function {other}"),
        }
    }
}

fn unknown_route(reply: &Reply) -> bool {
    reply.status == 404 && reply.body["error"]["message"] == "No such route."
}

/// Refused by authentication: the request never reached a route's handler.
fn auth_refused(reply: &Reply) -> bool {
    reply.status == 401
}

#[test]
fn the_spec_lists_exactly_the_routes_the_functions_declare() {
    let functions = Functions::new();
    let spec = spec_routes();
    assert!(
        spec.contains(&("POST".to_string(), "/v1/wallet/recharge".to_string())),
        "the spec parsed: {spec:?}"
    );
    let mut declared_all = BTreeSet::new();
    for (function, routes) in functions.declarations() {
        for route in routes {
            assert!(
                spec.contains(&route),
                "{function} serves {route:?}, missing from the spec"
            );
            assert!(
                declared_all.insert(route.clone()),
                "{route:?} declared twice"
            );
        }
    }
    let undeclared: Vec<&Route> = spec.difference(&declared_all).collect();
    assert!(
        undeclared.is_empty(),
        "spec routes no function serves: {undeclared:?}"
    );
}

#[tokio::test]
async fn each_function_answers_its_routes_and_no_other_spec_route() {
    let functions = Functions::new();
    let spec = spec_routes();
    for (function, routes) in functions.declarations() {
        for (method, path) in &spec {
            let reply = functions.call(function, method, path).await;
            let owned = routes.contains(&(method.clone(), path.clone()));
            if owned {
                assert!(
                    !unknown_route(&reply) && reply.status != 405 && !auth_refused(&reply),
                    "{function} does not serve its {method} {path}: {} {}",
                    reply.status,
                    reply.body
                );
            } else if routes.iter().any(|(_, p)| p == path) {
                assert_eq!(reply.status, 405, "{function}: {method} {path}");
            } else {
                assert!(
                    unknown_route(&reply),
                    "{function} answers {method} {path}, which it does not declare: {} {}",
                    reply.status,
                    reply.body
                );
            }
        }
        for (_, path) in &routes {
            if routes.contains(&("DELETE".to_string(), path.clone())) {
                continue;
            }
            let reply = functions.call(function, "DELETE", path).await;
            assert_eq!(reply.status, 405, "{function}: DELETE {path}");
        }
    }
}
