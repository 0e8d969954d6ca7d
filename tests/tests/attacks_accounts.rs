//! Account attacks across the functions, in-memory ports. The token of an
//! ended session, tried on every authenticated route of every function:
//! after logout, ending the session from another device, "sign out
//! everywhere else", a password change, a password reset, refresh-token
//! reuse and an admin ending every session, the session's still-unexpired
//! access token is refused at once (401 `SESSION_REVOKED`; the admin
//! function's 403 `SESSION_REVOKED`), and nothing it asked for happens.
//! Also: an unverified address moves no money; raising spending limits
//! needs a fresh second factor; an admin resets another account's TOTP,
//! never their own.

use std::sync::Arc;

use serde_json::{json, Value};
use shared::clock::{Clock, SystemClock};
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use shared::ports::SessionStore;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    event, invoke, memory_wallet_ports, signed_in_account, test_access_config, test_login_env,
    test_pii_keys, EventExt, Reply,
};

const PASSWORD: &str = "violet tangerine 42";
const LAPTOP: &str = "laptop-0001-sample";
const PHONE: &str = "phone-0002-sample";

struct Stack {
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    login: login::App,
    recharge: recharge::App,
    kyc: kyc_upload::App,
    flags: flags::App,
    admin: admin::App,
}

/// A signed-in user: the pair of one session.
struct Signed {
    email: String,
    pair: Value,
    device: &'static str,
}

impl Signed {
    fn access(&self) -> &str {
        self.pair["access_token"].as_str().unwrap()
    }

    fn session_id(&self) -> &str {
        self.pair["session_id"].as_str().unwrap()
    }
}

/// A signed-in admin (password and TOTP) at the admin network.
struct AdminSession {
    user_id: String,
    token: String,
    device: String,
}

const ADMIN_IP: &str = "203.0.113.50";

impl Stack {
    /// A new admin account with a live session.
    async fn admin_session(&self) -> AdminSession {
        let (user_id, token) = signed_in_account(
            &*self.store,
            &*self.store,
            shared::auth::model::Role::Admin,
            &["pwd", "otp"],
            ADMIN_IP,
            SystemClock.now(),
        )
        .await;
        let device = testkit::claims(&token)["did"].as_str().unwrap().to_string();
        AdminSession {
            user_id,
            token,
            device,
        }
    }

