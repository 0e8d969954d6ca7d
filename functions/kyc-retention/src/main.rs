//! Lambda entry point: build the app once, then run the sweep per schedule tick.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    edge::lambda::run_scheduled(
        aws_adapters::secrets_manager,
        |env| async move { kyc_retention::App::from_env(&env).await },
        kyc_retention::handle_tick,
    )
    .await
}
