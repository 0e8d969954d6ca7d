//! Review cases as reviewers see them: what a case is about and where it
//! stands.

use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Approved,
    Rejected,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
        }
    }
}

/// What a case is about, and so what deciding it does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A recharge held by the fraud score (case id = recharge id): approving
    /// releases it for payment, rejecting cancels it.
    #[default]
    HeldRecharge,
    /// A provider event the worker would not apply (id
    /// `<recharge id>~<event hash>`): the decision records the reviewer's
    /// conclusion and changes no recharge.
    PaymentEvent,
}

/// A case for a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCase {
    pub case_id: String,
    #[serde(default)]
    pub kind: CaseKind,
    pub user_id: String,
    pub amount: i64,
    pub currency: String,
    pub score: u8,
    pub reasons: Vec<String>,
    pub status: CaseStatus,
    pub opened_at: i64,
    /// Reviewers have been emailed.
    pub notified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