    /// The admin event `name` at `path`, sent by `admin`.
    async fn admin_call(&self, admin: &AdminSession, name: &str, path: String) -> Reply {
        let ev = event(name)
            .header("X-Admin-Session", &admin.token)
            .device(&admin.device)
            .source_ip(ADMIN_IP)
            .path(&path);
        invoke(|req| admin::handle(&self.admin, req), ev).await
    }

    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let env = test_login_env(&[("AUTH_IP_LIMIT_PER_MINUTE", "1000")]);
        let ports = shared::auth::service::AuthPorts {
            users: store.clone(),
            sessions: store.clone(),
            liveness: store.clone(),
            attempts: store.clone(),
            mailer: mailer.clone(),
            kyc: store.clone(),
            documents: store.clone(),
            exports: store.clone(),
            export_queue: store.clone(),
        };
        let admin_ports = admin::AdminPorts {
            flags: store.clone(),
            audit: store.clone(),
            store: store.clone(),
            users: store.clone(),
            sessions: store.clone(),
            liveness: store.clone(),
            reviews: store.clone(),
            mailer: mailer.clone(),
            kyc: testkit::memory_kyc_desk_ports(store.clone(), Arc::new(test_pii_keys())),
            audit_keys: testkit::test_audit_keys(),
        };
        Self {
            login: login::App::new(
                login::LoginConfig::from_env(&env).unwrap(),
                ports,
                clock.clone(),
            ),
            recharge: recharge::App::new(
                test_access_config(),
                memory_wallet_ports(&store),
                store.clone(),
                recharge::policy_from_env(&env).unwrap(),
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
                store.clone(),
                test_pii_keys(),
                KycPolicy::default(),
                clock.clone(),
                shared::flags::CacheTiming::default(),
            ),
            flags: flags::App::new(
                test_access_config(),
                store.clone(),
                store.clone(),
                clock.clone(),
                10,
                300,
            ),
            admin: admin::App::new(test_access_config(), admin_ports, clock),
            store,
            mailer,
        }
    }

    async fn login_call(&self, ev: Value) -> Reply {
        invoke(|req| login::handle(&self.login, req), ev).await
    }

    /// Registers and verifies a fresh address.
    async fn account(&self) -> String {
        let email = format!("ended-{}@example.test", shared::auth::secrets::new_id());
        let reply = self
            .login_call(event("login-register").body(json!({"email": email, "password": PASSWORD})))
            .await;
        assert_eq!(reply.status, 202);
        let token = self
            .mailer
            .sent()
            .into_iter()
            .filter(|m| m.to == email)
            .find_map(|m| {
                m.text
                    .split_whitespace()
                    .find(|w| w.starts_with("ev_"))
                    .map(str::to_string)
            })
            .expect("verification token emailed");
        let verified = self
            .login_call(event("login-verify-email").body(json!({ "token": token })))
            .await;
        assert_eq!(verified.status, 204);
        email
    }

    async fn sign_in(&self, email: &str, password: &str, device: &'static str) -> Signed {
        let reply = self
            .login_call(
                event("login-login")
                    .body(json!({"email": email, "password": password}))
                    .device(device),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        Signed {
            email: email.to_string(),
            pair: reply.body,
            device,
        }
    }

    /// Every authenticated route of the user-facing functions, called with
    /// `victim`'s token: (what, reply).
    async fn sweep(&self, victim: &Signed, other_session: &str) -> Vec<(String, Reply)> {
        let token = victim.access();
        let device = victim.device;
        let on = |name: &str| event(name).bearer(token).device(device);
        let mut replies = Vec::new();
        let login_routes = vec![
            ("POST /v1/auth/logout", on("login-logout")),
            ("GET /v1/auth/me", on("login-me")),
            ("POST /v1/auth/totp/enroll", on("login-totp-enroll")),
            (
                "POST /v1/auth/totp/confirm",
                on("login-totp-confirm").body(json!({ "password": PASSWORD, "code": "123456"})),
            ),
            (
                "POST /v1/auth/email/resend",
                on("login-resend-verification"),
            ),
            (
                "POST /v1/auth/password/change",
                on("login-change-password").body(json!({
                    "current_password": PASSWORD,
                    "new_password": "an attacker's passphrase 1"
                })),
            ),
            ("GET /v1/auth/sessions", on("login-sessions")),
            (
                "DELETE /v1/auth/sessions/{id}",
                on("login-revoke-session").path(&format!("/v1/auth/sessions/{other_session}")),
            ),
            ("DELETE /v1/auth/sessions", on("login-revoke-others")),
            ("POST /v1/auth/totp/disable", on("login-totp-disable")),
            ("POST /v1/auth/totp/backup-codes", on("login-backup-codes")),
            ("POST /v1/auth/step-up", on("login-step-up")),
            ("POST /v1/auth/email/change", on("login-change-email")),
            (
                "POST /v1/auth/account/delete",
                on("login-delete-account").body(json!({ "password": PASSWORD })),
            ),
            (
                "POST /v1/auth/account/export",
                on("login-account-export").body(json!({ "password": PASSWORD })),
            ),
            (
                "GET /v1/auth/account/export",
                on("login-account-export-status"),
            ),
        ];
        for (what, ev) in login_routes {
            replies.push((what.to_string(), self.login_call(ev).await));
        }
        let recharge_routes = vec![
            (
                "POST /v1/wallet/recharge",
                on("recharge-start").header("Idempotency-Key", "ended-session-key-0001"),
            ),
            ("GET /v1/wallet", on("recharge-wallet")),
            (
                "GET /v1/wallet/recharges/{id}",
                on("recharge-get").path("/v1/wallet/recharges/rc_anything"),
            ),
            (
                "PUT /v1/wallet/limits",
                on("recharge-limits")
                    .body(json!({"daily": 1_000, "weekly": 2_000, "monthly": 3_000})),
            ),
        ];
        for (what, ev) in recharge_routes {
            let reply = invoke(|req| recharge::handle(&self.recharge, req), ev).await;
            replies.push((what.to_string(), reply));
        }
        for (what, ev) in [
            ("POST /v1/kyc/submissions", on("kyc-upload-submit")),
            ("GET /v1/kyc/status", on("kyc-upload-status")),
        ] {
            let reply = invoke(|req| kyc_upload::handle(&self.kyc, req), ev).await;
            replies.push((what.to_string(), reply));
        }
        let flags = invoke(|req| flags::handle(&self.flags, req), on("flags-get")).await;
        replies.push(("GET /v1/flags (signed in)".to_string(), flags));
        replies
    }

    /// Asserts the sweep was refused everywhere and changed nothing.
    async fn assert_refused_everywhere(&self, how: &str, victim: &Signed, witness: &Signed) {
        for (what, reply) in self.sweep(victim, witness.session_id()).await {
            assert_eq!(
                (reply.status, reply.code()),
                (401, "SESSION_REVOKED"),
                "after {how}: {what} answered {} {}",
                reply.status,
                reply.body
            );
        }
        assert!(
            self.store.money_audit().is_empty(),
            "after {how}: no recharge or limit change was written"
        );
        assert!(
            self.store.export_jobs().is_empty(),
            "after {how}: no data export was queued"
        );
        let me = self
            .login_call(
                event("login-me")
                    .bearer(witness.access())
                    .device(witness.device),
            )
            .await;
        assert_eq!(
            me.status, 200,
            "after {how}: the ended token ended no other session: {}",
            me.body
        );
        let login = self
            .login_call(
                event("login-login")
                    .body(json!({"email": witness.email, "password": PASSWORD}))
                    .device(witness.device),
            )
            .await;
        assert_eq!(
            login.status, 200,
            "after {how}: the ended token changed no password"
        );
    }
}

