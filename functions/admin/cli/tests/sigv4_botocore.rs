//! The tool's SigV4 signature against an independent implementation:
//! botocore's `SigV4Auth` signs the same request (same fake credentials,
//! time, method, URL with query, headers and body) and must produce the
//! same `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token`.
//! Needs python3 with botocore; without them the test fails (it is not
//! skipped).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use serde_json::{json, Value};
use wallet_admin::signing::{signature_headers, Unsigned};

/// Clearly fake credentials (the AWS documentation's example shape).
const ACCESS_KEY: &str = "AKIDEXAMPLEFAKEKEY00";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFAKEKEY000";
const SESSION_TOKEN: &str = "FAKE//session+token/for=tests0000000000000000000000000000";
/// 2026-01-02T03:04:05Z.
const TIME: u64 = 1_767_323_045;

const BOTOCORE: &str = r#"
import datetime, json, sys
try:
    import botocore.auth as auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as err:
    sys.exit("botocore is required for this test: pip install botocore (%s)" % err)
spec = json.load(sys.stdin)
fixed = datetime.datetime.fromtimestamp(spec["time"], tz=datetime.timezone.utc)
if hasattr(auth, "get_current_datetime"):
    auth.get_current_datetime = lambda *a, **k: fixed.replace(tzinfo=None)
else:
    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed.replace(tzinfo=None)
        @classmethod
        def now(cls, tz=None):
            return fixed if tz else fixed.replace(tzinfo=None)
    auth.datetime.datetime = Frozen
credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
request = AWSRequest(
    method=spec["method"],
    url=spec["url"],
    data=spec["body"].encode(),
    headers=dict(spec["headers"]),
)
auth.SigV4Auth(credentials, "lambda", spec["region"]).add_auth(request)
out = {name.lower(): value for name, value in request.headers.items()}
print(json.dumps({
    "authorization": out.get("authorization"),
    "x-amz-date": out.get("x-amz-date"),
    "x-amz-security-token": out.get("x-amz-security-token"),
}))
"#;

struct Case {
    method: &'static str,
    url: &'static str,
    headers: Vec<(String, String)>,
    body: &'static str,
    token: Option<&'static str>,
}

fn botocore(case: &Case) -> Value {
    let spec = json!({
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "token": case.token,
        "time": TIME,
        "region": "eu-west-1",
        "method": case.method,
        "url": case.url,
        "headers": case.headers,
        "body": case.body,
    });
    let mut child = Command::new("python3")
        .args(["-c", BOTOCORE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("python3 is required for the botocore comparison and could not start: {err}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "botocore could not sign (python3 with botocore is required): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("botocore printed JSON")
}

fn ours(case: &Case) -> Vec<(String, String)> {
    let credentials = Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        case.token.map(str::to_string),
        None,
        "fixed-test-credentials",
    );
    let request = Unsigned {
        method: case.method,
        url: case.url,
        headers: &case.headers,
        body: case.body.as_bytes(),
    };
    signature_headers(
        &request,
        &credentials,
        "eu-west-1",
        UNIX_EPOCH + Duration::from_secs(TIME),
    )
    .expect("signs")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn admin_headers(with_body: bool) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "host".to_string(),
            "abcdefgh0123.lambda-url.eu-west-1.on.aws".to_string(),
        ),
        (
            "x-admin-session".to_string(),
            "eyJhbGciOiJFZERTQSIsImtpZCI6ImZha2UifQ.eyJzdWIiOiJmYWtlIn0.ZmFrZS1zaWduYXR1cmU"
                .to_string(),
        ),
        (
            "x-device-id".to_string(),
            "wallet-admin-0123456789abcdef".to_string(),
        ),
    ];
    if with_body {
        headers.push(("content-type".to_string(), "application/json".to_string()));
    }
    headers
}

fn compare(case: &Case) {
    let expected = botocore(case);
    let signed = ours(case);
    assert_eq!(
        header(&signed, "authorization"),
        expected["authorization"].as_str(),
        "Authorization differs from botocore's for {} {}",
        case.method,
        case.url
    );
    assert_eq!(
        header(&signed, "x-amz-date"),
        expected["x-amz-date"].as_str()
    );
    assert_eq!(header(&signed, "x-amz-date"), Some("20260102T030405Z"));
    assert_eq!(
        header(&signed, "x-amz-security-token"),
        expected["x-amz-security-token"].as_str(),
        "the session token header"
    );
    assert_eq!(header(&signed, "x-amz-security-token"), case.token);
    let authorization = header(&signed, "authorization").unwrap();
    assert!(
        authorization.contains("x-admin-session"),
        "the admin session is covered by the signature: {authorization}"
    );
}

#[test]
fn a_post_with_query_and_body_signs_as_botocore_does() {
    compare(&Case {
        method: "POST",
        url: "https://abcdefgh0123.lambda-url.eu-west-1.on.aws/admin/kyc/sub-0001/decision?limit=5&cursor=a%2Bb%2Fc%3D",
        headers: admin_headers(true),
        body: r#"{"decision":"reject","reason":"the photo is blurred"}"#,
        token: None,
    });
}

#[test]
fn temporary_credentials_add_a_signed_security_token() {
    compare(&Case {
        method: "POST",
        url: "https://abcdefgh0123.lambda-url.eu-west-1.on.aws/admin/emergency-disable",
        headers: admin_headers(true),
        body: r#"{"reason":"incident 42"}"#,
        token: Some(SESSION_TOKEN),
    });
}

#[test]
fn a_get_with_a_sorted_query_and_no_body_signs_as_botocore_does() {
    compare(&Case {
        method: "GET",
        url: "https://abcdefgh0123.lambda-url.eu-west-1.on.aws/admin/audit?limit=20&before=1000",
        headers: admin_headers(false),
        body: "",
        token: Some(SESSION_TOKEN),
    });
}

#[test]
fn the_signature_changes_with_the_session_header() {
    let request = |session: &str| {
        let mut headers = admin_headers(false);
        headers[1].1 = session.to_string();
        Case {
            method: "GET",
            url: "https://abcdefgh0123.lambda-url.eu-west-1.on.aws/admin/flags",
            headers,
            body: "",
            token: None,
        }
    };
    assert_ne!(
        header(&ours(&request("one-session")), "authorization"),
        header(&ours(&request("another-session")), "authorization"),
        "a signed request cannot carry another session"
    );
}
