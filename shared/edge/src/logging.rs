//! JSON-line logs through `tracing`, one summary line per request.
//!
//! Callers log identifiers and outcomes only: never a password, token, or
//! other secret.

use std::time::Instant;

use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the JSON subscriber once per cold start. `LOG_LEVEL` (default
/// `info`) sets the verbosity.
pub fn init() {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(level)
        .with_current_span(false)
        .with_span_list(false)
        .with_span_events(FmtSpan::NONE)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

/// Measures one request and writes its summary line when finished.
pub struct RequestLog {
    function: &'static str,
    started: Instant,
}

impl RequestLog {
    pub fn start(function: &'static str) -> Self {
        Self {
            function,
            started: Instant::now(),
        }
    }

    /// Writes the summary: request id, function, route, status, latency and user.
    pub fn finish(self, request_id: &str, route: &str, status: u16, user_id: Option<&str>) {
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            request_id,
            function = self.function,
            route,
            status,
            latency_ms,
            user_id = user_id.unwrap_or(""),
            "request"
        );
    }
}
