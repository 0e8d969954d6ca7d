//! Sign-in abuse against the login function's handler (in-memory ports, a
//! manual clock): credential stuffing from one address, password spraying,
//! an attacker locking a victim out, and user enumeration by status, body or
//! time. Each attack is run and its refusal checked, with the state it must
//! not have changed.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use shared::admin::actor::Actor;
use shared::admin::unlocks::UserUnlocks;
use shared::clock::ManualClock;
use shared::ports::UserStore;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{event, invoke, memory_audited_commits, test_login_env, EventExt, Reply};

const PASSWORD: &str = "violet tangerine 42";
const START: i64 = 1_900_000_000;
const ATTACKER_IP: &str = "198.51.100.66";
const VICTIM_DEVICE: &str = "device-victim-phone-0001";

struct Login {
    app: login::App,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    clock: Arc<ManualClock>,
}

impl Login {
    /// The login function with the template's defaults: 20 credential checks
    /// per address and minute, lockout after 5 failures.
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock = Arc::new(ManualClock::new(START));
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
        let env = test_login_env(&[("AUTH_IP_LIMIT_PER_MINUTE", "20")]);
        let config = login::LoginConfig::from_env(&env).expect("test config is valid");
        Self {
            app: login::App::new(config, ports, clock.clone()),
            store,
            mailer,
            clock,
        }
    }

    async fn call(&self, event: Value) -> Reply {
        invoke(|req| login::handle(&self.app, req), event).await
    }

    async fn login_from(&self, email: &str, password: &str, ip: &str, device: &str) -> Reply {
        self.call(
            event("login-login")
                .body(json!({"email": email, "password": password}))
                .source_ip(ip)
                .device(device),
        )
        .await
    }

    async fn register_from(&self, email: &str, password: &str, ip: &str) -> Reply {
        self.call(
            event("login-register")
                .body(json!({"email": email, "password": password}))
                .source_ip(ip),
        )
        .await
    }

    /// Registers `email` and signs it in once on `device` (so the device is known).
    async fn account(&self, email: &str, device: &str) {
        let ip = "192.0.2.1";
        assert_eq!(self.register_from(email, PASSWORD, ip).await.status, 202);
        let first = self.login_from(email, PASSWORD, ip, device).await;
        assert_eq!(first.status, 200, "{}", first.body);
        self.clock.advance(61);
    }

    /// `times` wrong passwords for `email`, each from its own address
    /// (198.51.100.`first`, then up) and its own unknown device.
    async fn attack(&self, email: &str, times: usize, first: usize) {
        for i in first..first + times {
            let ip = format!("198.51.100.{i}");
            let device = format!("device-attacker-{i:03}");
            self.login_from(email, "not the password", &ip, &device)
                .await;
        }
    }

    fn sessions(&self) -> usize {
        self.store.session_count()
    }
}

/// The answer without what differs on every request.
fn comparable(reply: &Reply) -> (u16, Value) {
    let mut body = reply.body.clone();
    if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
        error.remove("request_id");
    }
    (reply.status, body)
}

#[tokio::test]
async fn credential_stuffing_from_one_address_is_cut_off_by_the_address_limit() {
    let login = Login::new();
    let accounts: Vec<String> = (0..5).map(|i| format!("user{i}@example.com")).collect();
    for email in &accounts {
        login.account(email, "device-owner").await;
    }
    let sessions_before = login.sessions();

    // A leaked list: 40 pairs, the last one a real account's real password.
    let mut statuses = Vec::new();
    for i in 0..39 {
        let email = &accounts[i % accounts.len()];
        let reply = login
            .login_from(
                email,
                &format!("leaked password {i}"),
                ATTACKER_IP,
                "device-bot",
            )
            .await;
        statuses.push(reply.status);
    }
    let hit = login
        .login_from(&accounts[0], PASSWORD, ATTACKER_IP, "device-bot")
        .await;

    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20);
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        (hit.status, hit.code()),
        (429, "RATE_LIMITED"),
        "a correct pair is not checked once the address is over its budget"
    );
    assert_eq!(login.sessions(), sessions_before, "no session was started");
}

#[tokio::test]
async fn a_forged_forwarded_for_header_does_not_buy_a_new_budget() {
    let login = Login::new();
    for i in 0..20 {
        let reply = login
            .login_from(
                &format!("who{i}@example.com"),
                "guess one two",
                ATTACKER_IP,
                "device-bot",
            )
            .await;
        assert_eq!(reply.status, 401, "attempt {i}");
    }
    let spoofed = login
        .call(
            event("login-login")
                .body(json!({"email": "who@example.com", "password": "guess one two"}))
                .source_ip(ATTACKER_IP)
                .header("X-Forwarded-For", "203.0.113.99")
                .header("X-Real-IP", "203.0.113.98"),
        )
        .await;
    assert_eq!(
        spoofed.status, 429,
        "the address is API Gateway's, not a header's"
    );
}

