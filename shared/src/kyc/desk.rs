//! The reviewers' side of KYC, as admin actions: list and read submissions
//! (PII decrypted, documents behind short-lived links), decide once,
//! and erase a user's documents and PII when the account is deleted.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::age::{age_on, date_at, parse_birth_date};
use super::erasure::erase_user_kyc;
use super::model::{DocumentRole, KycStatus, KycSubmission, Verdict};
use super::pii::PiiKeys;
use super::service::pii_field;
use crate::admin::actor::Actor;
use crate::admin::commit::{AuditedCommits, COMMIT_ATTEMPTS};
use crate::admin::{AdminError, MAX_AUDIT_PAGE};
use crate::audit::{chain_after_head, AuditDraft};
use crate::ports::{
    AdminChange, DocumentStore, KycDecisionCommit, KycStore, Mailer, OutgoingEmail, ProfileChange,
    StoreError, UserStore, WalletStore,
};
use crate::validation::FieldIssue;
use crate::wallet::model::WalletProfile;

/// The KYC ports and settings of the review desk.
#[derive(Clone)]
pub struct KycDeskPorts {
    pub store: Arc<dyn KycStore>,
    pub documents: Arc<dyn DocumentStore>,
    pub wallet: Arc<dyn WalletStore>,
    pub pii: Arc<PiiKeys>,
    /// Seconds after a decision before documents and PII are erased.
    pub retention_seconds: i64,
    /// Lifetime of document links.
    pub link_seconds: u64,
}

/// A submission without its PII, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct KycSummary {
    pub submission_id: String,
    pub user_id: String,
    pub status: KycStatus,
    pub document_type: super::model::DocumentType,
    pub issuing_country: String,
    pub stricter_review: bool,
    pub submitted_at: i64,
    pub documents: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub purged: bool,
}

impl From<&KycSubmission> for KycSummary {
    fn from(s: &KycSubmission) -> Self {
        Self {
            submission_id: s.submission_id.clone(),
            user_id: s.user_id.clone(),
            status: s.status,
            document_type: s.document_type,
            issuing_country: s.issuing_country.clone(),
            stricter_review: s.stricter_review,
            submitted_at: s.submitted_at,
            documents: s.documents.len(),
            decided_at: s.decided_at,
            decided_by: s.decided_by.clone(),
            reason: s.reason.clone(),
            purged: s.purged_at.is_some(),
        }
    }
}

/// A page of submissions and the cursor of the next one.
#[derive(Debug, Clone, Serialize)]
pub struct KycPage {
    pub submissions: Vec<KycSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One document behind a short-lived link.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentLink {
    pub role: DocumentRole,
    pub content_type: String,
    pub bytes: u64,
    pub sha256: String,
    pub url: String,
    pub expires_in: u64,
}

/// Everything a reviewer needs to decide.
#[derive(Debug, Clone, Serialize)]
pub struct KycDetail {
    #[serde(flatten)]
    pub summary: KycSummary,
    /// Decrypted; `None` once erased or if the key is gone.
    pub date_of_birth: Option<String>,
    pub document_number: Option<String>,
    /// Age today, from the date of birth.
    pub age: Option<i32>,
    pub links: Vec<DocumentLink>,
}

pub use super::erasure::Erasure;

/// The reviewers' side of KYC: lists, reads, decides and erases submissions.
pub struct KycDesk {
    ports: KycDeskPorts,
    users: Arc<dyn UserStore>,
    mailer: Arc<dyn Mailer>,
    commits: AuditedCommits,
}

impl KycDesk {
    /// Submissions in `ports`, decided through `commits`; applicants (found
    /// in `users`) are told the outcome through `mailer`.
    pub fn new(
        ports: KycDeskPorts,
        users: Arc<dyn UserStore>,
        mailer: Arc<dyn Mailer>,
        commits: AuditedCommits,
    ) -> Self {
        Self {
            ports,
            users,
            mailer,
            commits,
        }
    }

    /// Up to `limit` submissions with `status`, oldest first.
    pub async fn submissions(
        &self,
        status: KycStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<KycPage, AdminError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        match self.ports.store.submissions(status, limit, cursor).await {
            Ok((subs, next_cursor)) => Ok(KycPage {
                submissions: subs.iter().map(KycSummary::from).collect(),
                next_cursor,
            }),
            Err(StoreError::NotFound) => Err(AdminError::Invalid(vec![FieldIssue::new(
                "cursor",
                "not a cursor from a previous page",
            )])),
            Err(other) => Err(other.into()),
        }
    }

