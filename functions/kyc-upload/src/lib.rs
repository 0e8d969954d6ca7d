//! The KYC upload function: `POST /v1/kyc/submissions` (multipart form with
//! the document's details and images) and `GET /v1/kyc/status`, thin over
//! the shared KYC service.

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoFlags, DynamoKyc, DynamoStore, S3Documents};
use bytes::Bytes;
use edge::http::{header, json_response, only_query_params, RequestMeta};
use edge::lambda::{HttpApp, HttpShell, Served};
use edge::multipart::{parse_form, FormSpec};
use edge::router::{Route, Router};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::auth::liveness::{SessionCheck, SignedInCallers};
use shared::auth::AccessGuard;
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::flags::{CacheTiming, FeatureGuard, FlagCache};
use shared::kyc::files::MAX_FILE_BYTES;
use shared::kyc::form::{SubmissionForm, FILE_FIELDS, MAX_BODY_BYTES, MAX_TEXT_BYTES, TEXT_FIELDS};
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::{KycPorts, KycService};
use shared::ports::FlagStore;

/// The routes of `/v1/kyc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycRoute {
    Submit,
    Status,
}

/// Every route this function serves.
pub const ROUTER: Router<KycRoute> = Router::new(&[
    Route {
        method: "POST",
        path: "/v1/kyc/submissions",
        route: KycRoute::Submit,
    },
    Route {
        method: "GET",
        path: "/v1/kyc/status",
        route: KycRoute::Status,
    },
]);

mod settings;

pub use settings::Settings;

/// The submission form's parts and limits, as the KYC rules declare them.
pub const SUBMISSION_FORM: FormSpec = FormSpec {
    text_parts: &TEXT_FIELDS,
    file_parts: &FILE_FIELDS,
    max_text_bytes: MAX_TEXT_BYTES,
    max_file_bytes: MAX_FILE_BYTES as u64,
    max_body_bytes: MAX_BODY_BYTES,
};

/// Everything built once per cold start.
pub struct App {
    service: KycService,
    guard: AccessGuard,
    sessions: SessionCheck,
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
        callers: SignedInCallers,
        ports: KycPorts,
        flags: Arc<dyn FlagStore>,
        pii: PiiKeys,
        policy: KycPolicy,
        clock: Arc<dyn Clock>,
        timing: CacheTiming,
    ) -> Self {
        let cache = Arc::new(FlagCache::with_timing(flags, clock.clone(), timing));
        Self {
            guard: AccessGuard::new(callers.access, clock.clone()),
            sessions: SessionCheck::new(callers.sessions, clock.clone()),
            service: KycService::new(
                ports,
                Arc::new(pii),
                policy,
                FeatureGuard::new(cache),
                clock,
            ),
            shell: HttpShell::new("kyc-upload"),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the KYC store on DynamoDB, the documents on S3
    /// and the kill switch's flag store, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let ports = KycPorts {
            store: Arc::new(DynamoKyc::new(&sdk, settings.kyc_table)),
            documents: Arc::new(S3Documents::from_settings(&sdk, settings.bucket)),
        };
        Self::new(
            SignedInCallers {
                access: settings.access,
                sessions: Arc::new(DynamoStore::new(&sdk, settings.auth_tables)),
            },
            ports,
            Arc::new(DynamoFlags::new(&sdk, settings.flags_table)),
            settings.pii,
            settings.policy,
            Arc::new(SystemClock),
            settings.timing,
        )
        .with_cors(settings.cors)
    }
}

/// Serves one request and writes its log line.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.shell
        .serve(req, |req, meta| async move { serve(app, req, &meta).await })
        .await
}

async fn serve(app: &App, req: Request, meta: &RequestMeta) -> Served {
    let route = ROUTER.resolve(req.method().as_str(), &meta.route)?.route;
    let principal = app.guard.authenticate(
        header(req.headers(), "authorization"),
        header(req.headers(), "x-device-id"),
        meta.source_ip,
    )?;
    app.sessions.verified(&(&principal).into()).await?;
    let user = Some(principal.sub.clone());
    let id = &meta.request_id;
    match route {
        KycRoute::Submit => {
            only_query_params(&req, &[])?;
            let content_type = header(req.headers(), "content-type")
                .unwrap_or_default()
                .to_string();
            let body = match req.into_body() {
                Body::Binary(bytes) => Bytes::from(bytes),
                Body::Text(text) => Bytes::from(text),
                _ => Bytes::new(),
            };
            app.service.uploads_open().await?;
            let form = parse_form(&SUBMISSION_FORM, &content_type, body).await?;
            let form = SubmissionForm::from_parts(form.text, form.files);
            let receipt = app.service.submit(&principal.sub, form).await?;
            Ok((json_response(StatusCode::CREATED, &receipt, id), user))
        }
        KycRoute::Status => {
            only_query_params(&req, &[])?;
            let view = app.service.status(&principal.sub).await?;
            Ok((json_response(StatusCode::OK, &view, id), user))
        }
    }
}
