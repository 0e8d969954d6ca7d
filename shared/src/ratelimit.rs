//! Fixed-window rate limiting keys and arithmetic; the counting itself is
//! an atomic update in the store.

/// How many requests a caller may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub limit: u32,
    pub window_seconds: i64,
}

/// One caller's counter for the window containing `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSlot {
    /// The counter, unique per scope, caller and window (the store gives it
    /// its key).
    pub key: String,
    pub limit: u32,
    /// When the window closes (epoch seconds); the counter may expire after it.
    pub resets_at: i64,
}

impl WindowLimit {
    /// The slot for `caller` in `scope` at time `now`.
    pub fn slot(&self, scope: &str, caller: &str, now: i64) -> WindowSlot {
        let window = self.window_seconds.max(1);
        let index = now.div_euclid(window);
        WindowSlot {
            key: format!("{scope}#{caller}#{index}"),
            limit: self.limit,
            resets_at: (index + 1) * window,
        }
    }
}

impl WindowSlot {
    /// Seconds a refused caller should wait.
    pub fn retry_after(&self, now: i64) -> u64 {
        (self.resets_at - now).max(1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_change_with_the_window_and_report_time_left() {
        let limit = WindowLimit {
            limit: 3,
            window_seconds: 60,
        };
        let a = limit.slot("auth", "203.0.113.9", 120);
        let b = limit.slot("auth", "203.0.113.9", 179);
        let c = limit.slot("auth", "203.0.113.9", 180);
        assert_eq!(a.key, b.key);
        assert_ne!(b.key, c.key);
        assert_eq!(b.retry_after(179), 1);
        assert_eq!(a.retry_after(130), 50);
    }
}
