//! Token attacks against the real handlers (in-memory ports): each forged,
//! stale, misdirected or misused token is refused with 401/403, changes no
//! state, and the answer names no library or internal detail.

use std::sync::Arc;

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::auth::model::Role;
use shared::clock::{Clock, SystemClock};
use shared::ports::WalletStore;
use shared::wallet::service::recharge_id_for;
use testkit::memory::{MemoryMailer, MemoryStore};
use testkit::{
    claims, event, invoke, memory_auth_ports, memory_kyc_desk_ports, memory_wallet_ports,
    signed_in_account, test_access_config, test_audit_keys, test_login_env, test_pii_keys,
    verified_wallet_user, EventExt, Reply,
};

/// The public half of the tests' signing key: what an attacker can read from
/// the published key set and try as an HMAC secret.
fn public_key() -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(testkit::test_signer().public_jwk().x)
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(key: &[u8], signing_input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// How a forged token is signed.
enum Sig<'a> {
    /// EdDSA with an Ed25519 private key (PKCS#8 PEM): the tests' genuine key or another.
    Ed25519(&'a str),
    /// HS256 with this secret.
    Hmac(&'a [u8]),
    /// This signature text, as given.
    Text(&'a str),
}

/// A token with `header` and `claims`, signed as `sig` says.
fn forge(header: &Value, claims: &Value, sig: Sig<'_>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match sig {
        Sig::Ed25519(pem) => {
            let der = pem::parse(pem).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(der.contents()).unwrap();
            b64(pair.sign(input.as_bytes()).as_ref())
        }
        Sig::Hmac(key) => hs256(key, &input),
        Sig::Text(text) => text.to_string(),
    };
    format!("{input}.{signature}")
}

/// Signed with the tests' genuine signing key.
fn genuine() -> Sig<'static> {
    Sig::Ed25519(testkit::test_signing_key_pem())
}

struct Stack {
    store: Arc<MemoryStore>,
    recharge: recharge::App,
    admin: admin::App,
    login: login::App,
    claims: Value,
    admin_claims: Value,
}

impl Stack {
    async fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now();
        let (_, token) = verified_wallet_user(&store, now).await;
        let (_, admin_token) = signed_in_account(
            &*store,
            &*store,
            Role::Admin,
            &["pwd", "otp"],
            "203.0.113.10",
            now,
        )
        .await;
        let env = test_login_env(&[]);
        let login = login::App::new(
            login::LoginConfig::from_env(&env).unwrap(),
            memory_auth_ports(&store),
            clock.clone(),
        );
        let recharge = recharge::App::new(
            test_access_config(),
            memory_wallet_ports(&store),
            store.clone(),
            recharge::policy_from_env(&env).unwrap(),
            clock.clone(),
        );
        let admin = admin::App::new(test_access_config(), memory_admin_ports(&store), clock);
        Self {
            store,
            recharge,
            admin,
            login,
            claims: claims(&token),
            admin_claims: claims(&admin_token),
        }
    }

    /// Tries a recharge with `token` from device `device`; asserts it is
    /// refused with `status`, wrote nothing and leaked nothing.
    async fn refused_recharge(&self, case: &str, token: &str, device: &str, status: u16) {
        let ev = event("recharge-start")
            .bearer(token)
            .device(device)
            .header("Idempotency-Key", &format!("attack-{case}"));
        let reply = invoke(|req| recharge::handle(&self.recharge, req), ev).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.body);
        self.no_leak(case, &reply);
        assert!(
            self.written(case).await.is_none(),
            "{case}: nothing written"
        );
        assert_eq!(self.allowed_count().await, 0, "{case}: no recharge counted");
    }

    /// Starts a recharge with `token` from device `device`; asserts it is
    /// accepted and written under the id the key maps to.
    async fn accepted_recharge(&self, case: &str, token: &str, device: &str) {
        let ev = event("recharge-start")
            .bearer(token)
            .device(device)
            .header("Idempotency-Key", &format!("attack-{case}"));
        let reply = invoke(|req| recharge::handle(&self.recharge, req), ev).await;
        assert_eq!(reply.status, 201, "{case}: {}", reply.body);
        let written = self
            .written(case)
            .await
            .unwrap_or_else(|| panic!("{case}: written under its id"));
        assert_eq!(reply.body["recharge_id"], written.recharge_id.as_str());
    }

    /// The recharge the user's key `attack-{case}` would have written.
    async fn written(&self, case: &str) -> Option<shared::wallet::model::Recharge> {
        let id = recharge_id_for(
            self.claims["sub"].as_str().unwrap(),
            &format!("attack-{case}"),
        );
        self.store.recharge(&id).await.unwrap()
    }

    async fn allowed_count(&self) -> u32 {
        self.store
            .readings(self.claims["sub"].as_str().unwrap(), "", &[], "")
            .await
            .unwrap()
            .profile
            .map_or(0, |p| p.allowed_count)
    }

    fn no_leak(&self, case: &str, reply: &Reply) {
        let text = reply.body.to_string().to_lowercase();
        for word in [
            "jsonwebtoken",
            "signature",
            "base64",
            "panick",
            "invalidtoken",
            "decode",
        ] {
            assert!(!text.contains(word), "{case} leaks {word}: {text}");
        }
    }
}

