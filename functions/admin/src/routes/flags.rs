//! The flags desk: the snapshot, one flag's create, read, update and
//! delete (each against the version read), and the emergency switch.

use edge::http::{empty_response, only_query_params, parse_json, ApiError, FieldIssue};
use edge::router::Matched;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;
use shared::admin::actor::Actor;
use shared::flags::Flag;

use super::{json_answer, query_number, AdminRoute, Answer};
use crate::App;

/// The flags desk's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagRoute {
    List,
    Create,
    Read,
    Update,
    Delete,
    EmergencyDisable,
    EmergencyRestore,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmergencyBody {
    reason: String,
}

/// Serves one flags route for `actor`.
pub(super) async fn serve(
    app: &App,
    actor: &Actor,
    route: FlagRoute,
    matched: &Matched<'_, AdminRoute>,
    req: &Request,
    id: &str,
) -> Answer {
    match route {
        FlagRoute::List => {
            only_query_params(req, &[])?;
            json_answer(StatusCode::OK, &app.flags.snapshot().await?, id)
        }
        FlagRoute::Create => {
            let flag: Flag = parse_json(req)?;
            let created = app.flags.create_flag(actor, flag).await?;
            json_answer(StatusCode::CREATED, &created, id)
        }
        FlagRoute::Read => {
            let flag = app.flags.flag(matched.param("key")).await?;
            json_answer(StatusCode::OK, &flag, id)
        }
        FlagRoute::Update => {
            let flag: Flag = parse_json(req)?;
            let expected = flag.version;
            let updated = app
                .flags
                .update_flag(actor, matched.param("key"), flag, expected)
                .await?;
            json_answer(StatusCode::OK, &updated, id)
        }
        FlagRoute::Delete => {
            only_query_params(req, &["version"])?;
            let expected = query_number(req, "version")?.ok_or_else(|| {
                ApiError::validation(vec![FieldIssue::new(
                    "version",
                    "the version you read is required",
                )])
            })?;
            app.flags
                .delete_flag(actor, matched.param("key"), expected)
                .await?;
            Ok(empty_response(StatusCode::NO_CONTENT, id))
        }
        FlagRoute::EmergencyDisable | FlagRoute::EmergencyRestore => {
            let body: EmergencyBody = parse_json(req)?;
            let reason = body.reason.trim();
            if reason.is_empty() || reason.chars().count() > 200 {
                return Err(ApiError::validation(vec![FieldIssue::new(
                    "reason",
                    "1 to 200 characters",
                )]));
            }
            let on = route == FlagRoute::EmergencyDisable;
            let snapshot = app.flags.set_emergency(actor, on, reason).await?;
            json_answer(
                StatusCode::OK,
                &json!({ "emergency": snapshot.emergency, "version": snapshot.version }),
                id,
            )
        }
    }
}
