//! Starting a recharge: strict input, kill switch and idempotency, then
//! read, decide ([`super::decide`]) and one atomic commit with its audit
//! entry, again on a conflict.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::decide::{
    decide, decision_outcome, RechargeAsk, RechargeCounters, RechargeDecision, RechargeRead,
};
use super::fraud::{Decision, Thresholds};
use super::limits::{LimitsState, SpendingLimits};
use super::model::{Recharge, RechargeStatus, WalletProfile};
use super::money::{Currency, Money};
use super::reference::ReferenceRate;
use super::velocity::Window;
use crate::audit::{chain_after_head, AuditDraft};
use crate::auth::liveness::{session_standing, verified_standing, SessionCheck, SessionOf};
use crate::auth::mfa::fresh_second_factor;
use crate::auth::model::AccountStanding;
use crate::auth::secrets::{digest, random_bytes};
use crate::auth::{AuthError, Principal};
use crate::clock::Clock;
use crate::flags::{FeatureGuard, FeatureUnavailable};
use crate::ids::{DeviceId, IdempotencyKey, SessionId, UserId};
use crate::ports::{
    CommitOutcome, IdempotencyBegin, IdempotencyStore, ReviewQueue, SessionLiveness, StoreError,
    UserStore, WalletStore,
};
use crate::validation::FieldIssue;

/// How long an in-progress idempotency claim blocks retries (a crashed
/// invocation's claim expires after this).
pub const IDEMPOTENCY_LOCK_SECONDS: i64 = 60;
/// How long an idempotency record is kept.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;
/// Kill-switch flag guarding recharges.
pub const RECHARGE_FEATURE: &str = "recharge";
const COMMIT_ATTEMPTS: usize = 5;

/// Per-currency bounds on one recharge, in minor units, and the currency's
/// rate to the reference currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyBounds {
    pub currency: Currency,
    pub min: i64,
    pub max: i64,
    pub rate: ReferenceRate,
}

/// The configurable numbers of the recharge rules. Limits, velocity and the
/// age threshold are in minor units of `reference_currency`.
#[derive(Debug, Clone)]
pub struct RechargePolicy {
    pub bounds: Vec<CurrencyBounds>,
    pub reference_currency: String,
    pub providers: Vec<String>,
    pub default_limits: SpendingLimits,
    /// Above this total, new amount included, in any counting window (day,
    /// week or 30 days) or over the account's allowed recharges, an account
    /// must be age-verified.
    pub age_check_above: i64,
    pub thresholds: Thresholds,
}

impl RechargePolicy {
    /// `money` in reference minor units (rounded up), or `None` for an
    /// unsupported currency or an amount that does not fit.
    pub fn reference_amount(&self, money: Money) -> Option<i64> {
        self.bounds
            .iter()
            .find(|b| b.currency == money.currency())
            .and_then(|b| b.rate.to_reference(money.minor()))
    }
}

/// The body of `POST /v1/wallet/recharge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RechargeRequest {
    /// Integer minor units (cents).
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    #[serde(default)]
    pub payment_fingerprint: Option<String>,
}

impl RechargeRequest {
    /// The amount asked for, if the currency is a currency code.
    pub fn money(&self) -> Option<Money> {
        Currency::parse(&self.currency).map(|currency| Money::new(self.amount, currency))
    }
}

/// The caller of a wallet route.
#[derive(Debug, Clone)]
pub struct WalletCaller<'a> {
    pub user_id: &'a UserId,
    /// The session the caller's token names; it must still stand.
    pub session_id: &'a SessionId,
    pub device_id: &'a DeviceId,
    pub ip_country: Option<&'a str>,
}

impl WalletCaller<'_> {
    /// The session the caller's token names.
    pub fn session_of(&self) -> SessionOf<'_> {
        SessionOf {
            user_id: self.user_id,
            session_id: self.session_id,
        }
    }
}

/// What a recharge request came to. It is what the idempotency record
/// keeps, so a replay is rendered afresh (with the asking request's own id);
/// the edge maps each outcome to its status and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RechargeOutcome {
    /// Accepted: waiting for its payment (or, on a replay, further along).
    Created { recharge: RechargeView },
    /// Held for a reviewer.
    HeldForReview {
        recharge_id: String,
        status: RechargeStatus,
    },
    /// Refused by the fraud score.
    Blocked,
    /// It would pass the caller's spending limit in `window`.
    LimitExceeded { window: Window },
    /// It would pass what an account not age-verified may recharge.
    AgeCheckRequired,
}

