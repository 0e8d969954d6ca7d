//! The login function: HTTP routes under `/v1/auth` over the shared auth service.

mod config;
mod routes;

use std::sync::Arc;

use aws_adapters::{auth_ports, load_sdk_config, TableNames};
use edge::cors::CorsPolicy;
use edge::lambda::HttpShell;
use lambda_http::{Body, Request, Response};
use shared::auth::service::AuthPorts;
use shared::auth::{AccessGuard, AuthService};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};

pub use config::LoginConfig;
pub use routes::{AuthRoute, ROUTER};

/// Everything built once per cold start and borrowed by each request.
pub struct App {
    service: AuthService,
    shell: HttpShell,
}

impl App {
    /// Wires the service over the given ports.
    pub fn new(config: LoginConfig, ports: AuthPorts, clock: Arc<dyn Clock>) -> Self {
        let guard = AccessGuard::new(config.access, clock.clone());
        Self {
            service: AuthService::new(ports, guard, config.signer, config.policy, clock),
            shell: HttpShell::new("login"),
        }
    }

    /// The same app allowing the browser origins of `cors`.
    pub fn with_cors(self, cors: CorsPolicy) -> Self {
        Self {
            shell: self.shell.with_cors(cors),
            ..self
        }
    }

    /// Reads configuration and builds the AWS adapters (DynamoDB, SES).
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let config = LoginConfig::from_env(env)?;
        let tables = TableNames::from_env(env)?;
        let cors = CorsPolicy::from_env(env)?;
        let (ports, _) = auth_ports(&load_sdk_config().await, tables, &config.mail);
        Ok(Self::new(config, ports, Arc::new(SystemClock)).with_cors(cors))
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
