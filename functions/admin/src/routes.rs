//! Routes under `/admin`: authenticate and admit the admin, parse strictly,
//! call the desk the route belongs to, shape the response.

use edge::http::{
    empty_response, header, json_response, only_query_params, parse_json, ApiError, FieldIssue,
    RequestMeta,
};
use edge::lambda::Served;
use edge::router::{Route, Router};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::json;
use shared::flags::Flag;
use shared::kyc::model::{KycStatus, Verdict};
use shared::review::CaseStatus;

use crate::{App, UrlAuth};

/// The header that carries the admin session (the access token from the
/// login API); `Authorization` is left to the function URL's SigV4 signature.
pub const SESSION_HEADER: &str = "x-admin-session";

/// The routes under `/admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    Flags,
    FlagCreate,
    Flag,
    FlagUpdate,
    FlagDelete,
    EmergencyDisable,
    EmergencyRestore,
    Audit,
    AuditVerify,
    Reviews,
    ReviewDecision,
    KycSubmissions,
    KycSubmission,
    KycDecision,
    KycErasure,
    Unlock,
}

/// Every route this function serves (`{name}`: one path segment).
pub const ROUTER: Router<AdminRoute> = Router::new(&[
    Route {
        method: "GET",
        path: "/admin/flags",
        route: AdminRoute::Flags,
    },
    Route {
        method: "POST",
        path: "/admin/flags",
        route: AdminRoute::FlagCreate,
    },
    Route {
        method: "GET",
        path: "/admin/flags/{key}",
        route: AdminRoute::Flag,
    },
    Route {
        method: "PUT",
        path: "/admin/flags/{key}",
        route: AdminRoute::FlagUpdate,
    },
    Route {
        method: "DELETE",
        path: "/admin/flags/{key}",
        route: AdminRoute::FlagDelete,
    },
    Route {
        method: "POST",
        path: "/admin/emergency-disable",
        route: AdminRoute::EmergencyDisable,
    },
    Route {
        method: "POST",
        path: "/admin/emergency-restore",
        route: AdminRoute::EmergencyRestore,
    },
    Route {
        method: "GET",
        path: "/admin/audit",
        route: AdminRoute::Audit,
    },
    Route {
        method: "GET",
        path: "/admin/audit/verify",
        route: AdminRoute::AuditVerify,
    },
    Route {
        method: "GET",
        path: "/admin/reviews",
        route: AdminRoute::Reviews,
    },
    Route {
        method: "POST",
        path: "/admin/reviews/{case_id}/decision",
        route: AdminRoute::ReviewDecision,
    },
    Route {
        method: "GET",
        path: "/admin/kyc",
        route: AdminRoute::KycSubmissions,
    },
    Route {
        method: "GET",
        path: "/admin/kyc/{submission_id}",
        route: AdminRoute::KycSubmission,
    },
    Route {
        method: "POST",
        path: "/admin/kyc/{submission_id}/decision",
        route: AdminRoute::KycDecision,
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/kyc-erasure",
        route: AdminRoute::KycErasure,
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/unlock",
        route: AdminRoute::Unlock,
    },
]);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmergencyBody {
    reason: String,
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

/// Routes one request; the second value is the admin's user id, for the log line.
pub async fn dispatch(app: &App, req: &Request, meta: &RequestMeta) -> Served {
    if !meta.route.starts_with("/admin/") {
        return Err(ApiError::not_found());
    }
    if let UrlAuth::AwsIam(role) = &app.url_auth {
        let Some(caller) = iam_caller(req) else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "IAM_CALLER_REQUIRED",
                "The admin function only serves requests signed with SigV4.",
            ));
        };
        tracing::info!(request_id = %meta.request_id, iam_caller = %caller, "admin request");
        if !role.admits(&caller) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ADMIN_ROLE_REQUIRED",
                "Sign the request with the admin role's credentials.",
            ));
        }
    }
    let bearer = session_bearer(req)?;
    let principal = app.guard.authenticate(
        bearer.as_deref(),
        header(req.headers(), "x-device-id"),
        meta.source_ip,
    )?;
    let actor = app.admission.admit(&principal).await?;
    let matched = ROUTER.resolve(req.method().as_str(), &meta.route)?;
    let id = &meta.request_id;
    let ok = |status: StatusCode, body: serde_json::Value| {
        Ok((
            json_response(status, &body, id),
            Some(actor.user_id.clone()),
        ))
    };
    match matched.route {
        AdminRoute::Flags => {
            only_query_params(req, &[])?;
            ok(StatusCode::OK, json!(app.flags.snapshot().await?))
        }
        AdminRoute::FlagCreate => {
            let flag: Flag = parse_json(req)?;
            ok(
                StatusCode::CREATED,
                json!(app.flags.create_flag(&actor, flag).await?),
            )
        }
        AdminRoute::Flag => ok(
            StatusCode::OK,
            json!(app.flags.flag(matched.param("key")).await?),
        ),
        AdminRoute::FlagUpdate => {
            let key = matched.param("key");
            let flag: Flag = parse_json(req)?;
            let expected = flag.version;
            let updated = app.flags.update_flag(&actor, key, flag, expected).await?;
            ok(StatusCode::OK, json!(updated))
        }
        AdminRoute::FlagDelete => {
            let key = matched.param("key");
            only_query_params(req, &["version"])?;
            let expected = query_number(req, "version")?.ok_or_else(|| {
                ApiError::validation(vec![FieldIssue::new(
                    "version",
                    "the version you read is required",
                )])
            })?;
            app.flags.delete_flag(&actor, key, expected).await?;
            Ok((
                empty_response(StatusCode::NO_CONTENT, id),
                Some(actor.user_id.clone()),
            ))
        }
        AdminRoute::EmergencyDisable | AdminRoute::EmergencyRestore => {
            let body: EmergencyBody = parse_json(req)?;
            let reason = body.reason.trim();
            if reason.is_empty() || reason.chars().count() > 200 {
                return Err(ApiError::validation(vec![FieldIssue::new(
                    "reason",
                    "1 to 200 characters",
                )]));
            }
            let on = matched.route == AdminRoute::EmergencyDisable;
            let snapshot = app.flags.set_emergency(&actor, on, reason).await?;
            ok(
                StatusCode::OK,
                json!({ "emergency": snapshot.emergency, "version": snapshot.version }),
            )
        }
        AdminRoute::Audit => {
            only_query_params(req, &["before", "limit"])?;
            let before = query_number(req, "before")?;
            let limit = query_number(req, "limit")?
                .unwrap_or(50)
                .min(u32::MAX as u64) as u32;
            ok(StatusCode::OK, json!(app.audit.page(before, limit).await?))
        }
        AdminRoute::AuditVerify => {
            only_query_params(req, &[])?;
            ok(StatusCode::OK, json!(app.audit.verify().await?))
        }
        AdminRoute::Reviews => {
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
            ok(
                StatusCode::OK,
                json!({ "cases": app.reviews.cases(status, limit).await? }),
            )
        }
        AdminRoute::ReviewDecision => {
            let case_id = matched.param("case_id");
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
                .decide(&actor, case_id, approve, &body.note)
                .await?;
            ok(StatusCode::OK, json!(case))
        }
        AdminRoute::KycSubmissions => {
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
            ok(
                StatusCode::OK,
                json!(app.kyc.submissions(status, limit, cursor).await?),
            )
        }
        AdminRoute::KycSubmission => {
            let submission_id = matched.param("submission_id");
            only_query_params(req, &[])?;
            ok(
                StatusCode::OK,
                json!(app.kyc.submission(&actor, submission_id).await?),
            )
        }
        AdminRoute::KycDecision => {
            let submission_id = matched.param("submission_id");
            let verdict = parse_json::<KycDecisionBody>(req)?.verdict()?;
            let decided = app.kyc.decide(&actor, submission_id, &verdict).await?;
            ok(
                StatusCode::OK,
                json!(shared::kyc::desk::KycSummary::from(&decided)),
            )
        }
        AdminRoute::KycErasure => ok(
            StatusCode::OK,
            json!(app.kyc.erase_user(&actor, matched.param("user_id")).await?),
        ),
        AdminRoute::Unlock => {
            app.unlocks
                .unlock_user(&actor, matched.param("user_id"))
                .await?;
            Ok((
                empty_response(StatusCode::NO_CONTENT, id),
                Some(actor.user_id.clone()),
            ))
        }
    }
}

/// The admin session from `X-Admin-Session`, as the guard reads it. A
/// bearer token in `Authorization` (the header SigV4 owns) is refused
/// rather than read, so there is one convention behind both URL modes.
fn session_bearer(req: &Request) -> Result<Option<String>, ApiError> {
    let bearer_in_authorization = header(req.headers(), "authorization").is_some_and(|value| {
        value
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
    });
    if bearer_in_authorization {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ADMIN_SESSION_HEADER_REQUIRED",
            "Send the admin access token in the X-Admin-Session header; Authorization carries only the SigV4 signature.",
        ));
    }
    Ok(header(req.headers(), SESSION_HEADER)
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(|token| format!("Bearer {token}")))
}

/// The IAM principal the function URL authenticated (its ARN), when the
/// request came through a URL with `AuthType: AWS_IAM`.
fn iam_caller(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone())
            .filter(|arn| !arn.is_empty()),
        _ => None,
    }
}

/// A non-negative integer query parameter, if present.
fn query_number(req: &Request, name: &str) -> Result<Option<u64>, ApiError> {
    match req
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError::validation(vec![FieldIssue::new(
                name,
                "must be a non-negative integer",
            )])
        }),
    }
}
