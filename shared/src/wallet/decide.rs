//! The recharge decision as a pure function of what was read: the age check
//! and the spending limits, the fraud score and its decision, and everything
//! the one commit that records it writes.

use std::collections::HashMap;

use serde_json::json;

use super::fraud::{self, score, Decision, FraudSignals};
use super::limits::SpendingLimits;
use super::model::{reason_codes, Recharge, RechargeStatus, WalletProfile};
use super::service::{
    recharge_id_of, stored, RechargeOutcome, RechargePolicy, RechargeRequest, RechargeView,
    WalletCaller,
};
use super::velocity::{counter_keys, CounterKey, Scope, Tally, Velocity, Window};
use crate::audit::{chain_after_head, AuditDraft, AuditEntry, AuditKeys};
use crate::auth::secrets::digest;
use crate::ports::{CounterAdd, RechargeCommit};

/// The counters one recharge reads and adds to, per window: the user's, the
/// device's and, with a payment fingerprint, the card's; and the key of the
/// device's account set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeCounters {
    pub user: [CounterKey; 3],
    pub device: [CounterKey; 3],
    pub card: Option<[CounterKey; 3]>,
    /// The device id's hash, as the profile remembers devices; it also names
    /// the device's account set.
    pub device_hash: String,
}

impl RechargeCounters {
    /// The counters of `caller` paying with `payment_fingerprint` at `now`.
    pub fn new(caller: &WalletCaller<'_>, payment_fingerprint: Option<&str>, now: i64) -> Self {
        let device_hash = digest("device", caller.device_id);
        Self {
            user: counter_keys(Scope::User, caller.user_id, now),
            device: counter_keys(Scope::Device, &device_hash, now),
            card: payment_fingerprint
                .map(|f| counter_keys(Scope::Fingerprint, &digest("card", f), now)),
            device_hash,
        }
    }

    /// Every counter key, to read in one batch.
    pub fn keys(&self) -> Vec<String> {
        self.user
            .iter()
            .chain(&self.device)
            .chain(self.card.iter().flatten())
            .map(|k| k.key.clone())
            .collect()
    }
}

/// What a recharge decision read.
#[derive(Debug, Clone, PartialEq)]
pub struct RechargeRead {
    /// The keys the counters were read under.
    pub counters: RechargeCounters,
    /// The wallet profile; a new one when none is stored yet.
    pub profile: WalletProfile,
    /// The stored profile's audit head; `None` when no profile is stored
    /// (the commit then creates it).
    pub expected_audit_seq: Option<u64>,
    /// Counter values by key; an absent counter has counted nothing yet.
    pub tallies: HashMap<String, Tally>,
    /// Accounts seen recharging from the device.
    pub device_accounts: Vec<String>,
}

impl RechargeRead {
    fn tallies_of(&self, keys: &[CounterKey; 3]) -> [Tally; 3] {
        keys.each_ref()
            .map(|k| self.tallies.get(&k.key).copied().unwrap_or_default())
    }

    fn velocity(&self) -> Velocity {
        Velocity {
            user: self.tallies_of(&self.counters.user),
            device: self.tallies_of(&self.counters.device),
            fingerprint: self
                .counters
                .card
                .as_ref()
                .map(|keys| self.tallies_of(keys))
                .unwrap_or_default(),
        }
    }
}

/// One recharge request as the decision sees it.
#[derive(Debug, Clone)]
pub struct RechargeAsk<'a> {
    pub caller: &'a WalletCaller<'a>,
    pub request: &'a RechargeRequest,
    /// The idempotency key, scoped to the caller.
    pub scoped_key: &'a str,
    /// The amount in reference minor units (what limits and velocity count).
    pub counted: i64,
    /// What a new recharge is paid against at the provider (random, drawn
    /// by the caller).
    pub provider_reference: String,
}

/// What the decision made of a recharge request.
#[derive(Debug, Clone, PartialEq)]
pub enum RechargeDecision {
    /// Refused whatever its score (age check or spending limit): nothing is
    /// written but the idempotency record.
    Refused(RechargeOutcome),
    /// Scored and decided, with the commit that records it.
    Scored(Box<ScoredRecharge>),
}

