//! Lambda entry point: build the app once, then handle SQS batches.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    edge::lambda::run_sqs(
        aws_adapters::secrets_manager,
        |env| async move { account_export::App::from_env(&env).await },
        account_export::handle_batch,
    )
    .await
}
