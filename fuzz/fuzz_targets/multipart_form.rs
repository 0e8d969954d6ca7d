//! The KYC multipart parser on arbitrary bodies (under a fixed or an
//! arbitrary content type): never a panic, every refusal a 4xx, and an
//! accepted form within the part and size limits.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use shared::http::ApiError;
use shared::kyc::files::MAX_FILE_BYTES;
use shared::kyc::form::{parse_form, TEXT_FIELDS};

fuzz_target!(|input: (bool, &str, &[u8])| {
    let (fixed_boundary, content_type, body) = input;
    let content_type = if fixed_boundary {
        "multipart/form-data; boundary=X"
    } else {
        content_type
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    match runtime.block_on(parse_form(content_type, Bytes::copy_from_slice(body))) {
        Ok(form) => {
            assert!(form.files.len() <= 3);
            assert!(form.files.iter().all(|(_, bytes)| bytes.len() <= MAX_FILE_BYTES));
            assert!(form.text.keys().all(|k| TEXT_FIELDS.contains(k)));
            assert!(form.text.values().all(|v| v.len() <= 64));
        }
        Err(err) => {
            let api = ApiError::from(err);
            assert!(api.status.is_client_error(), "{}", api.status);
        }
    }
});
