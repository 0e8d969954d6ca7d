//! The login function: HTTP routes under `/v1/auth` over the shared auth service.

mod routes;
mod settings;

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoKyc, DynamoStore, MailSettings, S3Documents, SdkConfig, SesMailer,
    SqsQueue, TableNames,
};
use edge::lambda::{HttpApp, HttpShell};
use lambda_http::{Body, Request, Response};
use shared::auth::service::AuthPorts;
use shared::auth::{AccessGuard, AuthService};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};

pub use routes::{AuthRoute, ROUTER};
pub use settings::{AccountDataSettings, LoginConfig, Settings};

/// Everything built once per cold start and borrowed by each request.
pub struct App {
    service: AuthService,
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
    /// Wires the service over the given ports.
    pub fn new(config: LoginConfig, ports: AuthPorts, clock: Arc<dyn Clock>) -> Self {
        let guard = AccessGuard::new(config.access, clock.clone());
        Self {
            service: AuthService::new(
                ports,
                guard,
                config.signer,
                Arc::new(config.totp_keys),
                config.policy,
                clock,
            ),
            shell: HttpShell::new("login"),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the AWS adapters (DynamoDB, SES) under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let (ports, _) = aws_ports(
            &sdk,
            settings.tables,
            &settings.login.mail,
            settings.account_data,
        );
        Self::new(settings.login, ports, Arc::new(SystemClock)).with_cors(settings.cors)
    }
}

/// Serves one request: routes it, maps failures to the error contract, and
/// writes the request's log line.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.shell
        .serve(req, |req, meta| async move {
            routes::dispatch(&app.service, &req, &meta).await
        })
        .await
}

/// The auth ports on DynamoDB, SES, S3 (a deleted account's KYC, the data
/// exports) and SQS (export requests), with the store (for its request
/// count).
pub fn aws_ports(
    sdk: &SdkConfig,
    tables: TableNames,
    mail: &MailSettings,
    account_data: AccountDataSettings,
) -> (AuthPorts, DynamoStore) {
    let store = DynamoStore::new(sdk, tables);
    let shared = Arc::new(store.clone());
    let ports = AuthPorts {
        users: shared.clone(),
        sessions: shared.clone(),
        liveness: shared.clone(),
        attempts: shared,
        mailer: Arc::new(SesMailer::new(sdk, mail)),
        kyc: Arc::new(DynamoKyc::new(sdk, account_data.table)),
        documents: Arc::new(S3Documents::from_settings(sdk, account_data.bucket)),
        exports: Arc::new(store.clone()),
        export_queue: Arc::new(SqsQueue::new(sdk, account_data.export_queue_url)),
    };
    (ports, store)
}
