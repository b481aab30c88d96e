//! `license-server backup create|list|verify|restore`.

use anyhow::bail;

use crate::auth::Actor;
use crate::config::BackupCommand;
use crate::db::Database;

pub async fn run(command: BackupCommand) -> anyhow::Result<()> {
    let (database_args, backup_args) = command.args();
    let settings = backup_args.settings(database_args);
    let database = Database::connect(database_args).await?;
    let result = async {
        super::pre_migration::migrate(&database.pool, &settings).await?;
        let pool = &database.pool;
        match command {
            BackupCommand::Create { .. } => {
                let backup = super::create(pool, &settings, &Actor::cli(), None).await.map_err(detailed)?;
                eprintln!(
                    "backup {} written to {} ({} bytes, sha256 {}, push: {})",
                    backup.file_name,
                    settings.dir.display(),
                    backup.size_bytes.unwrap_or(0),
                    backup.sha256.as_deref().unwrap_or("-"),
                    name(backup.push_status)
                );
                println!("{}", backup.id);
            }
            BackupCommand::List { .. } => {
                println!(
                    "{:<36}  {:<9}  {:<9}  {:<25}  {:>12}  {:<14}  {:<16}  file",
                    "id", "kind", "status", "created", "bytes", "push", "created by"
                );
                for backup in super::list(pool, 0, i64::MAX).await? {
                    println!(
                        "{:<36}  {:<9}  {:<9}  {:<25}  {:>12}  {:<14}  {:<16}  {}{}",
                        backup.id,
                        name(backup.kind),
                        name(backup.status),
                        backup.created_at.to_rfc3339(),
                        backup.size_bytes.map_or("-".into(), |s| s.to_string()),
                        name(backup.push_status),
                        backup.created_by,
                        backup.file_name,
                        if backup.pruned_at.is_some() { " (local copy pruned)" } else { "" }
                    );
                }
            }
            BackupCommand::Verify { id, .. } => {
                let verification = super::verify(pool, &settings, id).await.map_err(detailed)?;
                match verification.problem {
                    None => println!(
                        "backup {id} is intact: {} matches sha256 {}",
                        verification.path.map(|p| p.display().to_string()).unwrap_or_default(),
                        verification.backup.sha256.unwrap_or_default()
                    ),
                    Some(problem) => bail!("backup {id} cannot be restored: {problem}"),
                }
            }
            BackupCommand::Restore { id, yes: false, .. } => {
                let verification = super::verify(pool, &settings, id).await.map_err(detailed)?;
                let backup = &verification.backup;
                println!(
                    "would restore backup {id} ({}, taken {} by {}) into database {:?}, replacing the contents of \
                     every table (the backup catalog excepted)",
                    backup.file_name,
                    backup.created_at.to_rfc3339(),
                    backup.created_by,
                    pool.connect_options().get_database().unwrap_or("?")
                );
                match verification.problem {
                    None => println!("the archive is intact; run again with --yes to restore"),
                    Some(problem) => println!("but it would refuse: {problem}"),
                }
            }
            BackupCommand::Restore { id, yes: true, .. } => {
                super::restore(pool, &settings, &Actor::cli(), None, id).await.map_err(detailed)?;
                println!("restored backup {id}");
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.shutdown().await;
    result
}

/// The catalog's name of a kind or status (`not_configured`, …).
fn name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// On the command line the operator sees the whole error, internal details included.
pub(super) fn detailed(err: crate::Error) -> anyhow::Error {
    match err {
        crate::Error::Internal(err) => err,
        crate::Error::Database(err) => anyhow::Error::new(err),
        other => anyhow::anyhow!("{other}"),
    }
}
