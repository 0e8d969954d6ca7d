//! Multipart bodies for tests and benchmarks, encoded by a real client
//! library (reqwest), never written by hand.

use http_body_util::BodyExt;
use reqwest::multipart::{Form, Part};

/// One part of a form.
pub enum FormPart {
    Text(&'static str, String),
    /// Field name, bytes, declared file name, declared content type.
    File(&'static str, Vec<u8>, &'static str, &'static str),
}

/// The encoded body and its `Content-Type` (with the boundary).
pub async fn multipart_body(parts: Vec<FormPart>) -> (Vec<u8>, String) {
    let mut form = Form::new();
    for part in parts {
        form = match part {
            FormPart::Text(name, value) => form.text(name, value),
            FormPart::File(name, bytes, file_name, mime) => form.part(
                name,
                Part::bytes(bytes)
                    .file_name(file_name)
                    .mime_str(mime)
                    .expect("a valid content type"),
            ),
        };
    }
    let mut request = reqwest::Client::new()
        .post("http://127.0.0.1/v1/kyc/submissions")
        .multipart(form)
        .build()
        .expect("a request");
    let content_type = request.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_string();
    let body = request.body_mut().take().expect("a body");
    let bytes = body.collect().await.expect("bytes").to_bytes().to_vec();
    (bytes, content_type)
}
