//! Lambda entry point: build the app once, then serve requests.

use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_http(
        || kyc_upload::App::from_env(&ProcessEnv),
        kyc_upload::handle,
    )
    .await
}
