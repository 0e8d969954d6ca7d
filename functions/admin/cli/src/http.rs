//! One HTTP(S) exchange: hyper over rustls (aws-lc-rs, the system's
//! roots), plain HTTP for the local emulator.

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
}