#[tokio::test]
async fn forged_and_misused_tokens_never_reach_the_money_path() {
    let stack = Stack::new().await;
    let good_claims = stack.claims.clone();
    let device = good_claims["did"].as_str().unwrap().to_string();
    let kid = testkit::TEST_KID;
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
    let retired_key = shared::auth::tokens::generate_private_key_pem();
    let now = SystemClock.now();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = good_claims.clone();
        edit(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "alg-none",
            forge(
                &json!({"alg": "none", "typ": "at+jwt"}),
                &good_claims,
                Sig::Text(""),
            ),
        ),
        (
            "alg-none-uppercase",
            forge(
                &json!({"alg": "NONE", "typ": "at+jwt"}),
                &good_claims,
                Sig::Text(""),
            ),
        ),
        (
            "empty-signature",
            forge(&header, &good_claims, Sig::Text("")),
        ),
        (
            "wrong-signature",
            forge(&header, &good_claims, Sig::Text(&b64(&[7u8; 64]))),
        ),
        (
            "wrong-key",
            forge(
                &header,
                &good_claims,
                Sig::Ed25519(&shared::auth::tokens::generate_private_key_pem()),
            ),
        ),
        (
            "rs256-confusion",
            forge(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
                &good_claims,
                Sig::Hmac(&public_key()),
            ),
        ),
        (
            "hs256-with-the-public-key",
            forge(
                &json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
                &good_claims,
                Sig::Hmac(&public_key()),
            ),
        ),
        (
            "hs512-with-the-public-key",
            forge(
                &json!({"alg": "HS512", "typ": "at+jwt", "kid": kid}),
                &good_claims,
                Sig::Hmac(&public_key()),
            ),
        ),
        (
            "retired-key",
            forge(
                &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "retired-2026-11"}),
                &good_claims,
                Sig::Ed25519(&retired_key),
            ),
        ),
        (
            "unknown-kid",
            forge(
                &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "no-such-key"}),
                &good_claims,
                genuine(),
            ),
        ),
        (
            "missing-kid",
            forge(
                &json!({"alg": "EdDSA", "typ": "at+jwt"}),
                &good_claims,
                genuine(),
            ),
        ),
        (
            "embedded-jwk",
            forge(
                &json!({"alg": "HS256", "typ": "at+jwt", "jwk": {"kty": "oct", "k": b64(b"attacker-key")}}),
                &good_claims,
                Sig::Hmac(b"attacker-key"),
            ),
        ),
        (
            "kid-traversal",
            forge(
                &json!({"alg": "HS256", "typ": "at+jwt", "kid": "../../../../dev/null"}),
                &good_claims,
                Sig::Hmac(b""),
            ),
        ),
        (
            "kid-injection",
            forge(
                &json!({"alg": "HS256", "typ": "at+jwt", "kid": "x' UNION SELECT 'key"}),
                &good_claims,
                Sig::Hmac(b"key"),
            ),
        ),
        (
            "jku-header",
            forge(
                &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jku": "https://attacker.example/jwks.json"}),
                &good_claims,
                genuine(),
            ),
        ),
        (
            "wrong-type",
            forge(
                &json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
                &good_claims,
                genuine(),
            ),
        ),
        (
            "expired",
            forge(
                &header,
                &with(&|c| {
                    c["exp"] = json!(now - 120);
                    c["iat"] = json!(now - 1020);
                    c["nbf"] = json!(now - 1020);
                }),
                genuine(),
            ),
        ),
        (
            "not-yet-valid",
            forge(
                &header,
                &with(&|c| {
                    c["nbf"] = json!(now + 600);
                    c["iat"] = json!(now + 600);
                    c["exp"] = json!(now + 1500);
                }),
                genuine(),
            ),
        ),
        (
            "wrong-issuer",
            forge(
                &header,
                &with(&|c| c["iss"] = json!("https://evil.example")),
                genuine(),
            ),
        ),
        (
            "wrong-audience",
            forge(
                &header,
                &with(&|c| c["aud"] = json!("another-app")),
                genuine(),
            ),
        ),
        (
            "audience-list",
            forge(
                &header,
                &with(&|c| c["aud"] = json!(["wallet-app", "another-app"])),
                genuine(),
            ),
        ),
        (
            "extra-claim",
            forge(&header, &with(&|c| c["admin"] = json!(true)), genuine()),
        ),
        ("role-escalation-unsigned", {
            let mut c = good_claims.clone();
            c["role"] = json!("admin");
            forge(&header, &c, Sig::Text(&b64(&[1u8; 64])))
        }),
        ("not-a-jwt", "definitely.not.a-token".to_string()),
        ("two-parts", "eyJhbGciOiJIUzI1NiJ9.e30".to_string()),
    ];
    for (case, token) in &cases {
        stack.refused_recharge(case, token, &device, 401).await;
    }
    let real = testkit::test_signer().issue(
        &shared::auth::tokens::TokenSubject {
            user_id: good_claims["sub"].as_str().unwrap(),
            session_id: good_claims["sid"].as_str().unwrap(),
            device_id: &device,
            role: Role::User,
            amr: &["pwd".to_string()],
            ip: None,
        },
        now,
    );
    stack
        .refused_recharge("another-device", &real, "device-of-the-thief", 401)
        .await;
    stack
        .refused_recharge("no-device-header", &real, "", 401)
        .await;
    let opaque = format!("rt_{}", "a".repeat(43));
    stack
        .refused_recharge("refresh-token-as-access", &opaque, &device, 401)
        .await;
    // Positive control: the forger signs like the login function, so with
    // the good claims, the same header and the genuine key its token is
    // accepted and the recharge is found where the refusals looked. Each
    // case above was refused for the one thing it changed.
    stack
        .accepted_recharge("control", &forge(&header, &good_claims, genuine()), &device)
        .await;
    assert_eq!(stack.allowed_count().await, 1, "the control was counted");
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let stack = Stack::new().await;
    let device = stack.claims["did"].as_str().unwrap().to_string();
    let access = testkit::test_signer().issue(
        &shared::auth::tokens::TokenSubject {
            user_id: stack.claims["sub"].as_str().unwrap(),
            session_id: stack.claims["sid"].as_str().unwrap(),
            device_id: &device,
            role: Role::User,
            amr: &["pwd".to_string()],
            ip: None,
        },
        SystemClock.now(),
    );
    let reply = invoke(
        |req| login::handle(&stack.login, req),
        event("login-refresh")
            .device(&device)
            .body(json!({"refresh_token": access})),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    stack.no_leak("access-as-refresh", &reply);
}

