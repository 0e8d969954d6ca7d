//! The KYC multipart parser on arbitrary bodies (under a fixed or an
//! arbitrary content type): never a panic, every refusal a 4xx, and an
//! accepted form within the part and size limits.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use edge::http::ApiError;
use edge::multipart::{parse_form, FormSpec};
use shared::kyc::files::MAX_FILE_BYTES;
use shared::kyc::form::{FILE_FIELDS, MAX_BODY_BYTES, MAX_TEXT_BYTES, TEXT_FIELDS};

/// The KYC submission form, as the kyc-upload function declares it.
const SUBMISSION_FORM: FormSpec = FormSpec {
    text_parts: &TEXT_FIELDS,
    file_parts: &FILE_FIELDS,
    max_text_bytes: MAX_TEXT_BYTES,
    max_file_bytes: MAX_FILE_BYTES as u64,
    max_body_bytes: MAX_BODY_BYTES,
};

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
    match runtime.block_on(parse_form(&SUBMISSION_FORM, content_type, Bytes::copy_from_slice(body))) {
        Ok(form) => {
            assert!(form.files.len() <= 3);
            assert!(form.files.iter().all(|(_, bytes)| bytes.len() <= MAX_FILE_BYTES));
            assert!(form.text.keys().all(|k| TEXT_FIELDS.contains(k)));
            assert!(form.files.iter().all(|(name, _)| FILE_FIELDS.contains(name)));
            assert!(form.text.values().all(|v| v.len() <= 64));
        }
        Err(err) => {
            let api = ApiError::from(err);
            assert!(api.status.is_client_error(), "{}", api.status);
        }
    }
});
