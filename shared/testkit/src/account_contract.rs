//! The port contract of account standing and emailed single-use tokens:
//! what every route reads to admit a session, verification and reset
//! tokens (current, superseded, spent once, including under a race), and
//! the session epoch a reset raises.

use std::sync::Arc;

use shared::auth::model::{
    AccountAttempt, AccountStanding, OneTimeToken, PasswordReset, RefreshRecord, SecondFactor,
    SessionsEnd, TokenPurpose, UserRecord,
};
use shared::auth::secrets::new_id;
use shared::ports::{AttemptStore, SessionLiveness, SessionStore, StoreError, UserStore};
use shared::ratelimit::WindowSlot;

use crate::contract::{sample_user, session_start, unique_email};

const NOW: i64 = 1_900_000_000;

fn token(user: &UserRecord, purpose: TokenPurpose) -> OneTimeToken {
    OneTimeToken {
        token_hash: new_id(),
        purpose,
        user_id: user.user_id.clone(),
        email: user.email.clone(),
        new_email: None,
        device_id: None,
        expires_at: NOW + 600,
    }
}

async fn unverified_user(users: &dyn UserStore) -> UserRecord {
    let mut user = sample_user(&unique_email());
    user.email_verified = false;
    users.create_user(&user).await.unwrap();
    user
}

/// Every case below, on one implementation.
pub async fn account_contract(
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    attempts: Arc<dyn AttemptStore>,
    liveness: Arc<dyn SessionLiveness>,
) {
    standing_contract(&*users, &*sessions, &*liveness).await;
    verification_contract(&*users, &*liveness).await;
    email_change_contract(&*users).await;
    reset_contract(&*users, &*sessions, &*attempts, &*liveness).await;
    end_sessions_contract(&*users, &*sessions, &*liveness).await;
    second_factor_contract(&*users, &*sessions, &*liveness).await;
    erasure_contract(&*users, &*sessions, &*liveness).await;
    backup_code_race_contract(users.clone()).await;
    spend_race_contract(users).await;
}

async fn standing_contract(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    liveness: &dyn SessionLiveness,
) {
    let user = unverified_user(users).await;
    let start = session_start(&user, "dev-standing", None);
    sessions.start_session(&start).await.unwrap();
    let (session, standing) = liveness
        .session_and_standing(&start.session.session_id, &user.user_id)
        .await
        .unwrap();
    assert_eq!(session, Some(start.session.clone()));
    assert_eq!(
        standing,
        Some(AccountStanding {
            email_verified: false,
            session_epoch: 0,
            mfa_enabled: false,
        })
    );
    let (none, standing) = liveness
        .session_and_standing(&new_id(), &user.user_id)
        .await
        .unwrap();
    assert_eq!(none, None, "an unknown session reads as none");
    assert!(standing.is_some());
    let (_, nobody) = liveness
        .session_and_standing(&start.session.session_id, &new_id())
        .await
        .unwrap();
    assert_eq!(nobody, None, "an unknown account has no standing");
}

