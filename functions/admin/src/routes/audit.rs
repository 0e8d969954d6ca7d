//! The audit desk: a page of the log, and the chain's verification.

use edge::http::only_query_params;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{json_answer, query_number, Answer};
use crate::App;

/// The audit desk's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditRoute {
    Page,
    Verify,
}

/// Serves one audit route.
pub(super) async fn serve(app: &App, route: AuditRoute, req: &Request, id: &str) -> Answer {
    match route {
        AuditRoute::Page => {
            only_query_params(req, &["before", "limit"])?;
            let before = query_number(req, "before")?;
            let limit = query_number(req, "limit")?
                .unwrap_or(50)
                .min(u32::MAX as u64) as u32;
            json_answer(StatusCode::OK, &app.audit.page(before, limit).await?, id)
        }
        AuditRoute::Verify => {
            only_query_params(req, &[])?;
            json_answer(StatusCode::OK, &app.audit.verify().await?, id)
        }
    }
}
