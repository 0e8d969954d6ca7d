//! The flags function: `GET /v1/flags` answers the caller's evaluated public
//! flags from the in-memory snapshot (no database call while it is fresh).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoFlags, DynamoStore};
use edge::http::{empty_response, header, json_response, only_query_params, ApiError, RequestMeta};
use edge::lambda::{HttpApp, HttpShell, Served};
use edge::router::{Route, Router};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::auth::liveness::SessionCheck;
use shared::auth::{AccessConfig, AccessGuard};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::flags::model::parse_version;
use shared::flags::{evaluate, CacheTiming, EvalContext, Evaluation, FlagCache, Visibility};
use shared::ports::{FlagStore, SessionLiveness};

mod settings;

pub use settings::Settings;

/// How long browsers and apps may reuse an answer.
const CLIENT_CACHE: &str = "private, max-age=10";

/// The routes of the flags function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsRoute {
    /// The caller's evaluated public flags.
    Public,
}

/// Every route this function serves.
pub const ROUTER: Router<FlagsRoute> = Router::new(&[Route {
    method: "GET",
    path: "/v1/flags",
    route: FlagsRoute::Public,
}]);

/// Everything built once per cold start.
pub struct App {
    cache: FlagCache,
    guard: AccessGuard,
    sessions: SessionCheck,
    shell: HttpShell,
}

#[derive(Serialize)]
struct FlagsBody<'a> {
    version: u64,
    flags: BTreeMap<&'a str, Evaluation>,
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
    /// `ttl` and `max_stale` in seconds (see `FlagCache`).
    pub fn new(
        access: AccessConfig,
        sessions: Arc<dyn SessionLiveness>,
        store: Arc<dyn FlagStore>,
        clock: Arc<dyn Clock>,
        ttl: i64,
        max_stale: i64,
    ) -> Self {
        Self {
            cache: FlagCache::new(store, clock.clone(), ttl, max_stale),
            guard: AccessGuard::new(access, clock.clone()),
            sessions: SessionCheck::new(sessions, clock),
            shell: HttpShell::new("flags"),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the flag store on DynamoDB under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let store = Arc::new(DynamoFlags::new(&sdk, settings.flags_table));
        let CacheTiming { ttl, max_stale } = settings.timing;
        Self::new(
            settings.access,
            Arc::new(DynamoStore::new(&sdk, settings.auth_tables)),
            store,
            Arc::new(SystemClock),
            ttl,
            max_stale,
        )
        .with_cors(settings.cors)
    }
}

/// Serves one request and writes its log line.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.shell
        .serve(req, |req, meta| async move {
            let FlagsRoute::Public = ROUTER.resolve(req.method().as_str(), &meta.route)?.route;
            public_flags(app, &req, &meta).await
        })
        .await
}

async fn public_flags(app: &App, req: &Request, meta: &RequestMeta) -> Served {
    only_query_params(req, &[])?;
    let context = caller_context(app, req, meta).await?;
    let view = app.cache.current().await.map_err(|err| {
        tracing::error!(error = %err, "flag store unreadable and nothing cached");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FLAGS_UNAVAILABLE",
            "Feature flags are temporarily unavailable.",
        )
        .with_retry_after(5)
    })?;
    let snapshot = &view.snapshot;
    let body = FlagsBody {
        version: snapshot.version,
        flags: snapshot
            .flags
            .iter()
            .filter(|f| f.visibility == Visibility::Public)
            .map(|f| {
                let evaluation = evaluate(f, &context, snapshot.emergency, view.beyond_stale_bound);
                (f.key.as_str(), evaluation)
            })
            .collect(),
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    let etag = format!(
        "\"{}-{}\"",
        snapshot.version,
        &hex::encode(Sha256::digest(text.as_bytes()))[..16]
    );
    let not_modified = header(req.headers(), "if-none-match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        empty_response(StatusCode::NOT_MODIFIED, &meta.request_id)
    } else {
        json_response(StatusCode::OK, &body, &meta.request_id)
    };
    let headers = response.headers_mut();
    headers.insert("cache-control", HeaderValue::from_static(CLIENT_CACHE));
    headers.insert(
        "vary",
        HeaderValue::from_static(
            "Authorization, X-Device-Id, X-App-Version, CloudFront-Viewer-Country",
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert("etag", value);
    }
    Ok((response, context.user_id))
}

/// Who is asking: a verified user whose session still stands when a token
/// is sent (an invalid token or an ended session is refused, not ignored),
/// otherwise an anonymous device.
async fn caller_context(
    app: &App,
    req: &Request,
    meta: &RequestMeta,
) -> Result<EvalContext, ApiError> {
    let headers = req.headers();
    let device_id = header(headers, "x-device-id")
        .filter(|d| (8..=128).contains(&d.len()))
        .map(str::to_string);
    let country = header(headers, "cloudfront-viewer-country")
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let app_version = header(headers, "x-app-version").and_then(parse_version);
    let (user_id, role) = match header(headers, "authorization") {
        Some(authorization) => {
            let principal = app.guard.authenticate(
                Some(authorization),
                device_id.as_deref(),
                meta.source_ip,
            )?;
            app.sessions.live(&(&principal).into()).await?;
            (Some(principal.sub), principal.role.as_str().to_string())
        }
        None => (None, "anonymous".to_string()),
    };
    Ok(EvalContext {
        user_id,
        device_id,
        country,
        app_version,
        role,
    })
}
