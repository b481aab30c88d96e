//! The session rules: how often clients send heartbeats, when a session stops being live, how
//! often the cleanup runs.

use std::time::Duration;

/// The session rules the lifecycle, the heartbeat writer and the cleanup share.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    pub heartbeat_interval: Duration,
    pub session_timeout: Duration,
    pub cleanup_interval: Duration,
}

impl SessionSettings {
    /// Checks the rule that a client may miss one heartbeat without losing its session.
    pub fn new(interval_secs: u32, timeout_secs: u32, cleanup_secs: u32) -> Result<Self, String> {
        if u64::from(timeout_secs) < 2 * u64::from(interval_secs) {
            return Err(format!(
                "SESSION_TIMEOUT_SECS ({timeout_secs}) must be at least twice HEARTBEAT_INTERVAL_SECS ({interval_secs})"
            ));
        }
        Ok(SessionSettings {
            heartbeat_interval: Duration::from_secs(interval_secs.into()),
            session_timeout: Duration::from_secs(timeout_secs.into()),
            cleanup_interval: Duration::from_secs(cleanup_secs.into()),
        })
    }

    pub fn timeout_secs(&self) -> f64 {
        self.session_timeout.as_secs_f64()
    }

    pub fn interval_secs(&self) -> i32 {
        i32::try_from(self.heartbeat_interval.as_secs()).unwrap_or(i32::MAX)
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings::new(30, 60, 10).expect("defaults are consistent")
    }
}
