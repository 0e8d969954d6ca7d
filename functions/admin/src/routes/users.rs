//! The users desk: clearing an account's sign-in lockout, ending every
//! session of an account, resetting its second factor.

use edge::http::empty_response;
use edge::router::Matched;
use lambda_http::http::StatusCode;
use shared::admin::actor::Actor;

use super::{AdminRoute, Answer};
use crate::App;

/// Clears the lockout of the account the path names.
pub(super) async fn unlock(
    app: &App,
    actor: &Actor,
    matched: &Matched<'_, AdminRoute>,
    id: &str,
) -> Answer {
    app.unlocks
        .unlock_user(actor, matched.param("user_id"))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT, id))
}

/// Ends every session of the account the path names (audited).
pub(super) async fn end_sessions(
    app: &App,
    actor: &Actor,
    matched: &Matched<'_, AdminRoute>,
    id: &str,
) -> Answer {
    app.unlocks
        .end_sessions(actor, matched.param("user_id"))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT, id))
}

/// Resets the TOTP enrolment of the account the path names (audited; not
/// the acting admin's own).
pub(super) async fn reset_totp(
    app: &App,
    actor: &Actor,
    matched: &Matched<'_, AdminRoute>,
    id: &str,
) -> Answer {
    app.unlocks
        .reset_totp(actor, matched.param("user_id"))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT, id))
}