#[tokio::test]
async fn after_logout_the_token_is_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let witness = stack.sign_in(&email, PASSWORD, PHONE).await;
    let out = stack
        .login_call(event("login-logout").bearer(victim.access()).device(LAPTOP))
        .await;
    assert_eq!(out.status, 204);
    stack
        .assert_refused_everywhere("logout", &victim, &witness)
        .await;
}

#[tokio::test]
async fn after_the_owner_ends_the_session_elsewhere_its_token_is_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let witness = stack.sign_in(&email, PASSWORD, PHONE).await;
    let ended = stack
        .login_call(
            event("login-revoke-session")
                .path(&format!("/v1/auth/sessions/{}", victim.session_id()))
                .bearer(witness.access())
                .device(PHONE),
        )
        .await;
    assert_eq!(ended.status, 204);
    stack
        .assert_refused_everywhere("ending the session from another device", &victim, &witness)
        .await;
}

#[tokio::test]
async fn after_sign_out_everywhere_else_the_old_tokens_are_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let asking = stack.sign_in(&email, PASSWORD, PHONE).await;
    let reply = stack
        .login_call(
            event("login-revoke-others")
                .bearer(asking.access())
                .device(PHONE),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let witness = Signed {
        email: email.clone(),
        pair: reply.body,
        device: PHONE,
    };
    stack
        .assert_refused_everywhere("sign out everywhere else", &victim, &witness)
        .await;
}

