//! Bootstrap command: gives an existing account the admin role. Roles are
//! never set through the public API; an operator runs this with credentials
//! for the users table (or against the local stand-in).
//!
//! Usage: `promote-admin <email>` with `USERS_TABLE` (and the usual AWS
//! variables, `AWS_ENDPOINT_URL` locally) set.

use aws_adapters::{load_sdk_config, DynamoStore, TableNames};
use shared::auth::email::normalize_email;
use shared::auth::model::Role;
use shared::config::{required, ProcessEnv};
use shared::ports::{StoreError, UserStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let raw = std::env::args()
        .nth(1)
        .ok_or("usage: promote-admin <email>")?;
    let email = normalize_email(&raw).map_err(|_| "not a valid email address")?;
    let users = required(&ProcessEnv, "USERS_TABLE")?;
    let tables = TableNames {
        users,
        sessions: String::new(),
        counters: String::new(),
    };
    let store = DynamoStore::new(&load_sdk_config().await, tables);
    match store.set_role(&email, Role::Admin).await {
        Ok(()) => {
            println!("{email} is now an admin");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(format!("no account for {email}").into()),
        Err(err) => Err(err.into()),
    }
}
