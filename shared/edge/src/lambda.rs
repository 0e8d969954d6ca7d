//! What every function's entry point does: build the app once per cold
//! start (stopping with a logged error naming a bad variable), then serve
//! each request (with its JSON log line and the error contract) or batch.

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::LambdaEvent;
use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

use std::sync::Arc;

use crate::cors::CorsPolicy;
use crate::deadline::{Deadline, HTTP_RESERVE};
use crate::http::{error_response, ApiError, RequestMeta};
use crate::logging::RequestLog;
use shared::clock::SystemClock;
use shared::config::{ConfigError, Env, ProcessEnv};
use shared::ids::UserId;
use shared::secrets::{secret_ids, LiveApp, SecretEnv, SecretSource};

/// What serving one request gave: the response and, when known, the
/// caller's user id (for the log line), or an error for the contract.
pub type Served = Result<(Response<Body>, Option<UserId>), ApiError>;

/// What every request of an HTTP function passes through: its JSON log
/// line, CORS under the function's allowlist, the error contract and the
/// invocation's deadline. Each function's app owns one.
#[derive(Debug, Clone)]
pub struct HttpShell {
    function: &'static str,
    cors: CorsPolicy,
}

/// The deadline of the invocation that carries `req`, if the runtime gave one.
pub fn request_deadline(req: &Request) -> Option<Deadline> {
    req.lambda_context_ref()
        .and_then(|context| Deadline::from_epoch_ms(context.deadline, std::time::SystemTime::now()))
}

impl HttpShell {
    /// The shell of `function` (its name in log lines) allowing no browser origin.
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            cors: CorsPolicy::default(),
        }
    }

    /// The same shell under the CORS allowlist `cors`.
    pub fn with_cors(self, cors: CorsPolicy) -> Self {
        Self { cors, ..self }
    }

    /// Serves one request through `serve`, maps its error to the contract,
    /// and writes the request's log line. A request still running
    /// `HTTP_RESERVE` before its invocation's deadline is dropped and
    /// answered 503.
    pub async fn serve<F, Fut>(&self, req: Request, serve: F) -> Response<Body>
    where
        F: FnOnce(Request, RequestMeta) -> Fut,
        Fut: Future<Output = Served>,
    {
        let log = RequestLog::start(self.function);
        let meta = RequestMeta::from_request(&req);
        let (response, user_id) = if req.method() == lambda_http::http::Method::OPTIONS {
            (
                crate::cors::preflight(&self.cors, req.headers(), &meta.request_id),
                None,
            )
        } else {
            let origin = crate::cors::allowed_origin(&self.cors, req.headers());
            let deadline = request_deadline(&req);
            let served = match deadline {
            Some(deadline) => deadline
                .run(HTTP_RESERVE, serve(req, meta.clone()))
                .await
                .unwrap_or_else(|| {
                    tracing::warn!(request_id = %meta.request_id, "deadline near: answered 503");
                    shared::metrics::count(shared::metrics::Event::DeadlineCut);
                    Err(ApiError::unavailable())
                }),
            None => serve(req, meta.clone()).await,
        };
            let (mut response, user_id) = match served {
                Ok(done) => done,
                Err(err) => (error_response(&err, &meta.request_id), None),
            };
            crate::cors::decorate(origin, &mut response);
            (response, user_id)
        };
        log.finish(
            &meta.request_id,
            &meta.route,
            response.status().as_u16(),
            user_id.as_deref(),
        );
        response
    }
}

/// Where a function's secrets come from, built once per cold start and only
/// when `SECRET_IDS` names any: in AWS, `aws_adapters::secrets_manager`
/// (the function's `main.rs` wires it, so the edge needs no adapter).
pub type SecretSourceBuilder = fn() -> Pin<Box<dyn Future<Output = Arc<dyn SecretSource>> + Send>>;

/// Sets up logging and builds the app from the process environment and the
/// secrets it names (`SECRET_IDS`, read from `secrets`); the app is rebuilt
/// when a refresh finds rotated secrets. A configuration error at cold start
/// stops the function.
async fn start_live<A, B, BFut>(
    secrets: SecretSourceBuilder,
    build: B,
) -> Result<&'static LiveApp<A, B>, Error>
where
    A: Sync + 'static,
    B: Fn(SecretEnv) -> BFut + Sync + 'static,
    BFut: Future<Output = Result<A, ConfigError>> + Send,
{
    crate::logging::init();
    let base: Arc<dyn Env> = Arc::new(ProcessEnv);
    let source: Option<Arc<dyn SecretSource>> = if secret_ids(base.as_ref()).is_empty() {
        None
    } else {
        Some(secrets().await)
    };
    match LiveApp::start(base, source, Arc::new(SystemClock), build).await {
        Ok(live) => Ok(Box::leak(Box::new(live))),
        Err(err) => {
            tracing::error!(error = %err, "configuration refused; the function cannot start");
            Err(err.into())
        }
    }
}

