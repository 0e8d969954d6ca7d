//! The admin function (Lambda function URL with IAM auth): flag management,
//! the emergency switch, account unlocks and the audit log. Besides IAM at
//! the URL (the SigV4 signature travels in `Authorization`), every call needs
//! an admin access token with TOTP in its own header, `X-Admin-Session`,
//! sent from the IP it is pinned to, inside the admin allowlist.

mod routes;
mod settings;
mod url_auth;

pub use routes::{
    AdminRoute, AuditRoute, FlagRoute, KycRoute, ReviewRoute, ROUTER, SESSION_HEADER,
};
pub use settings::Settings;
pub use url_auth::{AdminRole, UrlAuth};

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, DynamoAdmin, DynamoFlags, DynamoKyc, DynamoStore, DynamoWallet, S3Documents,
    SesMailer,
};
use edge::lambda::{HttpApp, HttpShell};
use lambda_http::{Body, Request, Response};
use shared::admin::actor::Admission;
use shared::admin::audit::AuditTrail;
use shared::admin::commit::AuditedCommits;
use shared::admin::flags::FlagsAdmin;
use shared::admin::reviews::ReviewDesk;
use shared::admin::unlocks::UserUnlocks;
use shared::audit::AuditKeys;
use shared::auth::{AccessConfig, AccessGuard};
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Env};
use shared::kyc::desk::{KycDesk, KycDeskPorts};
use shared::ports::{
    AdminStore, AuditLog, FlagStore, Mailer, ReviewStore, SessionLiveness, SessionStore, UserStore,
};

/// The ports the admin desks run on, as the composition root wires them.
#[derive(Clone)]
pub struct AdminPorts {
    pub flags: Arc<dyn FlagStore>,
    pub audit: Arc<dyn AuditLog>,
    pub store: Arc<dyn AdminStore>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// Sessions and account standings, read to admit each admin's session.
    pub liveness: Arc<dyn SessionLiveness>,
    pub reviews: Arc<dyn ReviewStore>,
    pub mailer: Arc<dyn Mailer>,
    pub kyc: KycDeskPorts,
    /// Signs admin and KYC audit entries and verifies the chain.
    pub audit_keys: Arc<AuditKeys>,
}

/// Everything built once per cold start: the access checks and one service
/// per desk.
pub struct App {
    admission: Admission,
    flags: FlagsAdmin,
    unlocks: UserUnlocks,
    reviews: ReviewDesk,
    kyc: KycDesk,
    audit: AuditTrail,
    guard: AccessGuard,
    url_auth: UrlAuth,
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
    /// An app behind an unauthenticated URL (`UrlAuth::None`); see [`App::with_url_auth`].
    pub fn new(access: AccessConfig, ports: AdminPorts, clock: Arc<dyn Clock>) -> Self {
        let commits = AuditedCommits::new(
            ports.audit.clone(),
            ports.store,
            ports.audit_keys.clone(),
            clock.clone(),
        );
        Self {
            admission: Admission::new(ports.liveness, clock.clone()),
            flags: FlagsAdmin::new(ports.flags, commits.clone()),
            unlocks: UserUnlocks::new(ports.users.clone(), ports.mailer.clone(), commits.clone()),
            reviews: ReviewDesk::new(
                ports.reviews,
                ports.users.clone(),
                ports.mailer.clone(),
                commits.clone(),
            ),
            kyc: KycDesk::new(ports.kyc, ports.users, ports.mailer, commits),
            audit: AuditTrail::new(ports.audit, ports.audit_keys),
            guard: AccessGuard::new(access, clock),
            url_auth: UrlAuth::None,
            shell: HttpShell::new("admin"),
        }
    }

    /// The same app, for a function URL that authenticates with `url_auth`.
    pub fn with_url_auth(mut self, url_auth: UrlAuth) -> Self {
        self.url_auth = url_auth;
        self
    }

    /// Reads the settings, then builds the app over AWS.
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?).await)
    }

    /// The composition root: flags, audit, users, sessions, wallet and KYC
    /// on DynamoDB, documents on S3 and mail on SES, under `settings`.
    pub async fn from_settings(settings: Settings) -> Self {
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, settings.wallet_tables));
        let admin = Arc::new(DynamoAdmin::new(&sdk, settings.admin_tables.clone()));
        let auth = Arc::new(DynamoStore::new(&sdk, settings.auth_tables));
        let mailer = Arc::new(SesMailer::new(&sdk, &settings.mail));
        let ports = AdminPorts {
            flags: Arc::new(DynamoFlags::new(&sdk, settings.admin_tables.flags)),
            audit: admin.clone(),
            store: admin,
            users: auth.clone(),
            sessions: auth.clone(),
            liveness: auth,
            reviews: wallet.clone(),
            mailer,
            kyc: KycDeskPorts {
                store: Arc::new(DynamoKyc::new(&sdk, settings.admin_tables.kyc)),
                documents: Arc::new(S3Documents::from_settings(&sdk, settings.bucket)),
                wallet,
                pii: Arc::new(settings.pii),
                retention_seconds: settings.retention_seconds,
                link_seconds: settings.link_seconds,
            },
            audit_keys: Arc::new(settings.audit_keys),
        };
        Self::new(settings.access, ports, Arc::new(SystemClock))
            .with_url_auth(settings.url_auth)
            .with_cors(settings.cors)
    }
}

/// Serves one request and writes its log line.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.shell
        .serve(req, |req, meta| async move {
            routes::dispatch(app, &req, &meta).await
        })
        .await
}