/// A decided recharge and the commit that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRecharge {
    pub decision: Decision,
    pub score: u8,
    /// Everything the decision writes, in one conditional transaction.
    pub commit: RechargeCommit,
    /// The answer once the commit lands.
    pub outcome: RechargeOutcome,
    /// Each user counter's key and the answer should the commit find it at
    /// its cap (`Window::ALL` order).
    cap_refusals: [(String, RechargeOutcome); 3],
}

impl ScoredRecharge {
    /// The answer when the commit found the user counter `key` at its cap:
    /// the age check when the age threshold was that counter's cap, else its
    /// window's limit (the day's for a key it does not know).
    pub fn refusal_at_cap(&self, key: &str) -> RechargeOutcome {
        let [first, ..] = &self.cap_refusals;
        self.cap_refusals
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or(first)
            .1
            .clone()
    }
}

/// Decides `ask` on what was `read`, under `policy` at `now`: refused by the
/// age check or a spending limit, or scored, decided and turned into the
/// commit that records it (its audit entry MACed with `audit_keys`). A
/// blocked recharge counts nowhere; a held one counts against velocity and
/// limits but not as an allowed recharge; only a held one leaves the
/// idempotency record for later.
pub fn decide(
    read: &RechargeRead,
    ask: &RechargeAsk<'_>,
    policy: &RechargePolicy,
    audit_keys: &AuditKeys,
    now: i64,
) -> RechargeDecision {
    let counted = ask.counted;
    let velocity = read.velocity();
    let limits = read
        .profile
        .limits
        .map_or(policy.default_limits, |l| l.effective(now));
    if let Some(outcome) = refusal(
        &read.profile,
        &limits,
        &velocity.user,
        counted,
        policy.age_check_above,
    ) {
        return RechargeDecision::Refused(outcome);
    }
    let caps = user_caps(&limits, &read.profile, policy.age_check_above);
    let new_device = !read.profile.devices.contains(&read.counters.device_hash);
    let fraud = score(&signals(read, ask, velocity, new_device, now));
    let decision = fraud::decide(fraud.score, policy.thresholds);
    let recharge = Recharge {
        recharge_id: recharge_id_of(ask.scoped_key),
        user_id: ask.caller.user_id.to_string(),
        amount: ask.request.amount,
        currency: ask.request.currency.clone(),
        provider: ask.request.provider.clone(),
        provider_reference: ask.provider_reference.clone(),
        status: match decision {
            Decision::Allow => RechargeStatus::PendingPayment,
            Decision::Review => RechargeStatus::PendingReview,
            Decision::Block => RechargeStatus::Blocked,
        },
        created_at: now,
        score: fraud.score,
        reasons: reason_codes(&fraud.reasons),
        decision,
        refunded: 0,
    };
    let outcome = decision_outcome(&recharge);
    let mut profile = read.profile.clone();
    let audit = audit_entry(&recharge, &profile, ask, policy, audit_keys, now);
    profile.audit_seq = audit.seq;
    profile.audit_hash = Some(audit.hash.clone());
    let counts = decision != Decision::Block;
    let mut counters = Vec::new();
    if counts {
        if new_device {
            profile.devices.push(read.counters.device_hash.clone());
        }
        if decision == Decision::Allow {
            profile.allowed_count += 1;
            profile.allowed_total = profile.allowed_total.saturating_add(counted);
        }
        counters = counter_adds(read, counted, &caps);
    }
    let cap_refusals = [0, 1, 2].map(|i| {
        let refusal = if caps[i].is_age_threshold {
            RechargeOutcome::AgeCheckRequired
        } else {
            RechargeOutcome::LimitExceeded {
                window: Window::ALL[i],
            }
        };
        (read.counters.user[i].key.clone(), refusal)
    });
    let commit = RechargeCommit {
        recharge,
        profile,
        expected_audit_seq: read.expected_audit_seq,
        audit,
        counters,
        device_account: counts.then(|| {
            (
                read.counters.device_hash.clone(),
                ask.caller.user_id.to_string(),
            )
        }),
        idempotency: (decision != Decision::Review)
            .then(|| (ask.scoped_key.to_string(), stored(&outcome))),
    };
    RechargeDecision::Scored(Box::new(ScoredRecharge {
        decision,
        score: fraud.score,
        commit,
        outcome,
        cap_refusals,
    }))
}