/// A recharge's outcome, and whether it replays an earlier request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeReply {
    pub outcome: RechargeOutcome,
    pub replayed: bool,
}

impl RechargeReply {
    fn fresh(outcome: RechargeOutcome) -> Self {
        Self {
            outcome,
            replayed: false,
        }
    }
}

/// Why a wallet request was refused before a decision could be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("invalid input")]
    Invalid(Vec<FieldIssue>),
    #[error("idempotency key reused with another request")]
    KeyReused,
    #[error("idempotent request in progress")]
    InProgress,
    #[error("feature off")]
    FeatureOff(#[from] FeatureUnavailable),
    /// The caller's session no longer stands, or the address is unverified.
    #[error("session refused")]
    Session(#[from] crate::auth::AuthError),
    #[error("not found")]
    NotFound,
    #[error("busy")]
    Busy,
    #[error("dependency unavailable")]
    Unavailable,
}

impl From<StoreError> for WalletError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "wallet store call failed");
        WalletError::Unavailable
    }
}

/// A recharge as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RechargeView {
    pub recharge_id: String,
    pub status: RechargeStatus,
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_reference: Option<String>,
    pub created_at: i64,
}

impl From<&Recharge> for RechargeView {
    fn from(r: &Recharge) -> Self {
        let payable = r.status == RechargeStatus::PendingPayment;
        Self {
            recharge_id: r.recharge_id.clone(),
            status: r.status,
            amount: r.amount,
            currency: r.currency.clone(),
            provider: r.provider.clone(),
            provider_reference: payable.then(|| r.provider_reference.clone()),
            created_at: r.created_at,
        }
    }
}

/// `GET /v1/wallet`: balances, newest ledger entries, limits in force.
#[derive(Debug, Clone, Serialize)]
pub struct WalletView {
    pub balances: std::collections::BTreeMap<String, i64>,
    pub entries: Vec<super::model::LedgerEntry>,
    pub limits: SpendingLimits,
    /// The currency limits are counted in (every recharge counts, converted).
    pub limits_currency: String,
}

/// Limits as the user sees them.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsView {
    pub current: SpendingLimits,
    /// The currency limits are counted in.
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<super::limits::PendingLimits>,
}

/// The ports the wallet flows use.
#[derive(Clone)]
pub struct WalletPorts {
    pub wallet: Arc<dyn WalletStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub users: Arc<dyn UserStore>,
    pub reviews: Arc<dyn ReviewQueue>,
    /// Sessions and account standings, for routes that read nothing else.
    pub liveness: Arc<dyn SessionLiveness>,
    /// Signs the audit entries of recharges and limit changes.
    pub audit_keys: Arc<crate::audit::AuditKeys>,
}

/// The id of the recharge made under `idempotency_key` by `user_id`, so a
/// retried request can never make a second one.
pub fn recharge_id_for(user_id: &str, idempotency_key: &str) -> String {
    recharge_id_of(&format!("{user_id}#{idempotency_key}"))
}

/// The id of the recharge made under the caller-scoped idempotency key.
pub(super) fn recharge_id_of(scoped_key: &str) -> String {
    format!("rc_{}", &digest("recharge-id", scoped_key)[..24])
}

/// The wallet flows over their ports.
pub struct WalletService {
    ports: WalletPorts,
    guard: FeatureGuard,
    policy: RechargePolicy,
    clock: Arc<dyn Clock>,
}

enum Outcome {
    Reply(RechargeReply),
    Retry,
}

