//! The state every request handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::admin::AuthSettings;
use crate::backups::BackupSettings;
use crate::config::SessionSettings;
use crate::live::LiveEvents;
use crate::sessions::heartbeat::HeartbeatWriter;

#[derive(Clone)]
pub struct AppState {
    /// The one connection pool to the database, the single source of truth.
    pub pool: PgPool,
    /// Heartbeat interval, session timeout and cleanup period.
    pub sessions: SessionSettings,
    /// Group-commit writer through which every heartbeat is recorded.
    pub heartbeats: HeartbeatWriter,
    /// Dashboard sign-in: session timeouts, whether admins need 2FA, trusted proxies.
    pub auth: Arc<AuthSettings>,
    /// Where backups go and how they are scheduled, pushed and pruned (`with_backups`; the
    /// defaults otherwise: `./backups`, no schedule, no git remote).
    pub backups: Arc<BackupSettings>,
    /// This instance's `LISTEN` connection, fanning committed session events out to subscribers.
    pub live: LiveEvents,
}

impl AppState {
    /// Needs a running Tokio runtime: it starts the heartbeat writer and the event listener
    /// (which holds one connection of `pool` until the pool is closed).
    pub fn new(pool: PgPool, sessions: SessionSettings) -> Self {
        let heartbeats = HeartbeatWriter::spawn(pool.clone(), sessions);
        let live = LiveEvents::spawn(pool.clone());
        AppState { pool, sessions, heartbeats, auth: Arc::default(), backups: Arc::default(), live }
    }

    pub fn with_auth(mut self, auth: AuthSettings) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    pub fn with_backups(mut self, backups: BackupSettings) -> Self {
        self.backups = Arc::new(backups);
        self
    }
}
