//! The admin function (Lambda function URL with IAM auth): flag management,
//! the emergency switch, account unlocks and the audit log. Besides IAM at
//! the URL (the SigV4 signature travels in `Authorization`), every call needs
//! an admin access token with TOTP in its own header, `X-Admin-Session`,
//! sent from the IP it is pinned to, inside the admin allowlist.

mod routes;
mod url_auth;

pub use routes::SESSION_HEADER;
pub use url_auth::{AdminRole, UrlAuth};

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, AdminTables, DynamoAdmin, DynamoFlags, DynamoKyc, DynamoStore, DynamoWallet,
    S3Documents, SesMailer, TableNames, WalletTables,
};
use edge::cors::CorsPolicy;
use edge::lambda::HttpShell;
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
use shared::config::{parsed_or, ConfigError, Env};
use shared::kyc::desk::{KycDesk, KycDeskPorts};
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;
use shared::ports::{
    AdminStore, AuditLog, FlagStore, Mailer, ReviewStore, SessionStore, UserStore,
};

/// The ports the admin desks run on, as the composition root wires them.
#[derive(Clone)]
pub struct AdminPorts {
    pub flags: Arc<dyn FlagStore>,
    pub audit: Arc<dyn AuditLog>,
    pub store: Arc<dyn AdminStore>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
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
            admission: Admission::new(ports.sessions, clock.clone()),
            flags: FlagsAdmin::new(ports.flags, commits.clone()),
            unlocks: UserUnlocks::new(ports.users.clone(), commits.clone()),
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

    /// The same app allowing the browser origins of `cors`.
    pub fn with_cors(self, cors: CorsPolicy) -> Self {
        Self {
            shell: self.shell.with_cors(cors),
            ..self
        }
    }

    /// The same app, for a function URL that authenticates with `url_auth`.
    pub fn with_url_auth(mut self, url_auth: UrlAuth) -> Self {
        self.url_auth = url_auth;
        self
    }

    /// Reads `ADMIN_URL_AUTH` (and `ADMIN_ROLE_ARN` behind `AWS_IAM`), the token settings, the tables (`FLAGS_TABLE`, `AUDIT_TABLE`,
    /// `USERS_TABLE`, `SESSIONS_TABLE`, `COUNTERS_TABLE`, `WALLET_TABLE`,
    /// `KYC_TABLE`), `MAIL_FROM` and `MAIL_CONFIGURATION_SET`, the audit keys (`AUDIT_HMAC_KEYS`,
    /// `AUDIT_HMAC_KID`), and for KYC review the PII keys, `KYC_BUCKET`, `KYC_RETENTION_DAYS` and `KYC_LINK_SECONDS` (30-900, default 300).
    pub async fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let url_auth = UrlAuth::from_env(env)?;
        let cors = CorsPolicy::from_env(env)?;
        let access = AccessConfig::from_env(env)?;
        let admin_tables = AdminTables::from_env(env)?;
        let auth_tables = TableNames::from_env(env)?;
        let mail = aws_adapters::MailSettings::from_env(env)?;
        let pii = PiiKeys::from_env(env)?;
        let audit_keys = AuditKeys::from_env(env)?;
        let retention_seconds = KycPolicy::from_env(env)?.retention_seconds;
        let link_seconds: u64 = parsed_or(env, "KYC_LINK_SECONDS", 300)?;
        if !(30..=900).contains(&link_seconds) {
            return Err(ConfigError::Invalid {
                var: "KYC_LINK_SECONDS".into(),
                reason: "must be between 30 and 900".into(),
            });
        }
        let sdk = load_sdk_config().await;
        let wallet = Arc::new(DynamoWallet::new(&sdk, WalletTables::from_env(env)?));
        let kyc = KycDeskPorts {
            store: Arc::new(DynamoKyc::new(&sdk, admin_tables.kyc.clone())),
            documents: Arc::new(S3Documents::from_settings(
                &sdk,
                aws_adapters::BucketSettings::from_env(env)?,
            )),
            wallet: wallet.clone(),
            pii: Arc::new(pii),
            retention_seconds,
            link_seconds,
        };
        let ports = admin_ports(
            DynamoFlags::new(&sdk, admin_tables.flags.clone()),
            DynamoAdmin::new(&sdk, admin_tables),
            DynamoStore::new(&sdk, auth_tables),
            wallet,
            SesMailer::new(&sdk, &mail),
            kyc,
            audit_keys,
        );
        Ok(Self::new(access, ports, Arc::new(SystemClock))
            .with_url_auth(url_auth)
            .with_cors(cors))
    }
}

/// The admin ports over the AWS adapters.
pub fn admin_ports(
    flags: DynamoFlags,
    admin: DynamoAdmin,
    auth: DynamoStore,
    wallet: Arc<DynamoWallet>,
    mailer: SesMailer,
    kyc: KycDeskPorts,
    audit_keys: AuditKeys,
) -> AdminPorts {
    let admin = Arc::new(admin);
    let auth = Arc::new(auth);
    AdminPorts {
        flags: Arc::new(flags),
        audit: admin.clone(),
        store: admin,
        users: auth.clone(),
        sessions: auth,
        reviews: wallet,
        mailer: Arc::new(mailer),
        kyc,
        audit_keys: Arc::new(audit_keys),
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
