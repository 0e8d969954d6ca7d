//! The account data export: what it holds ([`document`]), how it is
//! produced from a queued request ([`worker`]), and its timing rules. The
//! request and download routes are the login function's
//! (`auth::export`).

pub mod document;
pub mod worker;

/// An account may ask for one export per this many seconds.
pub const EXPORT_INTERVAL_SECONDS: i64 = 24 * 3600;
/// A finished export can be downloaded for this long (the bucket's
/// lifecycle rule removes the object after a day, rounded up to the next
/// midnight UTC: within two days).
pub const EXPORT_KEPT_SECONDS: i64 = 24 * 3600;
/// A download link is valid this long.
pub const EXPORT_LINK_SECONDS: u64 = 600;

/// Where the export `export_id` of `user_id` is stored.
pub fn object_key(user_id: &str, export_id: &str) -> String {
    format!("exports/{user_id}/{export_id}.json")
}