#[tokio::test]
async fn admin_tokens_are_pinned_to_their_ip_and_need_totp() {
    let stack = Stack::new().await;
    let claims = stack.admin_claims.clone();
    let issue = |amr: &[&str], ip: Option<&str>| {
        let amr: Vec<String> = amr.iter().map(|s| s.to_string()).collect();
        testkit::test_signer().issue(
            &shared::auth::tokens::TokenSubject {
                user_id: claims["sub"].as_str().unwrap(),
                session_id: claims["sid"].as_str().unwrap(),
                device_id: claims["did"].as_str().unwrap(),
                role: Role::Admin,
                amr: &amr,
                ip,
            },
            SystemClock.now(),
        )
    };
    let admin = &stack.admin;
    let call = |token: String, ip: &'static str| {
        let ev = event("admin-emergency-disable")
            .header("X-Admin-Session", &token)
            .source_ip(ip);
        async move { invoke(|req| admin::handle(admin, req), ev).await }
    };
    let pinned = issue(&["pwd", "otp"], Some("203.0.113.10"));
    let other_ip = call(pinned.clone(), "203.0.113.99").await;
    assert_eq!(
        (other_ip.status, other_ip.code()),
        (403, "IP_NOT_ALLOWED"),
        "{}",
        other_ip.body
    );
    let outside = call(issue(&["pwd", "otp"], Some("198.51.100.4")), "198.51.100.4").await;
    assert!([401, 403].contains(&outside.status), "{}", outside.body);
    let no_totp = call(issue(&["pwd"], Some("203.0.113.10")), "203.0.113.10").await;
    assert_eq!((no_totp.status, no_totp.code()), (403, "TOTP_REQUIRED"));
    for reply in [&other_ip, &outside, &no_totp] {
        stack.no_leak("admin", reply);
    }
    let snapshot = shared::ports::FlagStore::load_snapshot(&*stack.store)
        .await
        .unwrap();
    assert!(
        snapshot.is_none_or(|s| !s.emergency),
        "the emergency switch was not touched"
    );
}

/// The admin function's ports over one in-memory store.
fn memory_admin_ports(store: &Arc<MemoryStore>) -> admin::AdminPorts {
    admin::AdminPorts {
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
    }
}