async fn verification_contract(users: &dyn UserStore, liveness: &dyn SessionLiveness) {
    let user = unverified_user(users).await;
    let first = token(&user, TokenPurpose::VerifyEmail);
    let second = token(&user, TokenPurpose::VerifyEmail);
    users.issue_token(&first).await.unwrap();
    assert_eq!(
        users.one_time_token(&first.token_hash).await.unwrap(),
        Some(first.clone())
    );
    users.issue_token(&second).await.unwrap();
    assert_eq!(
        users.confirm_email(&first).await,
        Err(StoreError::Conflict),
        "a newer token supersedes the older one"
    );
    assert!(
        !users
            .user_by_email(&user.email)
            .await
            .unwrap()
            .unwrap()
            .email_verified,
        "a refused spend changes nothing"
    );
    users.confirm_email(&second).await.unwrap();
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert!(stored.email_verified);
    let (_, standing) = liveness
        .session_and_standing(&new_id(), &user.user_id)
        .await
        .unwrap();
    assert_eq!(
        standing.map(|s| s.email_verified),
        Some(true),
        "the standing other functions read says verified too"
    );
    assert_eq!(
        users.confirm_email(&second).await,
        Err(StoreError::Conflict),
        "spent once"
    );
    assert_eq!(
        users.one_time_token(&second.token_hash).await.unwrap(),
        None
    );

    let stranger = OneTimeToken {
        user_id: new_id(),
        ..token(&user, TokenPurpose::VerifyEmail)
    };
    assert_eq!(
        users.issue_token(&stranger).await,
        Err(StoreError::NotFound),
        "a token for an address is bound to its account"
    );
    let unknown = OneTimeToken {
        email: unique_email(),
        ..token(&user, TokenPurpose::ResetPassword)
    };
    assert_eq!(users.issue_token(&unknown).await, Err(StoreError::NotFound));
    for refused in [&stranger, &unknown] {
        assert_eq!(
            users.one_time_token(&refused.token_hash).await.unwrap(),
            None,
            "a refused token is not stored"
        );
    }
}

/// An address change: the account moves to the verified new address
/// (its id and sessions kept), only if the new address is free.
async fn email_change_contract(users: &dyn UserStore) {
    let taken = sample_user(&unique_email());
    users.create_user(&taken).await.unwrap();
    let user = unverified_user(users).await;
    let to = |address: &str| OneTimeToken {
        new_email: Some(address.to_string()),
        ..token(&user, TokenPurpose::VerifyEmail)
    };
    let onto_taken = to(&taken.email);
    users.issue_token(&onto_taken).await.unwrap();
    assert_eq!(
        users.change_email(&onto_taken).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        users.user_by_email(&taken.email).await.unwrap(),
        Some(taken.clone()),
        "the other account is untouched"
    );
    assert!(users.user_by_email(&user.email).await.unwrap().is_some());

    let new_address = unique_email();
    let change = to(&new_address);
    users.issue_token(&change).await.unwrap();
    users.change_email(&change).await.unwrap();
    assert_eq!(users.user_by_email(&user.email).await.unwrap(), None);
    let moved = users.user_by_email(&new_address).await.unwrap().unwrap();
    assert_eq!(
        (
            moved.user_id.as_str(),
            moved.email_verified,
            moved.password_hash.as_str()
        ),
        (user.user_id.as_str(), true, user.password_hash.as_str())
    );
    assert_eq!(
        users
            .user_by_id(&user.user_id)
            .await
            .unwrap()
            .map(|u| u.email),
        Some(new_address.clone()),
        "found by id at the new address"
    );
    assert_eq!(users.change_email(&change).await, Err(StoreError::Conflict));
}

