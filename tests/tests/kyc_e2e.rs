//! KYC end to end on the local stand-in: the DynamoDB and S3 adapters keep
//! the port contracts; an upload built by a real multipart client lands in
//! S3 encrypted with its PII unreadable in the table; an admin approval is
//! audited, emailed, and lets the account recharge above the age limit.

use std::sync::Arc;

use aws_adapters::{
    load_sdk_config, AdminTables, BucketSettings, DynamoAdmin, DynamoFlags, DynamoKyc, DynamoStore,
    DynamoWallet, S3Documents, SesMailer, SqsQueue, TableNames, WalletTables,
};
use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{emails_to, endpoint};
use serde_json::{json, Value};
use shared::auth::model::Role;
use shared::clock::{Clock, SystemClock};
use shared::config::ProcessEnv;
use shared::flags::CacheTiming;
use shared::kyc::desk::KycDeskPorts;
use shared::kyc::files::samples::{jpeg, png_of_size};
use shared::kyc::pii::PiiKeys;
use shared::kyc::policy::KycPolicy;
use shared::kyc::service::KycPorts;
use shared::ports::{AuditLog, DocumentStore, UserStore};
use shared::wallet::service::WalletPorts;
use testkit::kyc_contract::{document_store_contract, kyc_open_race_contract, kyc_store_contract};
use testkit::multipart::{multipart_body, FormPart};
use testkit::{event, invoke, signed_in_account, test_access_config, EventExt, Reply};

const ADMIN_IP: &str = "203.0.113.10";

async fn sdk() -> aws_config::SdkConfig {
    endpoint();
    load_sdk_config().await
}

fn documents(sdk: &aws_config::SdkConfig) -> S3Documents {
    S3Documents::from_settings(sdk, BucketSettings::from_env(&ProcessEnv).unwrap())
}

/// The KMS key the upload function is configured with in these tests. The
/// stand-in keeps the key id a write asks for without checking it exists.
const KMS_KEY_ID: &str = "arn:aws:kms:us-east-1:123456789012:key/kyc-e2e-documents";

