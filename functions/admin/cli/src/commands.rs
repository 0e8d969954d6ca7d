//! What each command does: sign in and out, and the admin calls (plan the
//! request, refresh the session if needed, sign, send, print).

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use serde_json::{json, Value};

use crate::args::{AdminCall, BodySource, Command, Global, Invocation};
use crate::http::{encode, join, transport, unsigned_for, Client, Outgoing, Reply, Transport};
use crate::session::{ensure_fresh, FreshError, Profile, Store};
use crate::signing::{host_of, region_of_function_url, signature_headers, Unsigned};
use crate::{output, EnvLookup, EXIT_LOCAL, EXIT_REFUSED, EXIT_USAGE};

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Usage(String),
    /// The backend answered with an error.
    Refused {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    Local(String),
}

impl Failure {
    /// The backend's error (`{"error": {"code", "message", "request_id"}}`).
    pub fn refused(reply: &Reply) -> Self {
        let error = reply
            .json()
            .map(|v| v["error"].clone())
            .unwrap_or(Value::Null);
        // One line each, without the backend's control characters.
        let text = |field: &str| {
            error[field]
                .as_str()
                .map(|t| output::terminal_safe(t, false))
        };
        let code = text("code").unwrap_or_else(|| match reply.status {
            403 => "FORBIDDEN_BY_AWS".to_string(),
            status => format!("HTTP_{status}"),
        });
        let message = text("message").unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(&reply.body);
            let raw = raw.trim();
            if raw.is_empty() {
                "no error body".to_string()
            } else {
                output::terminal_safe(&raw.chars().take(300).collect::<String>(), false)
            }
        });
        Failure::Refused {
            status: reply.status,
            code,
            message,
            request_id: text("request_id"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Failure::Usage(text) => format!("wallet-admin: {text}"),
            Failure::Local(text) => format!("wallet-admin: {text}"),
            Failure::Refused {
                status,
                code,
                message,
                request_id,
            } => {
                let id = request_id
                    .as_deref()
                    .map(|id| format!(" (request {id})"))
                    .unwrap_or_default();
                format!("refused: {status} {code}: {message}{id}")
            }
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused { .. } => EXIT_REFUSED,
            Failure::Local(_) => EXIT_LOCAL,
        }
    }
}

fn local(text: impl Into<String>) -> Failure {
    Failure::Local(text.into())
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One admin request, before the session and the signature are added.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub method: &'static str,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Planned {
    fn new(method: &'static str, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn query(mut self, name: &'static str, value: Option<String>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value));
        }
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// The request for `call` (`body`: the JSON read for create and update).
/// Kill and restore are a read then this write: see [`execute`].
pub fn plan(call: &AdminCall, body: Option<Value>) -> Planned {
    let flag = |key: &str| format!("/admin/flags/{}", encode(key));
    match call {
        AdminCall::FlagsList => Planned::new("GET", "/admin/flags".into()),
        AdminCall::FlagsGet { key } => Planned::new("GET", flag(key)),
        AdminCall::FlagsCreate { .. } => {
            Planned::new("POST", "/admin/flags".into()).body(body.unwrap_or(Value::Null))
        }
        AdminCall::FlagsUpdate { key, .. } | AdminCall::FlagsKill { key, .. } => {
            Planned::new("PUT", flag(key)).body(body.unwrap_or(Value::Null))
        }
        AdminCall::FlagsDelete { key, version } => {
            Planned::new("DELETE", flag(key)).query("version", Some(version.to_string()))
        }
        AdminCall::Emergency { disable, reason } => {
            let path = if *disable {
                "/admin/emergency-disable"
            } else {
                "/admin/emergency-restore"
            };
            Planned::new("POST", path.into()).body(json!({ "reason": reason }))
        }
        AdminCall::ReviewsList { status, limit } => Planned::new("GET", "/admin/reviews".into())
            .query("status", status.clone())
            .query("limit", limit.map(|l| l.to_string())),
        AdminCall::ReviewDecide {
            case_id,
            approve,
            note,
        } => {
            let mut body = json!({ "decision": if *approve { "approve" } else { "reject" } });
            if let Some(note) = note {
                body["note"] = json!(note);
            }
            Planned::new(
                "POST",
                format!("/admin/reviews/{}/decision", encode(case_id)),
            )
            .body(body)
        }
        AdminCall::KycList {
            status,
            limit,
            cursor,
        } => Planned::new("GET", "/admin/kyc".into())
            .query("status", status.clone())
            .query("limit", limit.map(|l| l.to_string()))
            .query("cursor", cursor.clone()),
        AdminCall::KycShow { id } => Planned::new("GET", format!("/admin/kyc/{}", encode(id))),
        AdminCall::KycDecide {
            id,
            decision,
            reason,
        } => {
            let mut body = json!({ "decision": decision });
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            Planned::new("POST", format!("/admin/kyc/{}/decision", encode(id))).body(body)
        }
        AdminCall::UsersUnlock { user_id } => {
            Planned::new("POST", format!("/admin/users/{}/unlock", encode(user_id)))
        }
        AdminCall::UsersResetTotp { user_id } => Planned::new(
            "POST",
            format!("/admin/users/{}/totp/reset", encode(user_id)),
        ),
        AdminCall::UsersEndSessions { user_id } => Planned::new(
            "POST",
            format!("/admin/users/{}/sessions/revoke", encode(user_id)),
        ),
        AdminCall::UsersEraseKyc { user_id } => Planned::new(
            "POST",
            format!("/admin/users/{}/kyc-erasure", encode(user_id)),
        ),
        AdminCall::AuditList { limit, before } => Planned::new("GET", "/admin/audit".into())
            .query("limit", limit.map(|l| l.to_string()))
            .query("before", before.map(|b| b.to_string())),
        AdminCall::AuditVerify => Planned::new("GET", "/admin/audit/verify".into()),
    }
}

