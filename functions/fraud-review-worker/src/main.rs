//! Lambda entry point: build the app once, then handle SQS batches.

use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_sqs(
        || fraud_review_worker::App::from_env(&ProcessEnv),
        fraud_review_worker::handle_batch,
    )
    .await
}
