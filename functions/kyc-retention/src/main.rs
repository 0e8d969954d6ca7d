//! Lambda entry point: build the app once, then run the sweep per schedule tick.

use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_scheduled(
        || kyc_retention::App::from_env(&ProcessEnv),
        kyc_retention::handle_tick,
    )
    .await
}