    /// The submission with decrypted PII and document links.
    pub async fn submission(
        &self,
        actor: &Actor,
        submission_id: &str,
    ) -> Result<KycDetail, AdminError> {
        let desk = &self.ports;
        let sub = desk
            .store
            .submission(submission_id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let reveal = |field: &str, value: &str| -> Option<String> {
            if value.is_empty() {
                return None;
            }
            desk.pii
                .decrypt(&pii_field(&sub.submission_id, field), value)
                .map_err(|err| tracing::error!(error = %err, field, "KYC PII unreadable"))
                .ok()
        };
        let date_of_birth = reveal("date_of_birth", &sub.birth_date);
        let document_number = reveal("document_number", &sub.document_number);
        let today = date_at(self.commits.now());
        let age = date_of_birth
            .as_deref()
            .and_then(parse_birth_date)
            .zip(today)
            .map(|(birth, today)| age_on(birth, today));
        let mut links = Vec::new();
        for doc in &sub.documents {
            let name = doc
                .object_key
                .rsplit('/')
                .next()
                .unwrap_or("document")
                .to_string();
            let url = desk
                .documents
                .document_link(&doc.object_key, &name, desk.link_seconds)
                .await?;
            links.push(DocumentLink {
                role: doc.role,
                content_type: doc.content_type.clone(),
                bytes: doc.bytes,
                sha256: doc.sha256.clone(),
                url,
                expires_in: desk.link_seconds,
            });
        }
        tracing::info!(admin = %actor.user_id, submission_id, "KYC submission opened for review");
        Ok(KycDetail {
            summary: KycSummary::from(&sub),
            date_of_birth,
            document_number,
            age,
            links,
        })
    }

    /// Decides a pending submission once; approval marks the account
    /// age-verified (and sets its country) in the same write. The user is
    /// emailed the outcome.
    pub async fn decide(
        &self,
        actor: &Actor,
        submission_id: &str,
        verdict: &Verdict,
    ) -> Result<KycSubmission, AdminError> {
        let action = format!("kyc.{}", verdict.status().as_str());
        for _ in 0..COMMIT_ATTEMPTS {
            let sub = self
                .ports
                .store
                .submission(submission_id)
                .await?
                .ok_or(AdminError::NotFound)?;
            let target = format!("kyc:{submission_id}");
            let decision = verdict.status().as_str();
            self.commits
                .refuse_own_case(actor, &sub.user_id, "kyc", &target, decision)
                .await?;
            if sub.status != KycStatus::Pending {
                return Err(AdminError::Conflict("KYC_ALREADY_DECIDED"));
            }
            if sub.purged_at.is_some() {
                return Err(AdminError::Conflict("KYC_ERASED"));
            }
            let now = self.commits.now();
            let mut decided = sub.clone();
            decided.status = verdict.status();
            decided.decided_at = Some(now);
            decided.decided_by = Some(actor.user_id.to_string());
            decided.reason = verdict.reason().map(str::to_string);
            decided.purge_after = Some(now + self.ports.retention_seconds);
            let profile = match verdict {
                Verdict::Approve => Some(self.verified_profile(actor, &sub, now).await?),
                _ => None,
            };
            let change = AdminChange::DecideKyc(Box::new(KycDecisionCommit {
                submission: decided.clone(),
                profile,
            }));
            let draft = AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: action.clone(),
                target,
                before: Some(json!({ "status": "pending" })),
                after: Some(json!({ "status": decided.status, "reason": decided.reason })),
            };
            match self.commits.try_commit(&change, draft).await {
                Ok(()) => {
                    self.email_outcome(&decided).await;
                    return Ok(decided);
                }
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AdminError::Conflict("BUSY"))
    }

    /// Removes every document and all PII of `user_id` (account deletion).
    pub async fn erase_user(&self, actor: &Actor, user_id: &str) -> Result<Erasure, AdminError> {
        let erasure = erase_user_kyc(
            &*self.ports.store,
            &*self.ports.documents,
            user_id,
            self.commits.now(),
        )
        .await?;
        let draft = || AuditDraft {
            actor: actor.user_id.to_string(),
            ip: actor.ip.clone(),
            action: "kyc.erase".to_string(),
            target: format!("user:{user_id}"),
            before: None,
            after: Some(json!(erasure)),
        };
        self.commits
            .commit_with_audit(&AdminChange::RecordOnly, draft)
            .await?;
        Ok(erasure)
    }

    /// The applicant's wallet profile marked age-verified, with the entry
    /// that records it in the account's own audit chain.
    async fn verified_profile(
        &self,
        actor: &Actor,
        sub: &KycSubmission,
        now: i64,
    ) -> Result<ProfileChange, AdminError> {
        let readings = self
            .ports
            .wallet
            .readings(&sub.user_id, "", &[], "")
            .await?;
        let (mut profile, expected_audit_seq) = match readings.profile {
            Some(profile) => {
                let seq = profile.audit_seq;
                (profile, Some(seq))
            }
            None => {
                let user = self
                    .users
                    .user_by_id(&sub.user_id)
                    .await?
                    .ok_or(AdminError::NotFound)?;
                (WalletProfile::new(&sub.user_id, user.created_at), None)
            }
        };
        let head = profile.audit_head();
        let audit = chain_after_head(
            self.commits.keys(),
            head,
            AuditDraft {
                actor: actor.user_id.to_string(),
                ip: actor.ip.clone(),
                action: "kyc.age_verified".to_string(),
                target: format!("user:{}", sub.user_id),
                before: Some(json!({ "age_verified": profile.age_verified })),
                after: Some(
                    json!({ "age_verified": true, "country": sub.issuing_country, "submission": sub.submission_id }),
                ),
            },
            now,
        );
        profile.age_verified = true;
        profile.country = Some(sub.issuing_country.clone());
        profile.audit_seq = audit.seq;
        profile.audit_hash = Some(audit.hash.clone());
        Ok(ProfileChange {
            profile,
            expected_audit_seq,
            audit,
        })
    }

    /// Tells the applicant the outcome (best effort: the decision stands).
    async fn email_outcome(&self, sub: &KycSubmission) {
        let user = match self.users.user_by_id(&sub.user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "KYC outcome email not sent");
                return;
            }
        };
        let reason = sub.reason.as_deref().unwrap_or_default();
        let (subject, text) = match sub.status {
            KycStatus::Approved => (
                "Your identity is verified",
                "Your identity documents were checked and accepted. Thank you.".to_string(),
            ),
            KycStatus::Rejected => (
                "Your identity check was not accepted",
                format!("Your identity documents could not be accepted. Reason: {reason}"),
            ),
            _ => (
                "Please send your identity documents again",
                format!("We need you to submit your identity documents again. Reason: {reason}"),
            ),
        };
        let mail = OutgoingEmail {
            to: user.email,
            subject: subject.to_string(),
            text,
        };
        if let Err(err) = self.mailer.send(&mail).await {
            tracing::warn!(error = %err, "KYC outcome email not sent");
        }
    }
}
