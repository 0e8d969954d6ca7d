//! S3 adapter for KYC documents: every object is written with server-side
//! encryption and `Content-Disposition: attachment`; reviewers get
//! short-lived pre-signed GET links.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::db::unavailable;
use shared::config::{required, ConfigError, Env};
use shared::ports::{DocumentStore, StoreError};

/// How objects are encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (AES-256, keys managed by S3).
    S3Managed,
    /// SSE-KMS under the given key (the bucket default key when `None`).
    Kms(Option<String>),
}

impl Encryption {
    /// Reads `KYC_SSE` (`AES256`, the default, or `aws:kms`) and `KYC_KMS_KEY_ID`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        match env.get("KYC_SSE").as_deref().map(str::trim) {
            None | Some("") | Some("AES256") => Ok(Self::S3Managed),
            Some("aws:kms") => Ok(Self::Kms(
                env.get("KYC_KMS_KEY_ID").filter(|k| !k.trim().is_empty()),
            )),
            Some(_) => Err(ConfigError::Invalid {
                var: "KYC_SSE".into(),
                reason: "must be AES256 or aws:kms".into(),
            }),
        }
    }

    /// The value S3 reports for objects written this way.
    pub fn header_value(&self) -> &'static str {
        match self {
            Self::S3Managed => "AES256",
            Self::Kms(_) => "aws:kms",
        }
    }
}

/// Where documents are kept and how they are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSettings {
    pub bucket: String,
    pub encryption: Encryption,
}

impl BucketSettings {
    /// Reads `KYC_BUCKET`, `KYC_SSE` and `KYC_KMS_KEY_ID`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: required(env, "KYC_BUCKET")?,
            encryption: Encryption::from_env(env)?,
        })
    }
}

/// Documents in one S3 bucket.
#[derive(Clone)]
pub struct S3Documents {
    client: Client,
    bucket: String,
    encryption: Encryption,
}

impl S3Documents {
    /// Path-style addressing is used when an endpoint override is set (the
    /// local stand-in); AWS gets virtual-hosted addressing.
    pub fn new(config: &aws_config::SdkConfig, bucket: String, encryption: Encryption) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self {
            client: Client::from_conf(s3_config),
            bucket,
            encryption,
        }
    }

    /// The documents of the bucket `settings` name.
    pub fn from_settings(config: &aws_config::SdkConfig, settings: BucketSettings) -> Self {
        Self::new(config, settings.bucket, settings.encryption)
    }
}

#[async_trait]
impl DocumentStore for S3Documents {
    async fn put_document(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .content_disposition("attachment");
        let put = match &self.encryption {
            Encryption::S3Managed => put.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms(key_id) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone())
                .bucket_key_enabled(true),
        };
        put.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn delete_document(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn document_exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn document_link(
        &self,
        key: &str,
        download_name: &str,
        ttl_seconds: u64,
    ) -> Result<String, StoreError> {
        let presigning = PresigningConfig::expires_in(Duration::from_secs(ttl_seconds))
            .map_err(|e| StoreError::Unavailable(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{download_name}\""))
            .presigned(presigning)
            .await
            .map_err(unavailable)?;
        Ok(request.uri().to_string())
    }
}