#[tokio::test]
async fn after_a_password_change_other_tokens_are_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let asking = stack.sign_in(&email, PASSWORD, PHONE).await;
    let changed = stack
        .login_call(
            event("login-change-password")
                .body(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase 3"}))
                .bearer(asking.access())
                .device(PHONE),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let back = stack
        .login_call(
            event("login-change-password")
                .body(json!({"current_password": "a brand new passphrase 3", "new_password": PASSWORD}))
                .bearer(changed.body["access_token"].as_str().unwrap())
                .device(PHONE),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let witness = Signed {
        email,
        pair: back.body,
        device: PHONE,
    };
    stack
        .assert_refused_everywhere("a password change", &victim, &witness)
        .await;
}

#[tokio::test]
async fn after_a_password_reset_every_token_is_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let forgot = stack
        .login_call(event("login-forgot-password").body(json!({ "email": email })))
        .await;
    assert_eq!(forgot.status, 202);
    let token = stack
        .mailer
        .sent()
        .into_iter()
        .rev()
        .find_map(|m| {
            m.text
                .split_whitespace()
                .find(|w| w.starts_with("pr_"))
                .map(str::to_string)
        })
        .unwrap();
    let reset = stack
        .login_call(
            event("login-reset-password").body(json!({"token": token, "password": PASSWORD})),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    let witness = stack.sign_in(&email, PASSWORD, PHONE).await;
    stack
        .assert_refused_everywhere("a password reset", &victim, &witness)
        .await;
}

#[tokio::test]
async fn after_refresh_token_reuse_the_family_is_refused_everywhere() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let witness = stack.sign_in(&email, PASSWORD, PHONE).await;
    let refresh = |device: &str| {
        stack.login_call(
            event("login-refresh")
                .body(json!({"refresh_token": victim.pair["refresh_token"]}))
                .device(device),
        )
    };
    assert_eq!(refresh(LAPTOP).await.status, 200);
    let stolen = refresh("thief-0003-sample").await;
    assert_eq!(stolen.status, 401);
    stack
        .assert_refused_everywhere("refresh-token reuse", &victim, &witness)
        .await;
}

#[tokio::test]
async fn an_admin_token_of_an_ended_session_opens_no_admin_route() {
    let stack = Stack::new();
    let now = SystemClock.now();
    let (_, token) = signed_in_account(
        &*stack.store,
        &*stack.store,
        shared::auth::model::Role::Admin,
        &["pwd", "otp"],
        "203.0.113.50",
        now,
    )
    .await;
    let claims = testkit::claims(&token);
    let call = |name: &'static str| {
        let ev = event(name)
            .header("X-Admin-Session", &token)
            .device(claims["did"].as_str().unwrap())
            .source_ip("203.0.113.50");
        invoke(|req| admin::handle(&stack.admin, req), ev)
    };
    assert_eq!(call("admin-flags-list").await.status, 200);
    stack
        .store
        .revoke_session(claims["sid"].as_str().unwrap())
        .await
        .unwrap();
    for name in [
        "admin-flags-list",
        "admin-audit",
        "admin-users-unlock",
        "admin-kyc-list",
    ] {
        let reply = call(name).await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "SESSION_REVOKED"),
            "{name}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn an_unverified_address_moves_no_money_and_submits_no_identity() {
    let stack = Stack::new();
    let email = format!(
        "unverified-{}@example.test",
        shared::auth::secrets::new_id()
    );
    let registered = stack
        .login_call(event("login-register").body(json!({"email": email, "password": PASSWORD})))
        .await;
    assert_eq!(registered.status, 202);
    let user = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let on = |name: &str| event(name).bearer(user.access()).device(LAPTOP);
    let recharge = invoke(
        |req| recharge::handle(&stack.recharge, req),
        on("recharge-start").header("Idempotency-Key", "unverified-key-0001"),
    )
    .await;
    assert_eq!(
        (recharge.status, recharge.code()),
        (403, "EMAIL_NOT_VERIFIED"),
        "{}",
        recharge.body
    );
    for name in ["kyc-upload-submit", "kyc-upload-status"] {
        let reply = invoke(|req| kyc_upload::handle(&stack.kyc, req), on(name)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "EMAIL_NOT_VERIFIED"),
            "{name}"
        );
    }
    assert!(stack.store.money_audit().is_empty(), "nothing was written");
    let wallet = invoke(
        |req| recharge::handle(&stack.recharge, req),
        on("recharge-wallet"),
    )
    .await;
    assert_eq!(
        wallet.status, 200,
        "reading the wallet needs no verification"
    );

    let token = stack
        .mailer
        .sent()
        .into_iter()
        .find_map(|m| {
            m.text
                .split_whitespace()
                .find(|w| w.starts_with("ev_"))
                .map(str::to_string)
        })
        .unwrap();
    let verified = stack
        .login_call(event("login-verify-email").body(json!({ "token": token })))
        .await;
    assert_eq!(verified.status, 204);
    let status = invoke(
        |req| kyc_upload::handle(&stack.kyc, req),
        on("kyc-upload-status"),
    )
    .await;
    assert_eq!(
        status.status, 200,
        "verified at once, same token: {}",
        status.body
    );
}

