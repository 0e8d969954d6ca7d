//! Webhook signature verification time per delivery.
//!
//! Run: `cargo bench -p shared --bench signature`

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use shared::webhook::signature::{decode_standard_secret, verify_standard, verify_stripe};

fn vectors() -> Value {
    let path = format!(
        "{}/../tests/vectors/webhook_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON")
}

fn bench(c: &mut Criterion) {
    let v = vectors();
    let stripe = &v["stripe"]["cases"][0];
    let stripe_secrets = vec![v["stripe"]["secret"].as_str().unwrap().as_bytes().to_vec()];
    let header = stripe["header"].as_str().unwrap().to_string();
    let body = stripe["body"].as_str().unwrap().as_bytes().to_vec();
    let now = stripe["timestamp"].as_i64().unwrap();
    c.bench_function("verify Stripe-Signature (1 secret)", |b| {
        b.iter(|| verify_stripe(Some(&header), &body, &stripe_secrets, now, 300).is_ok())
    });
    let rotating = vec![
        b"whsec_the_next_secret_during_rotation".to_vec(),
        stripe_secrets[0].clone(),
    ];
    c.bench_function("verify Stripe-Signature (2 secrets, rotation)", |b| {
        b.iter(|| verify_stripe(Some(&header), &body, &rotating, now, 300).is_ok())
    });
    let standard = &v["standard"]["cases"][0];
    let standard_secrets =
        vec![decode_standard_secret(v["standard"]["secret"].as_str().unwrap()).unwrap()];
    let (id, sig) = (
        standard["id"].as_str().unwrap(),
        standard["signature"].as_str().unwrap(),
    );
    let body = standard["body"].as_str().unwrap().as_bytes().to_vec();
    let stamp = standard["timestamp"].as_i64().unwrap();
    let stamp_text = stamp.to_string();
    c.bench_function("verify Standard Webhooks signature", |b| {
        b.iter(|| {
            verify_standard(
                Some(id),
                Some(&stamp_text),
                Some(sig),
                &body,
                &standard_secrets,
                stamp,
                300,
            )
            .is_ok()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
