//! The fraud score: 0-100 from named, explainable reasons, and the decision
//! the configured thresholds make of it.

use serde::{Deserialize, Serialize};

use super::velocity::Velocity;

/// One reason and the points it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScoreReason {
    pub code: &'static str,
    pub points: u8,
}

/// A score with its reasons (internal: never sent to the client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FraudScore {
    pub score: u8,
    pub reasons: Vec<ScoreReason>,
}

/// What the scorer looks at.
#[derive(Debug, Clone, Default)]
pub struct FraudSignals {
    pub amount: i64,
    pub velocity: Velocity,
    /// The device has not recharged this account before.
    pub new_device: bool,
    /// Distinct accounts seen recharging from this device, this one included.
    pub device_accounts: u32,
    pub account_age_days: i64,
    pub kyc_verified: bool,
    /// Past allowed recharges of this account and their total.
    pub past_count: u32,
    pub past_total: i64,
    pub ip_country: Option<String>,
    pub account_country: Option<String>,
}

/// Thresholds: review at or above `review_at`, block at or above `block_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub review_at: u8,
    pub block_at: u8,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            review_at: 65,
            block_at: 75,
        }
    }
}

/// What happens to a recharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Review,
    Block,
}

/// Scores `s`: each reason adds its points, capped at 100.
pub fn score(s: &FraudSignals) -> FraudScore {
    let [user_day, user_week, _] = s.velocity.user;
    let mut reasons = Vec::new();
    let mut add = |hit: bool, code: &'static str, points: u8| {
        if hit {
            reasons.push(ScoreReason { code, points });
        }
    };
    add(
        user_day.count >= 5 || user_week.count >= 15,
        "HIGH_VELOCITY",
        25,
    );
    add(s.velocity.device[0].count >= 5, "DEVICE_VELOCITY", 15);
    add(s.velocity.fingerprint[0].count >= 5, "CARD_VELOCITY", 15);
    add(s.new_device, "NEW_DEVICE", 15);
    add(s.device_accounts >= 3, "SHARED_DEVICE", 30);
    add(s.account_age_days < 7, "NEW_ACCOUNT", 15);
    add(!s.kyc_verified, "KYC_UNVERIFIED", 20);
    let usual = (s.past_count >= 3).then(|| s.past_total / i64::from(s.past_count));
    add(
        usual.is_some_and(|u| s.amount > u.saturating_mul(5)),
        "AMOUNT_OUTLIER",
        25,
    );
    let mismatch =
        matches!((&s.ip_country, &s.account_country), (Some(ip), Some(home)) if ip != home);
    add(mismatch, "COUNTRY_MISMATCH", 20);
    let total: u32 = reasons.iter().map(|r| u32::from(r.points)).sum();
    FraudScore {
        score: total.min(100) as u8,
        reasons,
    }
}

/// The decision the thresholds make of `score`.
pub fn decide(score: u8, thresholds: Thresholds) -> Decision {
    if score >= thresholds.block_at {
        Decision::Block
    } else if score >= thresholds.review_at {
        Decision::Review
    } else {
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::velocity::Tally;

    fn calm() -> FraudSignals {
        FraudSignals {
            amount: 1_000,
            device_accounts: 1,
            account_age_days: 400,
            kyc_verified: true,
            past_count: 10,
            past_total: 10_000,
            ip_country: Some("FR".into()),
            account_country: Some("FR".into()),
            ..FraudSignals::default()
        }
    }

    fn codes(s: &FraudSignals) -> Vec<&'static str> {
        score(s).reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn a_calm_recharge_scores_zero() {
        assert_eq!(
            score(&calm()),
            FraudScore {
                score: 0,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn each_reason_is_named_with_its_points() {
        fn tally(count: u32) -> Tally {
            Tally { count, amount: 0 }
        }
        type Edit = Box<dyn Fn(&mut FraudSignals)>;
        let cases: Vec<(Edit, &str, u8)> = vec![
            (
                Box::new(|s| s.velocity.user[0] = tally(5)),
                "HIGH_VELOCITY",
                25,
            ),
            (
                Box::new(|s| s.velocity.user[1] = tally(15)),
                "HIGH_VELOCITY",
                25,
            ),
            (
                Box::new(|s| s.velocity.device[0] = tally(5)),
                "DEVICE_VELOCITY",
                15,
            ),
            (
                Box::new(|s| s.velocity.fingerprint[0] = tally(5)),
                "CARD_VELOCITY",
                15,
            ),
            (Box::new(|s| s.new_device = true), "NEW_DEVICE", 15),
            (Box::new(|s| s.device_accounts = 3), "SHARED_DEVICE", 30),
            (Box::new(|s| s.account_age_days = 6), "NEW_ACCOUNT", 15),
            (Box::new(|s| s.kyc_verified = false), "KYC_UNVERIFIED", 20),
            (Box::new(|s| s.amount = 5_001), "AMOUNT_OUTLIER", 25),
            (
                Box::new(|s| s.ip_country = Some("NG".into())),
                "COUNTRY_MISMATCH",
                20,
            ),
        ];
        for (edit, code, points) in cases {
            let mut s = calm();
            edit(&mut s);
            assert_eq!(
                score(&s),
                FraudScore {
                    score: points,
                    reasons: vec![ScoreReason { code, points }]
                },
                "{code}"
            );
        }
    }

    #[test]
    fn reasons_stay_quiet_just_below_their_boundaries() {
        let mut s = calm();
        s.velocity.user[0] = Tally {
            count: 4,
            amount: 0,
        };
        s.velocity.user[1] = Tally {
            count: 14,
            amount: 0,
        };
        s.device_accounts = 2;
        s.account_age_days = 7;
        s.amount = 5_000;
        s.account_country = None;
        assert_eq!(codes(&s), Vec::<&str>::new());
        let mut few = calm();
        few.past_count = 2;
        few.past_total = 2;
        few.amount = 1_000_000;
        assert!(codes(&few).is_empty(), "no outlier without a usual amount");
    }

    #[test]
    fn scores_cap_at_100_and_thresholds_decide() {
        let mut worst = calm();
        worst.velocity.user[0] = Tally {
            count: 9,
            amount: 0,
        };
        worst.new_device = true;
        worst.device_accounts = 9;
        worst.kyc_verified = false;
        worst.account_age_days = 0;
        assert_eq!(score(&worst).score, 100);
        let t = Thresholds::default();
        assert_eq!(decide(64, t), Decision::Allow);
        assert_eq!(decide(65, t), Decision::Review);
        assert_eq!(decide(74, t), Decision::Review);
        assert_eq!(decide(75, t), Decision::Block);
    }
}
