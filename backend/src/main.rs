use std::io::IsTerminal;

use clap::Parser;
use license_server::auth::Actor;
use license_server::config::{AdminCommand, ApiKeyCommand, Cli, Command, LogFormat, MigrateArgs};
use license_server::db::Database;
use license_server::{admin, api_keys, backups, schema, server};
use tracing_subscriber::EnvFilter;

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// See `mimalloc` in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server::serve(args).await,
        Command::Migrate(args) => {
            let database = Database::connect(&args.database).await?;
            let result = migrate(&database, &args).await;
            database.shutdown().await;
            result?;
            println!("migrations applied");
            Ok(())
        }
        Command::Schema => {
            print!("{}", schema::sdl());
            Ok(())
        }
        Command::ApiKey(command) => api_key(command).await,
        Command::Admin(AdminCommand::Create { connection, username, role }) => {
            let password = read_password()?;
            let database = Database::connect(&connection.database).await?;
            let result = async {
                migrate(&database, &connection).await?;
                let argon2 = admin::passwords::Argon2Gate::new(1);
                let user =
                    admin::users::create(&database.pool, &argon2, &Actor::cli(), None, &username, role, &password)
                        .await?;
                println!("created {} user `{}` ({})", role.as_str(), user.username, user.id);
                anyhow::Ok(())
            }
            .await;
            database.shutdown().await;
            result
        }
        Command::Backup(command) => backups::cli::run(command).await,
    }
}

/// Applies pending migrations, after the backup `backups::pre_migration` takes of a database with data.
async fn migrate(database: &Database, args: &MigrateArgs) -> anyhow::Result<()> {
    backups::pre_migration::migrate(&database.pool, &args.backup_settings()).await
}

/// The password comes from a prompt on a terminal, else from the first line of standard input;
/// never from the command line, where other users could see it.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password("Password: ")?;
        if rpassword::prompt_password("Repeat the password: ")? != password {
            anyhow::bail!("the passwords differ");
        }
        Ok(password)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn api_key(command: ApiKeyCommand) -> anyhow::Result<()> {
    let args = match &command {
        ApiKeyCommand::Create { connection, .. }
        | ApiKeyCommand::List { connection }
        | ApiKeyCommand::Revoke { connection, .. } => connection.clone(),
    };
    let database = Database::connect(&args.database).await?;
    let result = async {
        migrate(&database, &args).await?;
        match command {
            ApiKeyCommand::Create { name, scope, .. } => {
                let generated = api_keys::create(&database.pool, &Actor::cli(), None, &name, scope).await?;
                eprintln!(
                    "API key `{}` ({}) created with id {}. It is shown only this once:",
                    generated.record.name, generated.record.scope, generated.record.id
                );
                println!("{}", generated.key);
            }
            ApiKeyCommand::List { .. } => {
                println!(
                    "{:<36}  {:<8}  {:<12}  {:<25}  {:<25}  name",
                    "id", "scope", "prefix", "last used", "revoked"
                );
                for key in api_keys::list(&database.pool).await? {
                    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".into(), |t| t.to_rfc3339());
                    println!(
                        "{:<36}  {:<8}  {:<12}  {:<25}  {:<25}  {}",
                        key.id,
                        key.scope,
                        key.display_prefix,
                        time(key.last_used_at),
                        time(key.revoked_at),
                        key.name
                    );
                }
            }
            ApiKeyCommand::Revoke { id, .. } => {
                let key = api_keys::revoke(&database.pool, &Actor::cli(), None, id).await?;
                println!("revoked API key {} ({})", key.id, key.name);
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.shutdown().await;
    result
}
