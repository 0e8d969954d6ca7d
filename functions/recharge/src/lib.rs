//! The recharge function: `POST /v1/wallet/recharge`, `GET /v1/wallet`,
//! `GET /v1/wallet/recharges/{id}` and `PUT /v1/wallet/limits`, thin over
//! the shared wallet service.

pub mod outcome;
mod settings;

use std::sync::Arc;

use aws_adapters::{load_sdk_config, DynamoFlags, DynamoStore, DynamoWallet, SqsQueue};
use edge::http::{header, json_response, parse_json, ApiError, RequestMeta};
use edge::lambda::{HttpApp, HttpShell, Served};
use edge::router::{Route, Router};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::auth::{AccessConfig, AccessGuard};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::flags::{CacheTiming, FeatureGuard, FlagCache};
use shared::ids::IdempotencyKey;
use shared::ports::FlagStore;
use shared::wallet::limits::SpendingLimits;
use shared::wallet::service::{RechargeRequest, WalletCaller, WalletPorts, WalletService};

pub use settings::{policy_from_env, Settings};

/// The routes of `/v1/wallet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletRoute {
    Recharge,
    Wallet,
    RechargeStatus,
    Limits,
}

/// Every route this function serves (`{id}`: one path segment).
pub const ROUTER: Router<WalletRoute> = Router::new(&[
    Route {
        method: "POST",
        path: "/v1/wallet/recharge",
        route: WalletRoute::Recharge,
    },
    Route {
        method: "GET",
        path: "/v1/wallet",
        route: WalletRoute::Wallet,
    },
    Route {
        method: "GET",
        path: "/v1/wallet/recharges/{id}",
        route: WalletRoute::RechargeStatus,
    },
    Route {
        method: "PUT",
        path: "/v1/wallet/limits",
        route: WalletRoute::Limits,
    },
]);

/// Everything built once per cold start.
pub struct App {
    service: WalletService,
    guard: AccessGuard,
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
        access: AccessConfig,
        ports: WalletPorts,
        flags: Arc<dyn FlagStore>,
        policy: shared::wallet::service::RechargePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_flag_timing(access, ports, flags, policy, clock, CacheTiming::default())
    }

    /// As `new`, with the kill switch's flag cache timing.
    pub fn with_flag_timing(
        access: AccessConfig,
        ports: WalletPorts,
        flags: Arc<dyn FlagStore>,
        policy: shared::wallet::service::RechargePolicy,
        clock: Arc<dyn Clock>,
        timing: CacheTiming,
    ) -> Self {
        let cache = Arc::new(FlagCache::with_timing(flags, clock.clone(), timing));
        Self {
            guard: AccessGuard::new(access, clock.clone()),
            service: WalletService::new(ports, FeatureGuard::new(cache), policy, clock),
            shell: HttpShell::new("recharge"),
        }
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: the wallet ports on DynamoDB and SQS and the
    /// kill switch's flag store, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(
            DynamoWallet::new(&sdk, settings.wallet_tables)
                .with_session_tables(&settings.auth_tables.users, &settings.auth_tables.sessions),
        );
        let users = Arc::new(DynamoStore::new(&sdk, settings.auth_tables));
        let ports = WalletPorts {
            wallet: wallet.clone(),
            idempotency: wallet,
            users: users.clone(),
            liveness: users,
            reviews: Arc::new(SqsQueue::new(&sdk, settings.review_queue_url)),
            audit_keys: Arc::new(settings.audit_keys),
        };
        let flags = Arc::new(DynamoFlags::new(&sdk, settings.flags_table));
        let clock = Arc::new(SystemClock);
        Self::with_flag_timing(
            settings.access,
            ports,
            flags,
            settings.policy,
            clock,
            settings.timing,
        )
        .with_cors(settings.cors)
    }
}

/// Serves one request and writes its log line.
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
    let device_id = header(req.headers(), "x-device-id");
    let principal = app.guard.authenticate(
        header(req.headers(), "authorization"),
        device_id,
        meta.source_ip,
    )?;
    let user = Some(principal.sub.clone());
    let id = &meta.request_id;
    match matched.route {
        WalletRoute::Recharge => {
            let body: RechargeRequest = parse_json(req)?;
            let key = IdempotencyKey::parse(header(req.headers(), "idempotency-key"))
                .map_err(|issue| ApiError::validation(vec![issue]))?;
            let caller = WalletCaller {
                user_id: &principal.sub,
                session_id: &principal.sid,
                device_id: &principal.did,
                ip_country: header(req.headers(), "cloudfront-viewer-country"),
            };
            let reply = app.service.recharge(&caller, &key, &body).await?;
            let mut response = outcome::render(&reply.outcome, id);
            if reply.replayed {
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok((response, user))
        }
        WalletRoute::Wallet => {
            let view = app.service.wallet_view(&principal).await?;
            Ok((json_response(StatusCode::OK, &view, id), user))
        }
        WalletRoute::Limits => {
            let wanted: SpendingLimits = parse_json(req)?;
            let view = app.service.set_limits(&principal, wanted).await?;
            Ok((json_response(StatusCode::OK, &view, id), user))
        }
        WalletRoute::RechargeStatus => {
            let recharge_id = matched.param("id");
            if recharge_id.len() > 64 {
                return Err(ApiError::not_found());
            }
            let view = app.service.recharge_view(&principal, recharge_id).await?;
            Ok((json_response(StatusCode::OK, &view, id), user))
        }
    }
}
