//! The recharge function's configuration, validated once per cold start.

use shared::config::{parsed_or, ConfigError, Env};
use shared::wallet::fraud::Thresholds;
use shared::wallet::limits::SpendingLimits;
use shared::wallet::service::{CurrencyBounds, RechargePolicy};

fn invalid(var: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.to_string(),
    }
}

/// Reads `RECHARGE_AMOUNT_BOUNDS` (`EUR:100:50000,...`), `RECHARGE_PROVIDERS`,
/// `SPENDING_LIMITS` (`daily,weekly,monthly`), `AGE_CHECK_ABOVE` (minor
/// units), `FRAUD_REVIEW_AT` and `FRAUD_BLOCK_AT`, with safe defaults.
pub fn policy_from_env(env: &dyn Env) -> Result<RechargePolicy, ConfigError> {
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
                [currency, min, max]
                    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) =>
                {
                    let min: i64 = min
                        .parse()
                        .map_err(|_| invalid("RECHARGE_AMOUNT_BOUNDS", "bad minimum"))?;
                    let max: i64 = max
                        .parse()
                        .map_err(|_| invalid("RECHARGE_AMOUNT_BOUNDS", "bad maximum"))?;
                    if min <= 0 || max < min {
                        return Err(invalid("RECHARGE_AMOUNT_BOUNDS", "need 0 < min <= max"));
                    }
                    Ok(CurrencyBounds {
                        currency: currency.to_string(),
                        min,
                        max,
                    })
                }
                _ => Err(invalid("RECHARGE_AMOUNT_BOUNDS", "entries are CUR:min:max")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
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
