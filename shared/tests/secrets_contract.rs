//! The in-memory secret source keeps the contract the Secrets Manager
//! adapter is held to.

use std::sync::Arc;

use shared::secrets::MemorySecrets;

#[tokio::test]
async fn memory_secrets_keep_the_secret_source_contract() {
    let source = Arc::new(MemorySecrets::default());
    source.put(
        "wallet/contract",
        r#"{"WEBHOOK_SECRETS_CONTRACT_A": "alpha", "WEBHOOK_SECRETS_CONTRACT_B": "beta"}"#,
    );
    let rotating = source.clone();
    testkit::secret_source_contract(source, "wallet/contract", "wallet/absent", || {
        rotating.put(
            "wallet/contract",
            r#"{"WEBHOOK_SECRETS_CONTRACT_A": "rotated", "WEBHOOK_SECRETS_CONTRACT_B": "beta"}"#,
        );
        std::future::ready(())
    })
    .await;
}
