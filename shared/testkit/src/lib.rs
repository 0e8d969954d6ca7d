//! Test support shared by every crate's tests: the port contract suite, and
//! driving a handler with the sample API Gateway events in `events/`.

pub mod account_contract;
pub mod contract;
pub mod export_contract;
pub mod kyc_contract;
pub mod memory;
pub mod multipart;
pub mod torn;

use std::future::Future;

use base64::Engine;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

/// A handler's answer, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `Retry-After` header in seconds.
    pub fn retry_after(&self) -> i64 {
        self.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After header")
    }
}

/// Loads `events/<name>.json` from the workspace.
pub fn event(name: &str) -> Value {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path}"));
    serde_json::from_str(&text).expect("sample events are JSON")
}

/// Runs `handler` on an API Gateway event, as the Lambda runtime would.
pub async fn invoke<F, Fut>(handler: F, event: Value) -> Reply
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let req = lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event");
    let resp = handler(req).await;
    let bytes: &[u8] = match resp.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).expect("responses are JSON")
    };
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body,
    }
}

/// `req` in an invocation with `left` before its deadline, as the Lambda
/// runtime hands it over.
pub fn with_deadline(req: Request, left: std::time::Duration) -> Request {
    use lambda_http::RequestExt;
    let mut context = lambda_http::Context::default();
    context.deadline = (std::time::SystemTime::now() + left)
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis() as u64;
    req.with_lambda_context(context)
}

/// Edits of a sample event.
pub trait EventExt {
    fn body(self, body: Value) -> Value;
    fn raw_body(self, body: &str) -> Value;
    /// A binary body as API Gateway delivers it (base64, flagged).
    fn binary_body(self, body: &[u8], content_type: &str) -> Value;
    fn header(self, name: &str, value: &str) -> Value;
    fn without_header(self, name: &str) -> Value;
    fn bearer(self, token: &str) -> Value;
    fn device(self, device: &str) -> Value;
    fn source_ip(self, ip: &str) -> Value;
    fn method(self, method: &str) -> Value;
    fn path(self, path: &str) -> Value;
}

/// Whether `event` is an HTTP API / function URL (payload 2.0) event.
fn is_v2(event: &Value) -> bool {
    event["version"] == "2.0"
}

