//! Field-level validation problems, as every area reports them.

use serde::Serialize;

/// One field-level validation problem: which field, and what is wrong with
/// it (never the submitted value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub field: String,
    pub issue: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            issue: issue.into(),
        }
    }
}
