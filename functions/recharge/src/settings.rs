//! The recharge function's settings: everything it reads from its
//! environment, read and validated once per cold start.

use aws_adapters::{DynamoFlags, SqsQueue, TableNames, WalletTables};
use edge::cors::CorsPolicy;
use shared::audit::AuditKeys;
use shared::auth::AccessConfig;
use shared::config::{parsed_or, ConfigError, Env};
use shared::flags::CacheTiming;
use shared::wallet::fraud::Thresholds;
use shared::wallet::limits::SpendingLimits;
use shared::wallet::money::Currency;
use shared::wallet::reference::ReferenceRate;
use shared::wallet::service::{CurrencyBounds, RechargePolicy};

/// Everything the recharge function reads from its environment.
pub struct Settings {
    pub access: AccessConfig,
    pub policy: RechargePolicy,
    pub timing: CacheTiming,
    pub cors: CorsPolicy,
    pub wallet_tables: WalletTables,
    pub auth_tables: TableNames,
    pub flags_table: String,
    pub review_queue_url: String,
    pub audit_keys: AuditKeys,
}

impl Settings {
    /// Reads the token settings, the recharge policy (see
    /// [`policy_from_env`]), the flag cache timing, `CORS_ALLOWED_ORIGINS`,
    /// the tables (`WALLET_TABLE`, `COUNTERS_TABLE`, `AUDIT_TABLE`,
    /// `USERS_TABLE`, `SESSIONS_TABLE`, `FLAGS_TABLE`), `REVIEW_QUEUE_URL`
    /// and the audit keys (`AUDIT_HMAC_KEYS`, `AUDIT_HMAC_KID`).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            access: AccessConfig::from_env(env)?,
            policy: policy_from_env(env)?,
            timing: CacheTiming::from_env(env)?,
            cors: CorsPolicy::from_env(env)?,
            wallet_tables: WalletTables::from_env(env)?,
            auth_tables: TableNames::from_env(env)?,
            flags_table: DynamoFlags::table_from_env(env)?,
            review_queue_url: SqsQueue::url_from_env(env)?,
            audit_keys: AuditKeys::from_env(env)?,
        })
    }
}

fn invalid(var: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.to_string(),
    }
}