impl EventExt for Value {
    fn body(self, body: Value) -> Value {
        self.raw_body(&body.to_string())
    }
    fn raw_body(mut self, body: &str) -> Value {
        self["body"] = Value::String(body.to_string());
        self["isBase64Encoded"] = Value::Bool(false);
        self.header("Content-Type", "application/json")
    }
    fn binary_body(mut self, body: &[u8], content_type: &str) -> Value {
        self["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(body));
        self["isBase64Encoded"] = Value::Bool(true);
        self.header("Content-Type", content_type)
    }
    fn header(self, name: &str, value: &str) -> Value {
        let mut event = self.without_header(name);
        let key = if is_v2(&event) {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        event["headers"][key] = json!(value);
        event
    }
    fn without_header(mut self, name: &str) -> Value {
        if let Some(headers) = self["headers"].as_object_mut() {
            headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
        self
    }
    fn bearer(self, token: &str) -> Value {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    fn device(self, device: &str) -> Value {
        self.header("X-Device-Id", device)
    }
    fn source_ip(mut self, ip: &str) -> Value {
        if is_v2(&self) {
            self["requestContext"]["http"]["sourceIp"] = json!(ip);
        } else {
            self["requestContext"]["identity"]["sourceIp"] = json!(ip);
        }
        self
    }
    fn method(mut self, method: &str) -> Value {
        if is_v2(&self) {
            self["requestContext"]["http"]["method"] = json!(method);
        } else {
            self["httpMethod"] = json!(method);
            self["requestContext"]["httpMethod"] = json!(method);
        }
        self
    }
    fn path(mut self, path: &str) -> Value {
        if is_v2(&self) {
            self["rawPath"] = json!(path);
            self["requestContext"]["http"]["path"] = json!(path);
        } else {
            self["path"] = json!(path);
        }
        self
    }
}

/// The claims of a JWT, read without verification (for assertions only).
pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Key id of the tests' token signing key.
pub const TEST_KID: &str = "test-key-1";
/// Issuer and audience of the tests' tokens.
pub const TEST_ISSUER: &str = "https://auth.test";
pub const TEST_AUDIENCE: &str = "wallet-app";

/// The tests' token signing key (Ed25519, PKCS#8 PEM): generated once per
/// test process, never stored.
pub fn test_signing_key_pem() -> &'static str {
    static PEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PEM.get_or_init(shared::auth::tokens::generate_private_key_pem)
}

/// The signer of the tests' tokens (what the login function holds).
pub fn test_signer() -> &'static shared::auth::tokens::TokenSigner {
    static SIGNER: std::sync::OnceLock<shared::auth::tokens::TokenSigner> =
        std::sync::OnceLock::new();
    SIGNER.get_or_init(|| {
        shared::auth::tokens::TokenSigner::from_pem(
            TEST_KID,
            test_signing_key_pem(),
            TEST_ISSUER,
            TEST_AUDIENCE,
        )
        .expect("a generated key parses")
    })
}

/// The published key set of the tests (JWKS JSON) holding the signer's public key.
pub fn test_public_keys_json() -> String {
    serde_json::to_string(&shared::auth::tokens::PublicKeySet {
        keys: vec![test_signer().public_jwk()],
    })
    .expect("a key set serialises")
}

/// Token settings for tests: the generated key, admins allowed from 203.0.113.0/24.
pub fn test_access_config() -> shared::auth::AccessConfig {
    shared::auth::AccessConfig {
        tokens: shared::auth::tokens::TokenVerifier::from_jwks(
            &test_public_keys_json(),
            TEST_ISSUER,
            TEST_AUDIENCE,
        )
        .expect("the test key set is valid"),
        admin_cidrs: vec!["203.0.113.0/24".parse().expect("valid CIDR")],
    }
}

/// How long a test kit session lives: past any clock a test moves (limits
/// are tested across months).
pub const TEST_SESSION_SECONDS: i64 = 400 * 86_400;

/// A signed-in account for tests: creates the user (address verified) and
/// a live session, and returns `(user_id, access token)` issued for device
/// `device-0001-sample` (or the admin sample device for admins) at `now`.
pub async fn signed_in_account(
    users: &dyn shared::ports::UserStore,
    sessions: &dyn shared::ports::SessionStore,
    role: shared::auth::model::Role,
    amr: &[&str],
    ip: &str,
    now: i64,
) -> (String, String) {
    use shared::auth::model::{RefreshRecord, Session, SessionStart};
    use shared::auth::secrets::new_id;
    use shared::auth::tokens::TokenSubject;

    let email = format!("account-{}@example.test", new_id());
    let mut user = contract::sample_user(&email);
    user.role = role;
    users.create_user(&user).await.expect("user created");
    let device = match role {
        shared::auth::model::Role::Admin => "admin-laptop-0001",
        shared::auth::model::Role::User => "device-0001-sample",
    };
    let amr: Vec<String> = amr.iter().map(|m| m.to_string()).collect();
    let session = Session {
        session_id: new_id(),
        user_id: user.user_id.clone(),
        device_id: device.to_string(),
        ip: Some(ip.to_string()),
        created_at: now,
        last_used_at: now,
        expires_at: now + TEST_SESSION_SECONDS,
        revoked: false,
        epoch: 0,
    };
    let start = SessionStart {
        email,
        token: RefreshRecord {
            token_hash: new_id(),
            session_id: session.session_id.clone(),
            user_id: user.user_id.clone(),
            device_id: device.to_string(),
            role,
            amr: amr.clone(),
            ip: Some(ip.to_string()),
            expires_at: session.expires_at,
            rotated: false,
            rotated_at: None,
            successor: None,
            epoch: 0,
        },
        session: session.clone(),
        new_device: None,
        totp_step: None,
        backup_code: None,
        challenge: None,
        lockout_key: new_id(),
    };
    sessions
        .start_session(&start)
        .await
        .expect("session started");
    let token = test_signer().issue(
        &TokenSubject {
            user_id: &user.user_id,
            session_id: &session.session_id,
            device_id: device,
            role,
            amr: &amr,
            ip: Some(ip),
        },
        now,
    );
    (user.user_id, token)
}

/// PII keys generated for one test run (never a fixed key).
pub fn test_pii_keys() -> shared::kyc::pii::PiiKeys {
    shared::kyc::pii::PiiKeys::new(
        "test",
        vec![(
            "test".to_string(),
            shared::auth::secrets::random_bytes::<32>(),
        )],
    )
    .expect("a generated key is valid")
}

/// The audit keys of the tests: one key generated per process (kid
/// `test`), so every writer and the verifier of a test agree.
pub fn test_audit_keys() -> std::sync::Arc<shared::audit::AuditKeys> {
    static KEYS: std::sync::OnceLock<std::sync::Arc<shared::audit::AuditKeys>> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        std::sync::Arc::new(
            shared::audit::AuditKeys::new(
                "test",
                vec![(
                    "test".to_string(),
                    shared::auth::secrets::random_bytes::<32>().to_vec(),
                )],
            )
            .expect("a generated key is valid"),
        )
    })
    .clone()
}

