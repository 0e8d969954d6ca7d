//! Lambda entry point: build the app once, then handle SQS batches.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let app = match webhook_worker::App::from_env(&ProcessEnv).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "configuration refused; the function cannot start");
            return Err(err.into());
        }
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(webhook_worker::handle_batch(app, event.payload).await)
    }))
    .await
}
