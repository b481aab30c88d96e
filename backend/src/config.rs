//! Typed configuration: every setting is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secret::SecretString;

#[derive(Debug, Parser)]
#[command(
    name = "license-server",
    version,
    about = "License server: activations, live sessions and heartbeats over GraphQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the GraphQL schema (SDL) generated from the code.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once; only its SHA-256 digest is stored.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// A name that says who or what uses the key.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        scope: crate::auth::Scope,
    },
    /// List keys (never their secret part).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key by id; it stops working on the next request.
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a dashboard user. The password is read from standard input when it is not a
    /// terminal, else prompted for; never from the command line.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: crate::admin::users::Role,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Without it the server runs its own cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<SecretString>,
    /// Where the embedded PostgreSQL cluster lives when DATABASE_URL is not set.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Maximum connections in the database pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,
    /// How often clients are told to send a heartbeat, in seconds.
    #[arg(long, env = "HEARTBEAT_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub heartbeat_interval_secs: u32,
    /// A session without a heartbeat for this long is no longer live (at least twice the interval).
    #[arg(long, env = "SESSION_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(2..=86400))]
    pub session_timeout_secs: u32,
    /// How often the cleanup moves timed-out sessions to the history, in seconds.
    #[arg(long, env = "CLEANUP_INTERVAL_SECS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub cleanup_interval_secs: u32,
    /// How many monthly heartbeat partitions to keep created ahead of the current month.
    #[arg(long, env = "PARTITIONS_AHEAD_MONTHS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=24))]
    pub partitions_ahead_months: u32,
    /// Dashboard sessions end after this long without a request, in seconds.
    #[arg(long, env = "DASHBOARD_IDLE_TIMEOUT_SECS", default_value_t = 30 * 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub dashboard_idle_timeout_secs: u32,
    /// Dashboard sessions end this long after sign-in whatever happens, in seconds.
    #[arg(long, env = "DASHBOARD_ABSOLUTE_TIMEOUT_SECS", default_value_t = 12 * 60 * 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub dashboard_absolute_timeout_secs: u32,
    /// Whether users with role admin must use two-factor authentication.
    #[arg(long, env = "REQUIRE_ADMIN_TOTP", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_admin_totp: bool,
    /// Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    pub max_body_bytes: u32,
    /// The built dashboard (scripts/build-frontend.sh), served at `/`.
    #[arg(long, env = "FRONTEND_DIR", default_value = "frontend/dist")]
    pub frontend_dir: PathBuf,
}

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

fn parse_network(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{value}` is neither an IP address nor a CIDR range"))
}

impl ServeArgs {
    pub fn auth_settings(&self) -> crate::admin::AuthSettings {
        crate::admin::AuthSettings {
            sessions: crate::admin::sessions::SessionPolicy {
                idle_timeout: Duration::from_secs(self.dashboard_idle_timeout_secs.into()),
                absolute_timeout: Duration::from_secs(self.dashboard_absolute_timeout_secs.into()),
            },
            require_admin_totp: self.require_admin_totp,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    pub fn session_settings(&self) -> Result<SessionSettings, String> {
        SessionSettings::new(self.heartbeat_interval_secs, self.session_timeout_secs, self.cleanup_interval_secs)
    }
}
