//! Lambda entry point: build the app once, then serve requests.

use lambda_http::{run, service_fn, Error, Request};
use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let app = match recharge::App::from_env(&ProcessEnv).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "configuration refused; the function cannot start");
            return Err(err.into());
        }
    };
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(recharge::handle(app, req).await)
    }))
    .await
}
