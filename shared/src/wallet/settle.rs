//! What a provider event does to its recharge and wallet, as a pure function
//! of the recharge and profile read: a commit to apply (credit, debit,
//! failure, a refund recorded before its payment), nothing (already applied
//! or not acted on), or a review.

use serde_json::json;

use super::model::{LedgerEntry, Recharge, RechargeStatus, WalletProfile, RECENT_ENTRIES};
use super::payments::Applied;
use crate::audit::{chain_after_head, AuditDraft, AuditKeys};
use crate::auth::secrets::digest;
use crate::ports::PaymentCommit;
use crate::review::{CaseKind, CaseStatus, ReviewCase};
use crate::webhook::event::{EventKind, ProviderEvent};

/// What a provider event comes to, given the recharge and profile read.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Apply `commit`; once it lands the event did `applied`, and with
    /// `receipt` the owner is sent a receipt.
    Apply {
        commit: Box<PaymentCommit>,
        applied: Applied,
        receipt: bool,
    },
    /// Nothing to write: already applied, or not acted on.
    Nothing(Applied),
    /// Not safe to apply: hold the event for a reviewer, for this reason.
    Review(&'static str),
    /// The balance read does not cover the refund. The recharge was read
    /// before the profile, so a refund that landed in between may have
    /// lowered it: if the recharge moved since, decide again; otherwise
    /// review, for this reason.
    ReviewUnlessMoved(&'static str),
}

/// Decides what `event` does to `recharge` and its owner's `profile` at
/// `now` (the audit entry MACed with `audit_keys`). A refund carries the
/// provider's cumulative refunded total (Stripe's `amount_refunded`): only
/// what it adds to the recorded total is debited, so repeated, stale and
/// reordered events debit nothing more. A refund that arrives before its
/// payment is recorded on the recharge, and the payment then credits only
/// what was kept. An event from another provider, for an amount or currency
/// the recharge does not have, or without a readable refund total, is
/// reviewed rather than applied.
pub fn settle(
    event: &ProviderEvent,
    recharge: &Recharge,
    profile: &WalletProfile,
    audit_keys: &AuditKeys,
    now: i64,
) -> Settlement {
    if event.provider != recharge.provider {
        return Settlement::Review("PROVIDER_MISMATCH");
    }
    let read = Read {
        event,
        recharge,
        profile,
    };
    let change = match event.kind {
        EventKind::PaymentSucceeded => read.credit(),
        EventKind::PaymentFailed => read.mark_failed(),
        EventKind::Refunded => read.refund(),
        EventKind::Other(_) => return Settlement::Nothing(Applied::Ignored),
    };
    match change {
        Ok(change) => read.apply(change, audit_keys, now),
        Err(settled) => settled,
    }
}

/// The review case for `event` on `recharge`, held for `reason` at `now`
/// (one per recharge and event, whatever the deliveries).
pub fn review_case(
    event: &ProviderEvent,
    recharge: &Recharge,
    reason: &'static str,
    now: i64,
) -> ReviewCase {
    ReviewCase {
        case_id: format!(
            "{}~{}",
            recharge.recharge_id,
            &digest("case", &event.event_id)[..12]
        ),
        kind: CaseKind::PaymentEvent,
        user_id: recharge.user_id.clone(),
        amount: event.amount.unwrap_or(recharge.amount),
        currency: event
            .currency
            .clone()
            .unwrap_or_else(|| recharge.currency.clone()),
        score: 0,
        reasons: vec![reason.to_string()],
        status: CaseStatus::Open,
        opened_at: now,
        notified: false,
        decided_by: None,
        note: None,
    }
}

/// One status change of a recharge and what it moves.
struct Change {
    new_status: RechargeStatus,
    /// Added to the balance (negative for a refund).
    delta: i64,
    /// The statuses the recharge may still be in.
    expected: Vec<RechargeStatus>,
    /// The refunded total that must still be recorded, and its new value.
    refunded: Option<(i64, i64)>,
    /// What applying the event did, once committed.
    applied: Applied,
    receipt: bool,
}

/// The event and what was read for it. Each kind of event yields the change
/// to commit or (`Err`) how the event settles without one.
struct Read<'a> {
    event: &'a ProviderEvent,
    recharge: &'a Recharge,
    profile: &'a WalletProfile,
}

