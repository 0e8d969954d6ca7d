//! Lambda entry point: build the app once, then serve requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    edge::lambda::run_http(
        aws_adapters::secrets_manager,
        |env| async move { flags::App::from_env(&env).await },
        flags::handle,
    )
    .await
}