/// Runs a parsed command line.
pub async fn execute(invocation: &Invocation, env: EnvLookup<'_>) -> Result<(), Failure> {
    let global = &invocation.global;
    check_urls(global)?;
    let store = Store::from_env(env).map_err(|err| local(err.to_string()))?;
    let timeout = env("WALLET_ADMIN_TIMEOUT_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let client = Client::new(Duration::from_secs(timeout)).map_err(Failure::Local)?;
    match &invocation.command {
        Command::Login { email, totp_code } => {
            login(
                &store,
                &client,
                global,
                env,
                email.clone(),
                totp_code.clone(),
            )
            .await
        }
        Command::Logout => logout(&store, &client, global).await,
        Command::Session => {
            let profile = signed_in(&store, global)?;
            output::session(&global.profile, &profile, now(), global.json);
            Ok(())
        }
        Command::Admin(call) => admin(&store, &client, global, call).await,
    }
}

/// `url` may carry secrets: `https`, or `http` to a loopback host only
/// (the scheme compared without regard to case). A usage error otherwise.
fn checked_url(url: &str, what: &str) -> Result<Transport, Failure> {
    transport(url).map_err(|err| Failure::Usage(format!("{what} {url}: {err}")))
}

/// The URLs and `--unsigned` given on the command line (or in the
/// environment), before anything is sent.
fn check_urls(global: &Global) -> Result<(), Failure> {
    if let Some(url) = &global.api_url {
        checked_url(url, "--api-url")?;
    }
    if let Some(url) = &global.admin_url {
        let admin = checked_url(url, "--admin-url")?;
        if global.unsigned && !admin.loopback() {
            return Err(Failure::Usage(format!(
                "--unsigned is only for the local emulator (a loopback host), not {url}"
            )));
        }
    }
    Ok(())
}

/// The URLs of a stored profile (written by an older version, or edited).
fn check_profile_urls(name: &str, profile: &Profile) -> Result<(), Failure> {
    let what = |which: &str| format!("profile {name}'s {which}");
    checked_url(&profile.api_url, &what("API URL"))?;
    checked_url(&profile.admin_url, &what("admin URL"))?;
    Ok(())
}

/// The stored profile, checked against the URLs given on this command line.
fn signed_in(store: &Store, global: &Global) -> Result<Profile, Failure> {
    let profile = store
        .load(&global.profile)
        .map_err(|err| local(err.to_string()))?
        .ok_or_else(|| {
            local(format!(
                "not signed in (profile {}): run `wallet-admin login`",
                global.profile
            ))
        })?;
    for (given, stored, what) in [
        (&global.admin_url, &profile.admin_url, "admin URL"),
        (&global.api_url, &profile.api_url, "API URL"),
    ] {
        if let Some(given) = given {
            if given.trim_end_matches('/') != stored.trim_end_matches('/') {
                return Err(local(format!(
                    "profile {} was signed in for the {what} {stored}, not {given}: \
                     sign in with another --profile",
                    global.profile
                )));
            }
        }
    }
    check_profile_urls(&global.profile, &profile)?;
    Ok(profile)
}

/// A line from stdin, for scripts that pipe secrets in.
fn stdin_line(what: &str) -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| local(format!("reading the {what} from stdin: {err}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if line.is_empty() {
        return Err(local(format!("no {what} on stdin")));
    }
    Ok(line)
}

fn secret(prompt: &str, what: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|err| local(format!("{what}: {err}")))
    } else {
        stdin_line(what)
    }
}

