//! One instance assembled from what each domain defines: its settings, the state every request
//! handler shares, and the schema with that state as its data.

use std::sync::Arc;

use sqlx::PgPool;

use crate::admin::passwords::Argon2Gate;
use crate::admin::AuthSettings;
use crate::backups::BackupSettings;
use crate::graphql::loaders;
use crate::live::LiveEvents;
use crate::partitions::PartitionSettings;
use crate::schema::{self, AppSchema};
use crate::sessions::heartbeat::HeartbeatWriter;
use crate::sessions::{LiveSessionLoader, SessionSettings};

/// The largest request body accepted unless MAX_BODY_BYTES says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: u32 = 64 * 1024;

/// Everything an instance is configured with (`ServeArgs::settings` for `serve`; the defaults
/// are those of `serve` without options).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Heartbeat interval, session timeout and cleanup period.
    pub sessions: SessionSettings,
    /// Dashboard sign-in: session timeouts, whether admins need 2FA, trusted proxies.
    pub auth: AuthSettings,
    /// Where backups go and how they are scheduled, pushed and pruned.
    pub backups: BackupSettings,
    /// Heartbeat partitions created ahead and kept.
    pub partitions: PartitionSettings,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sessions: SessionSettings::default(),
            auth: AuthSettings::default(),
            backups: BackupSettings::default(),
            partitions: PartitionSettings::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES as usize,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The one connection pool to the database, the single source of truth.
    pub pool: PgPool,
    pub sessions: SessionSettings,
    /// Group-commit writer through which every heartbeat is recorded.
    pub heartbeats: HeartbeatWriter,
    pub auth: Arc<AuthSettings>,
    /// Bounds the argon2 work of this instance (one permit per core, refused when none is free).
    pub argon2: Argon2Gate,
    pub backups: Arc<BackupSettings>,
    /// This instance's `LISTEN` connection, fanning committed session events out to subscribers.
    pub live: LiveEvents,
}

impl AppState {
    /// Needs a running Tokio runtime: it starts the heartbeat writer and the event listener
    /// (which holds one connection of `pool` until the pool is closed).
    pub fn new(pool: PgPool, settings: &Settings) -> Self {
        AppState {
            heartbeats: HeartbeatWriter::spawn(pool.clone(), settings.sessions),
            live: LiveEvents::spawn(pool.clone()),
            sessions: settings.sessions,
            auth: Arc::new(settings.auth.clone()),
            argon2: Argon2Gate::sized_to_cores(),
            backups: Arc::new(settings.backups.clone()),
            pool,
        }
    }

    /// The schema, each domain reading its own part of this state from the context.
    pub fn schema(&self) -> AppSchema {
        schema::builder()
            .data(self.pool.clone())
            .data(self.sessions)
            .data(self.heartbeats.clone())
            .data(self.auth.clone())
            .data(self.argon2.clone())
            .data(self.backups.clone())
            .data(self.live.clone())
            .data(loaders::new(self.pool.clone()))
            .data(LiveSessionLoader::new(self.pool.clone(), self.sessions))
            .finish()
    }
}
