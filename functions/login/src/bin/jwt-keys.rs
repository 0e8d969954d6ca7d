//! Operator command: a new access-token signing key for a rotation.
//!
//! Usage: `jwt-keys <kid> <signing-secret-file> (<current JWKS file> | --initial)`.
//! Writes the login function's signing-key secret value (`JWT_SIGNING_KID`,
//! `JWT_SIGNING_KEY`) to `<signing-secret-file>`, created new with mode 0600,
//! and prints the public-keys secret value (`JWT_PUBLIC_KEYS`: the current
//! set plus the new key; `--initial` for a first key). The private key never
//! reaches the terminal: store the file in Secrets Manager, then delete it.
//! Rotation: publish the printed set first, wait one refresh interval (the
//! largest `SECRETS_REFRESH_SECONDS` of the functions), then store the signing
//! secret; drop the old key from the set once the last token it signed has
//! expired (15 minutes, 30 s leeway) and one more refresh interval has passed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use serde_json::json;
use shared::auth::tokens::{generate_private_key_pem, PublicKeySet, TokenSigner, TokenVerifier};

const USAGE: &str = "usage: jwt-keys <kid> <signing-secret-file> (<current JWKS file> | --initial)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kid, secret_file, current] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let mut published = match current.as_str() {
        "--initial" => PublicKeySet { keys: Vec::new() },
        path => serde_json::from_str::<PublicKeySet>(&std::fs::read_to_string(path)?)
            .map_err(|_| "the current key set is not a JWKS of Ed25519 keys")?,
    };
    if published.keys.iter().any(|key| &key.kid == kid) {
        return Err(format!("key id {kid} is already published; choose a new one").into());
    }
    let pem = generate_private_key_pem();
    // Only the key's own rules matter here; the issuer and audience are not used.
    let signer = TokenSigner::from_pem(kid, &pem, "-", "-")?;
    published.keys.push(signer.public_jwk());
    TokenVerifier::new(&published, "-", "-")?;
    let secret = json!({ "JWT_SIGNING_KID": kid, "JWT_SIGNING_KEY": pem });
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret_file)
        .map_err(|err| format!("{secret_file}: {err} (it must not exist yet)"))?;
    file.write_all(serde_json::to_string(&secret)?.as_bytes())?;
    let public = json!({ "JWT_PUBLIC_KEYS": serde_json::to_string(&published)? });
    println!("{}", serde_json::to_string_pretty(&public)?);
    Ok(())
}
