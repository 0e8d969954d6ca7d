//! The port contract: one suite every implementation (in-memory and AWS)
//! must pass, including the races the atomic operations exist for.
//! Every case uses fresh random keys, so it can run against shared tables.

use std::sync::Arc;

use shared::audit::{chain_after, AuditDraft, AuditEntry};
use shared::auth::model::{
    AccountAttempt, AttemptOutcome, RefreshRecord, Role, Session, SessionStart, TotpState,
    UserRecord,
};
use shared::auth::secrets::new_id;
use shared::flags::Snapshot;
use shared::ports::{
    AdminChange, AdminStore, AttemptStore, AuditLog, FlagStore, SessionLiveness, SessionStore,
    StoreError, UserStore,
};
use shared::ratelimit::WindowSlot;

const NOW: i64 = 1_900_000_000;

pub(crate) fn unique_email() -> String {
    format!("contract-{}@example.test", new_id())
}

/// A user record with fresh ids.
pub fn sample_user(email: &str) -> UserRecord {
    UserRecord {
        user_id: new_id(),
        email: email.to_string(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_string(),
        role: Role::User,
        created_at: NOW,
        known_devices: Vec::new(),
        totp: TotpState::default(),
        email_verified: true,
        session_epoch: 0,
    }
}

pub(crate) fn session_start(
    user: &UserRecord,
    device: &str,
    totp_step: Option<u64>,
) -> SessionStart {
    let session = Session {
        session_id: new_id(),
        user_id: user.user_id.clone(),
        device_id: device.to_string(),
        ip: Some("203.0.113.7".to_string()),
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW + 3600,
        revoked: false,
        epoch: user.session_epoch,
    };
    let token = RefreshRecord {
        token_hash: new_id(),
        session_id: session.session_id.clone(),
        user_id: user.user_id.clone(),
        device_id: device.to_string(),
        role: user.role,
        amr: vec!["pwd".to_string(), "otp".to_string()],
        ip: session.ip.clone(),
        expires_at: session.expires_at,
        rotated: false,
        rotated_at: None,
        successor: None,
        epoch: user.session_epoch,
    };
    SessionStart {
        email: user.email.clone(),
        session,
        token,
        new_device: Some(format!("device-hash-{device}")),
        totp_step,
        backup_code: None,
        challenge: None,
        lockout_key: new_id(),
    }
}

/// Accounts: create once, read back both ways, role and TOTP updates.
pub async fn user_store_contract(users: Arc<dyn UserStore>) {
    let email = unique_email();
    let user = sample_user(&email);
    users.create_user(&user).await.unwrap();
    assert_eq!(
        users.user_by_email(&email).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        users.user_by_id(&user.user_id).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(users.user_by_email(&unique_email()).await.unwrap(), None);
    assert_eq!(users.user_by_id(&new_id()).await.unwrap(), None);

    let again = sample_user(&email);
    assert_eq!(
        users.create_user(&again).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        users.user_by_id(&again.user_id).await.unwrap(),
        None,
        "nothing half-written"
    );

    users.set_role(&email, Role::Admin).await.unwrap();
    assert_eq!(
        users.user_by_email(&email).await.unwrap().unwrap().role,
        Role::Admin
    );
    assert_eq!(
        users.set_role(&unique_email(), Role::Admin).await,
        Err(StoreError::NotFound)
    );

    users.set_pending_totp(&email, "PENDINGONE").await.unwrap();
    users.set_pending_totp(&email, "PENDINGTWO").await.unwrap();
    assert_eq!(
        users
            .confirm_totp(&email, &user.user_id, "PENDINGONE", 10, &[])
            .await,
        Err(StoreError::Conflict),
        "only the latest pending secret can be confirmed"
    );
    let codes = vec!["code-hash-1".to_string(), "code-hash-2".to_string()];
    users
        .confirm_totp(&email, &user.user_id, "PENDINGTWO", 10, &codes)
        .await
        .unwrap();
    let totp = users.user_by_email(&email).await.unwrap().unwrap().totp;
    assert_eq!(totp.secret.as_deref(), Some("PENDINGTWO"));
    assert_eq!(totp.pending, None);
    assert_eq!(totp.last_step, 10);
    let mut stored_codes = totp.backup_codes.clone();
    stored_codes.sort();
    assert_eq!(stored_codes, codes);
    assert_eq!(
        users.set_pending_totp(&email, "X").await,
        Err(StoreError::Conflict)
    );
}

/// Racing sign-ups for one email: exactly one account exists afterwards.
pub async fn user_store_race_contract(users: Arc<dyn UserStore>) {
    let email = unique_email();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let users = users.clone();
            let user = sample_user(&email);
            tokio::spawn(async move { users.create_user(&user).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => created += 1,
            Err(err) => assert_eq!(err, StoreError::AlreadyExists),
        }
    }
    assert_eq!(created, 1);
}

/// Sessions: atomic start, device and TOTP step recorded, rotation once,
/// revocation stops rotation.
pub async fn session_store_contract(users: Arc<dyn UserStore>, sessions: Arc<dyn SessionStore>) {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();

    let start = session_start(&user, "dev-a", Some(100));
    sessions.start_session(&start).await.unwrap();
    let stored = users.user_by_email(&user.email).await.unwrap().unwrap();
    assert_eq!(stored.known_devices, vec!["device-hash-dev-a".to_string()]);
    assert_eq!(stored.totp.last_step, 100);
    assert_eq!(
        sessions.session(&start.session.session_id).await.unwrap(),
        Some(start.session.clone())
    );
    assert_eq!(
        sessions
            .refresh_token(&start.token.token_hash)
            .await
            .unwrap(),
        Some(start.token.clone())
    );

    let replay = session_start(&user, "dev-b", Some(100));
    assert_eq!(
        sessions.start_session(&replay).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        sessions.session(&replay.session.session_id).await.unwrap(),
        None,
        "a refused start writes nothing"
    );

    let next = RefreshRecord {
        token_hash: new_id(),
        ..start.token.clone()
    };
    sessions
        .rotate_refresh_token(&start.token.token_hash, &next, 0)
        .await
        .unwrap();
    assert!(
        sessions
            .refresh_token(&start.token.token_hash)
            .await
            .unwrap()
            .unwrap()
            .rotated
    );
    let again = RefreshRecord {
        token_hash: new_id(),
        ..start.token.clone()
    };
    assert_eq!(
        sessions
            .rotate_refresh_token(&start.token.token_hash, &again, 0)
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        sessions.refresh_token(&again.token_hash).await.unwrap(),
        None
    );

    sessions
        .revoke_session(&start.session.session_id)
        .await
        .unwrap();
    assert!(
        sessions
            .session(&start.session.session_id)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let after_revoke = RefreshRecord {
        token_hash: new_id(),
        ..next.clone()
    };
    assert_eq!(
        sessions
            .rotate_refresh_token(&next.token_hash, &after_revoke, 0)
            .await,
        Err(StoreError::Conflict)
    );
    sessions.revoke_session(&new_id()).await.unwrap();
    assert_eq!(sessions.session(&new_id()).await.unwrap(), None);
}

/// Two rotations of one token at once: exactly one wins.
pub async fn rotation_race_contract(users: Arc<dyn UserStore>, sessions: Arc<dyn SessionStore>) {
    let user = sample_user(&unique_email());
    users.create_user(&user).await.unwrap();
    let start = session_start(&user, "dev-a", None);
    sessions.start_session(&start).await.unwrap();
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let sessions = sessions.clone();
            let old = start.token.token_hash.clone();
            let next = RefreshRecord {
                token_hash: new_id(),
                ..start.token.clone()
            };
            tokio::spawn(async move { sessions.rotate_refresh_token(&old, &next, 0).await })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        if racer.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

/// Counters: the IP window and the account budget are enforced atomically,
/// a lock is set by exactly one caller, and a lock expires.
pub async fn attempt_store_contract(attempts: Arc<dyn AttemptStore>) {
    let ip = WindowSlot {
        key: format!("contract#{}", new_id()),
        limit: 3,
        resets_at: NOW + 60,
    };
    for _ in 0..3 {
        assert_eq!(
            attempts.reserve_attempt(&ip, None, NOW).await.unwrap(),
            AttemptOutcome::Reserved
        );
    }
    assert_eq!(
        attempts.reserve_attempt(&ip, None, NOW).await.unwrap(),
        AttemptOutcome::RateLimited
    );

    let wide_ip = |key: &str| WindowSlot {
        key: format!("contract#{key}"),
        limit: 1000,
        resets_at: NOW + 60,
    };
    let ip_b = wide_ip(&new_id());
    let account = AccountAttempt {
        key: new_id(),
        max_failures: 5,
        expires_at: NOW + 86_400,
    };
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let attempts = attempts.clone();
            let ip = ip_b.clone();
            let account = account.clone();
            tokio::spawn(async move { attempts.reserve_attempt(&ip, Some(&account), NOW).await })
        })
        .collect();
    let mut reserved = 0;
    for racer in racers {
        match racer.await.unwrap().unwrap() {
            AttemptOutcome::Reserved => reserved += 1,
            AttemptOutcome::Locked { until } => assert_eq!(until, None),
            AttemptOutcome::RateLimited => panic!("IP limit is not the binding one"),
        }
    }
    assert_eq!(
        reserved, 5,
        "concurrent attempts cannot slip past the budget"
    );
    let state = attempts.lockout_state(&account.key).await.unwrap().unwrap();
    assert_eq!(
        (state.failures, state.level, state.locked_until),
        (5, 0, None)
    );

    let lockers: Vec<_> = (0..4)
        .map(|_| {
            let attempts = attempts.clone();
            let key = account.key.clone();
            tokio::spawn(
                async move { attempts.lock_account(&key, 5, 0, NOW + 60, NOW + 999).await },
            )
        })
        .collect();
    let mut locked = 0;
    for locker in lockers {
        if locker.await.unwrap().unwrap() {
            locked += 1;
        }
    }
    assert_eq!(locked, 1, "exactly one caller sets the lock");
    let state = attempts.lockout_state(&account.key).await.unwrap().unwrap();
    assert_eq!(
        (state.failures, state.level, state.locked_until),
        (0, 1, Some(NOW + 60))
    );

    assert_eq!(
        attempts
            .reserve_attempt(&wide_ip(&new_id()), Some(&account), NOW + 30)
            .await
            .unwrap(),
        AttemptOutcome::Locked {
            until: Some(NOW + 60)
        }
    );
    assert_eq!(
        attempts
            .reserve_attempt(&wide_ip(&new_id()), Some(&account), NOW + 60)
            .await
            .unwrap(),
        AttemptOutcome::Reserved,
        "the lock expires on time"
    );

    let blocked_ip = WindowSlot {
        limit: 0,
        ..wide_ip(&new_id())
    };
    let fresh = AccountAttempt {
        key: new_id(),
        ..account.clone()
    };
    assert_eq!(
        attempts
            .reserve_attempt(&blocked_ip, Some(&fresh), NOW)
            .await
            .unwrap(),
        AttemptOutcome::RateLimited
    );
    assert_eq!(
        attempts.lockout_state(&fresh.key).await.unwrap(),
        None,
        "a refused reservation counts nothing"
    );
    assert!(!attempts
        .lock_account(&fresh.key, 5, 0, NOW + 60, NOW + 999)
        .await
        .unwrap());
    let cleared = AccountAttempt {
        key: format!("contract-cleared-{}", new_id()),
        max_failures: 5,
        expires_at: NOW + 3600,
    };
    let slot = WindowSlot {
        key: format!("contract-clear-ip-{}", new_id()),
        limit: 100,
        resets_at: NOW + 60,
    };
    attempts
        .reserve_attempt(&slot, Some(&cleared), NOW)
        .await
        .unwrap();
    assert!(attempts
        .lockout_state(&cleared.key)
        .await
        .unwrap()
        .is_some());
    attempts.clear_failures(&cleared.key).await.unwrap();
    assert_eq!(
        attempts.lockout_state(&cleared.key).await.unwrap(),
        None,
        "a success forgets the failures"
    );
}

/// Runs every case above on one implementation.
pub async fn full_contract(
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    attempts: Arc<dyn AttemptStore>,
    liveness: Arc<dyn SessionLiveness>,
) {
    user_store_contract(users.clone()).await;
    user_store_race_contract(users.clone()).await;
    session_store_contract(users.clone(), sessions.clone()).await;
    rotation_race_contract(users.clone(), sessions.clone()).await;
    crate::account_contract::account_contract(users, sessions, attempts.clone(), liveness).await;
    attempt_store_contract(attempts).await;
}

fn draft(action: &str) -> AuditDraft {
    AuditDraft {
        actor: "admin-1".to_string(),
        ip: Some("203.0.113.10".to_string()),
        action: action.to_string(),
        target: "flags".to_string(),
        before: Some(serde_json::json!({"emergency": false})),
        after: Some(serde_json::json!({"emergency": true, "note": "ünïcode ✓"})),
    }
}

fn snapshot(version: u64) -> Snapshot {
    Snapshot {
        version,
        emergency: version.is_multiple_of(2),
        flags: Vec::new(),
    }
}

/// The flag snapshot, the audit chain and audited admin changes. The three
/// ports must be views of one fresh namespace.
pub async fn admin_store_contract(
    flags: Arc<dyn FlagStore>,
    audit: Arc<dyn AuditLog>,
    store: Arc<dyn AdminStore>,
    attempts: Arc<dyn AttemptStore>,
) {
    assert_eq!(flags.load_snapshot().await.unwrap(), None);
    assert_eq!(audit.head().await.unwrap(), None);

    let first = chain_after(&crate::test_audit_keys(), None, draft("one"), NOW);
    let save = |version: u64, expected: u64| AdminChange::SaveSnapshot {
        snapshot: snapshot(version),
        expected_version: expected,
    };
    store.commit(&save(1, 0), &first).await.unwrap();
    assert_eq!(flags.load_snapshot().await.unwrap(), Some(snapshot(1)));
    assert_eq!(audit.head().await.unwrap(), Some(first.clone()));

    let second = chain_after(
        &crate::test_audit_keys(),
        Some(&first),
        draft("two"),
        NOW + 1,
    );
    assert_eq!(
        store.commit(&save(2, 0), &second).await,
        Err(StoreError::Conflict),
        "stale version"
    );
    assert_eq!(
        store.commit(&save(2, 1), &first).await,
        Err(StoreError::Conflict),
        "seq taken"
    );
    assert_eq!(
        flags.load_snapshot().await.unwrap(),
        Some(snapshot(1)),
        "nothing half-written"
    );
    assert_eq!(audit.head().await.unwrap(), Some(first.clone()));
    store.commit(&save(2, 1), &second).await.unwrap();

    let account = AccountAttempt {
        key: new_id(),
        max_failures: 5,
        expires_at: NOW + 999,
    };
    let ip = WindowSlot {
        key: format!("contract#{}", new_id()),
        limit: 100,
        resets_at: NOW + 60,
    };
    attempts
        .reserve_attempt(&ip, Some(&account), NOW)
        .await
        .unwrap();
    assert!(attempts
        .lockout_state(&account.key)
        .await
        .unwrap()
        .is_some());
    let third = chain_after(
        &crate::test_audit_keys(),
        Some(&second),
        draft("three"),
        NOW + 2,
    );
    let unlock = AdminChange::ClearLockout {
        key: account.key.clone(),
    };
    store.commit(&unlock, &third).await.unwrap();
    assert_eq!(attempts.lockout_state(&account.key).await.unwrap(), None);

    let seqs = |entries: Vec<AuditEntry>| entries.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(audit.page(None, 2).await.unwrap()), vec![3, 2]);
    assert_eq!(seqs(audit.page(Some(2), 10).await.unwrap()), vec![1]);
    let all = audit.all().await.unwrap();
    assert_eq!(
        all,
        vec![first, second, third.clone()],
        "entries read back exactly"
    );
    assert!(all.iter().all(|e| e.kid.as_deref() == Some("test")));
    let report = shared::audit::verify_chain(&crate::test_audit_keys(), &all);
    assert!(report.intact, "the MACs read back verify: {report:?}");

    let racers: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            let entry = chain_after(
                &crate::test_audit_keys(),
                Some(&third),
                draft(&format!("race-{i}")),
                NOW + 3,
            );
            tokio::spawn(async move {
                let change = AdminChange::ClearLockout { key: new_id() };
                store.commit(&change, &entry).await
            })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        if racer.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "one entry per sequence number");
}

