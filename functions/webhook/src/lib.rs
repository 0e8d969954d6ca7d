//! The webhook function: `POST /v1/webhooks/{provider}` verifies the
//! delivery over its exact raw bytes (API Gateway's base64 already undone),
//! stores it once and queues it; 200 only once both are done.

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoInbox, SqsQueue};
use edge::http::{body_bytes, json_response, RequestMeta};
use edge::lambda::{HttpApp, HttpShell, Served};
use edge::router::{Route, Router};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::ports::{WebhookInbox, WebhookQueue};
use shared::webhook::ingest::{DeliveryHeaders, IngestPolicy, WebhookIngest};

mod settings;

pub use settings::Settings;

/// The routes of the webhook function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRoute {
    /// One provider's delivery.
    Delivery,
}

/// Every route this function serves (`{provider}`: one path segment).
pub const ROUTER: Router<WebhookRoute> = Router::new(&[Route {
    method: "POST",
    path: "/v1/webhooks/{provider}",
    route: WebhookRoute::Delivery,
}]);

/// Everything built once per cold start.
pub struct App {
    ingest: WebhookIngest,
    shell: HttpShell,
}

impl HttpApp for App {
    fn shell(&self) -> &HttpShell {
        &self.shell
    }

    fn shell_mut(&mut self) -> &mut HttpShell {
        &mut self.shell
    }
}

impl App {
    pub fn new(
        policy: IngestPolicy,
        inbox: Arc<dyn WebhookInbox>,
        queue: Arc<dyn WebhookQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ingest: WebhookIngest {
                inbox,
                queue,
                policy,
                clock,
            },
            shell: HttpShell::new("webhook"),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the inbox on DynamoDB and the queue on SQS,
    /// under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        Self::new(
            settings.policy,
            Arc::new(DynamoInbox::new(&sdk, settings.inbox_table)),
            Arc::new(SqsQueue::new(&sdk, settings.queue_url)),
            Arc::new(SystemClock),
        )
        .with_cors(settings.cors)
    }
}

/// Serves one delivery and writes its log line (never the body).
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.shell
        .serve(
            req,
            |req, meta| async move { serve(app, &req, &meta).await },
        )
        .await
}

async fn serve(app: &App, req: &Request, meta: &RequestMeta) -> Served {
    let matched = ROUTER.resolve(req.method().as_str(), &meta.route)?;
    let WebhookRoute::Delivery = matched.route;
    let provider = matched.param("provider");
    let headers: DeliveryHeaders = req
        .headers()
        .iter()
        .map(|(name, value)| {
            let text = value.to_str().ok().map(str::to_string);
            (name.as_str().to_string(), text)
        })
        .collect();
    app.ingest
        .ingest(provider, &headers, body_bytes(req.body()))
        .await?;
    Ok((
        json_response(
            StatusCode::OK,
            &json!({ "received": true }),
            &meta.request_id,
        ),
        None,
    ))
}
