//! The error every port answers.

/// Why a port call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("record already exists")]
    AlreadyExists,
    #[error("record not found")]
    NotFound,
    #[error("a condition on the write did not hold")]
    Conflict,
    /// The dependency failed; the text is for logs only.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
}
