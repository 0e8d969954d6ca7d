//! Warm `POST /v1/kyc/submissions` handler time for a 1 MiB document: API
//! Gateway event parsing (base64 body), multipart parsing, file checks,
//! PII encryption, and the in-memory store. Document storage is a sink
//! here, so the figure is the function's own work, not S3's.
//!
//! Run: `cargo bench -p kyc-upload --bench upload`

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use shared::auth::model::Role;
use shared::auth::tokens::TokenSubject;
use shared::clock::{Clock, SystemClock};
use shared::kyc::files::samples::png_of_size;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use shared::ports::{DocumentStore, StoreError};
use testkit::memory::MemoryStore;
use testkit::multipart::{multipart_body, FormPart};
use testkit::{event, test_access_config, test_pii_keys, EventExt};

/// Accepts every document and keeps none.
struct Sink;

#[async_trait]
impl DocumentStore for Sink {
    async fn put_document(&self, _: &str, _: Bytes, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn delete_document(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn document_exists(&self, _: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn document_link(&self, key: &str, _: &str, _: u64) -> Result<String, StoreError> {
        Ok(key.to_string())
    }
}

async fn one_mebibyte_form() -> (Vec<u8>, String) {
    multipart_body(vec![
        FormPart::Text("document_type", "passport".into()),
        FormPart::Text("issuing_country", "FR".into()),
        FormPart::Text("date_of_birth", "1990-04-12".into()),
        FormPart::Text("document_number", "12AB34567".into()),
        FormPart::File(
            "front",
            png_of_size(3000, 2000, 1024 * 1024),
            "front.png",
            "image/png",
        ),
    ])
    .await
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let app = kyc_upload::App::new(
        shared::auth::liveness::SignedInCallers {
            access: test_access_config(),
            sessions: store.clone(),
        },
        KycPorts {
            store: store.clone(),
            documents: Arc::new(Sink),
        },
        store,
        test_pii_keys(),
        KycPolicy::default(),
        Arc::new(SystemClock),
        shared::flags::CacheTiming::default(),
    );
    let (body, content_type) = runtime.block_on(one_mebibyte_form());
    let base = event("kyc-upload-submit").binary_body(&body, &content_type);
    let issuer = testkit::test_signer();
    let amr = vec!["pwd".to_string()];
    let mut group = c.benchmark_group("kyc-upload");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("warm POST /v1/kyc/submissions (1 MiB PNG)", |b| {
        b.iter_batched(
            || {
                let user = shared::auth::secrets::new_id();
                let token = issuer.issue(
                    &TokenSubject {
                        user_id: &user,
                        session_id: "bench-session",
                        device_id: "device-0001-sample",
                        role: Role::User,
                        amr: &amr,
                        ip: None,
                    },
                    SystemClock.now(),
                );
                base.clone().bearer(&token).to_string()
            },
            |json| {
                runtime.block_on(async {
                    let req = lambda_http::request::from_str(&json).expect("event");
                    let status = kyc_upload::handle(&app, req).await.status();
                    assert_eq!(status, 201);
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
