//! The submission form: its parts and size limits (the edge reads the
//! `multipart/form-data` body under them), and the parts as the rules
//! receive them. Nothing here decides what a file is.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::files::MAX_FILE_BYTES;
use super::model::DocumentRole;

/// The text parts of the form.
pub const TEXT_FIELDS: [&str; 4] = [
    "document_type",
    "issuing_country",
    "date_of_birth",
    "document_number",
];
/// The file parts of the form.
pub const FILE_FIELDS: [&str; 3] = ["front", "back", "selfie"];
/// Largest text part, in bytes.
pub const MAX_TEXT_BYTES: u64 = 64;
/// Largest whole body: three full files plus room for the text parts.
pub const MAX_BODY_BYTES: usize = 3 * MAX_FILE_BYTES + 64 * 1024;

/// The parts of a well-formed submission form.
#[derive(Debug, Default)]
pub struct SubmissionForm {
    pub text: BTreeMap<&'static str, String>,
    pub files: Vec<(DocumentRole, Bytes)>,
}

impl SubmissionForm {
    /// The form from its text parts and its file parts by name; a file part
    /// that names no document role is dropped.
    pub fn from_parts(
        text: BTreeMap<&'static str, String>,
        files: Vec<(&'static str, Bytes)>,
    ) -> Self {
        let files = files
            .into_iter()
            .filter_map(|(name, bytes)| DocumentRole::from_field(name).map(|role| (role, bytes)))
            .collect();
        Self { text, files }
    }
}