/// A recharge commit for a fresh user, allowed, with one capped counter.
pub fn sample_commit(
    user_id: &str,
    counter: &str,
    amount: i64,
    cap: i64,
) -> shared::ports::RechargeCommit {
    use shared::wallet::fraud::Decision;
    use shared::wallet::model::{Recharge, RechargeStatus, WalletProfile};
    let recharge_id = format!("rc_{}", new_id());
    let audit = chain_after(
        &crate::test_audit_keys(),
        None,
        draft("recharge.allow"),
        NOW,
    );
    let mut profile = WalletProfile::new(user_id, NOW - 86_400);
    profile.audit_seq = audit.seq;
    profile.audit_hash = Some(audit.hash.clone());
    shared::ports::RechargeCommit {
        recharge: Recharge {
            recharge_id,
            user_id: user_id.to_string(),
            amount,
            currency: "EUR".to_string(),
            provider: "stripe".to_string(),
            provider_reference: format!("pay_{}", new_id()),
            status: RechargeStatus::PendingPayment,
            created_at: NOW,
            score: 10,
            reasons: vec!["NEW_DEVICE".to_string()],
            decision: Decision::Allow,
            refunded: 0,
        },
        profile,
        expected_audit_seq: None,
        audit,
        counters: vec![shared::ports::CounterAdd {
            key: counter.to_string(),
            amount,
            expires_at: NOW + 86_400,
            cap: Some(cap),
            expected_count: None,
        }],
        device_account: Some((new_id(), user_id.to_string())),
        idempotency: None,
    }
}