/// The outcome of a decided recharge.
pub(super) fn decision_outcome(recharge: &Recharge) -> RechargeOutcome {
    match recharge.status {
        RechargeStatus::Blocked => RechargeOutcome::Blocked,
        RechargeStatus::PendingReview => RechargeOutcome::HeldForReview {
            recharge_id: recharge.recharge_id.clone(),
            status: recharge.status,
        },
        _ => RechargeOutcome::Created {
            recharge: RechargeView::from(recharge),
        },
    }
}

/// Why a recharge of `counted` may not go ahead whatever its score: it would
/// carry an account not age-verified past the age threshold (in any window,
/// or over its allowed recharges), or the user past a window's limit.
fn refusal(
    profile: &WalletProfile,
    limits: &SpendingLimits,
    used: &[Tally; 3],
    counted: i64,
    age_check_above: i64,
) -> Option<RechargeOutcome> {
    let over = |total: i64, bound: i64| total.saturating_add(counted) > bound;
    let over_age_threshold = !profile.age_verified
        && (used.iter().any(|w| over(w.amount, age_check_above))
            || over(profile.allowed_total, age_check_above));
    if over_age_threshold {
        return Some(RechargeOutcome::AgeCheckRequired);
    }
    Window::ALL
        .iter()
        .zip(limits.as_array())
        .zip(used)
        .find(|((_, limit), used)| over(used.amount, *limit))
        .map(|((window, _), _)| RechargeOutcome::LimitExceeded { window: *window })
}

/// What the fraud score looks at.
fn signals(
    read: &RechargeRead,
    ask: &RechargeAsk<'_>,
    velocity: Velocity,
    new_device: bool,
    now: i64,
) -> FraudSignals {
    let listed = read.device_accounts.iter().any(|u| u == ask.caller.user_id);
    let profile = &read.profile;
    FraudSignals {
        amount: ask.counted,
        velocity,
        new_device,
        device_accounts: read.device_accounts.len() as u32 + u32::from(!listed),
        account_age_days: (now - profile.account_created_at).max(0) / 86_400,
        kyc_verified: profile.age_verified,
        past_count: profile.allowed_count,
        past_total: profile.allowed_total,
        ip_country: ask.caller.ip_country.map(str::to_string),
        account_country: profile.country.clone(),
    }
}

/// The decision's entry in the account's audit chain, after `profile`'s head.
fn audit_entry(
    recharge: &Recharge,
    profile: &WalletProfile,
    ask: &RechargeAsk<'_>,
    policy: &RechargePolicy,
    audit_keys: &AuditKeys,
    now: i64,
) -> AuditEntry {
    let decision = serde_json::to_value(recharge.decision)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let draft = AuditDraft {
        actor: ask.caller.user_id.to_string(),
        ip: None,
        action: format!("recharge.{decision}"),
        target: format!("recharge:{}", recharge.recharge_id),
        before: None,
        after: Some(json!({
            "amount": recharge.amount,
            "currency": recharge.currency,
            "counted": ask.counted,
            "counted_in": policy.reference_currency,
            "score": recharge.score,
            "reasons": recharge.reasons,
        })),
    };
    chain_after_head(audit_keys, profile.audit_head(), draft, now)
}

/// The adds to every counter: the user's capped (so a stale read cannot
/// carry a recharge past a cap), the device's and card's day counters held
/// to the count that was scored.
fn counter_adds(read: &RechargeRead, counted: i64, caps: &[UserCap; 3]) -> Vec<CounterAdd> {
    let user = read
        .counters
        .user
        .iter()
        .zip(caps)
        .map(|(key, cap)| CounterAdd {
            key: key.key.clone(),
            amount: counted,
            expires_at: key.expires_at,
            cap: Some(cap.amount),
            expected_count: None,
        });
    let scored = read
        .counters
        .device
        .iter()
        .chain(read.counters.card.iter().flatten())
        .map(|key| CounterAdd {
            key: key.key.clone(),
            amount: counted,
            expires_at: key.expires_at,
            cap: None,
            expected_count: (key.window == Window::Day)
                .then(|| read.tallies.get(&key.key).map_or(0, |t| t.count)),
        });
    user.chain(scored).collect()
}

/// The most one window's user counter may hold after a commit, and whether
/// that is the age threshold (tighter than the limit) rather than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UserCap {
    amount: i64,
    is_age_threshold: bool,
}