async fn reset_contract(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    attempts: &dyn AttemptStore,
    liveness: &dyn SessionLiveness,
) {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();
    let start = session_start(&user, "dev-reset", None);
    sessions.start_session(&start).await.unwrap();
    let lock_key = format!("contract-lock-{}", new_id());
    let slot = WindowSlot {
        key: format!("contract-ip-{}", new_id()),
        limit: 100,
        resets_at: NOW + 60,
    };
    let account = AccountAttempt {
        key: lock_key.clone(),
        max_failures: 5,
        expires_at: NOW + 3600,
    };
    attempts
        .reserve_attempt(&slot, Some(&account), NOW)
        .await
        .unwrap();
    assert!(attempts.lockout_state(&lock_key).await.unwrap().is_some());

    let reset_token = token(&user, TokenPurpose::ResetPassword);
    users.issue_token(&reset_token).await.unwrap();
    let pending_change = OneTimeToken {
        new_email: Some(unique_email()),
        ..token(&user, TokenPurpose::VerifyEmail)
    };
    users.issue_token(&pending_change).await.unwrap();
    let stale = PasswordReset {
        token: reset_token.clone(),
        password_hash: "new-hash".into(),
        epoch: 7,
        lockout_keys: vec![lock_key.clone()],
    };
    assert_eq!(
        users.reset_password(&stale).await,
        Err(StoreError::Conflict),
        "the epoch moved since it was read"
    );
    let reset = PasswordReset { epoch: 0, ..stale };
    users.reset_password(&reset).await.unwrap();
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, "new-hash");
    assert_eq!(stored.session_epoch, 1);
    assert_eq!(attempts.lockout_state(&lock_key).await.unwrap(), None);
    let (_, standing) = liveness
        .session_and_standing(&start.session.session_id, &user.user_id)
        .await
        .unwrap();
    assert_eq!(standing.map(|s| s.session_epoch), Some(1));
    assert_eq!(
        users.reset_password(&reset).await,
        Err(StoreError::Conflict),
        "spent once"
    );
    assert_eq!(
        users.change_email(&pending_change).await,
        Err(StoreError::Conflict),
        "a reset retires the account's other tokens"
    );

    let next = RefreshRecord {
        token_hash: new_id(),
        ..start.token.clone()
    };
    assert_eq!(
        sessions
            .rotate_refresh_token(&start.token.token_hash, &next, NOW)
            .await,
        Err(StoreError::Conflict),
        "a session of the old epoch cannot refresh"
    );
    let old_epoch = session_start(&user, "dev-reset", None);
    assert_eq!(
        sessions.start_session(&old_epoch).await,
        Err(StoreError::Conflict),
        "a sign-in that read the old epoch cannot start a session"
    );
    let mut new_epoch = session_start(&stored, "dev-reset", None);
    new_epoch.session.epoch = 1;
    new_epoch.token.epoch = 1;
    sessions.start_session(&new_epoch).await.unwrap();
    let rotated = RefreshRecord {
        token_hash: new_id(),
        ..new_epoch.token.clone()
    };
    sessions
        .rotate_refresh_token(&new_epoch.token.token_hash, &rotated, NOW + 5)
        .await
        .unwrap();
    let used = sessions
        .session(&new_epoch.session.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        used.last_used_at,
        NOW + 5,
        "a refresh marks the session used"
    );
}

/// Listing an account's sessions, and ending them all with what the end
/// carries (password, TOTP step, the asking session restarted), at once,
/// only while the epoch, the step and the asking session still hold.
async fn end_sessions_contract(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    liveness: &dyn SessionLiveness,
) {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();
    let laptop = session_start(&user, "dev-laptop", None);
    let mut phone = session_start(&user, "dev-phone", None);
    phone.session.created_at += 10;
    sessions.start_session(&laptop).await.unwrap();
    sessions.start_session(&phone).await.unwrap();
    let listed: Vec<String> = sessions
        .sessions_of(&user.user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    assert_eq!(
        listed,
        vec![
            phone.session.session_id.clone(),
            laptop.session.session_id.clone()
        ],
        "the account's sessions, newest first"
    );
    assert!(sessions.sessions_of(&new_id()).await.unwrap().is_empty());

    let mut restarted = session_start(&user, "dev-laptop", None);
    restarted.session.epoch = 1;
    restarted.token.epoch = 1;
    let end = |epoch, asking: &str, step: Option<u64>| SessionsEnd {
        email: user.email.clone(),
        user_id: user.user_id.clone(),
        epoch,
        asking_session: Some(asking.to_string()),
        password_hash: Some("changed-hash".into()),
        factor: step.map(shared::auth::model::SecondFactor::TotpStep),
        restart: Some((restarted.session.clone(), restarted.token.clone())),
    };
    let laptop_id = laptop.session.session_id.as_str();
    sessions
        .revoke_session(&phone.session.session_id)
        .await
        .unwrap();
    for (why, refused) in [
        ("a stale epoch", end(3, laptop_id, None)),
        (
            "an ended asking session",
            end(0, &phone.session.session_id, None),
        ),
        ("a used TOTP step", end(0, laptop_id, Some(0))),
    ] {
        assert_eq!(
            sessions.end_sessions(&refused).await,
            Err(StoreError::Conflict),
            "{why}"
        );
        let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
        assert_eq!(
            (stored.session_epoch, stored.password_hash.as_str()),
            (0, user.password_hash.as_str()),
            "{why}: a refused end changes nothing"
        );
        assert_eq!(
            sessions
                .session(&restarted.session.session_id)
                .await
                .unwrap(),
            None,
            "{why}: no session started"
        );
    }
    sessions
        .end_sessions(&end(0, laptop_id, Some(5)))
        .await
        .unwrap();
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.session_epoch,
            stored.password_hash.as_str(),
            stored.totp.last_step
        ),
        (1, "changed-hash", 5)
    );
    let (old, standing) = liveness
        .session_and_standing(laptop_id, &user.user_id)
        .await
        .unwrap();
    assert_eq!(standing.map(|s| s.session_epoch), Some(1));
    assert_eq!(
        old.map(|s| s.epoch),
        Some(0),
        "the old session is of the old epoch"
    );
    let (fresh, _) = liveness
        .session_and_standing(&restarted.session.session_id, &user.user_id)
        .await
        .unwrap();
    assert_eq!(fresh, Some(restarted.session.clone()));
    assert_eq!(
        sessions.end_sessions(&end(0, laptop_id, None)).await,
        Err(StoreError::Conflict),
        "the epoch moved on"
    );
}

