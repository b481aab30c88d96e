//! `license-server backup create|list|verify|restore`.
//!
//! A restore from the remote or a file runs in this order: check the archive (checksum,
//! decryption, table of contents: a bad one is refused before the database is touched); migrate
//! (a database that never saw the server gets its schema, and with it the backup catalog, which
//! no archive holds); restore (`pg_restore --clean` replaces every table of the archive); migrate
//! again (an archive taken by an older version is brought up to this one); and only then record
//! the restore in the audit log of the database as it now is. Without `--yes` nothing is done to
//! the database at all.

use std::path::PathBuf;

use anyhow::bail;

use super::jobs::JobLock;
use super::source::{self, LooseArchive};
use super::BackupSettings;
use crate::auth::Actor;
use crate::config::BackupCommand;
use crate::db::Database;

pub async fn run(command: BackupCommand) -> anyhow::Result<()> {
    let (database_args, backup_args) = command.args();
    let settings = backup_args.settings(database_args);
    if let BackupCommand::List { remote: true, .. } = command {
        return list_remote(&settings).await;
    }
    let database = Database::connect(database_args).await?;
    // Only a restore of an archive outside the catalog works on a database without the schema.
    let needs_schema = !matches!(command, BackupCommand::Restore { id: None, .. });
    let result = async {
        if needs_schema {
            super::pre_migration::migrate(&database.pool, &settings).await?;
        }
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
                let id = source::resolve(pool, &id, "id").await.map_err(detailed)?;
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
            BackupCommand::Restore { id: Some(id), yes, .. } => {
                let id = source::resolve(pool, &id, "id").await.map_err(detailed)?;
                if !yes {
                    let verification = super::verify(pool, &settings, id).await.map_err(detailed)?;
                    let backup = &verification.backup;
                    let what = format!(
                        "backup {id} ({}, taken {} by {})",
                        backup.file_name,
                        backup.created_at.to_rfc3339(),
                        backup.created_by
                    );
                    dry_run(&what, pool, verification.problem);
                    return Ok(());
                }
                let backup = JobLock::around(pool, super::restore_only(pool, &settings, id)).await.map_err(detailed)?;
                super::pre_migration::migrate(pool, &settings).await?;
                super::record_restored(pool, &Actor::cli(), None, &backup).await.map_err(detailed)?;
                println!("restored backup {id}");
            }
            BackupCommand::Restore { remote, file, no_checksum, yes, .. } => {
                let archive = loose_archive(&settings, remote, file).await?;
                let problem = source::check(pool, &settings, &archive, no_checksum).await.map_err(detailed)?;
                if !yes {
                    dry_run(&describe(&archive), pool, problem);
                    return Ok(());
                }
                if let Some(problem) = problem {
                    bail!("{problem}; nothing was restored and the database is unchanged");
                }
                super::pre_migration::migrate(pool, &settings).await?;
                JobLock::around(pool, source::restore(pool, &settings, &archive, no_checksum))
                    .await
                    .map_err(detailed)?;
                super::pre_migration::migrate(pool, &settings).await?;
                source::record(pool, &Actor::cli(), None, &archive).await.map_err(detailed)?;
                println!("restored {}", describe(&archive));
            }
        }
        anyhow::Ok(())
    }
    .await;
    database.shutdown().await;
    result
}

/// `backup list --remote`: what the git remote holds, newest first.
async fn list_remote(settings: &BackupSettings) -> anyhow::Result<()> {
    let archives = super::git_remote::list_remote(settings).await?;
    println!("{:<64}  {:>12}  file", "sha256", "bytes");
    for archive in archives {
        println!(
            "{:<64}  {:>12}  {}",
            archive.sha256.as_deref().unwrap_or("(no .sha256: cannot be restored)"),
            archive.size_bytes,
            archive.file_name
        );
    }
    Ok(())
}

async fn loose_archive(
    settings: &BackupSettings,
    remote: Option<String>,
    file: Option<PathBuf>,
) -> anyhow::Result<LooseArchive> {
    match (remote, file) {
        (Some(name), _) => source::from_remote(settings, &name).await.map_err(detailed),
        (None, Some(path)) => source::from_file(&path).await.map_err(detailed),
        (None, None) => bail!("name a backup: ID, --remote NAME or --file PATH"),
    }
}

fn describe(archive: &LooseArchive) -> String {
    match archive.origin {
        source::Origin::Remote => format!("the archive {} of the git remote", archive.name),
        source::Origin::File => format!("the archive file {}", archive.path.display()),
    }
}

/// What a restore without --yes says.
fn dry_run(what: &str, pool: &sqlx::PgPool, problem: Option<String>) {
    println!(
        "would restore {what} into database {:?}, replacing the contents of every table (the backup catalog excepted)",
        pool.connect_options().get_database().unwrap_or("?")
    );
    match problem {
        None => println!("the archive is intact; run again with --yes to restore"),
        Some(problem) => println!("but it would refuse: {problem}"),
    }
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