impl WalletService {
    pub fn new(
        ports: WalletPorts,
        guard: FeatureGuard,
        policy: RechargePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ports,
            guard,
            policy,
            clock,
        }
    }

    /// Checks sessions for routes that read nothing else in the same request.
    fn session_check(&self) -> SessionCheck {
        SessionCheck::new(self.ports.liveness.clone(), self.clock.clone())
    }

    /// Starts a recharge, or replays the stored answer for a repeated key.
    pub async fn recharge(
        &self,
        caller: &WalletCaller<'_>,
        key: &IdempotencyKey,
        request: &RechargeRequest,
    ) -> Result<RechargeReply, WalletError> {
        self.check_request(request)?;
        self.guard.require(RECHARGE_FEATURE).await?;
        let now = self.clock.now();
        let scoped_key = format!("{}#{key}", caller.user_id);
        let fingerprint = digest(
            "recharge-request",
            &serde_json::to_string(request).unwrap_or_default(),
        );
        match self
            .ports
            .idempotency
            .begin(
                &scoped_key,
                &fingerprint,
                now,
                now + IDEMPOTENCY_LOCK_SECONDS,
                now + IDEMPOTENCY_TTL_SECONDS,
            )
            .await?
        {
            IdempotencyBegin::Started => {}
            IdempotencyBegin::Replay { outcome } => {
                self.session_check().verified(&caller.session_of()).await?;
                let outcome = serde_json::from_str(&outcome).map_err(|err| {
                    tracing::error!(error = %err, "stored recharge outcome unreadable");
                    WalletError::Unavailable
                })?;
                return Ok(RechargeReply {
                    outcome,
                    replayed: true,
                });
            }
            IdempotencyBegin::Mismatch => {
                self.session_check().verified(&caller.session_of()).await?;
                return Err(WalletError::KeyReused);
            }
            IdempotencyBegin::InProgress => {
                self.session_check().verified(&caller.session_of()).await?;
                return Err(WalletError::InProgress);
            }
        }
        let result = self
            .decide_and_commit(caller, &scoped_key, request, now)
            .await;
        if result.is_err() {
            if let Err(err) = self.ports.idempotency.release(&scoped_key).await {
                tracing::warn!(error = %err, "idempotency claim not released; it expires by itself");
            }
        }
        result
    }

    async fn decide_and_commit(
        &self,
        caller: &WalletCaller<'_>,
        scoped_key: &str,
        request: &RechargeRequest,
        now: i64,
    ) -> Result<RechargeReply, WalletError> {
        for attempt in 0..COMMIT_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(random_bytes::<1>()[0] % 40) + 10;
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            match self.try_decide(caller, scoped_key, request, now).await? {
                Outcome::Reply(reply) => return Ok(reply),
                Outcome::Retry => continue,
            }
        }
        Err(WalletError::Busy)
    }

    /// One round of read, decide and commit; `Retry` when the commit lost a
    /// race with another decision for this user.
    async fn try_decide(
        &self,
        caller: &WalletCaller<'_>,
        scoped_key: &str,
        request: &RechargeRequest,
        now: i64,
    ) -> Result<Outcome, WalletError> {
        let counted = request
            .money()
            .and_then(|money| self.policy.reference_amount(money))
            .ok_or_else(|| {
                tracing::error!(
                    currency = %request.currency,
                    "amount not convertible to the reference currency; the policy's bounds are checked at cold start"
                );
                WalletError::Unavailable
            })?;
        let counters = RechargeCounters::new(caller, request.payment_fingerprint.as_deref(), now);
        let read = self.read(caller, counters).await?;
        let ask = RechargeAsk {
            caller,
            request,
            scoped_key,
            counted,
            provider_reference: format!("pay_{}", hex::encode(random_bytes::<16>())),
        };
        let scored = match decide(&read, &ask, &self.policy, &self.ports.audit_keys, now) {
            RechargeDecision::Refused(outcome) => return self.refuse(scoped_key, outcome).await,
            RechargeDecision::Scored(scored) => scored,
        };
        let recharge_id = &scored.commit.recharge.recharge_id;
        let outcome = match self.ports.wallet.commit_recharge(&scored.commit).await? {
            CommitOutcome::Committed => {
                match scored.decision {
                    Decision::Block => {
                        crate::metrics::count(crate::metrics::Event::RechargeBlocked)
                    }
                    Decision::Review => crate::metrics::count(crate::metrics::Event::RechargeHeld),
                    Decision::Allow => {}
                }
                tracing::info!(recharge_id = %recharge_id, decision = ?scored.decision, score = scored.score, "recharge decided");
                scored.outcome.clone()
            }
            CommitOutcome::Conflict => return Ok(Outcome::Retry),
            CommitOutcome::CapExceeded(key) => {
                return self.refuse(scoped_key, scored.refusal_at_cap(&key)).await
            }
            CommitOutcome::Duplicate => {
                let existing = self
                    .ports
                    .wallet
                    .recharge(recharge_id)
                    .await?
                    .ok_or(WalletError::Unavailable)?;
                decision_outcome(&existing)
            }
        };
        let held = matches!(outcome, RechargeOutcome::HeldForReview { .. });
        if held {
            self.ports
                .reviews
                .enqueue_review(recharge_id, caller.user_id)
                .await?;
        }
        if held || scored.commit.idempotency.is_none() {
            self.ports
                .idempotency
                .complete(scoped_key, &stored(&outcome))
                .await?;
        }
        Ok(Outcome::Reply(RechargeReply::fresh(outcome)))
    }

    /// What a recharge decision reads, in one batch: the profile (a new one
    /// for an account that never recharged), the counters and the device's
    /// account set.
    async fn read(
        &self,
        caller: &WalletCaller<'_>,
        counters: RechargeCounters,
    ) -> Result<RechargeRead, WalletError> {
        let readings = self
            .ports
            .wallet
            .readings(
                caller.user_id,
                caller.session_id,
                &counters.keys(),
                &counters.device_hash,
            )
            .await?;
        verified_standing(
            &caller.session_of(),
            readings.session.as_ref(),
            readings.standing.as_ref(),
            self.clock.now(),
        )?;
        let user_id: &str = caller.user_id;
        let expected_audit_seq = readings.profile.as_ref().map(|p| p.audit_seq);
        let profile = match readings.profile {
            Some(profile) => profile,
            None => {
                let user = self
                    .ports
                    .users
                    .user_by_id(user_id)
                    .await?
                    .ok_or(WalletError::NotFound)?;
                WalletProfile::new(user_id, user.created_at)
            }
        };
        Ok(RechargeRead {
            counters,
            profile,
            expected_audit_seq,
            tallies: readings.counters,
            device_accounts: readings.device_accounts,
        })
    }

    /// Answers a refusal, completing the idempotency record with it.
    async fn refuse(
        &self,
        scoped_key: &str,
        outcome: RechargeOutcome,
    ) -> Result<Outcome, WalletError> {
        self.ports
            .idempotency
            .complete(scoped_key, &stored(&outcome))
            .await?;
        Ok(Outcome::Reply(RechargeReply::fresh(outcome)))
    }

    /// The caller's balances, newest ledger entries and limits in force.
    pub async fn wallet_view(&self, principal: &Principal) -> Result<WalletView, WalletError> {
        let readings = self
            .ports
            .wallet
            .readings(&principal.sub, &principal.sid, &[], "")
            .await?;
        let now = self.clock.now();
        session_standing(
            &principal.into(),
            readings.session.as_ref(),
            readings.standing.as_ref(),
            now,
        )?;
        let profile = readings.profile;
        let limits = profile
            .as_ref()
            .and_then(|p| p.limits)
            .map_or(self.policy.default_limits, |l| l.effective(now));
        Ok(match profile {
            Some(p) => WalletView {
                balances: p.balances,
                entries: p.recent_entries,
                limits,
                limits_currency: self.policy.reference_currency.clone(),
            },
            None => WalletView {
                balances: Default::default(),
                entries: Vec::new(),
                limits,
                limits_currency: self.policy.reference_currency.clone(),
            },
        })
    }

    /// The caller's own recharge.
    pub async fn recharge_view(
        &self,
        principal: &Principal,
        recharge_id: &str,
    ) -> Result<RechargeView, WalletError> {
        self.session_check().live(&principal.into()).await?;
        match self.ports.wallet.recharge(recharge_id).await? {
            Some(r) if r.user_id == *principal.sub => Ok(RechargeView::from(&r)),
            _ => Err(WalletError::NotFound),
        }
    }

    /// Sets the caller's spending limits: lower at once, higher after 24 h.
    pub async fn set_limits(
        &self,
        principal: &Principal,
        wanted: SpendingLimits,
    ) -> Result<LimitsView, WalletError> {
        let user_id = &principal.sub;
        let mut issues = Vec::new();
        for (field, value) in [
            ("daily", wanted.daily),
            ("weekly", wanted.weekly),
            ("monthly", wanted.monthly),
        ] {
            if value <= 0 {
                issues.push(FieldIssue::new(
                    field,
                    "must be a positive amount in minor units",
                ));
            }
        }
        if wanted.daily > wanted.weekly || wanted.weekly > wanted.monthly {
            issues.push(FieldIssue::new("limits", "daily <= weekly <= monthly"));
        }
        let ceiling = self.policy.default_limits;
        if wanted.daily > ceiling.daily
            || wanted.weekly > ceiling.weekly
            || wanted.monthly > ceiling.monthly
        {
            issues.push(FieldIssue::new(
                "limits",
                "cannot exceed the platform maximum",
            ));
        }
        if !issues.is_empty() {
            return Err(WalletError::Invalid(issues));
        }
        let now = self.clock.now();
        for _ in 0..COMMIT_ATTEMPTS {
            let (mut profile, standing) = self.profile_of(principal).await?;
            let before = profile
                .limits
                .unwrap_or_else(|| LimitsState::new(self.policy.default_limits));
            let current = before.effective(now);
            let raising = wanted.daily > current.daily
                || wanted.weekly > current.weekly
                || wanted.monthly > current.monthly;
            if raising && standing.mfa_enabled && !fresh_second_factor(principal, now) {
                return Err(WalletError::Session(AuthError::StepUpRequired));
            }
            let state = before.request(wanted, now);
            let audit = chain_after_head(
                &self.ports.audit_keys,
                profile.audit_head(),
                AuditDraft {
                    actor: user_id.to_string(),
                    ip: None,
                    action: "limits.request".to_string(),
                    target: format!("user:{user_id}"),
                    before: serde_json::to_value(before.effective(now)).ok(),
                    after: serde_json::to_value(wanted).ok(),
                },
                now,
            );
            let expected = profile.audit_seq;
            profile.limits = Some(state);
            profile.audit_seq = audit.seq;
            profile.audit_hash = Some(audit.hash.clone());
            match self
                .ports
                .wallet
                .save_limits(&profile, expected, &audit)
                .await?
            {
                CommitOutcome::Committed => {
                    return Ok(LimitsView {
                        current: state.effective(now),
                        currency: self.policy.reference_currency.clone(),
                        pending: state.pending,
                    })
                }
                _ => continue,
            }
        }
        Err(WalletError::Busy)
    }

    /// The caller's wallet profile, created on first use, once the
    /// caller's session is found standing in the same read.
    async fn profile_of(
        &self,
        principal: &Principal,
    ) -> Result<(WalletProfile, AccountStanding), WalletError> {
        let user_id: &str = &principal.sub;
        let readings = self
            .ports
            .wallet
            .readings(user_id, &principal.sid, &[], "")
            .await?;
        let standing = session_standing(
            &principal.into(),
            readings.session.as_ref(),
            readings.standing.as_ref(),
            self.clock.now(),
        )?;
        if let Some(profile) = readings.profile {
            return Ok((profile, standing));
        }
        let user = self
            .ports
            .users
            .user_by_id(user_id)
            .await?
            .ok_or(WalletError::NotFound)?;
        let profile = WalletProfile::new(user_id, user.created_at);
        self.ports.wallet.ensure_profile(&profile).await?;
        Ok((profile, standing))
    }

    fn check_request(&self, request: &RechargeRequest) -> Result<(), WalletError> {
        let mut issues = Vec::new();
        let money = request.money();
        match money.and_then(|m| {
            self.policy
                .bounds
                .iter()
                .find(|b| b.currency == m.currency())
        }) {
            None => issues.push(FieldIssue::new(
                "currency",
                "is not a supported ISO 4217 currency",
            )),
            Some(b) if request.amount < b.min || request.amount > b.max => {
                issues.push(FieldIssue::new(
                    "amount",
                    format!(
                        "must be between {} and {} minor units of {}",
                        b.min, b.max, b.currency
                    ),
                ))
            }
            Some(_) => {}
        }
        if !self.policy.providers.contains(&request.provider) {
            issues.push(FieldIssue::new("provider", "is not a supported provider"));
        }
        if let Some(f) = &request.payment_fingerprint {
            let ok = (8..=128).contains(&f.len())
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
            if !ok {
                issues.push(FieldIssue::new(
                    "payment_fingerprint",
                    "8 to 128 letters, digits, '_' or '-'",
                ));
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(WalletError::Invalid(issues))
        }
    }
}

/// An outcome as the idempotency record keeps it.
pub(super) fn stored(outcome: &RechargeOutcome) -> String {
    serde_json::to_string(outcome).unwrap_or_default()
}