async fn login(
    store: &Store,
    client: &Client,
    global: &Global,
    env: EnvLookup<'_>,
    email: Option<String>,
    totp_code: Option<String>,
) -> Result<(), Failure> {
    let previous = store
        .load(&global.profile)
        .map_err(|err| local(err.to_string()))?;
    let pick = |given: &Option<String>, stored: Option<&String>, what: &str| {
        given
            .clone()
            .or_else(|| stored.cloned())
            .ok_or_else(|| Failure::Usage(format!("login: {what} is required the first time")))
    };
    let api_url = pick(
        &global.api_url,
        previous.as_ref().map(|p| &p.api_url),
        "--api-url",
    )?;
    let admin_url = pick(
        &global.admin_url,
        previous.as_ref().map(|p| &p.admin_url),
        "--admin-url",
    )?;
    checked_url(&api_url, "the API URL")?;
    let admin = checked_url(&admin_url, "the admin URL")?;
    if global.unsigned && !admin.loopback() {
        return Err(Failure::Usage(format!(
            "--unsigned is only for the local emulator (a loopback host), not {admin_url}"
        )));
    }
    let device_id = global
        .device_id
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.device_id.clone()))
        .unwrap_or_else(|| format!("wallet-admin-{}", uuid::Uuid::new_v4().simple()));
    let email = match email.or_else(|| env("WALLET_ADMIN_EMAIL")) {
        Some(email) => email,
        None if std::io::stdin().is_terminal() => {
            eprint!("Email: ");
            let _ = std::io::stderr().flush();
            stdin_line("email")?
        }
        None => {
            return Err(Failure::Usage(
                "login: --email (or WALLET_ADMIN_EMAIL) is required".into(),
            ))
        }
    };
    let password = match env("WALLET_ADMIN_PASSWORD") {
        Some(password) => password,
        None => secret("Password: ", "password")?,
    };
    let totp_code = match totp_code {
        Some(code) => code,
        None => secret("TOTP code: ", "TOTP code")?,
    };
    let session = crate::api::login(
        client,
        &api_url,
        &device_id,
        &email,
        &password,
        totp_code.trim(),
        now(),
    )
    .await?;
    let profile = Profile {
        api_url,
        admin_url,
        region: global.region.clone(),
        unsigned: global.unsigned,
        device_id,
        session,
    };
    store
        .save(&global.profile, &profile)
        .map_err(|err| local(format!("storing the session: {err}")))?;
    output::signed_in(&global.profile, &profile, global.json);
    Ok(())
}