/// An enrolled account: pending secret confirmed with two backup codes.
async fn enrolled_user(users: &dyn UserStore) -> UserRecord {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();
    users.set_pending_totp(&user.email, "SEALED").await.unwrap();
    let codes = vec!["backup-1".to_string(), "backup-2".to_string()];
    users
        .confirm_totp(&user.email, &user.user_id, "SEALED", 100, &codes)
        .await
        .unwrap();
    users.user_by_email(&user.email).await.unwrap().unwrap()
}

/// Second factors spent once (TOTP steps, backup codes), codes replaced,
/// the enrolment removed, and a sign-in spending a factor and its
/// challenge in the session's own write; the standing follows.
async fn second_factor_contract(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    liveness: &dyn SessionLiveness,
) {
    let user = enrolled_user(users).await;
    let standing = |user: &UserRecord| {
        let id = user.user_id.clone();
        async move {
            liveness
                .session_and_standing(&new_id(), &id)
                .await
                .unwrap()
                .1
                .map(|s| s.mfa_enabled)
        }
    };
    assert_eq!(
        standing(&user).await,
        Some(true),
        "enrolment shows in the standing"
    );
    let step = |n| SecondFactor::TotpStep(n);
    assert_eq!(
        users.spend_second_factor(&user.email, &step(100)).await,
        Err(StoreError::Conflict),
        "the confirming step is spent"
    );
    users
        .spend_second_factor(&user.email, &step(101))
        .await
        .unwrap();
    let code = |c: &str| SecondFactor::BackupCode(c.to_string());
    users
        .spend_second_factor(&user.email, &code("backup-1"))
        .await
        .unwrap();
    assert_eq!(
        users
            .spend_second_factor(&user.email, &code("backup-1"))
            .await,
        Err(StoreError::Conflict),
        "a backup code is spent once"
    );
    assert_eq!(
        users
            .replace_backup_codes(&user.email, 101, &["new-1".into()])
            .await,
        Err(StoreError::Conflict),
        "a used step replaces nothing"
    );
    users
        .replace_backup_codes(&user.email, 102, &["new-1".into(), "new-2".into()])
        .await
        .unwrap();
    assert_eq!(
        users
            .spend_second_factor(&user.email, &code("backup-2"))
            .await,
        Err(StoreError::Conflict),
        "replaced codes stop working"
    );

    let mut start = session_start(&user, "dev-mfa", None);
    start.backup_code = Some("new-1".into());
    let challenge = OneTimeToken {
        device_id: Some("dev-mfa".into()),
        ..token(&user, TokenPurpose::MfaChallenge)
    };
    users.issue_token(&challenge).await.unwrap();
    start.challenge = Some(challenge.clone());
    sessions.start_session(&start).await.unwrap();
    assert_eq!(
        users.one_time_token(&challenge.token_hash).await.unwrap(),
        None,
        "the challenge is spent with the sign-in"
    );
    let mut again = session_start(&user, "dev-mfa", None);
    again.challenge = Some(challenge);
    assert_eq!(
        sessions.start_session(&again).await,
        Err(StoreError::Conflict),
        "a spent challenge starts nothing"
    );
    let mut reused = session_start(&user, "dev-mfa", None);
    reused.backup_code = Some("new-1".into());
    assert_eq!(
        sessions.start_session(&reused).await,
        Err(StoreError::Conflict),
        "a spent backup code starts nothing"
    );

    assert_eq!(
        users
            .remove_totp(&user.email, &user.user_id, &step(102))
            .await,
        Err(StoreError::Conflict),
        "removal spends its factor"
    );
    assert_eq!(
        standing(&user).await,
        Some(true),
        "a refused removal changes nothing"
    );
    users
        .remove_totp(&user.email, &user.user_id, &code("new-2"))
        .await
        .unwrap();
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!(
        (stored.totp.secret, stored.totp.backup_codes.len()),
        (None, 0)
    );
    assert_eq!(standing(&user).await, Some(false));
}

