//! Peak resident memory of the upload function for one 5 MiB document: a
//! fresh process builds the app, reads the API Gateway event (base64 body)
//! and serves it, like a cold Lambda invocation; the peak (VmHWM) is what
//! Lambda reports as max memory used. Linux only (reads /proc).
//!
//! Run: `cargo run --release -p kyc-upload --example peak_memory`

use std::sync::Arc;

use shared::auth::model::Role;
use shared::clock::SystemClock;
use shared::kyc::files::samples::png_of_size;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use testkit::memory::MemoryStore;
use testkit::multipart::{multipart_body, FormPart};
use testkit::{event, signed_in_account, test_access_config, test_pii_keys, EventExt};

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("field present")
}

/// The app as a cold start builds it, over in-memory ports.
fn app() -> kyc_upload::App {
    let store = Arc::new(MemoryStore::new());
    kyc_upload::App::new(
        shared::auth::liveness::SignedInCallers {
            access: test_access_config(),
            sessions: store.clone(),
        },
        KycPorts {
            store: store.clone(),
            documents: store.clone(),
        },
        store,
        test_pii_keys(),
        KycPolicy::default(),
        Arc::new(SystemClock),
        shared::flags::CacheTiming::default(),
    )
}

/// Writes the API Gateway event of a 5 MiB upload to `path`.
async fn write_event(path: &std::path::Path) {
    let store = MemoryStore::new();
    let now = shared::clock::Clock::now(&SystemClock);
    let (_, token) =
        signed_in_account(&store, &store, Role::User, &["pwd"], "203.0.113.10", now).await;
    let (body, content_type) = multipart_body(vec![
        FormPart::Text("document_type", "passport".into()),
        FormPart::Text("issuing_country", "FR".into()),
        FormPart::Text("date_of_birth", "1990-04-12".into()),
        FormPart::Text("document_number", "12AB34567".into()),
        FormPart::File(
            "front",
            png_of_size(4000, 3000, 5 * 1024 * 1024),
            "front.png",
            "image/png",
        ),
    ])
    .await;
    let json = event("kyc-upload-submit")
        .bearer(&token)
        .binary_body(&body, &content_type)
        .to_string();
    std::fs::write(path, json).expect("event file");
}

/// In a fresh process: the app is built, then one event is read and served.
async fn measure(path: &str) {
    let app = app();
    let baseline = status_kib("VmRSS:");
    let json = std::fs::read_to_string(path).expect("event file");
    let event_mib = json.len() as f64 / 1_048_576.0;
    let req = lambda_http::request::from_str(&json).expect("event");
    drop(json);
    let status = kyc_upload::handle(&app, req).await.status();
    assert_eq!(status, 201);
    let peak = status_kib("VmHWM:");
    println!(
        "5 MiB upload (event JSON {event_mib:.1} MiB): RSS {:.1} MiB after the cold start, peak {:.1} MiB (+{:.1} MiB for the request)",
        baseline as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(baseline) as f64 / 1024.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Some(path) = std::env::args().nth(1) {
        measure(&path).await;
        return;
    }
    let path = std::env::temp_dir().join(format!("kyc-5mib-event-{}.json", std::process::id()));
    write_event(&path).await;
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg(&path)
        .status()
        .expect("measuring process");
    let _ = std::fs::remove_file(&path);
    assert!(status.success());
}