/// The document store as the upload function builds it from its
/// environment, configured for SSE-KMS under `KMS_KEY_ID`. The local bucket
/// encrypts with SSE-S3 by default, so an object reporting SSE-KMS under
/// that key was encrypted because the adapter asked for it.
fn kms_documents(sdk: &aws_config::SdkConfig) -> S3Documents {
    let env: std::collections::HashMap<String, String> = [
        ("KYC_BUCKET", std::env::var("KYC_BUCKET").unwrap()),
        ("KYC_SSE", "aws:kms".to_string()),
        ("KYC_KMS_KEY_ID", KMS_KEY_ID.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    S3Documents::from_settings(sdk, BucketSettings::from_env(&env).unwrap())
}

fn kyc_store(sdk: &aws_config::SdkConfig) -> DynamoKyc {
    DynamoKyc::new(sdk, DynamoKyc::table_from_env(&ProcessEnv).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_kyc_store_keeps_the_contract() {
    let sdk = sdk().await;
    let kyc = Arc::new(kyc_store(&sdk));
    let admin = Arc::new(
        DynamoAdmin::new(&sdk, AdminTables::from_env(&ProcessEnv).unwrap())
            .in_namespace(&shared::auth::secrets::new_id()),
    );
    let wallet = Arc::new(DynamoWallet::new(
        &sdk,
        WalletTables::from_env(&ProcessEnv).unwrap(),
    ));
    kyc_store_contract(kyc.clone(), admin.clone(), admin, wallet).await;
    kyc_open_race_contract(kyc).await;
}

#[tokio::test]
async fn s3_documents_keep_the_contract_and_links_download_as_attachments() {
    let sdk = sdk().await;
    let docs = Arc::new(documents(&sdk));
    document_store_contract(docs.clone()).await;

    let key = format!("kyc/{}/front.jpg", shared::auth::secrets::new_id());
    let bytes = jpeg(300, 200);
    docs.put_document(&key, bytes.clone().into(), "image/jpeg")
        .await
        .unwrap();
    let link = docs.document_link(&key, "front.jpg", 120).await.unwrap();
    assert!(link.contains("X-Amz-Expires=120"), "short-lived: {link}");
    let response = ureq::get(&link).call().expect("the link works");
    assert!(
        response
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "downloaded, never rendered inline"
    );
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    assert_eq!(body, bytes);
}

/// A national id submission with a PNG front and a JPEG back.
async fn multipart(birth: &str, front: Vec<u8>) -> (Vec<u8>, String) {
    multipart_body(vec![
        FormPart::Text("document_type", "national_id".into()),
        FormPart::Text("issuing_country", "DE".into()),
        FormPart::Text("date_of_birth", birth.to_string()),
        FormPart::Text("document_number", "T22000129".into()),
        FormPart::File("front", front, "id-front.png", "image/png"),
        FormPart::File("back", jpeg(1000, 630), "id-back.jpg", "image/jpeg"),
    ])
    .await
}

struct Stack {
    sdk: aws_config::SdkConfig,
    kyc: kyc_upload::App,
    admin: admin::App,
    recharge: recharge::App,
    audit: Arc<DynamoAdmin>,
    users: DynamoStore,
    user_id: String,
    user_token: String,
    admin_token: String,
}

impl Stack {
    async fn new() -> Self {
        let sdk = sdk().await;
        let namespace = shared::auth::secrets::new_id();
        let tables = TableNames::from_env(&ProcessEnv).unwrap();
        let wallet = Arc::new(
            DynamoWallet::new(&sdk, WalletTables::from_env(&ProcessEnv).unwrap())
                .with_session_tables(&tables.users, &tables.sessions),
        );
        let users = DynamoStore::new(&sdk, tables);
        let admin_tables = AdminTables::from_env(&ProcessEnv).unwrap();
        let audit = Arc::new(DynamoAdmin::new(&sdk, admin_tables.clone()).in_namespace(&namespace));
        let flags =
            Arc::new(DynamoFlags::new(&sdk, admin_tables.flags.clone()).in_namespace(&namespace));
        let pii = || PiiKeys::from_env(&ProcessEnv).unwrap();
        let now = SystemClock.now();
        let kyc = kyc_upload::App::new(
            shared::auth::liveness::SignedInCallers {
                access: test_access_config(),
                sessions: Arc::new(users.clone()),
            },
            KycPorts {
                store: Arc::new(kyc_store(&sdk)),
                documents: Arc::new(kms_documents(&sdk)),
            },
            flags.clone(),
            pii(),
            KycPolicy::default(),
            Arc::new(SystemClock),
            CacheTiming::default(),
        );
        let ports = admin::AdminPorts {
            audit_keys: testkit::test_audit_keys(),
            flags: flags.clone(),
            audit: audit.clone(),
            store: audit.clone(),
            users: Arc::new(users.clone()),
            sessions: Arc::new(users.clone()),
            liveness: Arc::new(users.clone()),
            reviews: wallet.clone(),
            mailer: Arc::new(SesMailer::new(
                &sdk,
                &aws_adapters::MailSettings::from_env(&shared::config::ProcessEnv).unwrap(),
            )),
            kyc: KycDeskPorts {
                store: Arc::new(kyc_store(&sdk)),
                documents: Arc::new(documents(&sdk)),
                wallet: wallet.clone(),
                pii: Arc::new(pii()),
                retention_seconds: 30 * 86_400,
                link_seconds: 300,
            },
        };
        let admin = admin::App::new(test_access_config(), ports, Arc::new(SystemClock));
        let env: std::collections::HashMap<String, String> =
            [("AGE_CHECK_ABOVE".to_string(), "1000".to_string())].into();
        let recharge = recharge::App::new(
            test_access_config(),
            WalletPorts {
                audit_keys: testkit::test_audit_keys(),
                wallet: wallet.clone(),
                idempotency: wallet,
                users: Arc::new(users.clone()),
                liveness: Arc::new(users.clone()),
                reviews: Arc::new(SqsQueue::new(
                    &sdk,
                    SqsQueue::url_from_env(&ProcessEnv).unwrap(),
                )),
            },
            flags,
            recharge::policy_from_env(&env).unwrap(),
            Arc::new(SystemClock),
        );
        let (user_id, user_token) =
            signed_in_account(&users, &users, Role::User, &["pwd"], "198.51.100.20", now).await;
        let (_, admin_token) =
            signed_in_account(&users, &users, Role::Admin, &["pwd", "otp"], ADMIN_IP, now).await;
        Self {
            sdk,
            kyc,
            admin,
            recharge,
            audit,
            users,
            user_id,
            user_token,
            admin_token,
        }
    }

    async fn submit(&self, birth: &str, front: Vec<u8>) -> Reply {
        let (body, content_type) = multipart(birth, front).await;
        invoke(
            |req| kyc_upload::handle(&self.kyc, req),
            event("kyc-upload-submit")
                .bearer(&self.user_token)
                .binary_body(&body, &content_type),
        )
        .await
    }

    async fn admin_call(&self, ev: Value) -> Reply {
        invoke(
            |req| admin::handle(&self.admin, req),
            ev.header("X-Admin-Session", &self.admin_token),
        )
        .await
    }

    async fn recharge(&self, key: &str) -> Reply {
        let ev = event("recharge-start")
            .body(json!({"amount": 2000, "currency": "EUR", "provider": "stripe"}))
            .header("Idempotency-Key", key)
            .bearer(&self.user_token);
        invoke(|req| recharge::handle(&self.recharge, req), ev).await
    }
}

#[tokio::test]
async fn an_upload_is_stored_encrypted_and_an_approval_unlocks_recharges() {
    let stack = Stack::new().await;
    let refused = stack.recharge(&shared::auth::secrets::new_id()).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "AGE_VERIFICATION_REQUIRED")
    );

    let underage = stack
        .submit("2015-06-01", png_of_size(1600, 1000, 200_000))
        .await;
    assert_eq!((underage.status, underage.code()), (422, "UNDERAGE"));

    let reply = stack
        .submit("1988-07-09", png_of_size(1600, 1000, 1024 * 1024))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["submission_id"].as_str().unwrap().to_string();

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = std::env::var("KYC_BUCKET").unwrap();
    for key in [format!("kyc/{id}/front.png"), format!("kyc/{id}/back.jpg")] {
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("the document is in S3");
        assert_eq!(
            (
                head.server_side_encryption().map(|e| e.as_str()),
                head.ssekms_key_id()
            ),
            (Some("aws:kms"), Some(KMS_KEY_ID)),
            "{key} is encrypted at rest under the configured key"
        );
        assert_eq!(head.content_disposition(), Some("attachment"));
    }

    let raw = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(std::env::var("KYC_TABLE").unwrap())
        .key("pk", AttributeValue::S(format!("SUB#{id}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stored = format!("{raw:?}");
    for plain in ["1988-07-09", "T22000129"] {
        assert!(!stored.contains(plain), "the table holds no readable PII");
    }
    assert!(
        stored.contains("v1.local1."),
        "sealed under the local key id"
    );

    let detail = stack
        .admin_call(event("admin-kyc-get").path(&format!("/admin/kyc/{id}")))
        .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_eq!(detail.body["date_of_birth"], "1988-07-09");
    let link = detail.body["links"][0]["url"].as_str().unwrap();
    let fetched = ureq::get(link).call().expect("the reviewer's link works");
    assert_eq!(fetched.header("content-type"), Some("image/png"));

    let decided = stack
        .admin_call(
            event("admin-kyc-decision")
                .path(&format!("/admin/kyc/{id}/decision"))
                .body(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let again = stack
        .admin_call(
            event("admin-kyc-decision")
                .path(&format!("/admin/kyc/{id}/decision"))
                .body(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(again.status, 409);

    let head = stack.audit.head().await.unwrap().unwrap();
    assert_eq!(head.action, "kyc.approved");
    assert_eq!(head.target, format!("kyc:{id}"));
    let email = stack
        .users
        .user_by_id(&stack.user_id)
        .await
        .unwrap()
        .unwrap()
        .email;
    let mail = emails_to(&email);
    assert!(
        mail.iter()
            .any(|(subject, _)| subject == "Your identity is verified"),
        "{mail:?}"
    );

    let allowed = stack.recharge(&shared::auth::secrets::new_id()).await;
    assert!(
        [201, 202].contains(&allowed.status),
        "approval lets the account recharge above the age limit: {} {}",
        allowed.status,
        allowed.body
    );
}
