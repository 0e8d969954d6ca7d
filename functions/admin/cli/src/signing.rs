//! SigV4 for the function URL (service `lambda`): the headers to add to a
//! request, computed by the `aws-sigv4` crate over the method, the URL with
//! its query, the given headers (which must include every header that will
//! be sent, `X-Admin-Session` among them) and the body.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

/// The signing service of Lambda function URLs.
pub const SERVICE: &str = "lambda";

/// One request to sign.
pub struct Unsigned<'a> {
    pub method: &'a str,
    /// The full URL as it will be sent, query included.
    pub url: &'a str,
    /// Lower-case names; `host` is added from the URL when absent.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The headers SigV4 adds: `authorization`, `x-amz-date` and, with
/// temporary credentials, `x-amz-security-token`.
pub fn signature_headers(
    request: &Unsigned<'_>,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    if !headers.iter().any(|(name, _)| name == "host") {
        headers.push(("host".into(), host_of(request.url)?));
    }
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|err| format!("signing parameters: {err}"))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(request.body),
    )
    .map_err(|err| format!("cannot sign this request: {err}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|err| format!("signing failed: {err}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect())
}

/// `host[:port]` of a URL, as the `Host` header carries it.
pub fn host_of(url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("not a URL: {url}"))?;
    let authority = uri.authority().ok_or_else(|| format!("no host in {url}"))?;
    Ok(authority.as_str().to_string())
}

/// The region in a function URL's host (`<id>.lambda-url.<region>.on.aws`).
pub fn region_of_function_url(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    let mut labels = host.split('.');
    labels.next()?;
    if labels.next()? != "lambda-url" {
        return None;
    }
    let region = labels.next()?;
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_a_function_url() {
        assert_eq!(
            region_of_function_url("https://abcdefgh.lambda-url.eu-west-1.on.aws/").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_function_url("http://127.0.0.1:9000/lambda-url/admin"),
            None
        );
    }

    #[test]
    fn the_host_header_keeps_a_port() {
        assert_eq!(
            host_of("http://127.0.0.1:9000/lambda-url/admin/admin/flags").unwrap(),
            "127.0.0.1:9000"
        );
    }
}
