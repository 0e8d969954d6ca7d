//! The admin session on disk: one JSON file per profile, mode 0600, in a
//! 0700 directory under `$XDG_CONFIG_HOME/wallet-admin/` (or
//! `~/.config/wallet-admin/`). It names the URLs it was made for, so a
//! session is never sent to another deployment. A refresh happens under an
//! exclusive lock on `.{profile}.lock`, the file read again once it is held,
//! so two processes never spend the same refresh token ([`renew`]).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::future::Future;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::EnvLookup;

/// Seconds before the access token's expiry at which it is refreshed.
pub const REFRESH_MARGIN_SECONDS: i64 = 30;

/// A signed-in admin: the token pair from the login API and when each ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub email: String,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub refresh_expires_at: i64,
}

impl Session {
    /// The access token is expired or about to be.
    pub fn access_expired(&self, now: i64) -> bool {
        self.expires_at - REFRESH_MARGIN_SECONDS <= now
    }

    /// The refresh token can no longer be used.
    pub fn refresh_expired(&self, now: i64) -> bool {
        self.refresh_expires_at <= now
    }
}

/// A profile: where it talks to, the device its session is bound to, the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub api_url: String,
    pub admin_url: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub unsigned: bool,
    pub device_id: String,
    pub session: Session,
}

/// The directory of profile files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$XDG_CONFIG_HOME/wallet-admin`, else `$HOME/.config/wallet-admin`.
    pub fn from_env(env: EnvLookup<'_>) -> io::Result<Self> {
        let base = env("XDG_CONFIG_HOME")
            .filter(|d| Path::new(d).is_absolute())
            .map(PathBuf::from)
            .or_else(|| {
                env("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| Path::new(&h).join(".config"))
            })
            .ok_or_else(|| io::Error::other("neither XDG_CONFIG_HOME nor HOME is set"))?;
        Ok(Self::new(base.join("wallet-admin")))
    }

    pub fn path(&self, profile: &str) -> PathBuf {
        self.dir.join(format!("{profile}.json"))
    }

    /// The stored profile, if any.
    pub fn load(&self, profile: &str) -> io::Result<Option<Profile>> {
        let path = self.path(profile);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(io::Error::other(format!(
                "{} is readable by others (mode {mode:o}); delete it and sign in again",
                path.display()
            )));
        }
        serde_json::from_str(&text).map(Some).map_err(|err| {
            io::Error::other(format!("{} is not a session file: {err}", path.display()))
        })
    }

    /// Writes the profile atomically: a new 0600 file renamed over the old one.
    pub fn save(&self, profile: &str, data: &Profile) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let path = self.path(profile);
        let temp = self
            .dir
            .join(format!(".{profile}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let text = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&temp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Waits for, then holds, the exclusive advisory lock of `profile`
    /// (`.{profile}.lock` next to its file), so that one process at a time
    /// reads, refreshes and rewrites the session: two processes spending
    /// the same refresh token would look like theft and revoke the session.
    /// Released when the returned file is dropped. The lock file is never
    /// deleted (a deleted lock file would let two holders in).
    pub async fn lock(&self, profile: &str) -> io::Result<File> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(format!(".{profile}.lock")))?;
        let mut waited = Duration::ZERO;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => {
                    if waited == Duration::from_secs(2) {
                        eprintln!(
                            "waiting for another wallet-admin using profile {profile} \
                             (refreshing its session)"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    waited += Duration::from_millis(50);
                }
                Err(TryLockError::Error(err)) => return Err(err),
            }
        }
    }

    /// Deletes the profile's file; `false` when there was none.
    pub fn delete(&self, profile: &str) -> io::Result<bool> {
        match fs::remove_file(self.path(profile)) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Why a session could not be made usable.
#[derive(Debug)]
pub enum FreshError<E> {
    /// Both tokens have run out: sign in again.
    Ended,
    /// The refresh call failed.
    Refresh(E),
    /// The refreshed session could not be stored.
    Store(io::Error),
}

/// Makes `profile`'s session usable at `now`: when the access token has
/// expired, `refresh` trades the refresh token for a new session, which is
/// stored before it is used (the old refresh token is spent). Returns
/// whether a refresh happened here. See [`renew`].
pub async fn ensure_fresh<F, Fut, E>(
    store: &Store,
    name: &str,
    profile: &mut Profile,
    now: i64,
    refresh: F,
) -> Result<bool, FreshError<E>>
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Result<Session, E>>,
{
    renew(store, name, profile, now, false, refresh).await
}

/// Refreshes `profile`'s session when its access token has expired, or
/// when `force` (the backend refused the token it holds), under the
/// profile's lock ([`Store::lock`]): the stored session is read again once
/// the lock is held, and when another process has refreshed it meanwhile
/// its new session is taken instead of spending the refresh token again.
/// Returns whether a refresh happened here.
pub async fn renew<F, Fut, E>(
    store: &Store,
    name: &str,
    profile: &mut Profile,
    now: i64,
    force: bool,
    refresh: F,
) -> Result<bool, FreshError<E>>
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Result<Session, E>>,
{
    if !force && !profile.session.access_expired(now) {
        return Ok(false);
    }
    if profile.session.refresh_expired(now) {
        return Err(FreshError::Ended);
    }
    let _lock = store.lock(name).await.map_err(FreshError::Store)?;
    let Some(stored) = store.load(name).map_err(FreshError::Store)? else {
        // Signed out meanwhile.
        return Err(FreshError::Ended);
    };
    if (&stored.api_url, &stored.admin_url) != (&profile.api_url, &profile.admin_url) {
        return Err(FreshError::Store(io::Error::other(format!(
            "profile {name} was signed in again for other URLs meanwhile: run the command again"
        ))));
    }
    let taken_over = stored.session.access_token != profile.session.access_token;
    *profile = stored;
    if taken_over && !profile.session.access_expired(now) {
        // Another process refreshed it: use its session.
        return Ok(false);
    }
    if !force && !profile.session.access_expired(now) {
        return Ok(false);
    }
    if profile.session.refresh_expired(now) {
        return Err(FreshError::Ended);
    }
    let renewed = refresh(profile.session.clone())
        .await
        .map_err(FreshError::Refresh)?;
    profile.session = renewed;
    store.save(name, profile).map_err(FreshError::Store)?;
    Ok(true)
}
