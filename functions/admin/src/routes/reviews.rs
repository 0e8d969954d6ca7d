//! The review desk: fraud-review cases by status, and a decision on one.

use edge::http::{only_query_params, parse_json, ApiError, FieldIssue};
use edge::router::Matched;
use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::json;
use shared::admin::actor::Actor;
use shared::review::CaseStatus;

use super::{json_answer, query_number, AdminRoute, Answer};
use crate::App;

/// The review desk's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewRoute {
    List,
    Decide,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum ReviewVerdict {
    Approve,
    Reject,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewDecisionBody {
    decision: ReviewVerdict,
    #[serde(default)]
    note: String,
}

/// Serves one review route for `actor`.
pub(super) async fn serve(
    app: &App,
    actor: &Actor,
    route: ReviewRoute,
    matched: &Matched<'_, AdminRoute>,
    req: &Request,
    id: &str,
) -> Answer {
    match route {
        ReviewRoute::List => {
            only_query_params(req, &["status", "limit"])?;
            let status = match req
                .query_string_parameters_ref()
                .and_then(|q| q.first("status"))
            {
                None | Some("open") => CaseStatus::Open,
                Some("approved") => CaseStatus::Approved,
                Some("rejected") => CaseStatus::Rejected,
                Some(_) => {
                    return Err(ApiError::validation(vec![FieldIssue::new(
                        "status",
                        "open, approved or rejected",
                    )]))
                }
            };
            let limit = query_number(req, "limit")?.unwrap_or(50).min(100) as u32;
            let cases = app.reviews.cases(status, limit).await?;
            json_answer(StatusCode::OK, &json!({ "cases": cases }), id)
        }
        ReviewRoute::Decide => {
            let body: ReviewDecisionBody = parse_json(req)?;
            if body.note.chars().count() > 500 {
                return Err(ApiError::validation(vec![FieldIssue::new(
                    "note",
                    "at most 500 characters",
                )]));
            }
            let approve = matches!(body.decision, ReviewVerdict::Approve);
            let case = app
                .reviews
                .decide(actor, matched.param("case_id"), approve, &body.note)
                .await?;
            json_answer(StatusCode::OK, &case, id)
        }
    }
}