impl Read<'_> {
    fn credit(&self) -> Result<Change, Settlement> {
        let (event, recharge) = (self.event, self.recharge);
        match recharge.status {
            RechargeStatus::Credited
            | RechargeStatus::PartiallyRefunded
            | RechargeStatus::Refunded => return Err(Settlement::Nothing(Applied::AlreadyApplied)),
            RechargeStatus::PendingPayment | RechargeStatus::Failed => {}
            _ => return Err(Settlement::Review("PAYMENT_FOR_UNPAYABLE_RECHARGE")),
        }
        if event.amount != Some(recharge.amount)
            || event.currency.as_deref() != Some(recharge.currency.as_str())
        {
            return Err(Settlement::Review("AMOUNT_MISMATCH"));
        }
        let refunded_first = recharge.refunded;
        let new_status = if refunded_first == 0 {
            RechargeStatus::Credited
        } else if refunded_first < recharge.amount {
            RechargeStatus::PartiallyRefunded
        } else {
            RechargeStatus::Refunded
        };
        Ok(Change {
            new_status,
            delta: recharge.amount - refunded_first,
            expected: vec![RechargeStatus::PendingPayment, RechargeStatus::Failed],
            refunded: Some((refunded_first, refunded_first)),
            applied: Applied::Credited,
            receipt: refunded_first == 0,
        })
    }

    fn mark_failed(&self) -> Result<Change, Settlement> {
        if self.recharge.status != RechargeStatus::PendingPayment {
            return Err(Settlement::Nothing(Applied::AlreadyApplied));
        }
        Ok(Change {
            new_status: RechargeStatus::Failed,
            delta: 0,
            expected: vec![RechargeStatus::PendingPayment],
            refunded: None,
            applied: Applied::MarkedFailed,
            receipt: false,
        })
    }

    fn refund(&self) -> Result<Change, Settlement> {
        let (event, recharge) = (self.event, self.recharge);
        let before_payment = match recharge.status {
            RechargeStatus::Credited
            | RechargeStatus::PartiallyRefunded
            | RechargeStatus::Refunded => false,
            RechargeStatus::PendingPayment | RechargeStatus::Failed => true,
            _ => return Err(Settlement::Review("REFUND_OF_UNCREDITED_RECHARGE")),
        };
        let total = event.amount.unwrap_or(0);
        let currency_matches = event
            .currency
            .as_deref()
            .is_none_or(|c| c == recharge.currency);
        if total <= 0 || total > recharge.amount || !currency_matches {
            return Err(Settlement::Review("REFUND_AMOUNT_INVALID"));
        }
        if total <= recharge.refunded {
            return Err(Settlement::Nothing(Applied::AlreadyApplied));
        }
        if before_payment {
            return Ok(Change {
                new_status: recharge.status,
                delta: 0,
                expected: vec![recharge.status],
                refunded: Some((recharge.refunded, total)),
                applied: Applied::RefundRecorded,
                receipt: false,
            });
        }
        let debit = total - recharge.refunded;
        let balance = self
            .profile
            .balances
            .get(&recharge.currency)
            .copied()
            .unwrap_or(0);
        if balance < debit {
            return Err(Settlement::ReviewUnlessMoved("REFUND_NOT_COVERED"));
        }
        Ok(Change {
            new_status: if total == recharge.amount {
                RechargeStatus::Refunded
            } else {
                RechargeStatus::PartiallyRefunded
            },
            delta: -debit,
            expected: vec![RechargeStatus::Credited, RechargeStatus::PartiallyRefunded],
            refunded: Some((recharge.refunded, total)),
            applied: Applied::Debited,
            receipt: false,
        })
    }

    /// The commit of `change`: the status, the ledger entry (its id derived
    /// from the event, so it is written once) and balance, the profile's new
    /// audit head and its entry.
    fn apply(&self, change: Change, audit_keys: &AuditKeys, now: i64) -> Settlement {
        let (event, recharge) = (self.event, self.recharge);
        let mut profile = self.profile.clone();
        let expected_audit_seq = profile.audit_seq;
        let delta = change.delta;
        let entry = (delta != 0).then(|| LedgerEntry {
            entry_id: format!(
                "le_{}",
                &digest("ledger", &format!("{}:{}", event.provider, event.event_id))[..24]
            ),
            recharge_id: recharge.recharge_id.clone(),
            amount: delta,
            currency: recharge.currency.clone(),
            kind: if delta > 0 { "credit" } else { "refund" }.to_string(),
            at: now,
        });
        if let Some(entry) = &entry {
            *profile
                .balances
                .entry(recharge.currency.clone())
                .or_insert(0) += delta;
            profile.recent_entries.insert(0, entry.clone());
            profile.recent_entries.truncate(RECENT_ENTRIES);
        }
        let action = match change.applied {
            Applied::Credited => "credit",
            Applied::Debited => "refund",
            Applied::RefundRecorded => "refund_before_payment",
            _ => "payment_failed",
        };
        let draft = AuditDraft {
            actor: format!("provider:{}", event.provider),
            ip: None,
            action: format!("recharge.{action}"),
            target: format!("recharge:{}", recharge.recharge_id),
            before: Some(json!({ "status": recharge.status })),
            after: Some(json!({
                "status": change.new_status,
                "amount": delta,
                "refunded": change.refunded.map(|(_, total)| total),
                "event_id": event.event_id,
            })),
        };
        let audit = chain_after_head(audit_keys, profile.audit_head(), draft, now);
        profile.audit_seq = audit.seq;
        profile.audit_hash = Some(audit.hash.clone());
        Settlement::Apply {
            commit: Box::new(PaymentCommit {
                recharge_id: recharge.recharge_id.clone(),
                expected_statuses: change.expected,
                new_status: change.new_status,
                refunded: change.refunded,
                entry,
                profile,
                expected_audit_seq,
                audit,
            }),
            applied: change.applied,
            receipt: change.receipt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RechargeStatus::{
        Blocked, Cancelled, Credited, Failed, PartiallyRefunded, PendingPayment, PendingReview,
        Refunded,
    };

    const NOW: i64 = 1_700_000_000;

    fn audit_keys() -> AuditKeys {
        AuditKeys::new("k1", vec![("k1".into(), vec![7; 32])]).unwrap()
    }

    /// A 20.00 EUR recharge paid through Stripe, `refunded` of it refunded.
    fn recharge(status: RechargeStatus, refunded: i64) -> Recharge {
        Recharge {
            recharge_id: "rc_1".into(),
            user_id: "u1".into(),
            amount: 2_000,
            currency: "EUR".into(),
            provider: "stripe".into(),
            provider_reference: "pay_1".into(),
            status,
            created_at: NOW - 60,
            score: 0,
            reasons: vec![],
            decision: crate::wallet::fraud::Decision::Allow,
            refunded,
        }
    }

    /// The owner's wallet holding `balance` EUR, at audit head 3.
    fn wallet(balance: i64) -> WalletProfile {
        let mut profile = WalletProfile::new("u1", 0);
        profile.balances.insert("EUR".into(), balance);
        profile.audit_seq = 3;
        profile.audit_hash = Some("h3".into());
        profile
    }

    fn event(kind: EventKind, amount: Option<i64>) -> ProviderEvent {
        ProviderEvent {
            provider: "stripe".into(),
            event_id: "evt_1".into(),
            kind,
            recharge_id: Some("rc_1".into()),
            amount,
            currency: Some("EUR".into()),
            received_at: NOW,
        }
    }

    fn paid() -> ProviderEvent {
        event(EventKind::PaymentSucceeded, Some(2_000))
    }

    fn refund_total(total: i64) -> ProviderEvent {
        event(EventKind::Refunded, Some(total))
    }

    fn settle_on(event: &ProviderEvent, recharge: &Recharge, balance: i64) -> Settlement {
        settle(event, recharge, &wallet(balance), &audit_keys(), NOW)
    }

    /// The commit, what it does and whether it sends a receipt.
    fn applied(settlement: Settlement) -> (PaymentCommit, Applied, bool) {
        match settlement {
            Settlement::Apply {
                commit,
                applied,
                receipt,
            } => (*commit, applied, receipt),
            other => panic!("nothing to apply: {other:?}"),
        }
    }

    #[test]
    fn a_payment_credits_its_recharge_once_with_a_receipt() {
        let (commit, done, receipt) =
            applied(settle_on(&paid(), &recharge(PendingPayment, 0), 500));
        assert_eq!((done, receipt), (Applied::Credited, true));
        assert_eq!(commit.expected_statuses, [PendingPayment, Failed]);
        assert_eq!(commit.new_status, Credited);
        assert_eq!(commit.refunded, Some((0, 0)));
        let entry = commit.entry.clone().unwrap();
        assert_eq!(
            (entry.amount, entry.kind.as_str(), entry.at),
            (2_000, "credit", NOW)
        );
        assert_eq!(
            entry.entry_id,
            format!("le_{}", &digest("ledger", "stripe:evt_1")[..24]),
            "the entry id is the event's, so a second delivery cannot add another"
        );
        assert_eq!(commit.profile.balances["EUR"], 2_500);
        assert_eq!(commit.profile.recent_entries, [entry]);
        assert_eq!(commit.expected_audit_seq, 3);
        assert_eq!(
            (commit.audit.seq, commit.audit.prev_hash.as_str()),
            (4, "h3")
        );
        assert_eq!(commit.audit.action, "recharge.credit");
        assert_eq!(commit.profile.audit_seq, 4);
    }

    #[test]
    fn a_payment_after_a_failure_still_credits() {
        let (commit, done, _) = applied(settle_on(&paid(), &recharge(Failed, 0), 0));
        assert_eq!((done, commit.new_status), (Applied::Credited, Credited));
    }

    #[test]
    fn a_duplicate_payment_credits_nothing() {
        for status in [Credited, PartiallyRefunded, Refunded] {
            assert_eq!(
                settle_on(&paid(), &recharge(status, 0), 2_000),
                Settlement::Nothing(Applied::AlreadyApplied),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_payment_for_a_recharge_not_open_to_payment_is_reviewed() {
        for status in [PendingReview, Blocked, Cancelled] {
            assert_eq!(
                settle_on(&paid(), &recharge(status, 0), 0),
                Settlement::Review("PAYMENT_FOR_UNPAYABLE_RECHARGE"),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_payment_of_another_amount_or_currency_is_reviewed() {
        let open = recharge(PendingPayment, 0);
        for amount in [Some(1_999), Some(2_001), None] {
            let event = event(EventKind::PaymentSucceeded, amount);
            assert_eq!(
                settle_on(&event, &open, 0),
                Settlement::Review("AMOUNT_MISMATCH")
            );
        }
        for currency in [Some("USD".to_string()), None] {
            let event = ProviderEvent { currency, ..paid() };
            assert_eq!(
                settle_on(&event, &open, 0),
                Settlement::Review("AMOUNT_MISMATCH")
            );
        }
    }

    #[test]
    fn another_providers_event_is_reviewed_whatever_its_kind() {
        for kind in [
            EventKind::PaymentSucceeded,
            EventKind::PaymentFailed,
            EventKind::Refunded,
        ] {
            let event = ProviderEvent {
                provider: "adyen".into(),
                ..event(kind, Some(2_000))
            };
            assert_eq!(
                settle_on(&event, &recharge(Credited, 0), 2_000),
                Settlement::Review("PROVIDER_MISMATCH")
            );
        }
    }

    #[test]
    fn a_payment_credits_only_what_an_earlier_refund_kept() {
        let (partly, done, receipt) =
            applied(settle_on(&paid(), &recharge(PendingPayment, 500), 0));
        assert_eq!((done, receipt), (Applied::Credited, false));
        assert_eq!(partly.new_status, PartiallyRefunded);
        assert_eq!(partly.entry.map(|e| e.amount), Some(1_500));
        assert_eq!(partly.refunded, Some((500, 500)));
        let (whole, _, _) = applied(settle_on(&paid(), &recharge(PendingPayment, 2_000), 70));
        assert_eq!(whole.new_status, Refunded);
        assert_eq!(whole.entry, None, "nothing left to credit");
        assert_eq!(whole.profile.balances["EUR"], 70);
    }

    #[test]
    fn a_failure_marks_an_open_recharge_only() {
        let (commit, done, _) = applied(settle_on(
            &event(EventKind::PaymentFailed, None),
            &recharge(PendingPayment, 0),
            0,
        ));
        assert_eq!(done, Applied::MarkedFailed);
        assert_eq!(
            (commit.new_status, commit.expected_statuses, commit.refunded),
            (Failed, vec![PendingPayment], None)
        );
        assert_eq!(commit.entry, None);
        assert_eq!(commit.audit.action, "recharge.payment_failed");
        for status in [Failed, Credited] {
            assert_eq!(
                settle_on(
                    &event(EventKind::PaymentFailed, None),
                    &recharge(status, 0),
                    0
                ),
                Settlement::Nothing(Applied::AlreadyApplied)
            );
        }
    }

    #[test]
    fn a_refund_debits_what_it_adds_to_the_refunded_total() {
        let (first, done, _) =
            applied(settle_on(&refund_total(500), &recharge(Credited, 0), 2_000));
        assert_eq!(done, Applied::Debited);
        assert_eq!(first.expected_statuses, [Credited, PartiallyRefunded]);
        assert_eq!(
            (first.new_status, first.refunded),
            (PartiallyRefunded, Some((0, 500)))
        );
        let entry = first.entry.unwrap();
        assert_eq!((entry.amount, entry.kind.as_str()), (-500, "refund"));
        assert_eq!(first.profile.balances["EUR"], 1_500);
        let (rest, _, _) = applied(settle_on(
            &refund_total(2_000),
            &recharge(PartiallyRefunded, 500),
            1_500,
        ));
        assert_eq!(
            (rest.new_status, rest.refunded),
            (Refunded, Some((500, 2_000)))
        );
        assert_eq!(rest.entry.map(|e| e.amount), Some(-1_500));
        assert_eq!(rest.profile.balances["EUR"], 0);
    }

    #[test]
    fn a_repeated_or_stale_refund_debits_nothing() {
        let refunded = recharge(PartiallyRefunded, 1_200);
        for total in [1_200, 500] {
            assert_eq!(
                settle_on(&refund_total(total), &refunded, 800),
                Settlement::Nothing(Applied::AlreadyApplied)
            );
        }
    }

    #[test]
    fn a_refund_beyond_the_payment_or_unreadable_is_reviewed() {
        let credited = recharge(Credited, 0);
        let mut cases = vec![refund_total(2_001), refund_total(0), refund_total(-5)];
        cases.push(event(EventKind::Refunded, None));
        cases.push(ProviderEvent {
            currency: Some("USD".into()),
            ..refund_total(500)
        });
        for event in cases {
            assert_eq!(
                settle_on(&event, &credited, 10_000),
                Settlement::Review("REFUND_AMOUNT_INVALID"),
                "{event:?}"
            );
        }
        let no_currency = ProviderEvent {
            currency: None,
            ..refund_total(2_000)
        };
        let (commit, _, _) = applied(settle_on(&no_currency, &credited, 2_000));
        assert_eq!(
            commit.new_status, Refunded,
            "the whole payment, to the unit"
        );
    }

    #[test]
    fn a_refund_the_balance_cannot_cover_is_reviewed_unless_the_recharge_moved() {
        let credited = recharge(Credited, 0);
        assert_eq!(
            settle_on(&refund_total(500), &credited, 499),
            Settlement::ReviewUnlessMoved("REFUND_NOT_COVERED")
        );
        let (exact, _, _) = applied(settle_on(&refund_total(500), &credited, 500));
        assert_eq!(exact.profile.balances["EUR"], 0);
    }

    #[test]
    fn a_refund_before_its_payment_is_recorded_without_a_debit() {
        for status in [PendingPayment, Failed] {
            let (commit, done, receipt) =
                applied(settle_on(&refund_total(500), &recharge(status, 0), 0));
            assert_eq!((done, receipt), (Applied::RefundRecorded, false));
            assert_eq!(
                (commit.new_status, commit.expected_statuses.clone()),
                (status, vec![status])
            );
            assert_eq!(commit.refunded, Some((0, 500)));
            assert_eq!(commit.entry, None);
            assert_eq!(commit.audit.action, "recharge.refund_before_payment");
        }
    }

    #[test]
    fn a_refund_of_a_recharge_never_paid_for_is_reviewed() {
        for status in [PendingReview, Blocked, Cancelled] {
            assert_eq!(
                settle_on(&refund_total(500), &recharge(status, 0), 0),
                Settlement::Review("REFUND_OF_UNCREDITED_RECHARGE")
            );
        }
    }

    #[test]
    fn other_event_kinds_are_ignored() {
        let other = event(
            EventKind::Other("charge.dispute.created".into()),
            Some(2_000),
        );
        assert_eq!(
            settle_on(&other, &recharge(Credited, 0), 2_000),
            Settlement::Nothing(Applied::Ignored)
        );
    }

    #[test]
    fn the_wallet_keeps_only_the_newest_entries() {
        let mut full = wallet(0);
        let old = |i: i64| LedgerEntry {
            entry_id: format!("le_{i}"),
            recharge_id: "rc_0".into(),
            amount: 1,
            currency: "EUR".into(),
            kind: "credit".into(),
            at: i,
        };
        full.recent_entries = (0..RECENT_ENTRIES as i64).map(old).collect();
        let (commit, _, _) = applied(settle(
            &paid(),
            &recharge(PendingPayment, 0),
            &full,
            &audit_keys(),
            NOW,
        ));
        let entries = &commit.profile.recent_entries;
        assert_eq!(entries.len(), RECENT_ENTRIES);
        assert_eq!(entries[0].amount, 2_000);
        assert_eq!(entries[1], old(0));
        assert_eq!(entries.last(), Some(&old(RECENT_ENTRIES as i64 - 2)));
    }

    #[test]
    fn a_review_case_is_one_per_recharge_and_event() {
        let case = review_case(&refund_total(900), &recharge(Credited, 0), "WHY", NOW);
        assert_eq!(
            case.case_id,
            format!("rc_1~{}", &digest("case", "evt_1")[..12])
        );
        assert_eq!(
            (case.kind, case.amount, case.currency.as_str()),
            (CaseKind::PaymentEvent, 900, "EUR")
        );
        assert_eq!(
            (case.reasons, case.status, case.opened_at),
            (vec!["WHY".to_string()], CaseStatus::Open, NOW)
        );
        let unreadable = ProviderEvent {
            currency: None,
            ..event(EventKind::Refunded, None)
        };
        let case = review_case(&unreadable, &recharge(Credited, 0), "WHY", NOW);
        assert_eq!((case.amount, case.currency.as_str()), (2_000, "EUR"));
    }
}