#[tokio::test]
async fn after_an_admin_ends_every_session_of_an_account_its_tokens_are_refused_everywhere() {
    use shared::ports::AuditLog;
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let user_id = testkit::claims(victim.access())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = stack.admin_session().await;
    let admin_id = admin.user_id.clone();
    let end = |target: &str| {
        stack.admin_call(
            &admin,
            "admin-users-end-sessions",
            format!("/admin/users/{target}/sessions/revoke"),
        )
    };
    let unknown = end("no-such-user").await;
    assert_eq!(unknown.status, 404);
    let ended = end(&user_id).await;
    assert_eq!(ended.status, 204, "{}", ended.body);

    let entries = stack.store.all().await.unwrap();
    let entry = entries.last().expect("audited");
    assert_eq!(entry.action, "user.sessions_end");
    assert_eq!(entry.actor, admin_id);
    assert_eq!(entry.target, format!("user:{user_id}"));

    let witness = stack.sign_in(&email, PASSWORD, PHONE).await;
    stack
        .assert_refused_everywhere("an admin ending every session", &victim, &witness)
        .await;
}

#[tokio::test]
async fn an_ended_token_learns_nothing_from_a_used_idempotency_key() {
    let stack = Stack::new();
    let email = stack.account().await;
    let victim = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let recharge = |body: Value| {
        let ev = event("recharge-start")
            .bearer(victim.access())
            .device(LAPTOP)
            .header("Idempotency-Key", "used-key-0000-0001")
            .body(body);
        invoke(|req| recharge::handle(&stack.recharge, req), ev)
    };
    let first = recharge(json!({"amount": 500, "currency": "EUR", "provider": "stripe"})).await;
    assert!(
        first.status < 300,
        "a live session recharges: {}",
        first.body
    );
    let out = stack
        .login_call(event("login-logout").bearer(victim.access()).device(LAPTOP))
        .await;
    assert_eq!(out.status, 204);
    for body in [
        json!({"amount": 500, "currency": "EUR", "provider": "stripe"}),
        json!({"amount": 900, "currency": "EUR", "provider": "stripe"}),
    ] {
        let reply = recharge(body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "SESSION_REVOKED"),
            "a replay or a reused key is refused as the session it comes from: {}",
            reply.body
        );
    }
}