/// What the edge needs from an HTTP function's app besides its handler.
pub trait HttpApp: Sized {
    /// The shell every request of the app passes through.
    fn shell(&self) -> &HttpShell;

    fn shell_mut(&mut self) -> &mut HttpShell;

    /// The same app allowing the browser origins of `cors`.
    fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.shell_mut().cors = cors;
        self
    }
}

/// The answer while secrets are stale: 503 with the error contract and a
/// log line, through `shell` (the app's own, so CORS still applies).
async fn stale_secrets_response(shell: &HttpShell, req: Request) -> Response<Body> {
    shell
        .serve(req, |_, _| async { Err(ApiError::unavailable()) })
        .await
}

/// Runs an HTTP function: logging, `build` at cold start (and again when
/// secrets rotate), then `handle` for every request.
pub async fn run_http<A, B, BFut, H, HFut>(
    secrets: SecretSourceBuilder,
    build: B,
    handle: H,
) -> Result<(), Error>
where
    A: HttpApp + Sync + 'static,
    B: Fn(SecretEnv) -> BFut + Sync + 'static,
    BFut: Future<Output = Result<A, ConfigError>> + Send,
    H: Fn(&'static A, Request) -> HFut + Sync,
    HFut: Future<Output = Response<Body>> + Send,
{
    let live = start_live(secrets, build).await?;
    let stale_shell = live.current().await?.shell().clone();
    let (handle, stale_shell) = (&handle, &stale_shell);
    run(service_fn(move |req: Request| async move {
        match live.current().await {
            Ok(app) => Ok::<_, Error>(handle(app, req).await),
            Err(_) => Ok(stale_secrets_response(stale_shell, req).await),
        }
    }))
    .await
}

/// Runs an SQS worker: logging, one `build` per cold start, then `handle`
/// for every batch with its invocation's deadline (its response names the
/// failed messages).
pub async fn run_sqs<A, B, BFut, H, HFut>(
    secrets: SecretSourceBuilder,
    build: B,
    handle: H,
) -> Result<(), Error>
where
    A: Sync + 'static,
    B: Fn(SecretEnv) -> BFut + Sync + 'static,
    BFut: Future<Output = Result<A, ConfigError>> + Send,
    H: Fn(&'static A, SqsEvent, Option<Deadline>) -> HFut + Sync,
    HFut: Future<Output = SqsBatchResponse> + Send,
{
    let live = start_live(secrets, build).await?;
    let handle = &handle;
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            let deadline =
                Deadline::from_epoch_ms(event.context.deadline, std::time::SystemTime::now());
            let app = live.current().await?;
            Ok::<_, Error>(handle(app, event.payload, deadline).await)
        },
    ))
    .await
}

/// Runs a scheduled task: logging, one `build` per cold start, then `handle`
/// for every tick; its report is the invocation's result, its error fails
/// the invocation.
pub async fn run_scheduled<A, B, BFut, H, HFut, R, E>(
    secrets: SecretSourceBuilder,
    build: B,
    handle: H,
) -> Result<(), Error>
where
    A: Sync + 'static,
    B: Fn(SecretEnv) -> BFut + Sync + 'static,
    BFut: Future<Output = Result<A, ConfigError>> + Send,
    H: Fn(&'static A, serde_json::Value) -> HFut + Sync,
    HFut: Future<Output = Result<R, E>> + Send,
    R: serde::Serialize,
    E: std::error::Error + Send + Sync + 'static,
{
    let live = start_live(secrets, build).await?;
    let handle = &handle;
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let app = live.current().await?;
            handle(app, event.payload).await.map_err(|err| {
                tracing::error!(error = %err, "scheduled run failed");
                Error::from(err)
            })
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_from(origin: &str, method: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/v1/flags",
            "rawQueryString": "",
            "headers": { "origin": origin },
            "requestContext": {
                "http": { "method": method, "path": "/v1/flags", "sourceIp": "192.0.2.1" },
                "requestId": "req-stale"
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
    }

    #[tokio::test]
    async fn while_secrets_are_stale_an_allowed_origin_still_gets_cors_and_the_503() {
        let origin = "https://app.wallet.test";
        let shell =
            HttpShell::new("flags").with_cors(CorsPolicy::new(vec![origin.to_string()]).unwrap());
        let answer = stale_secrets_response(&shell, request_from(origin, "GET")).await;
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.headers()["access-control-allow-origin"], origin);
        assert!(answer.headers().contains_key("retry-after"));
        let preflight = stale_secrets_response(&shell, request_from(origin, "OPTIONS")).await;
        assert_eq!(preflight.status(), 204);
    }
}