#[tokio::test]
async fn password_spraying_finds_no_account_with_a_common_password() {
    let login = Login::new();
    let sprayed = [
        "Password1!",
        "Summer2026!",
        "qwertyuiop",
        "Welcome123",
        "iloveyou",
    ];
    for password in sprayed {
        let reply = login
            .register_from(
                &format!("new-{}@example.com", password.len()),
                password,
                "192.0.2.7",
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "VALIDATION_FAILED"),
            "{password} is refused as a password"
        );
    }
    let accounts: Vec<String> = (0..8).map(|i| format!("staff{i}@example.com")).collect();
    for email in &accounts {
        login.account(email, "device-owner").await;
    }
    let before = login.sessions();
    // One common password against every account, each try from its own address.
    for (n, password) in sprayed.iter().enumerate() {
        for (i, email) in accounts.iter().enumerate() {
            let ip = format!("198.51.100.{}", n * accounts.len() + i + 1);
            let reply = login.login_from(email, password, &ip, "device-bot").await;
            assert_eq!(reply.status, 401, "{email} with {password}");
        }
    }
    assert_eq!(login.sessions(), before);
    for email in &accounts {
        let owner = login
            .login_from(email, PASSWORD, "192.0.2.1", "device-owner")
            .await;
        assert_eq!(
            owner.status, 200,
            "a spray below the lockout leaves owners alone"
        );
    }
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_victim_out_of_a_known_device() {
    let login = Login::new();
    let victim = "victim@example.com";
    login.account(victim, VICTIM_DEVICE).await;

    // The attacker fails over and over from rotating addresses and devices.
    for round in 0..4 {
        login.attack(victim, 6, round * 10 + 1).await;
        let stranger = login
            .login_from(victim, PASSWORD, "192.0.2.50", "device-new-laptop")
            .await;
        assert_eq!(
            (stranger.status, stranger.code()),
            (423, "ACCOUNT_LOCKED"),
            "unknown devices stay locked out while the attack goes on"
        );
        let owner = login
            .login_from(victim, PASSWORD, "192.0.2.1", VICTIM_DEVICE)
            .await;
        assert_eq!(
            owner.status, 200,
            "round {round}: the victim's own device still signs in: {}",
            owner.body
        );
        login.clock.advance(30);
    }
}

#[tokio::test]
async fn the_known_device_has_its_own_lockout_so_a_stolen_device_id_gains_nothing() {
    let login = Login::new();
    let victim = "phone@example.com";
    login.account(victim, VICTIM_DEVICE).await;
    for _ in 0..5 {
        let reply = login
            .login_from(victim, "wrong on the phone", ATTACKER_IP, VICTIM_DEVICE)
            .await;
        assert_eq!(reply.status, 401);
    }
    let locked = login
        .login_from(victim, PASSWORD, ATTACKER_IP, VICTIM_DEVICE)
        .await;
    assert_eq!((locked.status, locked.code()), (423, "ACCOUNT_LOCKED"));
    let elsewhere = login
        .login_from(victim, PASSWORD, "192.0.2.1", "device-other-tablet")
        .await;
    assert_eq!(
        elsewhere.status, 200,
        "failures on one known device do not lock the account elsewhere"
    );
}

#[tokio::test]
async fn a_lock_never_outlasts_an_hour_and_support_can_lift_it_at_once() {
    let login = Login::new();
    let victim = "locked@example.com";
    login.account(victim, VICTIM_DEVICE).await;
    let mut longest = 0;
    for round in 0..10 {
        login.attack(victim, 5, round * 5 + 1).await;
        let locked = login
            .login_from(victim, PASSWORD, "192.0.2.9", "device-new-laptop")
            .await;
        assert_eq!(locked.status, 423);
        longest = longest.max(locked.retry_after());
        login.clock.advance(locked.retry_after());
    }
    assert_eq!(
        longest, 3600,
        "the lock doubles up to an hour, never beyond"
    );
    let after = login
        .login_from(victim, PASSWORD, "192.0.2.9", "device-new-laptop")
        .await;
    assert_eq!(after.status, 200, "once the lock ends the password works");

    login.attack(victim, 5, 200).await;
    let user = login
        .store
        .user_by_email(victim)
        .await
        .unwrap()
        .expect("registered")
        .user_id;
    let support = UserUnlocks::new(
        login.store.clone(),
        login.mailer.clone(),
        memory_audited_commits(&login.store, login.clock.clone()),
    );
    support
        .unlock_user(
            &Actor {
                user_id: shared::ids::UserId::issued("admin-support"),
                ip: Some("203.0.113.10".into()),
            },
            &user,
        )
        .await
        .expect("support unlocks");
    let unlocked = login
        .login_from(victim, PASSWORD, "192.0.2.9", "device-new-laptop")
        .await;
    assert_eq!(unlocked.status, 200, "support lifted the lock");
}