/// Reads `RECHARGE_AMOUNT_BOUNDS` (`EUR:100:50000,...`),
/// `RECHARGE_REFERENCE_CURRENCY` (`EUR`), `RECHARGE_RATES` (`USD:0.95,...`:
/// reference minor units per minor unit, one for every other currency),
/// `RECHARGE_PROVIDERS`, `SPENDING_LIMITS` (`daily,weekly,monthly`) and
/// `AGE_CHECK_ABOVE` (reference minor units), `FRAUD_REVIEW_AT` and
/// `FRAUD_BLOCK_AT`, with safe defaults.
pub fn policy_from_env(env: &dyn Env) -> Result<RechargePolicy, ConfigError> {
    let reference_currency = parsed_or(env, "RECHARGE_REFERENCE_CURRENCY", "EUR".to_string())?;
    let rates = rates_from_env(env, &reference_currency)?;
    let bounds_text = parsed_or(
        env,
        "RECHARGE_AMOUNT_BOUNDS",
        "EUR:100:50000,USD:100:50000,GBP:100:50000".to_string(),
    )?;
    let bounds = bounds_text
        .split(',')
        .map(|part| {
            let fields: Vec<&str> = part.trim().split(':').collect();
            match fields.as_slice() {
                [code, min, max] if Currency::parse(code).is_some() => {
                    let currency = Currency::parse(code).expect("checked by the guard");
                    let min: i64 = min
                        .parse()
                        .map_err(|_| invalid("RECHARGE_AMOUNT_BOUNDS", "bad minimum"))?;
                    let max: i64 = max
                        .parse()
                        .map_err(|_| invalid("RECHARGE_AMOUNT_BOUNDS", "bad maximum"))?;
                    if min <= 0 || max < min {
                        return Err(invalid("RECHARGE_AMOUNT_BOUNDS", "need 0 < min <= max"));
                    }
                    let rate = if *code == reference_currency {
                        ReferenceRate::ONE
                    } else {
                        rates
                            .iter()
                            .find(|(c, _)| c == code)
                            .map(|(_, rate)| *rate)
                            .ok_or_else(|| {
                                invalid("RECHARGE_RATES", "every supported currency needs a rate")
                            })?
                    };
                    if rate.to_reference(max).is_none() {
                        return Err(invalid(
                            "RECHARGE_AMOUNT_BOUNDS",
                            "a maximum times its rate must fit in 64 bits",
                        ));
                    }
                    Ok(CurrencyBounds {
                        currency,
                        min,
                        max,
                        rate,
                    })
                }
                _ => Err(invalid("RECHARGE_AMOUNT_BOUNDS", "entries are CUR:min:max")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((unused, _)) = rates
        .iter()
        .find(|(c, _)| !bounds.iter().any(|b| b.currency.as_str() == c))
    {
        return Err(invalid(
            "RECHARGE_RATES",
            &format!("{unused} is not in RECHARGE_AMOUNT_BOUNDS"),
        ));
    }
    let providers: Vec<String> = parsed_or(
        env,
        "RECHARGE_PROVIDERS",
        "stripe,standard,generic".to_string(),
    )?
    .split(',')
    .map(|p| p.trim().to_string())
    .filter(|p| !p.is_empty())
    .collect();
    let limits_text = parsed_or(env, "SPENDING_LIMITS", "50000,150000,300000".to_string())?;
    let limits: Vec<i64> = limits_text
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| invalid("SPENDING_LIMITS", "three amounts"))
        })
        .collect::<Result<_, _>>()?;
    let [daily, weekly, monthly] = limits[..] else {
        return Err(invalid(
            "SPENDING_LIMITS",
            "three amounts: daily,weekly,monthly",
        ));
    };
    if daily <= 0 || daily > weekly || weekly > monthly {
        return Err(invalid(
            "SPENDING_LIMITS",
            "need 0 < daily <= weekly <= monthly",
        ));
    }
    let thresholds = Thresholds {
        review_at: parsed_or(env, "FRAUD_REVIEW_AT", 65u8)?,
        block_at: parsed_or(env, "FRAUD_BLOCK_AT", 75u8)?,
    };
    if thresholds.review_at > thresholds.block_at || thresholds.block_at > 100 {
        return Err(invalid(
            "FRAUD_BLOCK_AT",
            "need FRAUD_REVIEW_AT <= FRAUD_BLOCK_AT <= 100",
        ));
    }
    Ok(RechargePolicy {
        bounds,
        reference_currency,
        providers,
        default_limits: SpendingLimits {
            daily,
            weekly,
            monthly,
        },
        age_check_above: parsed_or(env, "AGE_CHECK_ABOVE", 2_500i64)?,
        thresholds,
    })
}

/// `RECHARGE_RATES` as (currency, rate) pairs, the reference currency excluded.
fn rates_from_env(
    env: &dyn Env,
    reference_currency: &str,
) -> Result<Vec<(String, ReferenceRate)>, ConfigError> {
    let is_code = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
    if !is_code(reference_currency) {
        return Err(invalid(
            "RECHARGE_REFERENCE_CURRENCY",
            "an ISO 4217 code in upper case",
        ));
    }
    let text = parsed_or(env, "RECHARGE_RATES", "USD:0.95,GBP:1.20".to_string())?;
    let mut rates: Vec<(String, ReferenceRate)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (currency, rate) = part
            .split_once(':')
            .filter(|(c, _)| is_code(c))
            .ok_or_else(|| invalid("RECHARGE_RATES", "entries are CUR:rate"))?;
        let rate =
            ReferenceRate::parse(rate).map_err(|e| invalid("RECHARGE_RATES", &e.to_string()))?;
        if currency == reference_currency || rates.iter().any(|(c, _)| c == currency) {
            return Err(invalid(
                "RECHARGE_RATES",
                "one rate per currency, none for the reference currency",
            ));
        }
        rates.push((currency.to_string(), rate));
    }
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wallet::money::Money;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_currency_is_counted_in_the_reference_currency() {
        let policy = policy_from_env(&env(&[("RECHARGE_RATES", "USD:0.9,GBP:1.25")])).unwrap();
        assert_eq!(policy.reference_currency, "EUR");
        let money = |code| Money::new(1_000, Currency::parse(code).unwrap());
        assert_eq!(policy.reference_amount(money("EUR")), Some(1_000));
        assert_eq!(policy.reference_amount(money("USD")), Some(900));
        assert_eq!(policy.reference_amount(money("GBP")), Some(1_250));
        assert_eq!(policy.reference_amount(money("JPY")), None);
    }

    #[test]
    fn a_currency_without_a_rate_or_a_rate_without_a_currency_is_refused() {
        for (rates, why) in [
            ("USD:0.9", "GBP has no rate"),
            ("USD:0.9,GBP:1.2,CHF:1.1", "CHF is not supported"),
            ("USD:0.9,GBP:1.2,EUR:1", "the reference has no rate"),
            ("USD:0.9,GBP:1.2,USD:0.8", "USD twice"),
            ("USD:0,GBP:1.2", "a zero rate"),
            ("USD:-1,GBP:1.2", "a negative rate"),
            ("usd:0.9,GBP:1.2", "lower case"),
        ] {
            let err = policy_from_env(&env(&[("RECHARGE_RATES", rates)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { var, .. } if var == "RECHARGE_RATES"),
                "{why}: {err:?}"
            );
        }
        let err = policy_from_env(&env(&[("RECHARGE_REFERENCE_CURRENCY", "euro")])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { var, .. } if var == "RECHARGE_REFERENCE_CURRENCY")
        );
    }

    #[test]
    fn bounds_whose_reference_amount_would_not_fit_are_refused_at_cold_start() {
        let fits = policy_from_env(&env(&[
            (
                "RECHARGE_AMOUNT_BOUNDS",
                "EUR:100:50000,XTS:100:9000000000000",
            ),
            ("RECHARGE_RATES", "XTS:1000"),
        ]));
        assert!(fits.is_ok(), "{:?}", fits.err());
        let err = policy_from_env(&env(&[
            (
                "RECHARGE_AMOUNT_BOUNDS",
                "EUR:100:50000,XTS:100:10000000000000000",
            ),
            ("RECHARGE_RATES", "XTS:1000"),
        ]))
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { var, .. } if var == "RECHARGE_AMOUNT_BOUNDS"),
            "{err:?}"
        );
    }
}
