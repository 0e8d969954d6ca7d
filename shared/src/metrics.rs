//! Business metrics in CloudWatch embedded metric format (EMF): one JSON
//! line on stdout per event, which CloudWatch Logs turns into a metric in
//! namespace `Wallet` with dimension `Function`. No identifiers or PII go
//! into these lines; alarms in the template watch them.

use serde_json::json;

/// The metric namespace the template's alarms read.
pub const NAMESPACE: &str = "Wallet";

/// Events counted as metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An account was locked after failed sign-ins.
    AccountLocked,
    /// Work was cut short before its invocation's deadline (an HTTP answer
    /// 503, or a queue message left for retry).
    DeadlineCut,
    /// An admin's right password was sent from outside `ADMIN_CIDRS`.
    AdminSignInOutsideNetwork,
    /// A spent refresh token was retried within the grace window.
    RefreshGraceUsed,
    /// A recharge was blocked by the fraud score.
    RechargeBlocked,
    /// A recharge was held for a reviewer.
    RechargeHeld,
    /// A reviewer could not be emailed about a case (an address refused, or
    /// an outage outlasting the message's attempts).
    ReviewNotifyFailed,
    /// A webhook delivery failed signature verification.
    WebhookRejected,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::AccountLocked => "AccountLocked",
            Event::AdminSignInOutsideNetwork => "AdminSignInOutsideNetwork",
            Event::DeadlineCut => "DeadlineCut",
            Event::RefreshGraceUsed => "RefreshGraceUsed",
            Event::RechargeBlocked => "RechargeBlocked",
            Event::RechargeHeld => "RechargeHeld",
            Event::ReviewNotifyFailed => "ReviewNotifyFailed",
            Event::WebhookRejected => "WebhookRejected",
        }
    }
}

/// The EMF line counting one `event` in `function` at `timestamp_ms`.
pub fn emf_line(function: &str, event: Event, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{ "Name": event.name(), "Unit": "Count" }]
            }]
        },
        "Function": function,
        event.name(): 1
    })
    .to_string()
}

/// Counts one `event` (the function name comes from the Lambda environment).
pub fn count(event: Event) {
    static FUNCTION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let function = FUNCTION.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into())
    });
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    println!("{}", emf_line(function, event, now_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            "wallet-dev-login",
            Event::AccountLocked,
            1_700_000_000_000,
        ))
        .unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(directive["Namespace"], "Wallet");
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(directive["Metrics"][0]["Name"], "AccountLocked");
        assert_eq!(line["Function"], "wallet-dev-login");
        assert_eq!(line["AccountLocked"], 1);
    }
}
