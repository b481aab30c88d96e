//! Typed configuration: every setting is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::Settings;
use crate::db::DatabaseArgs;
use crate::live::connection_caps as ws_caps;
use crate::secret::SecretString;
use crate::sessions::SessionSettings;

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
    /// Apply pending database migrations and exit (after a backup, see BACKUP_BEFORE_MIGRATE).
    Migrate(MigrateArgs),
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the GraphQL schema (SDL) generated from the code.
    Schema,
    /// Create, list, verify and restore database backups.
    #[command(subcommand)]
    Backup(BackupCommand),
}

/// The database, and the backup settings of the backup taken before migrating it: every command
/// that migrates (all but `backup`, which has both anyway) takes these.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub backups: BackupArgs,
}

impl MigrateArgs {
    pub fn backup_settings(&self) -> crate::backups::BackupSettings {
        self.backups.settings(&self.database)
    }
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a backup now; prints the new backup's id.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        backups: BackupArgs,
    },
    /// List backups, newest first.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        backups: BackupArgs,
        /// List the archives on BACKUP_GIT_REMOTE (fetched now) instead of the catalog; needs no database.
        #[arg(long)]
        remote: bool,
    },
    /// Check a backup's archive: present, size and SHA-256 as recorded, readable by pg_restore.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        backups: BackupArgs,
        /// The backup's id or its archive's file name.
        id: String,
    },
    /// Replace the database's contents with a backup's: one of the catalog (ID), an archive on the
    /// git remote (--remote NAME) or a file (--file PATH). The archive's SHA-256 is checked first.
    /// Without --yes, only says what it would do.
    Restore {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        backups: BackupArgs,
        /// The backup's id or its archive's file name, as `backup list` shows them.
        #[arg(required_unless_present_any = ["remote", "file"], conflicts_with_all = ["remote", "file"])]
        id: Option<String>,
        /// An archive on BACKUP_GIT_REMOTE, by file name (`backup list --remote`); checked against
        /// the .sha256 file beside it there.
        #[arg(long, value_name = "NAME", conflicts_with = "file")]
        remote: Option<String>,
        /// An archive file; checked against PATH.sha256, which must exist unless --no-checksum.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Restore a --file without a PATH.sha256 beside it, unchecked.
        #[arg(long, requires = "file")]
        no_checksum: bool,
        /// Really restore.
        #[arg(long)]
        yes: bool,
    },
}

