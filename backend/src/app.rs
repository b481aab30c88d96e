//! One instance assembled from what each domain defines: its settings, the state every request
//! handler shares, and the schema with that state as its data.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::admin::passwords::Argon2Gate;
use crate::admin::AuthSettings;
use crate::auth::{Caller, Scope};
use crate::backups::BackupSettings;
use crate::db::{ClientPool, Pools, PrimaryPool};
use crate::graphql::loaders;
use crate::leases::{self, Leases};
use crate::live::connection_caps::{ConnectionCaps, ConnectionLimits};
use crate::live::{LiveEvents, LiveSessionsFeed};
use crate::partitions::PartitionSettings;
use crate::rate_limit::{self, RateLimitSettings, RateLimits};
use crate::read_replica::ReadReplica;
use crate::schema::{self, AppSchema};
use crate::sessions::heartbeat::HeartbeatWriter;
use crate::sessions::{LiveSessionLoader, SessionSettings};

/// The largest request body accepted unless MAX_BODY_BYTES says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: u32 = 64 * 1024;
/// How long a client may take to send a request's headers unless HEADER_READ_TIMEOUT_SECS says otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u32 = 10;

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
    /// Token buckets per API key, client address and license key.
    pub rate_limits: RateLimitSettings,
    /// How long a connection may take to send a request's headers (and may sit idle between
    /// requests) before the listener closes it.
    pub header_read_timeout: Duration,
    /// Caps on open WebSocket connections.
    pub websockets: ConnectionLimits,
    /// The `iss` of every signed lease.
    pub lease_issuer: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sessions: SessionSettings::default(),
            auth: AuthSettings::default(),
            backups: BackupSettings::default(),
            partitions: PartitionSettings::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES as usize,
            rate_limits: RateLimitSettings::default(),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS.into()),
            websockets: ConnectionLimits::default(),
            lease_issuer: leases::DEFAULT_ISSUER.to_owned(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The general connection pool: everything but the client path (see `crate::db`).
    pub pool: PgPool,
    /// The client path's own pool: heartbeats, activation, validation, end, API-key checks, cleanup.
    pub client_pool: ClientPool,
    pub sessions: SessionSettings,
    /// Group-commit writer through which every heartbeat is recorded.
    pub heartbeats: HeartbeatWriter,
    pub auth: Arc<AuthSettings>,
    /// Bounds the argon2 work of this instance (one permit per core but one, refused when none is free).
    pub argon2: Argon2Gate,
    pub backups: Arc<BackupSettings>,
    /// This instance's `LISTEN` connection, fanning committed session events out to subscribers.
    pub live: LiveEvents,
    /// This instance's rate-limit buckets.
    pub limits: Arc<RateLimits>,
    /// The list of live sessions, re-read once for all `liveSessions` subscribers of the instance.
    pub live_sessions: LiveSessionsFeed,
    /// This instance's open WebSocket connections, counted against their caps.
    pub ws_connections: ConnectionCaps,
    /// Signs leases with the current signing key.
    pub leases: Leases,
    /// The read replica (DATABASE_READ_URL), where analysts' and the dashboard's read-only
    /// operations read when it may serve them.
    pub replica: Option<ReadReplica>,
}

impl AppState {
    /// Needs a running Tokio runtime: it starts the heartbeat writer (on the client pool), the
    /// event listener (which holds one connection of the general pool until it is closed) and the
    /// live-session list's reader.
    pub fn new(pools: &Pools, settings: &Settings) -> Self {
        let live = LiveEvents::spawn(pools.general.clone());
        AppState {
            heartbeats: HeartbeatWriter::spawn(pools.client.clone(), settings.sessions),
            live_sessions: LiveSessionsFeed::spawn(pools.general.clone(), settings.sessions, live.clone()),
            live,
            ws_connections: ConnectionCaps::new(settings.websockets),
            leases: Leases::new(pools.general.clone(), &settings.lease_issuer),
            sessions: settings.sessions,
            auth: Arc::new(settings.auth.clone()),
            argon2: Argon2Gate::sized_to_cores(),
            backups: Arc::new(settings.backups.clone()),
            limits: Arc::new(RateLimits::new(settings.rate_limits)),
            pool: pools.general.clone(),
            client_pool: pools.client.clone(),
            replica: pools.read.clone().map(ReadReplica::new),
        }
    }

    /// Points a read-only operation (a query) at the read replica when there is one, `caller`
    /// is an analyst or an admin, and the replica may serve them now
    /// ([`ReadReplica::serves`]): the replica's pool and the loaders on it become request data,
    /// which async-graphql looks up before the schema's (`ContextBase::data_opt`), so every
    /// resolver taking the pool by type reads there. Anyone else reads from the primary.
    pub async fn read_where_it_may(
        &self,
        request: async_graphql::Request,
        caller: Option<&Caller>,
    ) -> async_graphql::Request {
        let Some(replica) = &self.replica else { return request };
        let Some(caller) = caller.filter(|caller| caller.scope != Scope::Client) else { return request };
        if !replica.serves(caller).await {
            return request;
        }
        ReadingData::on(replica.pool(), self.sessions).into_request(request)
    }

    /// After a mutation: `caller`'s next reads stay on the primary until the read replica has
    /// replayed what it wrote.
    pub async fn note_write(&self, caller: Option<&Caller>) {
        if let (Some(replica), Some(caller)) = (&self.replica, caller) {
            replica.note_write(&self.pool, caller).await;
        }
    }

    /// The schema, each domain reading its own part of this state from the context.
    pub fn schema(&self) -> AppSchema {
        self.schema_from(schema::builder())
    }

    /// The same schema for operations that only introspect, with their own depth limit
    /// ([`crate::graphql::MAX_INTROSPECTION_DEPTH`]).
    pub fn introspection_schema(&self) -> AppSchema {
        self.schema_from(schema::builder().limit_depth(crate::graphql::MAX_INTROSPECTION_DEPTH))
    }

    fn schema_from(&self, builder: schema::Builder) -> AppSchema {
        ReadingData::on(&self.pool, self.sessions)
            .into_schema(builder)
            .data(PrimaryPool(self.pool.clone()))
            .data(self.client_pool.clone())
            .data(self.sessions)
            .data(self.heartbeats.clone())
            .data(self.auth.clone())
            .data(self.argon2.clone())
            .data(self.backups.clone())
            .data(self.live.clone())
            .data(self.limits.clone())
            .extension(rate_limit::Charge)
            .data(self.live_sessions.clone())
            .data(self.leases.clone())
            .finish()
    }
}

/// What resolvers read through: the general pool and the loaders on it. The schema holds the
/// primary's; an operation that reads from the replica gets the replica's as request data.
struct ReadingData {
    pool: PgPool,
    loaders: loaders::AppLoader,
    live_sessions: async_graphql::dataloader::DataLoader<LiveSessionLoader>,
}

impl ReadingData {
    fn on(pool: &PgPool, sessions: SessionSettings) -> Self {
        ReadingData {
            pool: pool.clone(),
            loaders: loaders::new(pool.clone()),
            live_sessions: LiveSessionLoader::new(pool.clone(), sessions),
        }
    }

    fn into_schema(self, builder: schema::Builder) -> schema::Builder {
        builder.data(self.pool).data(self.loaders).data(self.live_sessions)
    }

    fn into_request(self, request: async_graphql::Request) -> async_graphql::Request {
        request.data(self.pool).data(self.loaders).data(self.live_sessions)
    }
}