/// `AUDIT_HMAC_KEYS` and `AUDIT_HMAC_KID` for a function's environment in
/// tests: a generated key under kid `test`.
pub fn test_audit_env() -> [(&'static str, String); 2] {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .encode(shared::auth::secrets::random_bytes::<32>());
    [
        ("AUDIT_HMAC_KEYS", format!(r#"{{"test":"{key}"}}"#)),
        ("AUDIT_HMAC_KID", "test".to_string()),
    ]
}

/// The KYC review desk's ports over one in-memory store (30-day retention,
/// 5-minute links).
pub fn memory_kyc_desk_ports(
    store: std::sync::Arc<crate::memory::MemoryStore>,
    pii: std::sync::Arc<shared::kyc::pii::PiiKeys>,
) -> shared::kyc::desk::KycDeskPorts {
    shared::kyc::desk::KycDeskPorts {
        store: store.clone(),
        documents: store.clone(),
        wallet: store,
        pii,
        retention_seconds: 30 * 86_400,
        link_seconds: 300,
    }
}

/// Appends an audit entry after the current head and commits `change` with it
/// (what the admin service does), at `at`.
pub async fn commit_audited(
    admin: &dyn shared::ports::AdminStore,
    audit: &dyn shared::ports::AuditLog,
    change: shared::ports::AdminChange,
    action: &str,
    at: i64,
) -> Result<(), shared::ports::StoreError> {
    let head = audit.head().await?;
    let entry = shared::audit::chain_after(
        &test_audit_keys(),
        head.as_ref(),
        shared::audit::AuditDraft {
            actor: "test-admin".into(),
            ip: None,
            action: action.into(),
            target: "test".into(),
            before: None,
            after: None,
        },
        at,
    );
    admin.commit(&change, &entry).await
}

/// A signed-in user (on the sample device) with an age-verified wallet
/// opened 400 days before `now`, so plain recharges are allowed; returns
/// `(user_id, access token)`.
pub async fn verified_wallet_user(
    store: &crate::memory::MemoryStore,
    now: i64,
) -> (String, String) {
    use shared::ports::WalletStore;
    let (user_id, token) = signed_in_account(
        store,
        store,
        shared::auth::model::Role::User,
        &["pwd"],
        "203.0.113.10",
        now,
    )
    .await;
    let mut profile = shared::wallet::model::WalletProfile::new(&user_id, now - 400 * 86_400);
    profile.age_verified = true;
    store
        .ensure_profile(&profile)
        .await
        .expect("the memory store takes the profile");
    (user_id, token)
}

/// The `Stripe-Signature` header Stripe sends with `body` signed at `at`.
pub fn stripe_signature_header(secret: &str, body: &str, at: i64) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The balance of `user_id` in `currency` (0 without a profile or balance).
pub async fn balance(
    wallet: &dyn shared::ports::WalletStore,
    user_id: &str,
    currency: &str,
) -> i64 {
    wallet
        .readings(user_id, "", &[], "")
        .await
        .expect("the wallet answers")
        .profile
        .and_then(|p| p.balances.get(currency).copied())
        .unwrap_or(0)
}

/// The wallet ports over one in-memory store.
pub fn memory_wallet_ports(
    store: &std::sync::Arc<crate::memory::MemoryStore>,
) -> shared::wallet::service::WalletPorts {
    shared::wallet::service::WalletPorts {
        wallet: store.clone(),
        idempotency: store.clone(),
        users: store.clone(),
        reviews: store.clone(),
        liveness: store.clone(),
        audit_keys: test_audit_keys(),
    }
}

/// The auth ports over one in-memory store and an in-memory mailer.
pub fn memory_auth_ports(
    store: &std::sync::Arc<crate::memory::MemoryStore>,
) -> shared::auth::service::AuthPorts {
    shared::auth::service::AuthPorts {
        users: store.clone(),
        sessions: store.clone(),
        liveness: store.clone(),
        attempts: store.clone(),
        mailer: std::sync::Arc::new(crate::memory::MemoryMailer::new()),
        kyc: store.clone(),
        documents: store.clone(),
        exports: store.clone(),
        export_queue: store.clone(),
    }
}

/// Audited admin commits on one in-memory store, signed with the test audit keys.
pub fn memory_audited_commits(
    store: &std::sync::Arc<crate::memory::MemoryStore>,
    clock: std::sync::Arc<dyn shared::clock::Clock>,
) -> shared::admin::commit::AuditedCommits {
    shared::admin::commit::AuditedCommits::new(
        store.clone(),
        store.clone(),
        test_audit_keys(),
        clock,
    )
}

/// The login configuration of the tests (test-only signing key, the test
/// admin network), with `overrides`.
pub fn test_login_env(overrides: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let public_keys = test_public_keys_json();
    let pii_keys = format!(
        "test:{}",
        base64::engine::general_purpose::STANDARD
            .encode(shared::auth::secrets::random_bytes::<32>())
    );
    let mut env: std::collections::HashMap<String, String> = [
        ("JWT_SIGNING_KID", TEST_KID),
        ("JWT_SIGNING_KEY", test_signing_key_pem()),
        ("JWT_PUBLIC_KEYS", public_keys.as_str()),
        ("JWT_ISSUER", TEST_ISSUER),
        ("JWT_AUDIENCE", TEST_AUDIENCE),
        ("ADMIN_CIDRS", "203.0.113.0/24"),
        ("MAIL_FROM", "no-reply@example.test"),
        ("MAIL_CONFIGURATION_SET", "wallet-test"),
        ("PII_KEYS", pii_keys.as_str()),
        ("PII_ACTIVE_KEY_ID", "test"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

/// The secret-source contract: `stored_id` holds the JSON object `{"WEBHOOK_SECRETS_CONTRACT_A":
/// "alpha", "WEBHOOK_SECRETS_CONTRACT_B": "beta"}` (stored by the caller, in the store under
/// test), `rotate` replaces it with `{"WEBHOOK_SECRETS_CONTRACT_A": "rotated", ...}`, and
/// `absent_id` names no secret.
pub async fn secret_source_contract<R, RFut>(
    source: std::sync::Arc<dyn shared::secrets::SecretSource>,
    stored_id: &str,
    absent_id: &str,
    rotate: R,
) where
    R: FnOnce() -> RFut,
    RFut: Future<Output = ()>,
{
    use shared::config::Env;
    use shared::secrets::{SecretEnv, SecretError};

    let text = source
        .secret_string(stored_id)
        .await
        .expect("stored secret");
    let value: Value = serde_json::from_str(&text).expect("JSON secret");
    assert_eq!(
        value,
        json!({"WEBHOOK_SECRETS_CONTRACT_A": "alpha", "WEBHOOK_SECRETS_CONTRACT_B": "beta"})
    );
    assert_eq!(
        source.secret_string(absent_id).await,
        Err(SecretError::NotFound(absent_id.to_string()))
    );
    let base: std::sync::Arc<dyn Env> = std::sync::Arc::new(
        [("SECRET_IDS".to_string(), stored_id.to_string())]
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
    );
    let env = SecretEnv::load(base.clone(), source.as_ref())
        .await
        .expect("overlay");
    assert_eq!(
        env.get("WEBHOOK_SECRETS_CONTRACT_B").as_deref(),
        Some("beta")
    );
    rotate().await;
    let env = SecretEnv::load(base, source.as_ref())
        .await
        .expect("overlay");
    assert_eq!(
        env.get("WEBHOOK_SECRETS_CONTRACT_A").as_deref(),
        Some("rotated"),
        "a read after a rotation sees the new version"
    );
}