/// Each window's cap, enforced by the commit itself: the spending limit, or
/// for an account not age-verified the age threshold when it is lower.
fn user_caps(limits: &SpendingLimits, profile: &WalletProfile, age_threshold: i64) -> [UserCap; 3] {
    limits.as_array().map(|limit| {
        let is_age_threshold = !profile.age_verified && age_threshold < limit;
        UserCap {
            amount: if is_age_threshold {
                age_threshold
            } else {
                limit
            },
            is_age_threshold,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS_HASH;
    use crate::ids::{DeviceId, SessionId, UserId};
    use crate::wallet::fraud::Thresholds;
    use crate::wallet::limits::{LimitsState, PendingLimits};
    use crate::wallet::money::Currency;
    use crate::wallet::reference::ReferenceRate;
    use crate::wallet::service::{recharge_id_for, CurrencyBounds};
    use std::sync::LazyLock;

    const DAY: i64 = 86_400;
    const NOW: i64 = 400 * DAY + 3_600;
    const LIMITS: SpendingLimits = SpendingLimits {
        daily: 1_000,
        weekly: 5_000,
        monthly: 10_000,
    };
    const AGE_CHECK_ABOVE: i64 = 2_500;
    static USER: LazyLock<UserId> = LazyLock::new(|| UserId::issued("u1"));
    static DEVICE: LazyLock<DeviceId> = LazyLock::new(|| DeviceId::issued("phone"));
    static SESSION: LazyLock<SessionId> = LazyLock::new(|| SessionId::issued("s1"));
    static CALLER: LazyLock<WalletCaller<'static>> = LazyLock::new(|| WalletCaller {
        user_id: &USER,
        session_id: &SESSION,
        device_id: &DEVICE,
        ip_country: Some("FR"),
    });

    fn policy() -> RechargePolicy {
        RechargePolicy {
            bounds: vec![CurrencyBounds {
                currency: Currency::parse("EUR").unwrap(),
                min: 1,
                max: 100_000,
                rate: ReferenceRate::ONE,
            }],
            reference_currency: "EUR".into(),
            providers: vec!["stripe".into()],
            default_limits: LIMITS,
            age_check_above: AGE_CHECK_ABOVE,
            thresholds: Thresholds::default(),
        }
    }

    fn audit_keys() -> AuditKeys {
        AuditKeys::new("k1", vec![("k1".into(), vec![7; 32])]).unwrap()
    }

    /// An established, age-verified French account on its usual device,
    /// nothing counted yet in any window.
    fn calm() -> RechargeRead {
        let counters = RechargeCounters::new(&CALLER, None, NOW);
        let mut profile = WalletProfile::new("u1", NOW - 400 * DAY);
        profile.age_verified = true;
        profile.country = Some("FR".into());
        profile.devices = vec![counters.device_hash.clone()];
        profile.allowed_count = 4;
        profile.allowed_total = 2_000;
        RechargeRead {
            counters,
            profile,
            expected_audit_seq: Some(0),
            tallies: HashMap::new(),
            device_accounts: vec!["u1".into()],
        }
    }

    fn unverified() -> RechargeRead {
        let mut read = calm();
        read.profile.age_verified = false;
        read.profile.allowed_count = 0;
        read.profile.allowed_total = 0;
        read
    }

    /// `read` with `count` recharges of `amount` already under one counter.
    fn with_tally(
        mut read: RechargeRead,
        key: impl Fn(&RechargeCounters) -> &CounterKey,
        count: u32,
        amount: i64,
    ) -> RechargeRead {
        let key = key(&read.counters).key.clone();
        read.tallies.insert(key, Tally { count, amount });
        read
    }

    /// Decides a EUR recharge of `counted` (at rate one) on `read`.
    fn decide_on(read: &RechargeRead, counted: i64) -> RechargeDecision {
        decide_paid(read, counted, counted)
    }

    fn decide_paid(read: &RechargeRead, amount: i64, counted: i64) -> RechargeDecision {
        let request = RechargeRequest {
            amount,
            currency: "EUR".into(),
            provider: "stripe".into(),
            payment_fingerprint: None,
        };
        let ask = RechargeAsk {
            caller: &CALLER,
            request: &request,
            scoped_key: "u1#key-1",
            counted,
            provider_reference: "pay_x".into(),
        };
        decide(read, &ask, &policy(), &audit_keys(), NOW)
    }

    fn scored(decision: RechargeDecision) -> ScoredRecharge {
        match decision {
            RechargeDecision::Scored(scored) => *scored,
            RechargeDecision::Refused(outcome) => panic!("refused: {outcome:?}"),
        }
    }

    fn codes(scored: &ScoredRecharge) -> Vec<&str> {
        scored
            .commit
            .recharge
            .reasons
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn an_allowed_recharge_commits_all_it_counts() {
        let read = calm();
        let s = scored(decide_on(&read, 300));
        assert_eq!((s.decision, s.score), (Decision::Allow, 0));
        let c = &s.commit;
        assert_eq!(c.recharge.recharge_id, recharge_id_for("u1", "key-1"));
        assert_eq!(c.recharge.status, RechargeStatus::PendingPayment);
        assert_eq!(
            (
                c.recharge.provider_reference.as_str(),
                c.recharge.created_at
            ),
            ("pay_x", NOW)
        );
        assert_eq!(
            s.outcome,
            RechargeOutcome::Created {
                recharge: RechargeView::from(&c.recharge)
            }
        );
        assert_eq!(
            (c.profile.allowed_count, c.profile.allowed_total),
            (5, 2_300)
        );
        assert_eq!(c.profile.devices, read.profile.devices, "a known device");
        let caps: Vec<_> = c.counters.iter().map(|a| a.cap).collect();
        let expected: Vec<_> = c.counters.iter().map(|a| a.expected_count).collect();
        assert_eq!(
            caps,
            [Some(1_000), Some(5_000), Some(10_000), None, None, None]
        );
        assert_eq!(expected, [None, None, None, Some(0), None, None]);
        assert!(c.counters.iter().all(|a| a.amount == 300));
        assert_eq!(
            c.device_account,
            Some((read.counters.device_hash.clone(), "u1".into()))
        );
        assert_eq!(c.idempotency, Some(("u1#key-1".into(), stored(&s.outcome))));
        assert_eq!(c.audit.action, "recharge.allow");
        assert_eq!(c.profile.audit_seq, c.audit.seq);
        assert_eq!(c.profile.audit_hash.as_deref(), Some(c.audit.hash.as_str()));
    }

    #[test]
    fn each_window_limit_holds_to_the_unit() {
        for (i, window) in Window::ALL.into_iter().enumerate() {
            let limit = LIMITS.as_array()[i];
            let read = with_tally(calm(), |c| &c.user[i], 1, limit - 300);
            assert!(matches!(decide_on(&read, 300), RechargeDecision::Scored(_)));
            assert_eq!(
                decide_on(&read, 301),
                RechargeDecision::Refused(RechargeOutcome::LimitExceeded { window }),
                "{window:?}"
            );
        }
    }

    #[test]
    fn limits_count_the_reference_amount_not_the_paid_one() {
        let s = scored(decide_paid(&calm(), 900, 1_000));
        assert_eq!(s.commit.recharge.amount, 900);
        assert!(s.commit.counters.iter().all(|a| a.amount == 1_000));
        assert_eq!(s.commit.profile.allowed_total, 3_000);
        assert_eq!(
            decide_paid(&calm(), 900, 1_001),
            RechargeDecision::Refused(RechargeOutcome::LimitExceeded {
                window: Window::Day
            })
        );
    }

    #[test]
    fn a_raised_limit_applies_from_its_second() {
        let raise_at = |effective_at| {
            let mut read = calm();
            read.profile.limits = Some(LimitsState {
                current: SpendingLimits {
                    daily: 500,
                    ..LIMITS
                },
                pending: Some(PendingLimits {
                    limits: LIMITS,
                    effective_at,
                }),
            });
            decide_on(&read, 800)
        };
        assert!(matches!(raise_at(NOW), RechargeDecision::Scored(_)));
        assert_eq!(
            raise_at(NOW + 1),
            RechargeDecision::Refused(RechargeOutcome::LimitExceeded {
                window: Window::Day
            })
        );
    }

    #[test]
    fn an_unverified_account_may_reach_the_age_threshold_but_not_pass_it() {
        let month = with_tally(unverified(), |c| &c.user[2], 3, 2_000);
        assert!(matches!(
            decide_on(&month, 500),
            RechargeDecision::Scored(_)
        ));
        assert_eq!(
            decide_on(&month, 501),
            RechargeDecision::Refused(RechargeOutcome::AgeCheckRequired)
        );
        let mut lifetime = unverified();
        lifetime.profile.allowed_total = 2_400;
        assert!(matches!(
            decide_on(&lifetime, 100),
            RechargeDecision::Scored(_)
        ));
        assert_eq!(
            decide_on(&lifetime, 101),
            RechargeDecision::Refused(RechargeOutcome::AgeCheckRequired),
            "allowed recharges count even when every window is empty"
        );
    }

    #[test]
    fn the_age_check_comes_before_the_limit_and_spares_verified_accounts() {
        let day = with_tally(unverified(), |c| &c.user[0], 1, 900);
        assert_eq!(
            decide_on(&day, 2_000),
            RechargeDecision::Refused(RechargeOutcome::AgeCheckRequired)
        );
        let verified = with_tally(calm(), |c| &c.user[2], 3, 9_000);
        assert!(matches!(
            decide_on(&verified, 1_000),
            RechargeDecision::Scored(_)
        ));
    }

    #[test]
    fn the_commit_caps_each_window_at_the_tighter_bound() {
        let s = scored(decide_on(&unverified(), 100));
        let caps: Vec<_> = s.commit.counters[..3].iter().map(|a| a.cap).collect();
        assert_eq!(caps, [Some(1_000), Some(2_500), Some(2_500)]);
        let [day, week, month] = s.commit.counters[..3]
            .iter()
            .map(|a| a.key.clone())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        assert_eq!(
            s.refusal_at_cap(&day),
            RechargeOutcome::LimitExceeded {
                window: Window::Day
            }
        );
        assert_eq!(s.refusal_at_cap(&week), RechargeOutcome::AgeCheckRequired);
        assert_eq!(s.refusal_at_cap(&month), RechargeOutcome::AgeCheckRequired);
        assert_eq!(
            s.refusal_at_cap("user#other"),
            RechargeOutcome::LimitExceeded {
                window: Window::Day
            }
        );
        let verified = scored(decide_on(&calm(), 100));
        assert_eq!(
            verified.refusal_at_cap(&month),
            RechargeOutcome::LimitExceeded {
                window: Window::Month
            }
        );
    }

    /// Decides 300 on a shared device (30 points) changed by `edit`.
    fn on_shared_device(edit: impl Fn(&mut RechargeRead)) -> ScoredRecharge {
        let mut read = calm();
        read.device_accounts = vec!["a".into(), "b".into()];
        edit(&mut read);
        scored(decide_on(&read, 300))
    }

    fn new_device(read: &mut RechargeRead) {
        read.profile.devices.clear();
    }

    fn abroad(read: &mut RechargeRead) {
        read.profile.country = Some("DE".into());
    }

    fn five_today(read: &mut RechargeRead) {
        let key = read.counters.user[0].key.clone();
        read.tallies.insert(
            key,
            Tally {
                count: 5,
                amount: 0,
            },
        );
    }

    #[test]
    fn sixty_points_are_allowed() {
        let s = on_shared_device(|r| {
            new_device(r);
            r.profile.account_created_at = NOW - 6 * DAY;
        });
        assert_eq!((s.score, s.decision), (60, Decision::Allow));
        assert_eq!(codes(&s), ["NEW_DEVICE", "SHARED_DEVICE", "NEW_ACCOUNT"]);
    }

    #[test]
    fn a_recharge_held_at_the_review_threshold_counts_but_waits() {
        let s = on_shared_device(|r| {
            new_device(r);
            abroad(r);
        });
        assert_eq!((s.score, s.decision), (65, Decision::Review));
        let c = &s.commit;
        assert_eq!(
            s.outcome,
            RechargeOutcome::HeldForReview {
                recharge_id: c.recharge.recharge_id.clone(),
                status: RechargeStatus::PendingReview
            }
        );
        assert_eq!(c.idempotency, None, "completed once the review is queued");
        assert_eq!(c.counters.len(), 6, "it counts against limits and velocity");
        assert_eq!(c.profile.devices, [calm().counters.device_hash]);
        assert_eq!(
            (c.profile.allowed_count, c.profile.allowed_total),
            (4, 2_000)
        );
        assert!(c.device_account.is_some());
        assert_eq!(c.audit.action, "recharge.review");
    }

    #[test]
    fn seventy_five_points_block() {
        let s = on_shared_device(|r| {
            five_today(r);
            abroad(r);
        });
        assert_eq!((s.score, s.decision), (75, Decision::Block));
    }

    #[test]
    fn a_blocked_recharge_counts_nowhere() {
        let s = on_shared_device(|r| {
            new_device(r);
            five_today(r);
            abroad(r);
        });
        assert_eq!(s.decision, Decision::Block);
        let c = &s.commit;
        assert_eq!(s.outcome, RechargeOutcome::Blocked);
        assert_eq!(c.recharge.status, RechargeStatus::Blocked);
        assert!(c.counters.is_empty());
        assert_eq!(c.device_account, None);
        assert!(
            c.profile.devices.is_empty(),
            "a blocked device is not remembered"
        );
        assert_eq!(
            (c.profile.allowed_count, c.profile.allowed_total),
            (4, 2_000)
        );
        assert_eq!(
            c.idempotency,
            Some(("u1#key-1".into(), stored(&RechargeOutcome::Blocked)))
        );
        assert_eq!(c.audit.action, "recharge.block");
    }

    #[test]
    fn the_caller_counts_once_among_the_devices_accounts() {
        let mut read = calm();
        read.device_accounts = vec!["a".into(), "u1".into()];
        assert_eq!(scored(decide_on(&read, 300)).score, 0);
        read.device_accounts = vec!["a".into(), "b".into()];
        assert_eq!(codes(&scored(decide_on(&read, 300))), ["SHARED_DEVICE"]);
    }

    #[test]
    fn device_and_card_velocity_come_from_their_day_counters() {
        let mut read = calm();
        read.counters = RechargeCounters::new(&CALLER, Some("card-0001"), NOW);
        read.profile.devices = vec![read.counters.device_hash.clone()];
        let quiet = with_tally(read.clone(), |c| &c.device[0], 4, 0);
        let quiet = with_tally(quiet, |c| &c.card.as_ref().unwrap()[0], 4, 0);
        let s = scored(decide_on(&quiet, 300));
        assert_eq!(s.score, 0);
        let expected: Vec<_> = s.commit.counters.iter().map(|a| a.expected_count).collect();
        assert_eq!(
            expected,
            [None, None, None, Some(4), None, None, Some(4), None, None],
            "the scored day counts must still hold at commit"
        );
        let busy = with_tally(read.clone(), |c| &c.device[0], 5, 0);
        let busy = with_tally(busy, |c| &c.card.as_ref().unwrap()[0], 5, 0);
        assert_eq!(
            codes(&scored(decide_on(&busy, 300))),
            ["DEVICE_VELOCITY", "CARD_VELOCITY"]
        );
        let weekly = with_tally(read, |c| &c.device[1], 50, 0);
        assert_eq!(scored(decide_on(&weekly, 300)).score, 0);
    }

    #[test]
    fn yesterdays_counters_do_not_count_today() {
        let yesterday = RechargeCounters::new(&CALLER, None, NOW - DAY);
        let mut read = calm();
        read.tallies.insert(
            yesterday.user[0].key.clone(),
            Tally {
                count: 9,
                amount: 1_000,
            },
        );
        let s = scored(decide_on(&read, 1_000));
        assert_eq!(s.score, 0);
        let read = with_tally(calm(), |c| &c.user[0], 5, 0);
        assert_eq!(codes(&scored(decide_on(&read, 100))), ["HIGH_VELOCITY"]);
    }

    #[test]
    fn a_first_recharge_creates_the_profile_and_starts_its_chain() {
        let mut read = calm();
        read.profile = WalletProfile::new("u1", NOW - 400 * DAY);
        read.profile.age_verified = true;
        read.expected_audit_seq = None;
        let s = scored(decide_on(&read, 100));
        assert_eq!(s.commit.expected_audit_seq, None);
        assert_eq!(
            (s.commit.audit.seq, s.commit.audit.prev_hash.as_str()),
            (1, GENESIS_HASH)
        );
        assert_eq!(
            s.commit.profile.devices,
            [read.counters.device_hash.clone()]
        );
    }

    #[test]
    fn a_decision_continues_the_accounts_chain() {
        let mut read = calm();
        read.profile.audit_seq = 7;
        read.profile.audit_hash = Some("h7".into());
        read.expected_audit_seq = Some(7);
        let s = scored(decide_on(&read, 100));
        assert_eq!(s.commit.expected_audit_seq, Some(7));
        assert_eq!(
            (s.commit.audit.seq, s.commit.audit.prev_hash.as_str()),
            (8, "h7")
        );
        assert_eq!(s.commit.audit.at, NOW);
    }
}
