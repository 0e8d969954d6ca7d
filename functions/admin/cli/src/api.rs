//! The login API calls the tool makes: sign in, refresh, sign out
//! (`{api}/v1/auth/...`, bound to the device by `X-Device-Id`).

use serde::Deserialize;
use serde_json::json;

use crate::commands::Failure;
use crate::http::{join, Client, Outgoing, Reply};
use crate::session::Session;

/// The token pair the login API answers with.
#[derive(Debug, Deserialize)]
struct TokenPair {
    access_token: String,
    expires_in: i64,
    refresh_token: String,
    refresh_expires_in: i64,
    session_id: String,
}

impl TokenPair {
    fn into_session(self, email: &str, now: i64) -> Session {
        Session {
            email: email.to_string(),
            session_id: self.session_id,
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_at: now + self.expires_in,
            refresh_expires_at: now + self.refresh_expires_in,
        }
    }
}

fn json_post(url: String, device_id: &str, body: serde_json::Value) -> Outgoing {
    Outgoing {
        method: "POST".into(),
        url,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-device-id".into(), device_id.into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn pair(reply: Reply, what: &str) -> Result<TokenPair, Failure> {
    if reply.status != 200 {
        return Err(Failure::refused(&reply));
    }
    serde_json::from_slice(&reply.body).map_err(|err| {
        Failure::Local(format!(
            "{what}: unexpected answer from the login API: {err}"
        ))
    })
}

/// Signs in with password and TOTP code.
pub async fn login(
    client: &Client,
    api_url: &str,
    device_id: &str,
    email: &str,
    password: &str,
    totp_code: &str,
    now: i64,
) -> Result<Session, Failure> {
    let body = json!({ "email": email, "password": password, "totp_code": totp_code });
    let request = json_post(join(api_url, "/v1/auth/login", &[]), device_id, body);
    let reply = client.send(&request).await.map_err(Failure::Local)?;
    Ok(pair(reply, "sign-in")?.into_session(email, now))
}

/// Trades the refresh token for a new pair (the old one is spent).
pub async fn refresh(
    client: &Client,
    api_url: &str,
    device_id: &str,
    session: &Session,
    now: i64,
) -> Result<Session, Failure> {
    let body = json!({ "refresh_token": session.refresh_token });
    let request = json_post(join(api_url, "/v1/auth/refresh", &[]), device_id, body);
    let reply = client.send(&request).await.map_err(Failure::Local)?;
    Ok(pair(reply, "refresh")?.into_session(&session.email, now))
}

/// Ends the session at the login API.
pub async fn logout(
    client: &Client,
    api_url: &str,
    device_id: &str,
    access_token: &str,
) -> Result<(), Failure> {
    let request = Outgoing {
        method: "POST".into(),
        url: join(api_url, "/v1/auth/logout", &[]),
        headers: vec![
            ("authorization".into(), format!("Bearer {access_token}")),
            ("x-device-id".into(), device_id.into()),
        ],
        body: Vec::new(),
    };
    let reply = client.send(&request).await.map_err(Failure::Local)?;
    if reply.status == 204 || reply.status == 200 {
        Ok(())
    } else {
        Err(Failure::refused(&reply))
    }
}