/// Revokes the session at the login API, then deletes its file. An expired
/// access token is refreshed first (through the login API) so that the
/// session is still revoked; a stored token the API no longer accepts (401)
/// is refreshed and the sign-out tried once more. When the revocation
/// fails the file is kept, so that `logout` can be run again, and the exit
/// code is not 0. A session whose refresh token has run out, or whose
/// refresh token the API refuses (401), can no longer be used by anyone
/// holding this file: the file is deleted.
async fn logout(store: &Store, client: &Client, global: &Global) -> Result<(), Failure> {
    let name = &global.profile;
    let Some(mut profile) = store.load(name).map_err(|err| local(err.to_string()))? else {
        output::note(&format!("not signed in (profile {name})"));
        return Ok(());
    };
    check_profile_urls(name, &profile)?;
    let delete = |note: String| -> Result<(), Failure> {
        store
            .delete(name)
            .map_err(|err| local(format!("deleting the session file: {err}")))?;
        output::note(&note);
        Ok(())
    };
    let kept = |err: Failure| -> Failure {
        output::note(&format!(
            "the session of profile {name} was NOT revoked; its file is kept so that \
             `wallet-admin logout` can be run again"
        ));
        err
    };
    // `force`: the stored access token was refused, a fresh one is needed.
    let mut force = false;
    loop {
        let (api_url, device_id) = (profile.api_url.clone(), profile.device_id.clone());
        let renewed = crate::session::renew(
            store,
            name,
            &mut profile,
            now(),
            force,
            |session| async move {
                crate::api::refresh(client, &api_url, &device_id, &session, now()).await
            },
        )
        .await;
        match renewed {
            Ok(_) => {}
            Err(FreshError::Ended) => {
                return delete(format!(
                    "the session of profile {name} had already ended; session file deleted"
                ))
            }
            Err(FreshError::Refresh(Failure::Refused {
                status: 401, code, ..
            })) => {
                return delete(format!(
                    "the login API refused the session's refresh token ({code}): the \
                     session can no longer be used; session file deleted (profile {name})"
                ));
            }
            Err(FreshError::Refresh(err)) => return Err(kept(err)),
            Err(FreshError::Store(err)) => {
                return Err(kept(local(format!("the session file: {err}"))))
            }
        }
        match crate::api::logout(
            client,
            &profile.api_url,
            &profile.device_id,
            &profile.session.access_token,
        )
        .await
        {
            Ok(()) => return delete(format!("signed out (profile {name})")),
            Err(Failure::Refused { status: 401, .. }) if !force => {
                // The access token is refused (keys rotated, clock skew):
                // a fresh one, then once more.
                force = true;
            }
            Err(err) => return Err(kept(err)),
        }
    }
}

/// SigV4 credentials and region, unless the target is the local emulator.
struct Signer {
    credentials: Credentials,
    region: String,
}

async fn signer(global: &Global, profile: &Profile) -> Result<Option<Signer>, Failure> {
    let requested = global.unsigned || profile.unsigned;
    if requested && !checked_url(&profile.admin_url, "the admin URL")?.loopback() {
        return Err(Failure::Usage(format!(
            "--unsigned is only for the local emulator (a loopback host), not {}",
            profile.admin_url
        )));
    }
    if unsigned_for(&profile.admin_url, requested) {
        return Ok(None);
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(name) = &global.aws_profile {
        loader = loader.profile_name(name);
    }
    let config = loader.load().await;
    let region = global
        .region
        .clone()
        .or_else(|| profile.region.clone())
        .or_else(|| region_of_function_url(&profile.admin_url))
        .or_else(|| config.region().map(|r| r.to_string()))
        .ok_or_else(|| local("no region for SigV4: pass --region"))?;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| local("no AWS credentials provider configured"))?;
    let credentials = provider.provide_credentials().await.map_err(|err| {
        local(format!(
            "no AWS credentials for signing (environment, profile, SSO or role): {err}"
        ))
    })?;
    Ok(Some(Signer {
        credentials,
        region,
    }))
}

/// The outgoing request: session and device headers, signed when `signer` is set.
fn prepare(
    profile: &Profile,
    planned: &Planned,
    signer: Option<&Signer>,
    time: SystemTime,
) -> Result<Outgoing, Failure> {
    let url = join(&profile.admin_url, &planned.path, &planned.query);
    let body = planned
        .body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    let mut headers = vec![
        ("host".to_string(), host_of(&url).map_err(Failure::Local)?),
        (
            "x-admin-session".to_string(),
            profile.session.access_token.clone(),
        ),
        ("x-device-id".to_string(), profile.device_id.clone()),
    ];
    if planned.body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if let Some(signer) = signer {
        let unsigned = Unsigned {
            method: planned.method,
            url: &url,
            headers: &headers,
            body: &body,
        };
        let added = signature_headers(&unsigned, &signer.credentials, &signer.region, time)
            .map_err(Failure::Local)?;
        headers.extend(added);
    }
    headers.push((
        "user-agent".into(),
        concat!("wallet-admin/", env!("CARGO_PKG_VERSION")).into(),
    ));
    Ok(Outgoing {
        method: planned.method.to_string(),
        url,
        headers,
        body,
    })
}

