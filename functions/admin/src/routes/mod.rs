//! Routes under `/admin`: authenticate and admit the admin, resolve the
//! route, and hand it to the desk it belongs to (one module per desk:
//! parse strictly, call the desk's service, shape the response).

mod audit;
mod flags;
mod kyc;
mod reviews;
mod users;

use edge::http::{header, json_response, ApiError, FieldIssue, RequestMeta};
use edge::lambda::Served;
use edge::router::{Route, Router};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::{App, UrlAuth};

pub use audit::AuditRoute;
pub use flags::FlagRoute;
pub use kyc::KycRoute;
pub use reviews::ReviewRoute;

/// The header that carries the admin session (the access token from the
/// login API); `Authorization` is left to the function URL's SigV4 signature.
pub const SESSION_HEADER: &str = "x-admin-session";

/// The routes under `/admin`, by desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    Flags(FlagRoute),
    Audit(AuditRoute),
    Reviews(ReviewRoute),
    Kyc(KycRoute),
    Unlock,
    EndSessions,
    ResetTotp,
}

/// Every route this function serves (`{name}`: one path segment).
pub const ROUTER: Router<AdminRoute> = Router::new(&[
    Route {
        method: "GET",
        path: "/admin/flags",
        route: AdminRoute::Flags(FlagRoute::List),
    },
    Route {
        method: "POST",
        path: "/admin/flags",
        route: AdminRoute::Flags(FlagRoute::Create),
    },
    Route {
        method: "GET",
        path: "/admin/flags/{key}",
        route: AdminRoute::Flags(FlagRoute::Read),
    },
    Route {
        method: "PUT",
        path: "/admin/flags/{key}",
        route: AdminRoute::Flags(FlagRoute::Update),
    },
    Route {
        method: "DELETE",
        path: "/admin/flags/{key}",
        route: AdminRoute::Flags(FlagRoute::Delete),
    },
    Route {
        method: "POST",
        path: "/admin/emergency-disable",
        route: AdminRoute::Flags(FlagRoute::EmergencyDisable),
    },
    Route {
        method: "POST",
        path: "/admin/emergency-restore",
        route: AdminRoute::Flags(FlagRoute::EmergencyRestore),
    },
    Route {
        method: "GET",
        path: "/admin/audit",
        route: AdminRoute::Audit(AuditRoute::Page),
    },
    Route {
        method: "GET",
        path: "/admin/audit/verify",
        route: AdminRoute::Audit(AuditRoute::Verify),
    },
    Route {
        method: "GET",
        path: "/admin/reviews",
        route: AdminRoute::Reviews(ReviewRoute::List),
    },
    Route {
        method: "POST",
        path: "/admin/reviews/{case_id}/decision",
        route: AdminRoute::Reviews(ReviewRoute::Decide),
    },
    Route {
        method: "GET",
        path: "/admin/kyc",
        route: AdminRoute::Kyc(KycRoute::List),
    },
    Route {
        method: "GET",
        path: "/admin/kyc/{submission_id}",
        route: AdminRoute::Kyc(KycRoute::Read),
    },
    Route {
        method: "POST",
        path: "/admin/kyc/{submission_id}/decision",
        route: AdminRoute::Kyc(KycRoute::Decide),
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/kyc-erasure",
        route: AdminRoute::Kyc(KycRoute::EraseUser),
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/unlock",
        route: AdminRoute::Unlock,
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/sessions/revoke",
        route: AdminRoute::EndSessions,
    },
    Route {
        method: "POST",
        path: "/admin/users/{user_id}/totp/reset",
        route: AdminRoute::ResetTotp,
    },
]);

/// What a desk answers: the response, or an error for the contract.
type Answer = Result<Response<Body>, ApiError>;

/// A JSON answer with `status`.
fn json_answer(status: StatusCode, body: &impl Serialize, request_id: &str) -> Answer {
    Ok(json_response(status, body, request_id))
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
    let response = match matched.route {
        AdminRoute::Flags(route) => flags::serve(app, &actor, route, &matched, req, id).await?,
        AdminRoute::Audit(route) => audit::serve(app, route, req, id).await?,
        AdminRoute::Reviews(route) => reviews::serve(app, &actor, route, &matched, req, id).await?,
        AdminRoute::Kyc(route) => kyc::serve(app, &actor, route, &matched, req, id).await?,
        AdminRoute::Unlock => users::unlock(app, &actor, &matched, id).await?,
        AdminRoute::EndSessions => users::end_sessions(app, &actor, &matched, id).await?,
        AdminRoute::ResetTotp => users::reset_totp(app, &actor, &matched, id).await?,
    };
    Ok((response, Some(actor.user_id)))
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