#[tokio::test]
async fn login_answers_the_same_for_unknown_and_known_accounts() {
    let login = Login::new();
    login.account("known@example.com", "device-owner").await;
    let known = login
        .login_from(
            "known@example.com",
            "wrong password",
            "192.0.2.20",
            "device-probe-01",
        )
        .await;
    let unknown = login
        .login_from(
            "nobody@example.com",
            "wrong password",
            "192.0.2.21",
            "device-probe-01",
        )
        .await;
    assert_eq!(known.status, 401);
    assert_eq!(comparable(&known), comparable(&unknown));
    let header_names = |r: &Reply| {
        let mut names: Vec<String> = r.headers.keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&known), header_names(&unknown));

    for i in 0..5 {
        login
            .login_from(
                "known@example.com",
                "wrong",
                &format!("192.0.2.{}", 30 + i),
                "device-probe-01",
            )
            .await;
        login
            .login_from(
                "nobody@example.com",
                "wrong",
                &format!("192.0.2.{}", 40 + i),
                "device-probe-01",
            )
            .await;
    }
    let known_locked = login
        .login_from(
            "known@example.com",
            "wrong",
            "192.0.2.60",
            "device-probe-01",
        )
        .await;
    let unknown_locked = login
        .login_from(
            "nobody@example.com",
            "wrong",
            "192.0.2.61",
            "device-probe-01",
        )
        .await;
    assert_eq!(comparable(&known_locked), comparable(&unknown_locked));
    assert_eq!(
        known_locked.headers.get("retry-after"),
        unknown_locked.headers.get("retry-after")
    );
}

#[tokio::test]
async fn registering_a_taken_address_answers_like_a_free_one() {
    let login = Login::new();
    login.account("taken@example.com", "device-owner").await;
    let taken = login
        .register_from("taken@example.com", "another good passphrase", "192.0.2.70")
        .await;
    let free = login
        .register_from("free@example.com", "another good passphrase", "192.0.2.71")
        .await;
    assert_eq!(taken.status, 202);
    assert_eq!(comparable(&taken), comparable(&free));
    let subjects: Vec<String> = login.mailer.sent().into_iter().map(|m| m.subject).collect();
    assert!(
        subjects.iter().any(|s| s.contains("sign-up attempt")),
        "only the address owner learns of the attempt: {subjects:?}"
    );
}

/// Median time of `runs` calls of `attempt`.
async fn median_micros<F, Fut>(runs: usize, mut attempt: F) -> u128
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = Instant::now();
        let reply = attempt(i).await;
        times.push(started.elapsed().as_micros());
        assert_eq!(reply.status, 401);
    }
    times.sort_unstable();
    times[runs / 2]
}

#[tokio::test]
async fn a_wrong_password_costs_the_same_for_unknown_and_known_accounts() {
    let login = Login::new();
    let runs = 9;
    for round in 0..3 {
        for i in 0..runs {
            let email = format!("timed-{round}-{i}@example.com");
            let reply = login.register_from(&email, PASSWORD, "192.0.2.2").await;
            assert_eq!(reply.status, 202);
        }
        login.clock.advance(61);
    }
    // Interleaved, each from its own address so no limit answers early.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..3 {
        known.push(
            median_micros(runs, |i| {
                let (ip, email) = (
                    format!("10.1.{round}.{i}"),
                    format!("timed-{round}-{i}@example.com"),
                );
                let login = &login;
                async move {
                    login
                        .login_from(&email, "wrong guess", &ip, "device-timing-01")
                        .await
                }
            })
            .await,
        );
        unknown.push(
            median_micros(runs, |i| {
                let (ip, email) = (
                    format!("10.2.{round}.{i}"),
                    format!("absent-{round}-{i}@example.com"),
                );
                let login = &login;
                async move {
                    login
                        .login_from(&email, "wrong guess", &ip, "device-timing-01")
                        .await
                }
            })
            .await,
        );
    }
    known.sort_unstable();
    unknown.sort_unstable();
    let ratio = known[1] as f64 / unknown[1] as f64;
    println!(
        "median failed sign-in: known account {} µs, unknown account {} µs, ratio {ratio:.2}",
        known[1], unknown[1]
    );
    // Both run one full argon2id verification (milliseconds); skipping it for
    // unknown accounts would make the ratio hundreds.
    assert!((0.5..2.0).contains(&ratio), "ratio {ratio:.2}");
}
