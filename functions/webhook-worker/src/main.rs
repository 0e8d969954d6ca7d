//! Lambda entry point: build the app once, then handle SQS batches.

use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_sqs(
        || webhook_worker::App::from_env(&ProcessEnv),
        webhook_worker::handle_batch,
    )
    .await
}
