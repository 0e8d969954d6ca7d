//! Reads the submission's `multipart/form-data` body (with `multer`) under
//! strict limits: known parts only, each once, text parts small, files at
//! most 5 MiB, the whole body bounded. Nothing here decides what a file is.

use std::collections::BTreeMap;

use bytes::Bytes;
use lambda_http::http::StatusCode;
use multer::{Constraints, Multipart, SizeLimit};

use super::files::MAX_FILE_BYTES;
use super::model::DocumentRole;
use crate::http::{ApiError, FieldIssue};

/// The text parts of the form.
pub const TEXT_FIELDS: [&str; 4] = [
    "document_type",
    "issuing_country",
    "date_of_birth",
    "document_number",
];
const FILE_FIELDS: [&str; 3] = ["front", "back", "selfie"];
/// Largest text part, in bytes.
const MAX_TEXT_BYTES: u64 = 64;
/// Largest whole body: three full files plus room for the text parts.
pub const MAX_BODY_BYTES: usize = 3 * MAX_FILE_BYTES + 64 * 1024;

/// The parts of a well-formed submission form.
#[derive(Debug, Default)]
pub struct SubmissionForm {
    pub text: BTreeMap<&'static str, String>,
    pub files: Vec<(DocumentRole, Bytes)>,
}

/// Why the body is not an acceptable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the body is not multipart/form-data")]
    NotMultipart,
    #[error("the body is too large")]
    BodyTooLarge,
    #[error("part {0} is too large")]
    PartTooLarge(&'static str),
    #[error("unexpected part")]
    UnknownPart,
    #[error("part {0} appears more than once")]
    Repeated(&'static str),
    #[error("part {0} is not UTF-8 text")]
    NotText(&'static str),
    #[error("the multipart body is malformed")]
    Malformed,
}

impl From<FormError> for ApiError {
    fn from(err: FormError) -> Self {
        match err {
            FormError::NotMultipart => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send the submission as multipart/form-data.",
            ),
            FormError::BodyTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The submission is too large: at most 3 files of 5 MiB each.",
            ),
            FormError::PartTooLarge(field) => ApiError {
                details: vec![FieldIssue::new(field, "too large (files: at most 5 MiB)")],
                ..ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "FILE_TOO_LARGE",
                    "A part of the submission is too large.",
                )
            },
            FormError::UnknownPart => ApiError::new(
                StatusCode::BAD_REQUEST,
                "UNEXPECTED_PART",
                "Only the parts document_type, issuing_country, date_of_birth, document_number, front, back and selfie are accepted.",
            ),
            FormError::Repeated(field) => {
                ApiError::validation(vec![FieldIssue::new(field, "send this part once")])
            }
            FormError::NotText(field) => {
                ApiError::validation(vec![FieldIssue::new(field, "must be UTF-8 text")])
            }
            FormError::Malformed => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_MULTIPART",
                "The multipart body could not be read.",
            ),
        }
    }
}

/// Parses `body` sent with `content_type`.
pub async fn parse_form(content_type: &str, body: Bytes) -> Result<SubmissionForm, FormError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| FormError::NotMultipart)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(FormError::BodyTooLarge);
    }
    let allowed: Vec<&str> = TEXT_FIELDS
        .iter()
        .chain(FILE_FIELDS.iter())
        .copied()
        .collect();
    let mut limits = SizeLimit::new()
        .whole_stream(MAX_BODY_BYTES as u64)
        .per_field(MAX_FILE_BYTES as u64);
    for field in TEXT_FIELDS {
        limits = limits.for_field(field, MAX_TEXT_BYTES);
    }
    let constraints = Constraints::new()
        .allowed_fields(allowed)
        .size_limit(limits);
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = Multipart::with_constraints(stream, boundary, constraints);
    let mut form = SubmissionForm::default();
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        let name = known_name(field.name()).ok_or(FormError::UnknownPart)?;
        let content = field.bytes().await.map_err(form_error)?;
        if let Some(role) = DocumentRole::from_field(name) {
            if form.files.iter().any(|(r, _)| *r == role) {
                return Err(FormError::Repeated(name));
            }
            form.files.push((role, content));
        } else {
            if form.text.contains_key(name) {
                return Err(FormError::Repeated(name));
            }
            let text = String::from_utf8(content.to_vec()).map_err(|_| FormError::NotText(name))?;
            form.text.insert(name, text);
        }
    }
    Ok(form)
}

/// The static name of an accepted part.
fn known_name(name: Option<&str>) -> Option<&'static str> {
    let name = name?;
    TEXT_FIELDS
        .iter()
        .chain(FILE_FIELDS.iter())
        .find(|known| **known == name)
        .copied()
}

fn form_error(err: multer::Error) -> FormError {
    match err {
        multer::Error::UnknownField { .. } => FormError::UnknownPart,
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            FormError::PartTooLarge(known_name(field_name.as_deref()).unwrap_or("part"))
        }
        multer::Error::StreamSizeExceeded { .. } => FormError::BodyTooLarge,
        _ => FormError::Malformed,
    }
}