/// Idempotency claims: one owner, replay, mismatch, crash takeover, expiry.
pub async fn idempotency_contract(store: Arc<dyn shared::ports::IdempotencyStore>) {
    use shared::ports::IdempotencyBegin::*;
    let key = new_id();
    assert_eq!(
        store
            .begin(&key, "fp", NOW, NOW + 60, NOW + 86_400)
            .await
            .unwrap(),
        Started
    );
    assert_eq!(
        store
            .begin(&key, "fp", NOW + 1, NOW + 61, NOW + 86_401)
            .await
            .unwrap(),
        InProgress
    );
    assert_eq!(
        store
            .begin(&key, "other", NOW + 1, NOW + 61, NOW + 86_401)
            .await
            .unwrap(),
        Mismatch
    );
    store.complete(&key, "{\"ok\":true}").await.unwrap();
    assert_eq!(
        store
            .begin(&key, "fp", NOW + 2, NOW + 62, NOW + 86_402)
            .await
            .unwrap(),
        Replay {
            outcome: "{\"ok\":true}".to_string()
        }
    );
    store.release(&key).await.unwrap();
    assert!(
        matches!(
            store
                .begin(&key, "fp", NOW + 3, NOW + 63, NOW + 86_403)
                .await
                .unwrap(),
            Replay { .. }
        ),
        "a completed record is kept"
    );
    assert_eq!(
        store
            .begin(&key, "fp", NOW + 86_400, NOW + 86_460, NOW + 2 * 86_400)
            .await
            .unwrap(),
        Started,
        "expired after 24 h"
    );

    let crashed = new_id();
    store
        .begin(&crashed, "fp", NOW, NOW + 60, NOW + 86_400)
        .await
        .unwrap();
    assert_eq!(
        store
            .begin(&crashed, "fp", NOW + 59, NOW + 119, NOW + 86_459)
            .await
            .unwrap(),
        InProgress
    );
    assert_eq!(
        store
            .begin(&crashed, "fp", NOW + 60, NOW + 120, NOW + 86_460)
            .await
            .unwrap(),
        Started,
        "a crashed claim expires"
    );

    let released = new_id();
    store
        .begin(&released, "fp", NOW, NOW + 60, NOW + 86_400)
        .await
        .unwrap();
    store.release(&released).await.unwrap();
    assert_eq!(
        store
            .begin(&released, "fp", NOW + 1, NOW + 61, NOW + 86_401)
            .await
            .unwrap(),
        Started
    );

    let raced = new_id();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let key = raced.clone();
            tokio::spawn(async move { store.begin(&key, "fp", NOW, NOW + 60, NOW + 86_400).await })
        })
        .collect();
    let mut started = 0;
    for racer in racers {
        if racer.await.unwrap().unwrap() == Started {
            started += 1;
        }
    }
    assert_eq!(started, 1, "exactly one concurrent duplicate proceeds");
}

