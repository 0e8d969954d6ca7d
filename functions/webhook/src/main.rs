//! Lambda entry point: build the app once, then serve requests.

use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_http(|| webhook::App::from_env(&ProcessEnv), webhook::handle).await
}