/// Enrols TOTP for `user` with its token; returns the secret.
async fn enrol(stack: &Stack, user: &Signed) -> String {
    let started = stack
        .login_call(
            event("login-totp-enroll")
                .bearer(user.access())
                .device(user.device),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let code = shared::auth::totp::code_at(&secret, SystemClock.now()).unwrap();
    let confirmed = stack
        .login_call(
            event("login-totp-confirm")
                .bearer(user.access())
                .device(user.device)
                .body(json!({ "password": PASSWORD, "code": code })),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    secret
}

#[tokio::test]
async fn raising_spending_limits_needs_a_fresh_second_factor() {
    let stack = Stack::new();
    let email = stack.account().await;
    let user = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let limits = |token: &str, daily: i64| {
        let ev = event("recharge-limits")
            .bearer(token)
            .device(LAPTOP)
            .body(json!({"daily": daily, "weekly": 2_000, "monthly": 3_000}));
        invoke(|req| recharge::handle(&stack.recharge, req), ev)
    };
    assert_eq!(
        limits(user.access(), 1_000).await.status,
        200,
        "without a second factor, nothing to step up to"
    );
    let secret = enrol(&stack, &user).await;
    let lower = limits(user.access(), 500).await;
    assert_eq!(
        lower.status, 200,
        "lowering needs no step-up: {}",
        lower.body
    );
    let raise = limits(user.access(), 2_000).await;
    assert_eq!(
        (raise.status, raise.code()),
        (403, "STEP_UP_REQUIRED"),
        "{}",
        raise.body
    );
    // A step later than the one that confirmed the enrolment.
    let code = shared::auth::totp::code_at(&secret, SystemClock.now() + 30).unwrap();
    let up = stack
        .login_call(
            event("login-step-up")
                .bearer(user.access())
                .device(LAPTOP)
                .body(json!({ "totp_code": code })),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    let fresh = up.body["access_token"].as_str().unwrap();
    let raised = limits(fresh, 2_000).await;
    assert_eq!(raised.status, 200, "{}", raised.body);
}

#[tokio::test]
async fn an_admin_resets_another_accounts_totp_but_never_their_own() {
    use shared::ports::AuditLog;
    let stack = Stack::new();
    let email = stack.account().await;
    let user = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    enrol(&stack, &user).await;
    let challenged = stack
        .login_call(
            event("login-login")
                .body(json!({"email": email, "password": PASSWORD}))
                .device(PHONE),
        )
        .await;
    assert_eq!(challenged.code(), "MFA_REQUIRED");
    let user_id = testkit::claims(user.access())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = stack.admin_session().await;
    let admin_id = admin.user_id.clone();
    let reset = |target: &str| {
        stack.admin_call(
            &admin,
            "admin-users-reset-totp",
            format!("/admin/users/{target}/totp/reset"),
        )
    };
    let own = reset(&admin_id).await;
    assert_eq!(own.status, 403, "{}", own.body);
    let entries = stack.store.all().await.unwrap();
    assert_eq!(
        entries.last().unwrap().action,
        "user.self_decision_refused",
        "the refused attempt is audited"
    );
    let done = reset(&user_id).await;
    assert_eq!(done.status, 204, "{}", done.body);
    let entries = stack.store.all().await.unwrap();
    let entry = entries.last().unwrap();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.actor.as_str(),
            entry.target.clone()
        ),
        (
            "user.totp_reset",
            admin_id.as_str(),
            format!("user:{user_id}")
        )
    );
    let notified: Vec<String> = stack
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.subject == "Two-step sign-in reset")
        .map(|m| m.to)
        .collect();
    assert_eq!(notified.len(), 2, "the account and the admin: {notified:?}");
    assert!(notified.contains(&email));
    let one_step = stack
        .login_call(
            event("login-login")
                .body(json!({"email": email, "password": PASSWORD}))
                .device(PHONE),
        )
        .await;
    assert_eq!(one_step.status, 200, "{}", one_step.body);
}

#[tokio::test]
async fn a_refreshed_token_is_no_fresh_second_factor() {
    let stack = Stack::new();
    let email = stack.account().await;
    let first = stack.sign_in(&email, PASSWORD, LAPTOP).await;
    let secret = enrol(&stack, &first).await;
    let challenged = stack
        .login_call(
            event("login-login")
                .body(json!({"email": email, "password": PASSWORD}))
                .device(LAPTOP),
        )
        .await;
    assert_eq!(challenged.code(), "MFA_REQUIRED");
    let code = shared::auth::totp::code_at(&secret, SystemClock.now() + 30).unwrap();
    let done = stack
        .login_call(
            event("login-login-mfa")
                .body(json!({"challenge": challenged.body["mfa"]["challenge"], "totp_code": code}))
                .device(LAPTOP),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let limits = |token: &str, daily: i64| {
        let ev = event("recharge-limits")
            .bearer(token)
            .device(LAPTOP)
            .body(json!({"daily": daily, "weekly": 20_000, "monthly": 30_000}));
        invoke(|req| recharge::handle(&stack.recharge, req), ev)
    };
    let signed_in = done.body["access_token"].as_str().unwrap();
    assert_eq!(limits(signed_in, 1_000).await.status, 200);
    assert_eq!(
        limits(signed_in, 2_000).await.status,
        200,
        "a sign-in with the second factor just now is fresh"
    );
    let refreshed = stack
        .login_call(
            event("login-refresh")
                .body(json!({"refresh_token": done.body["refresh_token"]}))
                .device(LAPTOP),
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let raise = limits(refreshed.body["access_token"].as_str().unwrap(), 3_000).await;
    assert_eq!(
        (raise.status, raise.code()),
        (403, "STEP_UP_REQUIRED"),
        "a refresh proves no second factor"
    );
}