/// Recharge commits: all-or-nothing, duplicate ids, profile conflicts, caps.
pub async fn wallet_store_contract(wallet: Arc<dyn shared::ports::WalletStore>) {
    use shared::ports::CommitOutcome;
    let user = new_id();
    let counter = format!("user#{}#EUR#D#1", new_id());
    let first = sample_commit(&user, &counter, 600, 1_000);
    assert_eq!(
        wallet.commit_recharge(&first).await.unwrap(),
        CommitOutcome::Committed
    );
    let device = first.device_account.clone().unwrap().0;
    let readings = wallet
        .readings(&user, "", std::slice::from_ref(&counter), &device)
        .await
        .unwrap();
    assert_eq!(readings.profile, Some(first.profile.clone()));
    assert_eq!(
        readings.counters[&counter],
        shared::wallet::velocity::Tally {
            count: 1,
            amount: 600
        }
    );
    assert_eq!(readings.device_accounts, vec![user.clone()]);
    assert_eq!(
        wallet.recharge(&first.recharge.recharge_id).await.unwrap(),
        Some(first.recharge.clone())
    );

    assert_eq!(
        wallet.commit_recharge(&first).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let mut stale = sample_commit(&user, &counter, 100, 1_000);
    stale.expected_audit_seq = Some(7);
    assert_eq!(
        wallet.commit_recharge(&stale).await.unwrap(),
        CommitOutcome::Conflict
    );
    let mut over = sample_commit(&user, &counter, 500, 1_000);
    over.expected_audit_seq = Some(first.profile.audit_seq);
    assert_eq!(
        wallet.commit_recharge(&over).await.unwrap(),
        CommitOutcome::CapExceeded(counter.clone())
    );
    assert_eq!(
        wallet.recharge(&over.recharge.recharge_id).await.unwrap(),
        None,
        "nothing half-written"
    );
    let after = wallet
        .readings(&user, "", std::slice::from_ref(&counter), "")
        .await
        .unwrap();
    assert_eq!(after.counters[&counter].amount, 600);

    let shared_counter = format!("user#{}#EUR#D#1", new_id());
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let wallet = wallet.clone();
            let commit = sample_commit(&new_id(), &shared_counter, 300, 1_000);
            tokio::spawn(async move { wallet.commit_recharge(&commit).await })
        })
        .collect();
    let mut committed = 0;
    for racer in racers {
        if racer.await.unwrap().unwrap() == CommitOutcome::Committed {
            committed += 1;
        }
    }
    assert_eq!(committed, 3, "a cap holds under concurrent commits");

    let scored = format!("device#{}#D#1", new_id());
    let seen = |count: u32| {
        let mut commit = sample_commit(&new_id(), &scored, 100, 1_000);
        commit.counters[0].cap = None;
        commit.counters[0].expected_count = Some(count);
        commit
    };
    assert_eq!(
        wallet.commit_recharge(&seen(0)).await.unwrap(),
        CommitOutcome::Committed
    );
    let stale = seen(0);
    assert_eq!(
        wallet.commit_recharge(&stale).await.unwrap(),
        CommitOutcome::Conflict,
        "scored on a count that has moved"
    );
    assert_eq!(
        wallet.recharge(&stale.recharge.recharge_id).await.unwrap(),
        None
    );
    assert_eq!(
        wallet.commit_recharge(&seen(1)).await.unwrap(),
        CommitOutcome::Committed
    );
    let tally = wallet
        .readings(&user, "", std::slice::from_ref(&scored), "")
        .await
        .unwrap()
        .counters[&scored];
    assert_eq!(tally.count, 2);

    let limits = shared::wallet::limits::LimitsState::new(shared::wallet::limits::SpendingLimits {
        daily: 1,
        weekly: 2,
        monthly: 3,
    });
    let mut profile = wallet
        .readings(&user, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    let expected = profile.audit_seq;
    let entry = shared::audit::chain_after_head(
        &crate::test_audit_keys(),
        profile.audit_head(),
        shared::audit::AuditDraft {
            actor: user.clone(),
            ip: None,
            action: "limits.request".into(),
            target: format!("user:{user}"),
            before: None,
            after: None,
        },
        1_900_000_000,
    );
    profile.limits = Some(limits);
    profile.audit_seq = entry.seq;
    profile.audit_hash = Some(entry.hash.clone());
    assert_eq!(
        wallet.save_limits(&profile, expected + 1, &entry).await,
        Ok(CommitOutcome::Conflict),
        "a moved head refuses the write"
    );
    assert_eq!(
        wallet.save_limits(&profile, expected, &entry).await,
        Ok(CommitOutcome::Committed)
    );
    assert_eq!(
        wallet.save_limits(&profile, expected, &entry).await,
        Ok(CommitOutcome::Conflict),
        "the same change cannot land twice"
    );
    let stored = wallet
        .readings(&user, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(stored.limits, Some(limits));
    assert_eq!(stored.audit_seq, expected + 1, "the head moved");
    wallet
        .ensure_profile(&shared::wallet::model::WalletProfile::new(&user, 0))
        .await
        .unwrap();
    assert_eq!(
        wallet
            .readings(&user, "", &[], "")
            .await
            .unwrap()
            .profile
            .unwrap()
            .limits,
        Some(limits),
        "ensure keeps an existing profile"
    );
    payment_contract(&*wallet).await;
}

/// One payment outcome on `recharge_id` for `user`'s profile as stored now.
async fn payment_commit(
    wallet: &dyn shared::ports::WalletStore,
    user: &str,
    recharge_id: &str,
    expected: &[shared::wallet::model::RechargeStatus],
    new_status: shared::wallet::model::RechargeStatus,
    delta: i64,
    refunded: Option<(i64, i64)>,
) -> shared::ports::PaymentCommit {
    let mut profile = wallet
        .readings(user, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    let expected_audit_seq = profile.audit_seq;
    let audit = shared::audit::chain_after_head(
        &crate::test_audit_keys(),
        profile.audit_head(),
        draft("recharge.payment"),
        NOW,
    );
    *profile.balances.entry("EUR".to_string()).or_insert(0) += delta;
    profile.audit_seq = audit.seq;
    profile.audit_hash = Some(audit.hash.clone());
    shared::ports::PaymentCommit {
        recharge_id: recharge_id.to_string(),
        expected_statuses: expected.to_vec(),
        new_status,
        refunded,
        entry: Some(shared::wallet::model::LedgerEntry {
            entry_id: format!("le_{}", new_id()),
            recharge_id: recharge_id.to_string(),
            amount: delta,
            currency: "EUR".to_string(),
            kind: "test".to_string(),
            at: NOW,
        }),
        profile,
        expected_audit_seq,
        audit,
    }
}

/// Payment outcomes: applied once per ledger entry, only from an expected
/// status, and a refund only while the refunded total is what was read.
async fn payment_contract(wallet: &dyn shared::ports::WalletStore) {
    use shared::ports::CommitOutcome;
    use shared::wallet::model::RechargeStatus::{Credited, PartiallyRefunded, PendingPayment};
    let user = new_id();
    let recharge = sample_commit(&user, &format!("user#{}#D#1", new_id()), 2_000, 10_000);
    let id = recharge.recharge.recharge_id.clone();
    wallet.commit_recharge(&recharge).await.unwrap();

    let credit = payment_commit(wallet, &user, &id, &[PendingPayment], Credited, 2_000, None).await;
    assert_eq!(
        wallet.apply_payment(&credit).await,
        Ok(CommitOutcome::Committed)
    );
    assert_eq!(
        wallet.apply_payment(&credit).await,
        Ok(CommitOutcome::Duplicate),
        "one ledger entry per event"
    );
    let again = payment_commit(wallet, &user, &id, &[PendingPayment], Credited, 2_000, None).await;
    assert_eq!(
        wallet.apply_payment(&again).await,
        Ok(CommitOutcome::Conflict),
        "no longer pending"
    );

    let refunds = [Credited, PartiallyRefunded];
    let first = payment_commit(
        wallet,
        &user,
        &id,
        &refunds,
        PartiallyRefunded,
        -100,
        Some((0, 100)),
    )
    .await;
    assert_eq!(
        wallet.apply_payment(&first).await,
        Ok(CommitOutcome::Committed)
    );
    let stored = wallet.recharge(&id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.refunded), (PartiallyRefunded, 100));

    let stale = payment_commit(
        wallet,
        &user,
        &id,
        &refunds,
        PartiallyRefunded,
        -300,
        Some((0, 300)),
    )
    .await;
    assert_eq!(
        wallet.apply_payment(&stale).await,
        Ok(CommitOutcome::Conflict),
        "the refunded total moved since it was read"
    );
    let next = payment_commit(
        wallet,
        &user,
        &id,
        &refunds,
        PartiallyRefunded,
        -200,
        Some((100, 300)),
    )
    .await;
    assert_eq!(
        wallet.apply_payment(&next).await,
        Ok(CommitOutcome::Committed)
    );
    let stored = wallet.recharge(&id).await.unwrap().unwrap();
    assert_eq!(stored.refunded, 300);
    let profile = wallet
        .readings(&user, "", &[], "")
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(profile.balances["EUR"], 1_700);
}

/// Review cases: opened once, listed by status oldest first, decided once
/// together with their held recharge.
pub async fn review_store_contract(
    wallet: Arc<dyn shared::ports::WalletStore>,
    reviews: Arc<dyn shared::ports::ReviewStore>,
    admin: Arc<dyn AdminStore>,
    audit: Arc<dyn AuditLog>,
) {
    use shared::review::{CaseStatus, ReviewCase};
    use shared::wallet::model::RechargeStatus;
    let mut ids = Vec::new();
    for offset in 0..2 {
        let user = new_id();
        let mut commit = sample_commit(&user, &format!("user#{}#EUR#D#1", new_id()), 100, 1_000);
        commit.recharge.status = RechargeStatus::PendingReview;
        wallet.commit_recharge(&commit).await.unwrap();
        let case = ReviewCase {
            case_id: commit.recharge.recharge_id.clone(),
            kind: shared::review::CaseKind::HeldRecharge,
            user_id: user,
            amount: 100,
            currency: "EUR".to_string(),
            score: 70,
            reasons: vec!["NEW_DEVICE".to_string()],
            status: CaseStatus::Open,
            opened_at: NOW + offset,
            notified: false,
            decided_by: None,
            note: None,
        };
        reviews.open_case(&case).await.unwrap();
        let mut duplicate = case.clone();
        duplicate.opened_at = NOW + 99;
        reviews.open_case(&duplicate).await.unwrap();
        assert_eq!(
            reviews.case(&case.case_id).await.unwrap(),
            Some(case.clone()),
            "opened once"
        );
        ids.push(case.case_id);
    }
    reviews.mark_notified(&ids[0]).await.unwrap();
    assert!(reviews.case(&ids[0]).await.unwrap().unwrap().notified);
    assert_eq!(
        reviews.mark_notified(&new_id()).await,
        Err(StoreError::NotFound)
    );

    let listed: Vec<String> = reviews
        .cases(CaseStatus::Open, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.case_id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(listed, ids, "open cases, oldest first");

    let head = audit.head().await.unwrap();
    let entry = chain_after(
        &crate::test_audit_keys(),
        head.as_ref(),
        draft("review.approve"),
        NOW,
    );
    let decide = |approve: bool| AdminChange::DecideReview {
        case_id: ids[0].clone(),
        releases_recharge: true,
        approve,
        decided_by: "admin-1".to_string(),
        note: "ok".to_string(),
    };
    admin.commit(&decide(true), &entry).await.unwrap();
    let decided = reviews.case(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (decided.status, decided.decided_by.as_deref()),
        (CaseStatus::Approved, Some("admin-1"))
    );
    assert_eq!(
        wallet.recharge(&ids[0]).await.unwrap().unwrap().status,
        RechargeStatus::PendingPayment
    );
    let next = chain_after(
        &crate::test_audit_keys(),
        Some(&entry),
        draft("review.reject"),
        NOW,
    );
    assert_eq!(
        admin.commit(&decide(false), &next).await,
        Err(StoreError::Conflict),
        "decided once"
    );
    assert_eq!(
        wallet.recharge(&ids[0]).await.unwrap().unwrap().status,
        RechargeStatus::PendingPayment
    );
    let user = new_id();
    let pending = sample_commit(&user, &format!("user#{}#D#1", new_id()), 100, 1_000);
    wallet.commit_recharge(&pending).await.unwrap();
    let event_case = ReviewCase {
        case_id: format!("{}~0123456789ab", pending.recharge.recharge_id),
        kind: shared::review::CaseKind::PaymentEvent,
        user_id: user,
        amount: 100,
        currency: "EUR".to_string(),
        score: 0,
        reasons: vec!["PROVIDER_MISMATCH".to_string()],
        status: CaseStatus::Open,
        opened_at: NOW,
        notified: false,
        decided_by: None,
        note: None,
    };
    reviews.open_case(&event_case).await.unwrap();
    assert_eq!(
        reviews.case(&event_case.case_id).await.unwrap(),
        Some(event_case.clone()),
        "the kind is kept"
    );
    let head = audit.head().await.unwrap();
    let entry = chain_after(
        &crate::test_audit_keys(),
        head.as_ref(),
        draft("review.reject"),
        NOW,
    );
    let close = AdminChange::DecideReview {
        case_id: event_case.case_id.clone(),
        releases_recharge: false,
        approve: false,
        decided_by: "admin-1".to_string(),
        note: "refunded at the provider".to_string(),
    };
    admin.commit(&close, &entry).await.unwrap();
    assert_eq!(
        reviews
            .case(&event_case.case_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CaseStatus::Rejected
    );
    assert_eq!(
        wallet
            .recharge(&pending.recharge.recharge_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RechargeStatus::PendingPayment,
        "a payment-event case changes no recharge"
    );
}

/// Received webhook events: stored once, re-deliveries seen as stored or
/// processed, forgotten after the dedupe window.
pub async fn webhook_inbox_contract(inbox: Arc<dyn shared::ports::WebhookInbox>) {
    use shared::ports::InboxOutcome;
    use shared::webhook::event::{EventKind, ProviderEvent};
    let event = |id: &str, at: i64| ProviderEvent {
        provider: "stripe".to_string(),
        event_id: id.to_string(),
        kind: EventKind::PaymentSucceeded,
        recharge_id: Some("rc_1".to_string()),
        amount: Some(2_000),
        currency: Some("EUR".to_string()),
        received_at: at,
    };
    let id = format!("evt_{}", new_id());
    assert_eq!(
        inbox.record(&event(&id, NOW), NOW + 100).await.unwrap(),
        InboxOutcome::New
    );
    assert_eq!(
        inbox.record(&event(&id, NOW + 1), NOW + 101).await.unwrap(),
        InboxOutcome::Stored
    );
    inbox.mark_processed("stripe", &id).await.unwrap();
    assert_eq!(
        inbox.record(&event(&id, NOW + 2), NOW + 102).await.unwrap(),
        InboxOutcome::Processed
    );
    assert_eq!(
        inbox.mark_processed("stripe", &new_id()).await,
        Err(StoreError::NotFound)
    );

    let raced = format!("evt_{}", new_id());
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let inbox = inbox.clone();
            let e = event(&raced, NOW);
            tokio::spawn(async move { inbox.record(&e, NOW + 100).await })
        })
        .collect();
    let mut new = 0;
    for racer in racers {
        if racer.await.unwrap().unwrap() == InboxOutcome::New {
            new += 1;
        }
    }
    assert_eq!(new, 1, "concurrent deliveries store one event");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_keeps_the_port_contract() {
        let store = Arc::new(MemoryStore::new());
        full_contract(store.clone(), store.clone(), store.clone(), store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_keeps_the_wallet_contract() {
        let store = Arc::new(MemoryStore::new());
        idempotency_contract(store.clone()).await;
        wallet_store_contract(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_keeps_the_inbox_contract() {
        webhook_inbox_contract(Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test]
    async fn memory_store_keeps_the_review_contract() {
        let store = Arc::new(MemoryStore::new());
        review_store_contract(store.clone(), store.clone(), store.clone(), store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_keeps_the_admin_contract() {
        let store = Arc::new(MemoryStore::new());
        admin_store_contract(store.clone(), store.clone(), store.clone(), store).await;
    }
}
