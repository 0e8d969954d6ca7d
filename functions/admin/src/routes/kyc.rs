//! The KYC desk: submissions by status, one submission (with short-lived
//! document links), a decision on one, and a user's KYC erasure.

use edge::http::{only_query_params, parse_json, ApiError, FieldIssue};
use edge::router::Matched;
use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use shared::admin::actor::Actor;
use shared::kyc::desk::KycSummary;
use shared::kyc::model::{KycStatus, Verdict};

use super::{json_answer, query_number, AdminRoute, Answer};
use crate::App;

/// The KYC desk's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycRoute {
    List,
    Read,
    Decide,
    EraseUser,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum KycVerdict {
    Approve,
    Reject,
    RequestResubmission,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KycDecisionBody {
    decision: KycVerdict,
    #[serde(default)]
    reason: Option<String>,
}

impl KycDecisionBody {
    /// The verdict, with a reason exactly when the user must be told one.
    fn verdict(self) -> Result<Verdict, ApiError> {
        let reason = self.reason.map(|r| r.trim().to_string());
        let issue = |text: &str| ApiError::validation(vec![FieldIssue::new("reason", text)]);
        match (self.decision, reason) {
            (KycVerdict::Approve, None) => Ok(Verdict::Approve),
            (KycVerdict::Approve, Some(_)) => Err(issue("not used when approving")),
            (_, None) => Err(issue("required: the user is told why")),
            (_, Some(r)) if r.is_empty() || r.chars().count() > 500 => {
                Err(issue("1 to 500 characters"))
            }
            (KycVerdict::Reject, Some(reason)) => Ok(Verdict::Reject { reason }),
            (KycVerdict::RequestResubmission, Some(reason)) => {
                Ok(Verdict::RequestResubmission { reason })
            }
        }
    }
}

/// Serves one KYC route for `actor`.
pub(super) async fn serve(
    app: &App,
    actor: &Actor,
    route: KycRoute,
    matched: &Matched<'_, AdminRoute>,
    req: &Request,
    id: &str,
) -> Answer {
    match route {
        KycRoute::List => {
            only_query_params(req, &["status", "limit", "cursor"])?;
            let query = req.query_string_parameters_ref();
            let status = match query.and_then(|q| q.first("status")) {
                None => KycStatus::Pending,
                Some(text) => KycStatus::parse(text).ok_or_else(|| {
                    ApiError::validation(vec![FieldIssue::new(
                        "status",
                        "pending, approved, rejected or resubmission_requested",
                    )])
                })?,
            };
            let limit = query_number(req, "limit")?.unwrap_or(50).min(100) as u32;
            let cursor = query.and_then(|q| q.first("cursor"));
            let page = app.kyc.submissions(status, limit, cursor).await?;
            json_answer(StatusCode::OK, &page, id)
        }
        KycRoute::Read => {
            only_query_params(req, &[])?;
            let submission = app
                .kyc
                .submission(actor, matched.param("submission_id"))
                .await?;
            json_answer(StatusCode::OK, &submission, id)
        }
        KycRoute::Decide => {
            let verdict = parse_json::<KycDecisionBody>(req)?.verdict()?;
            let decided = app
                .kyc
                .decide(actor, matched.param("submission_id"), &verdict)
                .await?;
            json_answer(StatusCode::OK, &KycSummary::from(&decided), id)
        }
        KycRoute::EraseUser => {
            let erasure = app.kyc.erase_user(actor, matched.param("user_id")).await?;
            json_answer(StatusCode::OK, &erasure, id)
        }
    }
}
