//! Flags and the admin function end to end on the local stand-in: a real
//! admin signs in with TOTP through the login function, changes flags and
//! the emergency switch through the admin function URL, and clients see it
//! through the flags function. Each test works in its own flag namespace.

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, AdminTables, DynamoAdmin, DynamoFlags, DynamoStore, DynamoWallet, SesMailer,
    TableNames, WalletTables,
};
use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{endpoint, eventually, unique_email, EVENTUALLY};
use serde_json::{json, Value};
use shared::auth::model::Role;
use shared::auth::secrets::new_id;
use shared::auth::totp::code_at;
use shared::auth::AccessConfig;
use shared::clock::{Clock, SystemClock};
use shared::config::ProcessEnv;
use shared::flags::{FeatureGuard, FeatureUnavailable, FlagCache};
use shared::ports::UserStore;
use testkit::contract::admin_store_contract;
use testkit::{event, invoke, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";

struct Stack {
    login: login::App,
    admin: admin::App,
    flags: flags::App,
    flag_store: Arc<DynamoFlags>,
    auth: DynamoStore,
    namespace: String,
    /// A loopback address of this test's own (inside the local admin allowlist).
    ip: String,
}

impl Stack {
    async fn new() -> Self {
        endpoint();
        let sdk = load_sdk_config().await;
        let namespace = new_id();
        let admin_tables = AdminTables::from_env(&ProcessEnv).unwrap();
        let flag_store =
            Arc::new(DynamoFlags::new(&sdk, admin_tables.flags.clone()).in_namespace(&namespace));
        let auth = DynamoStore::new(&sdk, TableNames::from_env(&ProcessEnv).unwrap());
        let wallet = Arc::new(DynamoWallet::new(
            &sdk,
            WalletTables::from_env(&ProcessEnv).unwrap(),
        ));
        let admin_store = Arc::new(DynamoAdmin::new(&sdk, admin_tables).in_namespace(&namespace));
        let users = Arc::new(auth.clone());
        let ports = admin::AdminPorts {
            flags: flag_store.clone(),
            audit: admin_store.clone(),
            store: admin_store,
            users: users.clone(),
            sessions: users.clone(),
            liveness: users,
            reviews: wallet.clone(),
            mailer: Arc::new(SesMailer::new(
                &sdk,
                &aws_adapters::MailSettings::from_env(&shared::config::ProcessEnv).unwrap(),
            )),
            kyc: shared::kyc::desk::KycDeskPorts {
                store: Arc::new(aws_adapters::DynamoKyc::new(
                    &sdk,
                    aws_adapters::DynamoKyc::table_from_env(&ProcessEnv).unwrap(),
                )),
                documents: Arc::new(aws_adapters::S3Documents::from_settings(
                    &sdk,
                    aws_adapters::BucketSettings::from_env(&ProcessEnv).unwrap(),
                )),
                wallet,
                pii: Arc::new(testkit::test_pii_keys()),
                retention_seconds: 30 * 86_400,
                link_seconds: 300,
            },
            audit_keys: testkit::test_audit_keys(),
        };
        let access = || AccessConfig::from_env(&ProcessEnv).unwrap();
        let bytes = &namespace.as_bytes()[..2];
        Self {
            login: login::App::from_env(&ProcessEnv).await.unwrap(),
            admin: admin::App::new(access(), ports, Arc::new(SystemClock)),
            flags: flags::App::new(
                access(),
                Arc::new(auth.clone()),
                flag_store.clone(),
                Arc::new(SystemClock),
                1,
                300,
            ),
            flag_store,
            auth,
            ip: format!("127.{}.{}.9", bytes[0], bytes[1]),
            namespace,
        }
    }

    async fn login_call(&self, ev: Value) -> Reply {
        invoke(
            |req| login::handle(&self.login, req),
            ev.source_ip(&self.ip),
        )
        .await
    }

    async fn admin_call(&self, name: &str, token: &str, device: &str) -> Reply {
        self.admin_event(event(name), token, device).await
    }

    async fn admin_event(&self, ev: Value, token: &str, device: &str) -> Reply {
        let ev = ev
            .header("X-Admin-Session", token)
            .device(device)
            .source_ip(&self.ip);
        invoke(|req| admin::handle(&self.admin, req), ev).await
    }

    async fn flags_call(&self) -> Reply {
        invoke(|req| flags::handle(&self.flags, req), event("flags-get")).await
    }

    /// One call to every route guarded by a kill switch, against this
    /// test's flag namespace (later guarded functions join here).
    async fn guarded_routes(&self) -> Vec<Reply> {
        let sdk = load_sdk_config().await;
        let tables = aws_adapters::TableNames::from_env(&ProcessEnv).unwrap();
        let wallet = Arc::new(
            DynamoWallet::new(&sdk, WalletTables::from_env(&ProcessEnv).unwrap())
                .with_session_tables(&tables.users, &tables.sessions),
        );
        let ports = shared::wallet::service::WalletPorts {
            audit_keys: testkit::test_audit_keys(),
            wallet: wallet.clone(),
            idempotency: wallet,
            users: Arc::new(self.auth.clone()),
            liveness: Arc::new(self.auth.clone()),
            reviews: Arc::new(aws_adapters::SqsQueue::new(
                &sdk,
                aws_adapters::SqsQueue::url_from_env(&ProcessEnv).unwrap(),
            )),
        };
        let policy =
            recharge::policy_from_env(&std::collections::HashMap::<String, String>::new()).unwrap();
        let recharge_app = recharge::App::new(
            testkit::test_access_config(),
            ports,
            self.flag_store.clone(),
            policy,
            Arc::new(SystemClock),
        );
        let (_, token) = testkit::signed_in_account(
            &self.auth,
            &self.auth,
            Role::User,
            &["pwd"],
            "203.0.113.10",
            SystemClock.now(),
        )
        .await;
        let recharge = event("recharge-start")
            .bearer(&token)
            .header("Idempotency-Key", &new_id());
        vec![invoke(|req| recharge::handle(&recharge_app, req), recharge).await]
    }

    /// Registers an account, signs it in, and returns its access token.
    async fn account(&self, admin: bool, device: &str) -> (String, String) {
        let email = unique_email("ops");
        let body = json!({"email": email, "password": PASSWORD});
        assert_eq!(
            self.login_call(event("login-register").body(body.clone()))
                .await
                .status,
            202
        );
        if admin {
            self.auth.set_role(&email, Role::Admin).await.unwrap();
        }
        let reply = self
            .login_call(event("login-login").body(body).device(device))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        (
            email,
            reply.body["access_token"].as_str().unwrap().to_string(),
        )
    }

    /// An admin signed in with TOTP, enrolled through the login routes.
    async fn totp_admin(&self, device: &str) -> String {
        let (email, first) = self.account(true, device).await;
        let enrolled = self
            .login_call(event("login-totp-enroll").bearer(&first).device(device))
            .await;
        assert_eq!(enrolled.status, 200, "{}", enrolled.body);
        let secret = enrolled.body["secret"].as_str().unwrap().to_string();
        let now = SystemClock.now();
        let code = code_at(&secret, now).unwrap();
        let confirm = event("login-totp-confirm")
            .body(json!({ "password": PASSWORD, "code": code }))
            .bearer(&first)
            .device(device);
        assert_eq!(self.login_call(confirm).await.status, 200);
        let next_step_code = code_at(&secret, now + 30).unwrap();
        let body = json!({"email": email, "password": PASSWORD, "totp_code": next_step_code});
        let reply = self
            .login_call(event("login-login").body(body).device(device))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_string()
    }
}

const DEVICE: &str = "admin-laptop-0001";

#[tokio::test]
async fn an_admin_flag_reaches_clients_within_the_ttl_and_the_emergency_switch_works() {
    let stack = Stack::new().await;
    let token = stack.totp_admin(DEVICE).await;
    assert!(stack.flags_call().await.body["flags"]
        .as_object()
        .unwrap()
        .is_empty());

    let created = stack.admin_call("admin-flags-create", &token, DEVICE).await;
    assert_eq!(created.status, 201, "{}", created.body);
    eventually("clients see version 1", EVENTUALLY, || async {
        stack.flags_call().await.body["version"] == 1
    })
    .await;
    let seen = stack.flags_call().await;
    assert_eq!(
        seen.body["flags"]["new.checkout"]["reason"], "SPLIT",
        "app 2.4.0 passes the version gate"
    );

    assert_eq!(
        stack
            .admin_call("admin-flags-update", &token, DEVICE)
            .await
            .status,
        200
    );
    let stale = stack.admin_call("admin-flags-update", &token, DEVICE).await;
    assert_eq!((stale.status, stale.code()), (409, "STALE_VERSION"));

    let mut kill_switch: Value =
        serde_json::from_str(event("admin-flags-create")["body"].as_str().unwrap()).unwrap();
    kill_switch["key"] = json!("recharge");
    kill_switch["kind"] = json!("kill_switch");
    kill_switch["rules"] = json!([]);
    let ev = event("admin-flags-create").body(kill_switch);
    assert_eq!(stack.admin_event(ev, &token, DEVICE).await.status, 201);

    let guard = FeatureGuard::new(Arc::new(FlagCache::new(
        stack.flag_store.clone(),
        Arc::new(SystemClock),
        0,
        300,
    )));
    assert!(guard.require("recharge").await.is_ok());
    assert_eq!(
        stack
            .admin_call("admin-emergency-disable", &token, DEVICE)
            .await
            .status,
        200
    );
    let refused = guard.require("recharge").await.unwrap_err();
    assert_eq!(refused, FeatureUnavailable::SwitchedOff);
    for reply in stack.guarded_routes().await {
        assert_eq!(
            (reply.status, reply.code()),
            (503, "FEATURE_DISABLED"),
            "{}",
            reply.body
        );
    }
    eventually("clients see the kill switch killed", EVENTUALLY, || async {
        stack.flags_call().await.body["flags"]["recharge"]
            == json!({"value": false, "reason": "KILLED"})
    })
    .await;
    assert_eq!(
        stack
            .admin_call("admin-emergency-restore", &token, DEVICE)
            .await
            .status,
        200
    );
    assert!(guard.require("recharge").await.is_ok());

    let verify = stack.admin_call("admin-audit-verify", &token, DEVICE).await;
    assert_eq!(
        verify.body,
        json!({"intact": true, "entries": 5,
               "checked_by": [{"kid": "test", "first_seq": 1, "last_seq": 5}]})
    );
}

#[tokio::test]
async fn non_admins_admins_without_totp_and_admins_elsewhere_are_refused() {
    let stack = Stack::new().await;
    let (_, user) = stack.account(false, "phone-0001-sample").await;
    let reply = stack
        .admin_call("admin-flags-list", &user, "phone-0001-sample")
        .await;
    assert_eq!((reply.status, reply.code()), (403, "ADMIN_REQUIRED"));

    let (_, password_only) = stack.account(true, DEVICE).await;
    let reply = stack
        .admin_call("admin-flags-list", &password_only, DEVICE)
        .await;
    assert_eq!((reply.status, reply.code()), (403, "TOTP_REQUIRED"));

    let token = stack.totp_admin(DEVICE).await;
    let elsewhere = event("admin-flags-list")
        .header("X-Admin-Session", &token)
        .device(DEVICE)
        .source_ip("127.200.200.200");
    let reply = invoke(|req| admin::handle(&stack.admin, req), elsewhere).await;
    assert_eq!((reply.status, reply.code()), (403, "IP_NOT_ALLOWED"));
    assert_eq!(
        stack
            .admin_call("admin-flags-list", &token, DEVICE)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_tampered_audit_entry_is_detected() {
    let stack = Stack::new().await;
    let token = stack.totp_admin(DEVICE).await;
    for name in [
        "admin-flags-create",
        "admin-emergency-disable",
        "admin-emergency-restore",
    ] {
        assert_eq!(stack.admin_call(name, &token, DEVICE).await.status / 100, 2);
    }
    let intact = stack.admin_call("admin-audit-verify", &token, DEVICE).await;
    assert_eq!(intact.body["intact"], true);

    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    client
        .update_item()
        .table_name(std::env::var("AUDIT_TABLE").unwrap())
        .key(
            "pk",
            AttributeValue::S(format!("AUDIT#{}", stack.namespace)),
        )
        .key("seq", AttributeValue::N("2".into()))
        .update_expression("SET actor = :someone")
        .expression_attribute_values(":someone", AttributeValue::S("someone-else".into()))
        .send()
        .await
        .unwrap();
    let broken = stack.admin_call("admin-audit-verify", &token, DEVICE).await;
    assert_eq!(
        broken.body,
        json!({"intact": false, "entries": 3, "first_broken_seq": 2, "reason": "mac",
               "checked_by": [{"kid": "test", "first_seq": 1, "last_seq": 1}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_admin_adapters_keep_the_admin_contract() {
    endpoint();
    let sdk = load_sdk_config().await;
    let namespace = new_id();
    let tables = AdminTables::from_env(&ProcessEnv).unwrap();
    let flags = Arc::new(DynamoFlags::new(&sdk, tables.flags.clone()).in_namespace(&namespace));
    let admin = Arc::new(DynamoAdmin::new(&sdk, tables).in_namespace(&namespace));
    let attempts = Arc::new(DynamoStore::new(
        &sdk,
        TableNames::from_env(&ProcessEnv).unwrap(),
    ));
    admin_store_contract(flags, admin.clone(), admin, attempts).await;
}
