//! How a recharge outcome is answered over HTTP: the one place that gives
//! each outcome its status and body, rendered with the asking request's id
//! (a replay included).

use edge::http::{error_response, json_response, ApiError, FieldIssue};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::wallet::service::RechargeOutcome;
use shared::wallet::velocity::Window;

/// The response for `outcome` to request `request_id`.
pub fn render(outcome: &RechargeOutcome, request_id: &str) -> Response<Body> {
    let refusal = match outcome {
        RechargeOutcome::Created { recharge } => {
            return json_response(StatusCode::CREATED, recharge, request_id)
        }
        RechargeOutcome::HeldForReview {
            recharge_id,
            status,
        } => {
            return json_response(
                StatusCode::ACCEPTED,
                &json!({"recharge_id": recharge_id, "status": status}),
                request_id,
            )
        }
        RechargeOutcome::Blocked => ApiError::new(
            StatusCode::FORBIDDEN,
            "RECHARGE_BLOCKED",
            "This recharge cannot be accepted.",
        ),
        RechargeOutcome::AgeCheckRequired => ApiError::new(
            StatusCode::FORBIDDEN,
            "AGE_VERIFICATION_REQUIRED",
            "Verify your age to recharge this amount.",
        ),
        RechargeOutcome::LimitExceeded { window } => limit_exceeded(*window),
    };
    error_response(&refusal, request_id)
}

/// 422 naming the spending limit `window` the recharge would pass.
fn limit_exceeded(window: Window) -> ApiError {
    let name = match window {
        Window::Day => "daily",
        Window::Week => "weekly",
        Window::Month => "monthly",
    };
    let mut err = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "SPENDING_LIMIT_EXCEEDED",
        format!("This recharge would pass your {name} spending limit."),
    );
    err.details = vec![FieldIssue::new(
        "amount",
        format!("exceeds the {name} limit"),
    )];
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wallet::model::RechargeStatus;
    use shared::wallet::service::RechargeView;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(edge::http::body_bytes(response.body())).unwrap()
    }

    #[test]
    fn each_outcome_has_its_status_and_code() {
        let view = RechargeView {
            recharge_id: "rc_1".into(),
            status: RechargeStatus::PendingPayment,
            amount: 2_000,
            currency: "EUR".into(),
            provider: "stripe".into(),
            provider_reference: Some("pay_1".into()),
            created_at: 1_900_000_000,
        };
        let table = [
            (RechargeOutcome::Created { recharge: view }, 201, ""),
            (
                RechargeOutcome::HeldForReview {
                    recharge_id: "rc_1".into(),
                    status: RechargeStatus::PendingReview,
                },
                202,
                "",
            ),
            (RechargeOutcome::Blocked, 403, "RECHARGE_BLOCKED"),
            (
                RechargeOutcome::AgeCheckRequired,
                403,
                "AGE_VERIFICATION_REQUIRED",
            ),
            (
                RechargeOutcome::LimitExceeded {
                    window: Window::Week,
                },
                422,
                "SPENDING_LIMIT_EXCEEDED",
            ),
        ];
        for (outcome, status, code) in table {
            let response = render(&outcome, "req-9");
            let body = body(&response);
            assert_eq!(response.status().as_u16(), status, "{outcome:?}");
            assert_eq!(
                body["error"]["code"].as_str().unwrap_or(""),
                code,
                "{outcome:?}"
            );
            assert_eq!(response.headers()["x-request-id"], "req-9");
            if !code.is_empty() {
                assert_eq!(body["error"]["request_id"], "req-9");
            }
        }
    }

    #[test]
    fn a_limit_refusal_names_its_window_and_the_amount_field() {
        let body = body(&render(
            &RechargeOutcome::LimitExceeded {
                window: Window::Month,
            },
            "req-1",
        ));
        assert_eq!(
            body["error"]["message"],
            "This recharge would pass your monthly spending limit."
        );
        assert_eq!(body["error"]["details"][0]["field"], "amount");
    }

    #[test]
    fn an_accepted_recharge_answers_its_view() {
        let body = body(&render(
            &RechargeOutcome::HeldForReview {
                recharge_id: "rc_2".into(),
                status: RechargeStatus::PendingReview,
            },
            "req-1",
        ));
        assert_eq!(
            body,
            json!({"recharge_id": "rc_2", "status": "pending_review"})
        );
    }
}
