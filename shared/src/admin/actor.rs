//! Who is acting: the admission of an admin principal.

use crate::ids::UserId;
use std::sync::Arc;

use super::AdminError;
use crate::auth::liveness::session_standing;
use crate::auth::model::Role;
use crate::auth::Principal;
use crate::clock::Clock;
use crate::ports::SessionLiveness;

/// Who is acting, for the audit entry.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub ip: Option<String>,
}

/// Admits admins to the desks.
#[derive(Clone)]
pub struct Admission {
    sessions: Arc<dyn SessionLiveness>,
    clock: Arc<dyn Clock>,
}

impl Admission {
    /// Checks sessions in `sessions` against `clock`.
    pub fn new(sessions: Arc<dyn SessionLiveness>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    /// Admits an admin signed in with TOTP whose session still stands (see
    /// [`session_standing`]) (the
    /// token's device and IP pinning are checked by the access guard first).
    pub async fn admit(&self, principal: &Principal) -> Result<Actor, AdminError> {
        if principal.role != Role::Admin {
            return Err(AdminError::Forbidden("ADMIN_REQUIRED"));
        }
        if !principal.amr.iter().any(|m| m == "otp") {
            return Err(AdminError::Forbidden("TOTP_REQUIRED"));
        }
        let (session, standing) = self
            .sessions
            .session_and_standing(&principal.sid, &principal.sub)
            .await?;
        let now = self.clock.now();
        if session_standing(&principal.into(), session.as_ref(), standing.as_ref(), now).is_err() {
            return Err(AdminError::Forbidden("SESSION_REVOKED"));
        }
        Ok(Actor {
            user_id: principal.sub.clone(),
            ip: principal.ip.clone(),
        })
    }
}