fn read_body(source: &BodySource) -> Result<Value, Failure> {
    let text = match source {
        BodySource::Stdin => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|err| local(format!("reading stdin: {err}")))?;
            text
        }
        BodySource::File(path) => std::fs::read_to_string(path)
            .map_err(|err| Failure::Usage(format!("--file {path}: {err}")))?,
    };
    serde_json::from_str(&text)
        .map_err(|err| Failure::Usage(format!("the body is not JSON: {err}")))
}

async fn admin(
    store: &Store,
    client: &Client,
    global: &Global,
    call: &AdminCall,
) -> Result<(), Failure> {
    let body = match call {
        AdminCall::FlagsCreate { body } | AdminCall::FlagsUpdate { body, .. } => {
            Some(read_body(body)?)
        }
        _ => None,
    };
    let mut profile = signed_in(store, global)?;
    let (api_url, device_id) = (profile.api_url.clone(), profile.device_id.clone());
    let refreshed = ensure_fresh(
        store,
        &global.profile,
        &mut profile,
        now(),
        |session| async move {
            crate::api::refresh(client, &api_url, &device_id, &session, now()).await
        },
    )
    .await;
    match refreshed {
        Ok(_) => {}
        Err(FreshError::Ended) => {
            return Err(local(format!(
                "the session of profile {} has ended: run `wallet-admin login`",
                global.profile
            )))
        }
        Err(FreshError::Refresh(err)) => {
            return Err(match err {
                Failure::Refused { code, message, .. } => local(format!(
                "the session could not be refreshed ({code}: {message}): run `wallet-admin login`"
            )),
                other => other,
            })
        }
        Err(FreshError::Store(err)) => return Err(local(format!("storing the session: {err}"))),
    }
    let signer = signer(global, &profile).await?;
    let send = |planned: Planned| {
        let prepared = prepare(&profile, &planned, signer.as_ref(), SystemTime::now());
        async move {
            let reply = client.send(&prepared?).await.map_err(Failure::Local)?;
            if reply.status >= 400 {
                return Err(Failure::refused(&reply));
            }
            Ok(reply)
        }
    };
    let reply = if let AdminCall::FlagsKill { key, killed } = call {
        let read = send(plan(&AdminCall::FlagsGet { key: key.clone() }, None)).await?;
        let mut flag = read
            .json()
            .ok_or_else(|| local("the flag read back is not JSON"))?;
        flag["killed"] = json!(killed);
        send(plan(call, Some(flag))).await?
    } else {
        send(plan(call, body)).await?
    };
    output::admin(call, &reply, global.json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    fn profile(admin_url: &str) -> Profile {
        Profile {
            api_url: "http://127.0.0.1:9000/lambda-url/login".into(),
            admin_url: admin_url.into(),
            region: None,
            unsigned: false,
            device_id: "wallet-admin-test-device".into(),
            session: Session {
                email: "ops@example.com".into(),
                session_id: "s1".into(),
                access_token: "access-token".into(),
                refresh_token: "refresh-token".into(),
                expires_at: 0,
                refresh_expires_at: 0,
            },
        }
    }

    #[test]
    fn every_call_maps_to_its_route() {
        let cases: Vec<(AdminCall, &str, &str)> = vec![
            (AdminCall::FlagsList, "GET", "/admin/flags"),
            (
                AdminCall::FlagsGet {
                    key: "new.checkout".into(),
                },
                "GET",
                "/admin/flags/new.checkout",
            ),
            (
                AdminCall::FlagsDelete {
                    key: "k".into(),
                    version: 2,
                },
                "DELETE",
                "/admin/flags/k?version=2",
            ),
            (
                AdminCall::Emergency {
                    disable: true,
                    reason: "r".into(),
                },
                "POST",
                "/admin/emergency-disable",
            ),
            (
                AdminCall::Emergency {
                    disable: false,
                    reason: "r".into(),
                },
                "POST",
                "/admin/emergency-restore",
            ),
            (
                AdminCall::ReviewsList {
                    status: Some("open".into()),
                    limit: Some(5),
                },
                "GET",
                "/admin/reviews?status=open&limit=5",
            ),
            (
                AdminCall::ReviewDecide {
                    case_id: "c1".into(),
                    approve: false,
                    note: None,
                },
                "POST",
                "/admin/reviews/c1/decision",
            ),
            (
                AdminCall::KycList {
                    status: None,
                    limit: None,
                    cursor: Some("a/b".into()),
                },
                "GET",
                "/admin/kyc?cursor=a%2Fb",
            ),
            (
                AdminCall::KycShow { id: "s1".into() },
                "GET",
                "/admin/kyc/s1",
            ),
            (
                AdminCall::KycDecide {
                    id: "s1".into(),
                    decision: "approve",
                    reason: None,
                },
                "POST",
                "/admin/kyc/s1/decision",
            ),
            (
                AdminCall::UsersUnlock {
                    user_id: "u1".into(),
                },
                "POST",
                "/admin/users/u1/unlock",
            ),
            (
                AdminCall::UsersResetTotp {
                    user_id: "u1".into(),
                },
                "POST",
                "/admin/users/u1/totp/reset",
            ),
            (
                AdminCall::UsersEndSessions {
                    user_id: "u1".into(),
                },
                "POST",
                "/admin/users/u1/sessions/revoke",
            ),
            (
                AdminCall::UsersEraseKyc {
                    user_id: "u1".into(),
                },
                "POST",
                "/admin/users/u1/kyc-erasure",
            ),
            (
                AdminCall::AuditList {
                    limit: Some(3),
                    before: Some(9),
                },
                "GET",
                "/admin/audit?limit=3&before=9",
            ),
            (AdminCall::AuditVerify, "GET", "/admin/audit/verify"),
        ];
        for (call, method, path) in cases {
            let planned = plan(&call, None);
            let url = join("", &planned.path, &planned.query);
            assert_eq!((planned.method, url.as_str()), (method, path), "{call:?}");
        }
        let decided = plan(
            &AdminCall::KycDecide {
                id: "s1".into(),
                decision: "request_resubmission",
                reason: Some("blurred".into()),
            },
            None,
        );
        assert_eq!(
            decided.body,
            Some(json!({"decision": "request_resubmission", "reason": "blurred"}))
        );
    }

    #[test]
    fn locally_the_session_travels_unsigned_in_its_own_header() {
        let planned = plan(&AdminCall::FlagsList, None);
        let request = prepare(
            &profile("http://127.0.0.1:9000/lambda-url/admin"),
            &planned,
            None,
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(
            request.url,
            "http://127.0.0.1:9000/lambda-url/admin/admin/flags"
        );
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-admin-session"), Some("access-token"));
        assert_eq!(header("x-device-id"), Some("wallet-admin-test-device"));
        assert_eq!(header("authorization"), None);
    }

    #[test]
    fn signed_requests_carry_sigv4_and_the_session_separately() {
        let signer = Signer {
            credentials: Credentials::new("AKIDFAKEFAKEFAKE", "fake-secret", None, None, "test"),
            region: "eu-west-1".into(),
        };
        let planned = plan(
            &AdminCall::Emergency {
                disable: true,
                reason: "incident".into(),
            },
            None,
        );
        let request = prepare(
            &profile("https://abc.lambda-url.eu-west-1.on.aws/"),
            &planned,
            Some(&signer),
            SystemTime::now(),
        )
        .unwrap();
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_string())
        };
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKEFAKE/"),
            "{authorization}"
        );
        assert!(authorization.contains("/eu-west-1/lambda/aws4_request"));
        assert!(
            authorization
                .contains("SignedHeaders=content-type;host;x-admin-session;x-amz-date;x-device-id"),
            "the session header is signed: {authorization}"
        );
        assert_eq!(header("x-admin-session").as_deref(), Some("access-token"));
    }

    #[test]
    fn refusals_name_the_backend_code() {
        let reply = Reply {
            status: 401,
            body: br#"{"error":{"code":"ADMIN_SESSION_HEADER_REQUIRED","message":"m","request_id":"r1"}}"#.to_vec(),
        };
        let failure = Failure::refused(&reply);
        assert_eq!(failure.exit_code(), EXIT_REFUSED);
        assert_eq!(
            failure.describe(),
            "refused: 401 ADMIN_SESSION_HEADER_REQUIRED: m (request r1)"
        );
        let aws = Failure::refused(&Reply {
            status: 403,
            body: br#"{"Message":"Forbidden"}"#.to_vec(),
        });
        assert!(
            aws.describe().contains("403 FORBIDDEN_BY_AWS"),
            "{}",
            aws.describe()
        );
    }
}
