//! The export document: everything the system keeps about an account, as
//! the account's owner may read it. Secrets (password hash, TOTP secret,
//! backup code hashes) and fraud signals (scores, reasons, the audit
//! entries' before and after values) are left out; KYC gives the status of
//! each submission, not the documents.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::AuditEntry;
use crate::auth::model::{Session, UserRecord};
use crate::kyc::model::{DocumentType, KycStatus, KycSubmission};
use crate::ports::WalletRecords;
use crate::wallet::limits::LimitsState;
use crate::wallet::model::{LedgerEntry, RechargeStatus};

/// The document's format name and version.
pub const FORMAT: &str = "wallet-account-export/1";

/// What the export is made from.
pub struct ExportInputs {
    pub export_id: String,
    pub user: UserRecord,
    pub sessions: Vec<Session>,
    pub wallet: WalletRecords,
    pub kyc: Vec<KycSubmission>,
    pub audit: Vec<AuditEntry>,
}

/// The export document.
#[derive(Debug, Serialize)]
pub struct AccountExport {
    pub format: &'static str,
    pub export_id: String,
    pub generated_at: i64,
    pub profile: Profile,
    pub sessions: Vec<SessionRow>,
    pub devices: Devices,
    pub wallet: Wallet,
    pub recharges: Vec<RechargeRow>,
    pub ledger: Vec<LedgerEntry>,
    pub kyc: Vec<KycRow>,
    pub audit: Vec<AuditRow>,
}

/// The account itself.
#[derive(Debug, Serialize)]
pub struct Profile {
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
    pub role: &'static str,
    pub created_at: i64,
    pub mfa_enabled: bool,
    pub backup_codes_left: usize,
}

/// One sign-in session.
#[derive(Debug, Serialize)]
pub struct SessionRow {
    pub session_id: String,
    pub device_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// Whether it still stands (not ended, not expired).
    pub active: bool,
}

/// The devices the account was used from, as stored (keyed hashes of the
/// device ids).
#[derive(Debug, Serialize)]
pub struct Devices {
    pub signed_in_from: Vec<String>,
    pub recharged_from: Vec<String>,
}

/// The wallet's standing.
#[derive(Debug, Default, Serialize)]
pub struct Wallet {
    pub balances: BTreeMap<String, i64>,
    pub limits: Option<LimitsState>,
    pub age_verified: bool,
    pub country: Option<String>,
}

/// One recharge (its fraud score and reasons are not exported).
#[derive(Debug, Serialize)]
pub struct RechargeRow {
    pub recharge_id: String,
    pub created_at: i64,
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    pub status: RechargeStatus,
    pub refunded: i64,
}

/// One KYC submission's status.
#[derive(Debug, Serialize)]
pub struct KycRow {
    pub submission_id: String,
    pub status: KycStatus,
    pub document_type: DocumentType,
    pub issuing_country: String,
    pub submitted_at: i64,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    /// When the documents and identity data were erased.
    pub erased_at: Option<i64>,
}

/// One audit entry about the account.
#[derive(Debug, Serialize)]
pub struct AuditRow {
    pub at: i64,
    pub action: String,
    pub target: String,
    /// `you`, `payment provider` or `staff`.
    pub by: &'static str,
}

/// Who an audit entry's actor is, as the owner reads it.
fn actor_kind(actor: &str, user_id: &str) -> &'static str {
    if actor == user_id {
        "you"
    } else if actor.starts_with("provider:") {
        "payment provider"
    } else {
        "staff"
    }
}

/// The document of `inputs` as at `now`.
pub fn render(inputs: ExportInputs, now: i64) -> AccountExport {
    let user = &inputs.user;
    let sessions = inputs
        .sessions
        .iter()
        .map(|s| SessionRow {
            session_id: s.session_id.clone(),
            device_id: s.device_id.clone(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            active: !s.revoked && s.epoch >= user.session_epoch && s.expires_at > now,
        })
        .collect();
    let profile = inputs.wallet.profile.clone();
    let wallet = profile
        .as_ref()
        .map(|p| Wallet {
            balances: p.balances.clone(),
            limits: p.limits,
            age_verified: p.age_verified,
            country: p.country.clone(),
        })
        .unwrap_or_default();
    let recharges = inputs
        .wallet
        .recharges
        .iter()
        .map(|r| RechargeRow {
            recharge_id: r.recharge_id.clone(),
            created_at: r.created_at,
            amount: r.amount,
            currency: r.currency.clone(),
            provider: r.provider.clone(),
            status: r.status,
            refunded: r.refunded,
        })
        .collect();
    let kyc = inputs
        .kyc
        .iter()
        .map(|k| KycRow {
            submission_id: k.submission_id.clone(),
            status: k.status,
            document_type: k.document_type,
            issuing_country: k.issuing_country.clone(),
            submitted_at: k.submitted_at,
            decided_at: k.decided_at,
            reason: k.reason.clone(),
            erased_at: k.purged_at,
        })
        .collect();
    let audit = inputs
        .audit
        .iter()
        .map(|e| AuditRow {
            at: e.at,
            action: e.action.clone(),
            target: e.target.clone(),
            by: actor_kind(&e.actor, &user.user_id),
        })
        .collect();
    AccountExport {
        format: FORMAT,
        export_id: inputs.export_id,
        generated_at: now,
        profile: Profile {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            role: user.role.as_str(),
            created_at: user.created_at,
            mfa_enabled: user.totp.secret.is_some(),
            backup_codes_left: user.totp.backup_codes.len(),
        },
        sessions,
        devices: Devices {
            signed_in_from: user.known_devices.clone(),
            recharged_from: profile.map(|p| p.devices).unwrap_or_default(),
        },
        wallet,
        recharges,
        ledger: inputs.wallet.ledger,
        kyc,
        audit,
    }
}
