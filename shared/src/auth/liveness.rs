//! Whether a verified access token's session still stands: the token's
//! signature says who signed in, the stored session and account say whether
//! that sign-in is still good. Checked on every authenticated route, so a
//! logout, a revoked session, a password reset or a "sign out everywhere"
//! refuses the session's tokens at once, not when they expire.

use std::sync::Arc;

use super::access::Principal;
use super::error::AuthError;
use super::model::{AccountStanding, Session};
use crate::clock::Clock;
use crate::ports::SessionLiveness;

/// Whose session, and which: what a verified access token names.
#[derive(Debug, Clone, Copy)]
pub struct SessionOf<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
}

impl<'a> From<&'a Principal> for SessionOf<'a> {
    fn from(principal: &'a Principal) -> Self {
        Self {
            user_id: &principal.sub,
            session_id: &principal.sid,
        }
    }
}

/// Why a session does not stand, or the account's standing when it does:
/// the session exists, belongs to the token's user, is neither revoked nor
/// past its end, and started under the account's current epoch.
pub fn session_standing(
    principal: &SessionOf<'_>,
    session: Option<&Session>,
    standing: Option<&AccountStanding>,
    now: i64,
) -> Result<AccountStanding, AuthError> {
    let (Some(session), Some(standing)) = (session, standing) else {
        return Err(AuthError::SessionRevoked);
    };
    let stands = !session.revoked
        && session.expires_at > now
        && session.session_id == principal.session_id
        && session.user_id == principal.user_id
        && session.epoch == standing.session_epoch;
    if stands {
        Ok(*standing)
    } else {
        Err(AuthError::SessionRevoked)
    }
}

/// [`session_standing`], and refused with `EmailNotVerified` until the
/// account's address is verified (money and identity routes).
pub fn verified_standing(
    principal: &SessionOf<'_>,
    session: Option<&Session>,
    standing: Option<&AccountStanding>,
    now: i64,
) -> Result<AccountStanding, AuthError> {
    let standing = session_standing(principal, session, standing, now)?;
    if standing.email_verified {
        Ok(standing)
    } else {
        Err(AuthError::EmailNotVerified)
    }
}

/// What a function needs to admit signed-in callers: the token
/// verification settings and the store of sessions and account standings.
pub struct SignedInCallers {
    pub access: super::access::AccessConfig,
    pub sessions: Arc<dyn SessionLiveness>,
}

/// Reads a principal's session and account standing (one request) and
/// checks them.
#[derive(Clone)]
pub struct SessionCheck {
    store: Arc<dyn SessionLiveness>,
    clock: Arc<dyn Clock>,
}

impl SessionCheck {
    pub fn new(store: Arc<dyn SessionLiveness>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The session stands (see [`session_standing`]).
    pub async fn live(&self, who: &SessionOf<'_>) -> Result<AccountStanding, AuthError> {
        let (session, standing) = self
            .store
            .session_and_standing(who.session_id, who.user_id)
            .await?;
        session_standing(who, session.as_ref(), standing.as_ref(), self.clock.now())
    }

    /// The session stands and the address is verified.
    pub async fn verified(&self, who: &SessionOf<'_>) -> Result<AccountStanding, AuthError> {
        let standing = self.live(who).await?;
        if standing.email_verified {
            Ok(standing)
        } else {
            Err(AuthError::EmailNotVerified)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::Role;
    use crate::auth::tokens::AccessClaims;

    const NOW: i64 = 1_900_000_000;

    fn principal() -> SessionOf<'static> {
        SessionOf {
            user_id: "user-1",
            session_id: "session-1",
        }
    }

    #[test]
    fn a_token_names_its_session() {
        let claims = claims();
        let named = SessionOf::from(&claims);
        assert_eq!((named.user_id, named.session_id), ("user-1", "session-1"));
    }

    fn claims() -> Principal {
        AccessClaims {
            sub: crate::ids::UserId::issued("user-1"),
            iss: "iss".into(),
            aud: "aud".into(),
            exp: NOW + 900,
            iat: NOW,
            nbf: NOW,
            jti: "jti".into(),
            sid: crate::ids::SessionId::issued("session-1"),
            did: crate::ids::DeviceId::issued("device-0001"),
            role: Role::User,
            amr: vec!["pwd".into()],
            ip: None,
            auth_time: None,
        }
    }

    fn session() -> Session {
        Session {
            session_id: "session-1".into(),
            user_id: "user-1".into(),
            device_id: "device-0001".into(),
            ip: None,
            created_at: NOW - 60,
            last_used_at: NOW - 60,
            expires_at: NOW + 3600,
            revoked: false,
            epoch: 2,
        }
    }

    fn standing(verified: bool) -> AccountStanding {
        AccountStanding {
            email_verified: verified,
            session_epoch: 2,
            mfa_enabled: false,
        }
    }

    #[test]
    fn a_live_session_of_the_current_epoch_stands() {
        let got = session_standing(&principal(), Some(&session()), Some(&standing(false)), NOW);
        assert_eq!(got, Ok(standing(false)));
    }

    #[test]
    fn every_way_a_session_ends_refuses_it() {
        let cases: Vec<(&str, Option<Session>, Option<AccountStanding>)> = vec![
            ("no session", None, Some(standing(true))),
            ("no account", Some(session()), None),
            (
                "revoked",
                Some(Session {
                    revoked: true,
                    ..session()
                }),
                Some(standing(true)),
            ),
            (
                "expired",
                Some(Session {
                    expires_at: NOW,
                    ..session()
                }),
                Some(standing(true)),
            ),
            (
                "another user's",
                Some(Session {
                    user_id: "user-2".into(),
                    ..session()
                }),
                Some(standing(true)),
            ),
            (
                "another session",
                Some(Session {
                    session_id: "session-2".into(),
                    ..session()
                }),
                Some(standing(true)),
            ),
            (
                "older epoch",
                Some(Session {
                    epoch: 1,
                    ..session()
                }),
                Some(standing(true)),
            ),
        ];
        for (name, session, standing) in cases {
            assert_eq!(
                session_standing(&principal(), session.as_ref(), standing.as_ref(), NOW),
                Err(AuthError::SessionRevoked),
                "{name}"
            );
        }
    }

    #[test]
    fn money_routes_need_a_verified_address() {
        assert_eq!(
            verified_standing(&principal(), Some(&session()), Some(&standing(false)), NOW),
            Err(AuthError::EmailNotVerified)
        );
        assert_eq!(
            verified_standing(&principal(), Some(&session()), Some(&standing(true)), NOW),
            Ok(standing(true))
        );
        let revoked = Session {
            revoked: true,
            ..session()
        };
        assert_eq!(
            verified_standing(&principal(), Some(&revoked), Some(&standing(false)), NOW),
            Err(AuthError::SessionRevoked),
            "a revoked session is refused as such, whatever the address"
        );
    }
}
