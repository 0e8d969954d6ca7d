//! The account data export, as the signed-in owner asks for it and fetches
//! it: a request needs the password (and a second factor when enrolled,
//! spent), is allowed once per [`EXPORT_INTERVAL_SECONDS`], and is queued
//! for the export worker (`export::worker`); the status answers a download
//! link valid [`EXPORT_LINK_SECONDS`] once the document is ready.

use std::net::IpAddr;

use super::access::Principal;
use super::error::AuthError;
use super::mfa::Reauthentication;
use super::secrets::new_id;
use super::service::{AuthService, Caller};
use crate::export::{
    object_key, EXPORT_INTERVAL_SECONDS, EXPORT_KEPT_SECONDS, EXPORT_LINK_SECONDS,
};
use crate::ports::{ExportJob, ExportRequest, StoreError};

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Pending,
    Ready,
    Expired,
}

/// The account's current export, as the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportStatus {
    pub export_id: String,
    pub status: ExportState,
    pub requested_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_expires_at: Option<i64>,
    /// When the next request will be accepted.
    pub next_request_at: i64,
}

impl ExportStatus {
    fn pending(request: &ExportRequest) -> Self {
        Self {
            export_id: request.export_id.clone(),
            status: ExportState::Pending,
            requested_at: request.requested_at,
            ready_at: None,
            download_url: None,
            download_expires_at: None,
            next_request_at: request.requested_at + EXPORT_INTERVAL_SECONDS,
        }
    }
}

/// The refusal of a request while `current` is too recent.
fn too_soon(current: &ExportRequest, now: i64) -> AuthError {
    let next = current.requested_at + EXPORT_INTERVAL_SECONDS;
    AuthError::RateLimited {
        retry_after: u64::try_from(next - now).unwrap_or(0).max(1),
    }
}

impl AuthService {
    /// Queues an export of the caller's account (see the module).
    pub async fn request_export(
        &self,
        principal: &Principal,
        ask: &Reauthentication<'_>,
        ip: Option<IpAddr>,
    ) -> Result<ExportStatus, AuthError> {
        self.live_session(principal).await?;
        let user = self.user_of(principal).await?;
        let now = self.clock.now();
        let previous = self.ports.exports.export_request(&user.user_id).await?;
        if let Some(current) = previous
            .as_ref()
            .filter(|r| r.requested_at + EXPORT_INTERVAL_SECONDS > now)
        {
            return Err(too_soon(current, now));
        }
        let caller = Caller {
            device_id: &principal.did,
            ip,
        };
        let factor = self
            .reauthenticate(&user, &caller, ask.password, &ask.factor)
            .await?;
        // The old export (a day old at least) goes before its record is
        // replaced, so nothing is left that no record names.
        if let Some(old) = &previous {
            self.delete_export_objects(old).await?;
        }
        let request = ExportRequest {
            user_id: user.user_id.clone(),
            export_id: format!("exp-{}", new_id()),
            requested_at: now,
            ready_at: None,
            object_key: None,
        };
        match self
            .ports
            .exports
            .claim_export(&request, now - EXPORT_INTERVAL_SECONDS)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                let current = self.ports.exports.export_request(&user.user_id).await?;
                return Err(current.map_or(
                    AuthError::RateLimited {
                        retry_after: EXPORT_INTERVAL_SECONDS as u64,
                    },
                    |c| too_soon(&c, now),
                ));
            }
            Err(other) => return Err(other.into()),
        }
        let job = ExportJob {
            user_id: request.user_id.clone(),
            export_id: request.export_id.clone(),
        };
        if let Err(err) = self.ports.export_queue.enqueue_export(&job).await {
            tracing::error!(error = %err, "export not queued");
            self.withdraw(&request).await?;
            return Err(AuthError::Unavailable);
        }
        // The factor is spent last, so a refused or failed request keeps it;
        // a factor used meanwhile withdraws the request (its queued job
        // then finds none and is dropped).
        if let Some(factor) = factor {
            if let Err(refused) = self.spend_factor(&user, &factor).await {
                self.withdraw(&request).await?;
                return Err(refused);
            }
        }
        tracing::info!(user_id = %request.user_id, export_id = %request.export_id, "export requested");
        Ok(ExportStatus::pending(&request))
    }

    /// The caller's current export, with a download link once it is ready
    /// (`NoExport` when none was asked for).
    pub async fn export_status(&self, principal: &Principal) -> Result<ExportStatus, AuthError> {
        self.live_session(principal).await?;
        let request = self
            .ports
            .exports
            .export_request(&principal.sub)
            .await?
            .ok_or(AuthError::NoExport)?;
        let mut status = ExportStatus::pending(&request);
        let (Some(ready_at), Some(key)) = (request.ready_at, request.object_key.as_deref()) else {
            return Ok(status);
        };
        let now = self.clock.now();
        status.ready_at = Some(ready_at);
        if ready_at + EXPORT_KEPT_SECONDS <= now {
            status.status = ExportState::Expired;
            return Ok(status);
        }
        let url = self
            .ports
            .documents
            .document_link(key, "account-export.json", EXPORT_LINK_SECONDS)
            .await?;
        status.status = ExportState::Ready;
        status.download_url = Some(url);
        status.download_expires_at = Some(now + EXPORT_LINK_SECONDS as i64);
        Ok(status)
    }

    /// Gives the day's request back (it could not be completed), with any
    /// document a worker already wrote for it: the record goes first, so a
    /// worker finishing later finds it gone and deletes its own.
    async fn withdraw(&self, request: &ExportRequest) -> Result<(), AuthError> {
        self.ports
            .exports
            .withdraw_export(&request.user_id, &request.export_id)
            .await?;
        self.delete_export_objects(request).await
    }

    /// Deletes the document of `request`, stored or maybe being stored (its
    /// key follows from its id).
    async fn delete_export_objects(&self, request: &ExportRequest) -> Result<(), AuthError> {
        let key = object_key(&request.user_id, &request.export_id);
        Ok(self.ports.documents.delete_document(&key).await?)
    }

    /// Removes a deleted account's export: its document and its request
    /// (a worker still writing it finds the account gone and deletes what
    /// it wrote).
    pub(super) async fn delete_export(&self, user_id: &str) -> Result<(), AuthError> {
        if let Some(request) = self.ports.exports.export_request(user_id).await? {
            self.withdraw(&request).await?;
        }
        Ok(())
    }
}
