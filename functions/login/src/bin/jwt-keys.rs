//! Operator command: a new access-token signing key for a rotation.
//!
//! Usage: `jwt-keys <kid> [current JWKS file]`. Prints JSON with
//! `signing_secret` (the value of the login function's signing-key secret:
//! `JWT_SIGNING_KID` and `JWT_SIGNING_KEY`) and `public_keys` (the value of
//! the public-keys secret: `JWT_PUBLIC_KEYS`, the given set plus the new key).
//! Rotation: publish `public_keys` first, wait one refresh interval, then
//! store `signing_secret`; after another 15 minutes plus a refresh interval,
//! drop the old key from the public set. The output holds a private key:
//! write it straight into Secrets Manager, never to a file kept around.

use serde_json::json;
use shared::auth::tokens::{generate_private_key_pem, PublicKeySet, TokenSigner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let kid = args
        .next()
        .ok_or("usage: jwt-keys <kid> [current JWKS file]")?;
    let mut published = match args.next() {
        Some(path) => serde_json::from_str::<PublicKeySet>(&std::fs::read_to_string(path)?)
            .map_err(|_| "the current key set is not a JWKS of Ed25519 keys")?,
        None => PublicKeySet { keys: Vec::new() },
    };
    if published.keys.iter().any(|key| key.kid == kid) {
        return Err(format!("key id {kid} is already published; choose a new one").into());
    }
    let pem = generate_private_key_pem();
    // Only the key's own rules matter here; the issuer and audience are not used.
    let signer = TokenSigner::from_pem(&kid, &pem, "-", "-")?;
    published.keys.push(signer.public_jwk());
    let output = json!({
        "signing_secret": { "JWT_SIGNING_KID": kid, "JWT_SIGNING_KEY": pem },
        "public_keys": { "JWT_PUBLIC_KEYS": serde_json::to_string(&published)? },
    });
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}