/// A deleted account: the address item gone (free to register again),
/// found by id no more, no standing for its sessions; refused while the
/// epoch read is stale.
async fn erasure_contract(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    liveness: &dyn SessionLiveness,
) {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();
    let start = session_start(&user, "dev-gone", None);
    sessions.start_session(&start).await.unwrap();
    let erasure = shared::auth::model::AccountErasure {
        email: user.email.clone(),
        user_id: user.user_id.clone(),
        epoch: 4,
        erased_email: format!("erased:{}", new_id()),
    };
    assert_eq!(
        users.erase_account(&erasure).await,
        Err(StoreError::Conflict)
    );
    assert!(users.user_by_email(&user.email).await.unwrap().is_some());
    users
        .erase_account(&shared::auth::model::AccountErasure {
            epoch: 0,
            ..erasure
        })
        .await
        .unwrap();
    assert_eq!(users.user_by_email(&user.email).await.unwrap(), None);
    assert_eq!(users.user_by_id(&user.user_id).await.unwrap(), None);
    let (_, standing) = liveness
        .session_and_standing(&start.session.session_id, &user.user_id)
        .await
        .unwrap();
    assert_eq!(standing, None, "no session of a deleted account stands");
    let again = sample_user(&user.email);
    users.create_user(&again).await.unwrap();
    assert_eq!(
        users
            .user_by_email(&user.email)
            .await
            .unwrap()
            .map(|u| u.user_id),
        Some(again.user_id),
        "the address signs up again"
    );
}

/// Concurrent spends of one backup code: exactly one passes.
async fn backup_code_race_contract(users: Arc<dyn UserStore>) {
    let user = enrolled_user(&*users).await;
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let users = users.clone();
            let email = user.email.clone();
            tokio::spawn(async move {
                users
                    .spend_second_factor(&email, &SecondFactor::BackupCode("backup-2".into()))
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        if racer.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "one use per backup code");
}

/// Concurrent spends of one token: exactly one passes.
async fn spend_race_contract(users: Arc<dyn UserStore>) {
    let user = unverified_user(&*users).await;
    let reset_token = token(&user, TokenPurpose::ResetPassword);
    users.issue_token(&reset_token).await.unwrap();
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let users = users.clone();
            let reset = PasswordReset {
                token: reset_token.clone(),
                password_hash: format!("hash-{i}"),
                epoch: 0,
                lockout_keys: Vec::new(),
            };
            tokio::spawn(async move { users.reset_password(&reset).await })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1, "one reset per token");
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!(stored.session_epoch, 1, "raised once");

    let verify = token(&user, TokenPurpose::VerifyEmail);
    users.issue_token(&verify).await.unwrap();
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let users = users.clone();
            let verify = verify.clone();
            tokio::spawn(async move { users.confirm_email(&verify).await })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        if racer.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "one verification per token");
}
