//! The session store (0600 files, refresh only when expired), the command
//! line, and the exit codes of whole runs against a fake admin function.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wallet_admin::args::{parse, AdminCall, BodySource, Command, Parsed};
use wallet_admin::session::{ensure_fresh, FreshError, Profile, Session, Store};
use wallet_admin::{run, EXIT_LOCAL, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wallet-admin-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn session(expires_at: i64, refresh_expires_at: i64) -> Session {
    Session {
        email: "ops@example.com".into(),
        session_id: "session-1".into(),
        access_token: "access-1".into(),
        refresh_token: "refresh-1".into(),
        expires_at,
        refresh_expires_at,
    }
}

fn profile(admin_url: &str, session: Session) -> Profile {
    Profile {
        api_url: "http://127.0.0.1:9/lambda-url/login".into(),
        admin_url: admin_url.into(),
        region: None,
        unsigned: false,
        device_id: "wallet-admin-test-0001".into(),
        session,
    }
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_session_file_is_private_and_round_trips() {
    let root = temp_dir();
    let store = Store::new(root.join("wallet-admin"));
    let data = profile("https://x.lambda-url.eu-west-1.on.aws", session(100, 200));
    store.save("prod", &data).unwrap();
    let path = store.path("prod");
    assert_eq!(mode(&path), 0o600, "the session file is 0600");
    assert_eq!(
        mode(&root.join("wallet-admin")),
        0o700,
        "its directory is 0700"
    );
    assert_eq!(store.load("prod").unwrap(), Some(data.clone()));
    assert_eq!(store.load("staging").unwrap(), None);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = store.load("prod").unwrap_err();
    assert!(err.to_string().contains("readable by others"), "{err}");

    assert!(store.delete("prod").unwrap());
    assert!(!store.delete("prod").unwrap());
    assert!(!path.exists());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_store_lives_under_xdg_config_home_or_home() {
    let env: HashMap<&str, &str> = [("XDG_CONFIG_HOME", "/cfg"), ("HOME", "/home/ops")].into();
    let store = Store::from_env(&|n| env.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(
        store.path("default"),
        PathBuf::from("/cfg/wallet-admin/default.json")
    );
    let env: HashMap<&str, &str> = [("HOME", "/home/ops")].into();
    let store = Store::from_env(&|n| env.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(
        store.path("default"),
        PathBuf::from("/home/ops/.config/wallet-admin/default.json")
    );
}

#[tokio::test]
async fn a_session_is_refreshed_only_when_expired_and_the_new_one_is_stored() {
    let root = temp_dir();
    let store = Store::new(&root);
    let calls = AtomicUsize::new(0);
    let renew = |old: Session| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            assert_eq!(
                old.refresh_token, "refresh-1",
                "the stored refresh token is used"
            );
            Ok::<_, String>(Session {
                access_token: "access-2".into(),
                refresh_token: "refresh-2".into(),
                expires_at: 2_000 + 900,
                ..old
            })
        }
    };

    let mut fresh = profile("http://127.0.0.1:9/lambda-url/admin", session(1_000, 9_000));
    store.save("p", &fresh).unwrap();
    assert!(!ensure_fresh(&store, "p", &mut fresh, 900, renew)
        .await
        .unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not expired: no refresh");

    let mut expired = fresh.clone();
    assert!(ensure_fresh(&store, "p", &mut expired, 2_000, renew)
        .await
        .unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(expired.session.access_token, "access-2");
    let stored = store.load("p").unwrap().unwrap();
    assert_eq!(
        stored.session.refresh_token, "refresh-2",
        "the rotated refresh token is stored at once (the old one is spent)"
    );
    assert_eq!(mode(&store.path("p")), 0o600);

    let mut ended = profile("http://127.0.0.1:9/lambda-url/admin", session(1_000, 1_500));
    let result = ensure_fresh(&store, "p", &mut ended, 2_000, renew).await;
    assert!(matches!(result, Err(FreshError::Ended)));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "an ended session is not refreshed"
    );

    let failing = |_old: Session| async { Err::<Session, _>("refused".to_string()) };
    let mut refused = profile("http://127.0.0.1:9/lambda-url/admin", session(1_000, 9_000));
    store.save("p", &refused).unwrap();
    let result = ensure_fresh(&store, "p", &mut refused, 2_000, failing).await;
    assert!(matches!(result, Err(FreshError::Refresh(_))));
    assert_eq!(
        store.load("p").unwrap().unwrap().session.access_token,
        "access-1",
        "a failed refresh leaves the stored session alone"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn two_processes_refreshing_at_once_spend_the_refresh_token_once() {
    let root = temp_dir();
    let store = Store::new(&root);
    let expired = profile("http://127.0.0.1:9/lambda-url/admin", session(1_000, 9_000));
    store.save("p", &expired).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let renew = |old: Session| {
        let calls = calls.clone();
        async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            // A slow login API: the other caller arrives meanwhile.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Ok::<_, String>(Session {
                access_token: format!("access-{}", n + 1),
                refresh_token: format!("refresh-{}", n + 1),
                expires_at: 2_000 + 900,
                ..old
            })
        }
    };
    // Two stores on the same directory: two processes, each with its own
    // copy of the (expired) session read before either refreshed.
    let other = Store::new(&root);
    let (mut first, mut second) = (expired.clone(), expired.clone());
    let (a, b) = tokio::join!(
        ensure_fresh(&store, "p", &mut first, 2_000, renew),
        ensure_fresh(&other, "p", &mut second, 2_000, renew),
    );
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the refresh token is spent once; the second caller takes the stored session"
    );
    assert_eq!(first.session, second.session);
    assert_eq!(first.session.refresh_token, "refresh-2");
    assert_eq!(store.load("p").unwrap().unwrap().session, first.session);
    std::fs::remove_dir_all(root).unwrap();
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn parsed(line: &str, env: &HashMap<&str, &str>) -> Result<Parsed, String> {
    parse(&args(line), &|n| env.get(n).map(|v| v.to_string())).map_err(|e| e.0)
}

fn command(line: &str) -> Command {
    match parsed(line, &HashMap::new()) {
        Ok(Parsed::Run(invocation)) => invocation.command,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn commands_and_options_are_parsed() {
    assert_eq!(command("flags list"), Command::Admin(AdminCall::FlagsList));
    assert_eq!(
        command("flags delete new.checkout --version 3"),
        Command::Admin(AdminCall::FlagsDelete {
            key: "new.checkout".into(),
            version: 3
        })
    );
    assert_eq!(
        command("flags update new.checkout --file=-"),
        Command::Admin(AdminCall::FlagsUpdate {
            key: "new.checkout".into(),
            body: BodySource::Stdin
        })
    );
    assert_eq!(
        command("kyc resubmit sub-1 --reason blurred"),
        Command::Admin(AdminCall::KycDecide {
            id: "sub-1".into(),
            decision: "request_resubmission",
            reason: Some("blurred".into())
        })
    );
    assert_eq!(
        command("--json audit list --limit 5"),
        Command::Admin(AdminCall::AuditList {
            limit: Some(5),
            before: None
        })
    );
    assert_eq!(
        command("login --email ops@example.com --totp-code 123456"),
        Command::Login {
            email: Some("ops@example.com".into()),
            totp_code: Some("123456".into())
        }
    );
    let env: HashMap<&str, &str> = [
        ("WALLET_ADMIN_URL", "https://a.lambda-url.eu-west-1.on.aws"),
        ("WALLET_ADMIN_PROFILE", "prod"),
    ]
    .into();
    let Ok(Parsed::Run(invocation)) = parsed("audit verify --json --unsigned", &env) else {
        panic!("parses");
    };
    assert_eq!(invocation.global.profile, "prod");
    assert_eq!(
        invocation.global.admin_url.as_deref(),
        Some("https://a.lambda-url.eu-west-1.on.aws")
    );
    assert!(invocation.global.json && invocation.global.unsigned);
    assert_eq!(parsed("--help", &HashMap::new()), Ok(Parsed::Help));
}

#[test]
fn bad_command_lines_are_usage_errors() {
    for (line, expected) in [
        ("", "a command is required"),
        ("frobnicate", "unknown command"),
        ("flags", "a subcommand is required"),
        ("flags wipe", "unknown subcommand"),
        ("flags get", "KEY is required"),
        ("flags delete k", "--version"),
        ("flags delete k --version minus-one", "non-negative integer"),
        ("emergency disable", "--reason is required"),
        ("kyc reject s1", "--reason is required"),
        ("flags list --reason x", "not an option of this command"),
        ("flags list extra", "unexpected argument"),
        ("flags list --bogus", "unknown option"),
        ("flags list --profile ../../etc", "--profile"),
        ("audit list --limit", "needs a value"),
    ] {
        let err = parsed(line, &HashMap::new()).unwrap_err();
        assert!(err.contains(expected), "{line:?}: {err}");
    }
}

/// A fake admin function answering every request with `status` and `body`;
/// it records each request.
async fn fake_admin(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let (base, seen) = fake_backend(vec![("/", status, body.to_string())]).await;
    (format!("{base}/lambda-url/admin"), seen)
}

#[tokio::test]
async fn exit_codes_say_done_refused_usage_or_local_failure() {
    let root = temp_dir();
    let config = root.to_string_lossy().to_string();
    let env: HashMap<&str, String> = [("XDG_CONFIG_HOME", config)].into();
    let lookup = |n: &str| env.get(n).cloned();

    assert_eq!(run(args("--help"), &lookup).await, EXIT_OK);
    assert_eq!(run(args("flags frobnicate"), &lookup).await, EXIT_USAGE);
    assert_eq!(
        run(args("flags list"), &lookup).await,
        EXIT_LOCAL,
        "not signed in"
    );

    let (url, seen) = fake_admin(
        401,
        r#"{"error":{"code":"ADMIN_SESSION_HEADER_REQUIRED","message":"m","request_id":"r"}}"#,
    )
    .await;
    let store = Store::new(root.join("wallet-admin"));
    store
        .save(
            "default",
            &profile(&url, session(i64::MAX / 2, i64::MAX / 2)),
        )
        .unwrap();
    assert_eq!(run(args("flags list"), &lookup).await, EXIT_REFUSED);
    let head = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /lambda-url/admin/admin/flags http/1.1"),
        "{head}"
    );
    assert!(head.contains("x-admin-session: access-1\r\n"), "{head}");
    assert!(
        head.contains("x-device-id: wallet-admin-test-0001\r\n"),
        "{head}"
    );
    assert!(
        !head.contains("authorization:"),
        "the local emulator is not signed: {head}"
    );

    let (ok_url, _) = fake_admin(200, r#"{"intact":true,"entries":3}"#).await;
    store
        .save(
            "default",
            &profile(&ok_url, session(i64::MAX / 2, i64::MAX / 2)),
        )
        .unwrap();
    assert_eq!(run(args("audit verify"), &lookup).await, EXIT_OK);
    assert_eq!(
        run(
            args(&format!("audit verify --admin-url {url}/other")),
            &lookup
        )
        .await,
        EXIT_LOCAL,
        "a session is never sent to another URL"
    );
    // The login API (port 9) does not answer: the session is not revoked,
    // so the file stays for another try and the exit code says so.
    assert_eq!(run(args("logout"), &lookup).await, EXIT_LOCAL);
    assert!(
        store.path("default").exists(),
        "an unrevoked session's file is kept"
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// A fake login API and admin function on one port: answers by path,
/// records each request (head and body).
async fn fake_backend(
    routes: Vec<(&'static str, u16, String)>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 16 * 1024];
            let mut read = 0;
            loop {
                let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if read >= end + 4 + length {
                        break;
                    }
                }
                match socket.read(&mut buffer[read..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
            let request = String::from_utf8_lossy(&buffer[..read]).to_string();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(request);
            let (status, body) = routes
                .iter()
                .find(|(prefix, _, _)| path.starts_with(prefix))
                .map(|(_, status, body)| (*status, body.clone()))
                .unwrap_or((
                    404,
                    r#"{"error":{"code":"NOT_FOUND","message":"no route"}}"#.into(),
                ));
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (base, seen)
}

/// The `default` profile under `root`, signed in against the fake backend at
/// `base`, its access token expiring at `access_expires_at`.
fn saved_session(root: &std::path::Path, base: &str, access_expires_at: i64) -> Store {
    let store = Store::new(root.join("wallet-admin"));
    let mut data = profile(
        &format!("{base}/lambda-url/admin"),
        session(access_expires_at, i64::MAX / 2),
    );
    data.api_url = format!("{base}/lambda-url/login");
    store.save("default", &data).unwrap();
    store
}

fn pair(access: &str, refresh: &str) -> String {
    format!(
        r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":900,"refresh_token":"{refresh}","refresh_expires_in":2592000,"session_id":"session-9"}}"#
    )
}

#[tokio::test]
async fn login_stores_a_private_session_and_an_expired_one_is_refreshed_before_the_call() {
    let root = temp_dir();
    let (base, seen) = fake_backend(vec![
        (
            "/lambda-url/login/v1/auth/login",
            200,
            pair("access-A", "refresh-A"),
        ),
        (
            "/lambda-url/login/v1/auth/refresh",
            200,
            pair("access-B", "refresh-B"),
        ),
        (
            "/lambda-url/admin/admin/audit/verify",
            200,
            r#"{"intact":true,"entries":1}"#.into(),
        ),
    ])
    .await;
    let env: HashMap<&str, String> = [
        ("XDG_CONFIG_HOME", root.to_string_lossy().to_string()),
        ("WALLET_ADMIN_PASSWORD", "correct horse battery".to_string()),
    ]
    .into();
    let lookup = |n: &str| env.get(n).cloned();
    let login = format!(
        "--profile local login --api-url {base}/lambda-url/login --admin-url {base}/lambda-url/admin \
         --email ops@example.com --totp-code 123456 --device-id laptop-ops-0001"
    );
    assert_eq!(run(args(&login), &lookup).await, EXIT_OK);
    let sign_in = seen.lock().unwrap()[0].clone();
    assert!(
        sign_in.starts_with("POST /lambda-url/login/v1/auth/login "),
        "{sign_in}"
    );
    assert!(sign_in
        .to_ascii_lowercase()
        .contains("x-device-id: laptop-ops-0001\r\n"));
    assert!(
        sign_in.ends_with(
            r#"{"email":"ops@example.com","password":"correct horse battery","totp_code":"123456"}"#
        ),
        "{sign_in}"
    );
    let store = Store::new(root.join("wallet-admin"));
    assert_eq!(mode(&store.path("local")), 0o600);
    let mut stored = store.load("local").unwrap().unwrap();
    assert_eq!(stored.session.access_token, "access-A");
    assert_eq!(stored.device_id, "laptop-ops-0001");

    // The access token has expired: the next call refreshes first.
    stored.session.expires_at = 0;
    store.save("local", &stored).unwrap();
    assert_eq!(
        run(args("--profile local audit verify"), &lookup).await,
        EXIT_OK
    );
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "login, refresh, the call");
    assert!(requests[1].starts_with("POST /lambda-url/login/v1/auth/refresh "));
    assert!(
        requests[1].ends_with(r#"{"refresh_token":"refresh-A"}"#),
        "{}",
        requests[1]
    );
    let call = requests[2].to_ascii_lowercase();
    assert!(
        call.starts_with("get /lambda-url/admin/admin/audit/verify "),
        "{call}"
    );
    assert!(
        call.contains("x-admin-session: access-b\r\n"),
        "the refreshed token is sent: {call}"
    );
    let renewed = store.load("local").unwrap().unwrap();
    assert_eq!(
        (
            renewed.session.access_token.as_str(),
            renewed.session.refresh_token.as_str()
        ),
        ("access-B", "refresh-B"),
        "the rotated pair is stored"
    );
    assert_eq!(mode(&store.path("local")), 0o600);

    // Not expired: no refresh.
    assert_eq!(
        run(args("--profile local audit verify"), &lookup).await,
        EXIT_OK
    );
    assert_eq!(seen.lock().unwrap().len(), 4);
    std::fs::remove_dir_all(root).unwrap();
}

fn lookup_in(root: &std::path::Path) -> impl Fn(&str) -> Option<String> {
    let config = root.to_string_lossy().to_string();
    move |name: &str| (name == "XDG_CONFIG_HOME").then(|| config.clone())
}

#[tokio::test]
async fn logout_refreshes_an_expired_access_token_and_then_revokes_the_session() {
    let root = temp_dir();
    let (base, seen) = fake_backend(vec![
        (
            "/lambda-url/login/v1/auth/refresh",
            200,
            pair("access-B", "refresh-B"),
        ),
        ("/lambda-url/login/v1/auth/logout", 204, String::new()),
    ])
    .await;
    let store = saved_session(&root, &base, 0);

    assert_eq!(run(args("logout"), &lookup_in(&root)).await, EXIT_OK);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "refresh, then logout: {requests:?}");
    assert!(requests[0].starts_with("POST /lambda-url/login/v1/auth/refresh "));
    assert!(requests[0].ends_with(r#"{"refresh_token":"refresh-1"}"#));
    let logout = requests[1].to_ascii_lowercase();
    assert!(logout.starts_with("post /lambda-url/login/v1/auth/logout "));
    assert!(
        logout.contains("authorization: bearer access-b\r\n"),
        "the fresh access token revokes the session: {logout}"
    );
    assert!(!store.path("default").exists(), "signed out: file deleted");
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_failed_revocation_keeps_the_session_file_and_fails() {
    let root = temp_dir();
    let (base, seen) = fake_backend(vec![
        (
            "/lambda-url/login/v1/auth/refresh",
            200,
            pair("access-B", "refresh-B"),
        ),
        (
            "/lambda-url/login/v1/auth/logout",
            503,
            r#"{"error":{"code":"UNAVAILABLE","message":"try again"}}"#.into(),
        ),
    ])
    .await;
    let store = saved_session(&root, &base, 0);

    assert_eq!(run(args("logout"), &lookup_in(&root)).await, EXIT_REFUSED);
    assert_eq!(seen.lock().unwrap().len(), 2);
    let kept = store.load("default").unwrap().expect("the file is kept");
    assert_eq!(
        kept.session.refresh_token, "refresh-B",
        "the rotated pair is kept for the next try (the old refresh token is spent)"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_refresh_token_the_api_refuses_ends_the_session_locally() {
    let root = temp_dir();
    let (base, seen) = fake_backend(vec![(
        "/lambda-url/login/v1/auth/refresh",
        401,
        r#"{"error":{"code":"REFRESH_TOKEN_REUSED","message":"revoked"}}"#.into(),
    )])
    .await;
    let store = saved_session(&root, &base, 0);
    assert_eq!(run(args("logout"), &lookup_in(&root)).await, EXIT_OK);
    assert_eq!(seen.lock().unwrap().len(), 1, "no sign-out without a token");
    assert!(!store.path("default").exists());

    // Both tokens ran out: nothing to revoke, nothing sent.
    store
        .save(
            "default",
            &profile(&format!("{base}/lambda-url/admin"), session(0, 1)),
        )
        .unwrap();
    assert_eq!(run(args("logout"), &lookup_in(&root)).await, EXIT_OK);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(!store.path("default").exists());
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn secrets_never_go_over_plain_http_to_another_host() {
    let root = temp_dir();
    let lookup = lookup_in(&root);
    let env_password = |name: &str| match name {
        "WALLET_ADMIN_PASSWORD" => Some("pw".to_string()),
        other => lookup(other),
    };
    for line in [
        "login --api-url http://api.example.com/prod --admin-url https://a.lambda-url.eu-west-1.on.aws --email o@example.com --totp-code 1",
        "login --api-url https://api.example.com/prod --admin-url HTTP://a.lambda-url.eu-west-1.on.aws --email o@example.com --totp-code 1",
        "login --api-url HTTP://192.0.2.1/prod --admin-url http://127.0.0.1:9/x --email o@example.com --totp-code 1",
        "login --api-url https://api.example.com/prod --admin-url https://a.lambda-url.eu-west-1.on.aws --unsigned --email o@example.com --totp-code 1",
        "flags list --admin-url http://a.lambda-url.eu-west-1.on.aws",
    ] {
        assert_eq!(run(args(line), &env_password).await, EXIT_USAGE, "{line}");
    }
    let store = Store::new(root.join("wallet-admin"));
    assert!(!store.path("default").exists(), "nothing signed in");

    // A stored profile from before the rule (or edited) is refused too.
    let old = profile(
        "HTTP://192.0.2.1/lambda-url/admin",
        session(i64::MAX / 2, i64::MAX / 2),
    );
    store.save("default", &old).unwrap();
    assert_eq!(run(args("audit verify"), &lookup).await, EXIT_USAGE);
    let mut old_api = profile(
        "https://a.lambda-url.eu-west-1.on.aws",
        session(0, i64::MAX / 2),
    );
    old_api.api_url = "http://api.example.com/prod".into();
    store.save("default", &old_api).unwrap();
    assert_eq!(run(args("logout"), &lookup).await, EXIT_USAGE);
    assert_eq!(run(args("audit verify"), &lookup).await, EXIT_USAGE);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn logout_with_a_refused_access_token_refreshes_and_tries_once_more() {
    let root = temp_dir();
    let (base, seen) = fake_backend(vec![
        (
            "/lambda-url/login/v1/auth/refresh",
            200,
            pair("access-B", "refresh-B"),
        ),
        (
            "/lambda-url/login/v1/auth/logout",
            401,
            r#"{"error":{"code":"INVALID_TOKEN","message":"no"}}"#.into(),
        ),
    ])
    .await;
    let store = saved_session(&root, &base, i64::MAX / 2);
    assert_eq!(run(args("logout"), &lookup_in(&root)).await, EXIT_REFUSED);
    let requests = seen.lock().unwrap().clone();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        paths,
        [
            "/lambda-url/login/v1/auth/logout",
            "/lambda-url/login/v1/auth/refresh",
            "/lambda-url/login/v1/auth/logout"
        ],
        "once more with a fresh token, then no further"
    );
    assert!(requests[2]
        .to_ascii_lowercase()
        .contains("authorization: bearer access-b\r\n"));
    assert_eq!(
        store
            .load("default")
            .unwrap()
            .unwrap()
            .session
            .refresh_token,
        "refresh-B",
        "not revoked: the file is kept, with the rotated pair"
    );
    std::fs::remove_dir_all(root).unwrap();
}