impl BackupCommand {
    pub fn args(&self) -> (&DatabaseArgs, &BackupArgs) {
        match self {
            BackupCommand::Create { database, backups }
            | BackupCommand::List { database, backups, .. }
            | BackupCommand::Verify { database, backups, .. }
            | BackupCommand::Restore { database, backups, .. } => (database, backups),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Directory of the backup archives [default: <data-dir>/backups with the embedded
    /// PostgreSQL, ./backups with DATABASE_URL].
    #[arg(long, env = "BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Take a backup daily at BACKUP_TIME (true or false).
    #[arg(long, env = "BACKUP_SCHEDULE", default_value_t = true, action = clap::ArgAction::Set)]
    pub backup_schedule: bool,
    /// Time of day (HH:MM) of the daily backup, in BACKUP_TIMEZONE.
    #[arg(long, env = "BACKUP_TIME", default_value = "03:00", value_parser = parse_time_of_day)]
    pub backup_time: chrono::NaiveTime,
    /// Time zone of BACKUP_TIME: an IANA name (Europe/Berlin) or UTC.
    #[arg(long, env = "BACKUP_TIMEZONE", default_value = "UTC")]
    pub backup_timezone: String,
    /// Git remote every backup is pushed to (a separate repository); nothing there is ever deleted.
    #[arg(long, env = "BACKUP_GIT_REMOTE", hide_env_values = true)]
    pub backup_git_remote: Option<SecretString>,
    /// Branch of BACKUP_GIT_REMOTE that receives the backups.
    #[arg(long, env = "BACKUP_GIT_BRANCH", default_value = "main")]
    pub backup_git_branch: String,
    /// Local archives kept: the newest this many (older ones are deleted, once pushed when a remote is set).
    #[arg(long, env = "BACKUP_RETENTION_COUNT", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_retention_count: u32,
    /// Also delete local archives older than this many days.
    #[arg(long, env = "BACKUP_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_retention_days: Option<u32>,
    /// How often failed pushes to BACKUP_GIT_REMOTE are retried, in seconds.
    #[arg(long, env = "BACKUP_PUSH_RETRY_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_push_retry_secs: u32,
    /// Comma-separated age public keys (age1…, as age-keygen prints them): every archive is
    /// encrypted to them before it touches the disk or the git remote.
    #[arg(long, env = "BACKUP_ENCRYPTION_RECIPIENTS", value_delimiter = ',', value_parser = crate::backups::encryption::parse_recipient)]
    pub backup_encryption_recipients: Vec<age::x25519::Recipient>,
    /// age identity file (as age-keygen writes it) that decrypts encrypted archives to verify and
    /// restore them.
    #[arg(long, env = "BACKUP_DECRYPTION_IDENTITY_FILE")]
    pub backup_decryption_identity_file: Option<PathBuf>,
    /// Seconds before a failed scheduled backup is tried again the same day (doubling with each
    /// failure; 3 attempts a day).
    #[arg(long, env = "BACKUP_RETRY_SECS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_retry_secs: u32,
    /// Take a backup before applying pending migrations to a database with data; start-up fails
    /// when it fails (true or false; false logs a warning).
    #[arg(long, env = "BACKUP_BEFORE_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub backup_before_migrate: bool,
}

fn parse_time_of_day(value: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(value, "%H:%M")
        .map_err(|_| format!("{value:?} is not a time of day such as 03:00"))
}

impl BackupArgs {
    pub fn settings(&self, database: &DatabaseArgs) -> crate::backups::BackupSettings {
        let dir = self.backup_dir.clone().unwrap_or_else(|| match database.database_url {
            None => database.data_dir.join("backups"),
            Some(_) => PathBuf::from("backups"),
        });
        crate::backups::BackupSettings {
            dir,
            schedule: self
                .backup_schedule
                .then(|| crate::backups::Schedule { time: self.backup_time, timezone: self.backup_timezone.clone() }),
            git: self
                .backup_git_remote
                .clone()
                .map(|url| crate::backups::GitRemote { url, branch: self.backup_git_branch.clone() }),
            retention_count: self.backup_retention_count,
            retention_days: self.backup_retention_days,
            push_retry: Duration::from_secs(self.backup_push_retry_secs.into()),
            encryption: crate::backups::encryption::Encryption {
                recipients: self.backup_encryption_recipients.clone(),
                identity_file: self.backup_decryption_identity_file.clone(),
            },
            retry: Duration::from_secs(self.backup_retry_secs.into()),
            before_migrate: self.backup_before_migrate,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once; only its SHA-256 digest is stored.
    Create {
        #[command(flatten)]
        connection: MigrateArgs,
        /// A name that says who or what uses the key.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        scope: crate::auth::Scope,
    },
    /// List keys (never their secret part).
    List {
        #[command(flatten)]
        connection: MigrateArgs,
    },
    /// Revoke a key by id; it stops working on the next request.
    Revoke {
        #[command(flatten)]
        connection: MigrateArgs,
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a dashboard user. The password is read from standard input when it is not a
    /// terminal, else prompted for; never from the command line.
    Create {
        #[command(flatten)]
        connection: MigrateArgs,
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: crate::admin::users::Role,
    },
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
    /// How many monthly partitions of the heartbeat history to keep created ahead of the current month.
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
    /// Heartbeat partitions that ended more than this many months ago are detached and dropped.
    #[arg(long, env = "HEARTBEAT_RETENTION_MONTHS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1200))]
    pub heartbeat_retention_months: u32,
    /// Raw heartbeats (one row each) are kept until their UTC day ended this many hours ago, then
    /// compacted into per-device-day rows.
    #[arg(long, env = "HEARTBEAT_RAW_WINDOW_HOURS", default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..=24 * 90))]
    pub heartbeat_raw_window_hours: u32,
    #[command(flatten)]
    pub backups: BackupArgs,
    #[command(flatten)]
    pub rate_limits: crate::rate_limit::RateLimitArgs,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = crate::app::DEFAULT_MAX_BODY_BYTES, value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    pub max_body_bytes: u32,
    /// Seconds a client may take to send a request's headers; also the longest a kept-alive
    /// connection may sit idle between requests.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = crate::app::DEFAULT_HEADER_READ_TIMEOUT_SECS, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub header_read_timeout_secs: u32,
    /// Most WebSocket connections this instance holds open (more: the handshake gets 503).
    #[arg(long, env = "WS_MAX_CONNECTIONS", default_value_t = ws_caps::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ws_max_connections: u32,
    /// Most WebSocket connections from one client address (more: the handshake gets 429).
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = ws_caps::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ws_max_connections_per_address: u32,
    /// Most WebSocket connections of one API key or dashboard user (more: closed with 4429).
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_KEY", default_value_t = ws_caps::DEFAULT_MAX_CONNECTIONS_PER_KEY, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ws_max_connections_per_key: u32,
    /// The `iss` (issuer) claim of every signed lease; clients may check it.
    #[arg(long, env = "LEASE_ISSUER", default_value = crate::leases::DEFAULT_ISSUER)]
    pub lease_issuer: String,
    /// The built dashboard (scripts/build-frontend.sh), served at `/`.
    #[arg(long, env = "FRONTEND_DIR", default_value = "frontend/dist")]
    pub frontend_dir: PathBuf,
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
            sessions: crate::admin::dashboard_sessions::SessionPolicy {
                idle_timeout: Duration::from_secs(self.dashboard_idle_timeout_secs.into()),
                absolute_timeout: Duration::from_secs(self.dashboard_absolute_timeout_secs.into()),
            },
            require_admin_totp: self.require_admin_totp,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    pub fn partition_settings(&self) -> crate::partitions::PartitionSettings {
        crate::partitions::PartitionSettings {
            ahead_months: self.partitions_ahead_months,
            retention_months: self.heartbeat_retention_months,
            raw_window_hours: self.heartbeat_raw_window_hours,
        }
    }

    pub fn session_settings(&self) -> Result<SessionSettings, String> {
        SessionSettings::new(self.heartbeat_interval_secs, self.session_timeout_secs, self.cleanup_interval_secs)
    }

    /// The instance's settings, checked.
    pub fn settings(&self) -> Result<Settings, String> {
        Ok(Settings {
            sessions: self.session_settings()?,
            auth: self.auth_settings(),
            backups: self.backups.settings(&self.database),
            partitions: self.partition_settings(),
            max_body_bytes: self.max_body_bytes as usize,
            rate_limits: self.rate_limits.settings(),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.into()),
            websockets: ws_caps::ConnectionLimits {
                total: self.ws_max_connections as usize,
                per_address: self.ws_max_connections_per_address as usize,
                per_key: self.ws_max_connections_per_key as usize,
            },
            lease_issuer: self.lease_issuer.clone(),
        })
    }
}
