//! Lambda entry point: build the app once, then handle SQS batches.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    edge::lambda::run_sqs(
        aws_adapters::secrets_manager,
        |env| async move { webhook_worker::App::from_env(&env).await },
        webhook_worker::handle_batch,
    )
    .await
}
