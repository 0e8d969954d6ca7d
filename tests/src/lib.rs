//! Helpers for tests that run against the local AWS stand-in (moto's
//! server) started by `tests/run.sh`.

use serde_json::Value;

/// The stand-in's endpoint. Panics with directions when the tests were not
/// started through `tests/run.sh` (these tests are never skipped).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run these tests with tests/run.sh, which starts the local AWS stand-in")
    })
}

/// A fresh address under a test-only domain.
pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.test", shared::auth::secrets::new_id())
}

/// Emails the stand-in recorded for `to`, as (subject, body), oldest first.
pub fn emails_to(to: &str) -> Vec<(String, String)> {
    let text = ureq::get(&format!("{}/moto-api/data.json", endpoint()))
        .call()
        .expect("the stand-in answers")
        .into_string()
        .expect("text body");
    let data: Value = serde_json::from_str(&text).expect("JSON");
    data["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|to_list| to_list.iter().any(|t| t == to))
                })
                .map(|m| {
                    (
                        m["subject"].as_str().unwrap_or_default().to_string(),
                        m["body"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
