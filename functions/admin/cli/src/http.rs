//! One HTTP(S) exchange: hyper over rustls (aws-lc-rs, the system's
//! roots); plain HTTP only to a loopback address (the local emulator), since
//! passwords, tokens and `X-Admin-Session` travel in every request.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

/// A request ready to go: everything that is signed is here.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// How a URL is reached, by its scheme (compared without regard to case)
/// and host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `https`: TLS; `loopback` when the host is this machine.
    Tls { loopback: bool },
    /// `http` to a loopback host: the local emulator, never signed.
    LoopbackPlain,
}

impl Transport {
    pub fn loopback(self) -> bool {
        matches!(
            self,
            Transport::LoopbackPlain | Transport::Tls { loopback: true }
        )
    }
}

/// `localhost`, 127.0.0.0/8 or ::1 (also as an IPv4-mapped address).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Whether `url` may be used, and how: `https` anywhere, `http` only to a
/// loopback host; anything else is refused with the reason.
pub fn transport(url: &str) -> Result<Transport, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "not a URL (expected https://HOST/...)".to_string())?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "not an absolute URL (expected https://HOST/...)".to_string())?;
    let loopback = is_loopback_host(host);
    match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => Ok(Transport::Tls { loopback }),
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => {
            if loopback {
                Ok(Transport::LoopbackPlain)
            } else {
                Err(format!(
                    "plain http is refused for {host}: passwords and session tokens would \
                     travel in cleartext; use https:// (http only to 127.0.0.0/8, ::1 or localhost)"
                ))
            }
        }
        _ => Err("the scheme must be https (http only to 127.0.0.0/8, ::1 or localhost)".into()),
    }
}

/// Whether calls to the admin function at `admin_url` go unsigned: always
/// for loopback http (the emulator), on request (`--unsigned`) for a loopback
/// https host, never for anything else.
pub fn unsigned_for(admin_url: &str, requested: bool) -> bool {
    match transport(admin_url) {
        Ok(Transport::LoopbackPlain) => true,
        Ok(Transport::Tls { loopback }) => loopback && requested,
        Err(_) => false,
    }
}

pub struct Client {
    inner: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|err| format!("TLS setup: {err}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            inner: HyperClient::builder(TokioExecutor::new()).build(connector),
            timeout,
        })
    }

    pub async fn send(&self, request: &Outgoing) -> Result<Reply, String> {
        // The last line of defence: nothing leaves in cleartext for another host.
        transport(&request.url).map_err(|err| format!("{}: {err}", request.url))?;
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            if name == "host" {
                continue;
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|err| format!("bad request for {}: {err}", request.url))?;
        let exchange = async {
            let response = self
                .inner
                .request(req)
                .await
                .map_err(|err| format!("{} {}: {err}", request.method, request.url))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| format!("reading the answer from {}: {err}", request.url))?
                .to_bytes()
                .to_vec();
            Ok(Reply { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                format!(
                    "{} {}: no answer within {} s",
                    request.method,
                    request.url,
                    self.timeout.as_secs()
                )
            })?
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved
/// characters stay), so the URL sent is the URL signed.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base` without trailing slashes, then `path`, then the query.
pub fn join(base: &str, path: &str, query: &[(&str, String)]) -> String {
    let mut url = format!("{}{path}", base.trim_end_matches('/'));
    for (i, (name, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_and_encoded() {
        assert_eq!(
            join(
                "https://x.lambda-url.eu-west-1.on.aws/",
                "/admin/kyc",
                &[("limit", "5".into()), ("cursor", "a+b/c=".into())]
            ),
            "https://x.lambda-url.eu-west-1.on.aws/admin/kyc?limit=5&cursor=a%2Bb%2Fc%3D"
        );
        assert_eq!(encode("new.checkout"), "new.checkout");
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn plain_http_only_to_loopback_whatever_the_case_of_the_scheme() {
        for url in [
            "http://127.0.0.1:9000/lambda-url/admin",
            "HTTP://127.0.0.1:9000/lambda-url/admin",
            "Http://127.8.9.10/x",
            "http://localhost:9000/x",
            "http://LOCALHOST./x",
            "http://[::1]:9000/x",
        ] {
            assert_eq!(transport(url), Ok(Transport::LoopbackPlain), "{url}");
            assert!(unsigned_for(url, false), "{url}");
        }
        for url in [
            "http://abc.lambda-url.eu-west-1.on.aws/",
            "HTTP://abc.lambda-url.eu-west-1.on.aws/",
            "http://10.0.0.1/x",
            "http://127.0.0.1.example.com/x",
            "http://localhost.example.com/x",
            "http://127.0.0.1@example.com/x",
            "http://[::2]/x",
            "ftp://127.0.0.1/x",
            "abc.lambda-url.eu-west-1.on.aws",
            "/lambda-url/admin",
        ] {
            assert!(transport(url).is_err(), "{url}: {:?}", transport(url));
            assert!(!unsigned_for(url, true), "{url}");
        }
        assert_eq!(
            transport("HTTPS://abc.lambda-url.eu-west-1.on.aws/"),
            Ok(Transport::Tls { loopback: false })
        );
        assert!(
            !unsigned_for("https://abc.lambda-url.eu-west-1.on.aws/", true),
            "--unsigned never turns signing off for a remote host"
        );
        assert!(unsigned_for("https://127.0.0.1:9443/x", true));
        assert!(!unsigned_for("https://127.0.0.1:9443/x", false));
    }

    #[tokio::test]
    async fn the_client_refuses_to_send_in_cleartext_to_another_host() {
        let client = Client::new(Duration::from_secs(5)).unwrap();
        let request = Outgoing {
            method: "POST".into(),
            url: "HTTP://192.0.2.1/v1/auth/login".into(),
            headers: vec![("x-admin-session".into(), "secret".into())],
            body: b"{}".to_vec(),
        };
        let err = client.send(&request).await.unwrap_err();
        assert!(err.contains("plain http is refused"), "{err}");
    }
}
