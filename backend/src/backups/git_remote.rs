//! Pushing backups to a git remote: each archive (with a `.sha256` file beside it) becomes one
//! commit, by a fixed author identity, in a local clone under `<BACKUP_DIR>/.git-remote/`, and the
//! branch is pushed without force. Nothing on the remote is ever deleted or rewritten: commits
//! only add files, and a push that is not a fast-forward is refused by git (it is retried after
//! fetching the remote's new commits). Protect the remote as well (`receive.denyNonFastForwards`,
//! `receive.denyDeletes`).
//!
//! The remote URL may carry credentials: it reaches git only through `GIT_CONFIG_*` environment
//! variables (never a command line, never the clone's config file) and is masked in errors.
//!
//! Several instances may push: one at a time, under an advisory lock.

use std::path::Path;

use anyhow::{bail, Context as _};
use sqlx::PgPool;
use tokio::process::Command;
use uuid::Uuid;

use super::{BackupSettings, GitRemote, PushStatus};
use crate::error::Result;

/// The identity of every backup commit.
pub const AUTHOR_NAME: &str = "License Server Backups";
pub const AUTHOR_EMAIL: &str = "backups@license-server.invalid";

/// What one push run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Backups now on the remote.
    pub pushed: Vec<Uuid>,
    /// Set when the push failed (the backups stay pending and are retried).
    pub error: Option<String>,
    /// Another instance was pushing; nothing was done.
    pub skipped: bool,
}

struct Git<'a> {
    dir: &'a Path,
    remote: &'a GitRemote,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(self.dir).args(args);
        let config = [
            ("remote.origin.url", self.remote.url.expose()),
            ("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"),
            ("commit.gpgsign", "false"),
            ("core.hooksPath", "/dev/null"),
        ];
        cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
        for (i, (key, value)) in config.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), key).env(format!("GIT_CONFIG_VALUE_{i}"), value);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs git; returns its stdout, or an error with its stderr (the remote URL masked).
    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.command(args).output().await.context("could not run git (is it installed?)")?;
        if !output.status.success() {
            let stderr =
                String::from_utf8_lossy(&output.stderr).replace(self.remote.url.expose(), "<BACKUP_GIT_REMOTE>");
            bail!("git {} failed: {}", args.first().unwrap_or(&""), stderr.trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    async fn succeeds(&self, args: &[&str]) -> anyhow::Result<bool> {
        Ok(self.command(args).output().await.context("could not run git")?.status.success())
    }
}

/// Commits every completed backup that is not on the remote yet and pushes them, recording the
/// outcome on each backup (a failure as `push_status = failed` with the reason, retried later).
pub async fn push_pending(pool: &PgPool, settings: &BackupSettings) -> Result<PushReport> {
    let Some(remote) = &settings.git else {
        return Ok(PushReport::default());
    };
    // A transaction-level lock, held by a transaction that stays open for the push: however the
    // push ends (even cancelled at shutdown), the transaction ends and the lock with it.
    let mut lock = pool.begin().await?;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('license-server backups git push'))")
            .fetch_one(&mut *lock)
            .await?;
    if !locked {
        return Ok(PushReport { skipped: true, ..Default::default() });
    }
    let result = push_locked(pool, settings, remote).await;
    lock.rollback().await?;
    result
}

async fn push_locked(pool: &PgPool, settings: &BackupSettings, remote: &GitRemote) -> Result<PushReport> {
    let pending: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, file_name, sha256, kind || ' backup taken ' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC by ' || created_by
         FROM backups
         WHERE status = 'completed' AND push_status IN ('pending', 'failed') AND pruned_at IS NULL
         ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await?;
    let pending: Vec<_> = pending.into_iter().filter(|(_, file, _, _)| settings.archive_path(file).is_file()).collect();
    if pending.is_empty() {
        return Ok(PushReport::default());
    }
    let ids: Vec<Uuid> = pending.iter().map(|p| p.0).collect();
    match commit_and_push(settings, remote, &pending).await {
        Ok(commit) => {
            sqlx::query(
                "UPDATE backups SET push_status = 'pushed', pushed_at = now(), push_commit = $2, push_error = NULL,
                        push_attempts = push_attempts + 1
                 WHERE id = ANY($1)",
            )
            .bind(&ids)
            .bind(&commit)
            .execute(pool)
            .await?;
            crate::metrics::backup_pushed(true);
            tracing::info!(backups = ids.len(), commit = %commit, "backups pushed to the git remote");
            Ok(PushReport { pushed: ids, ..Default::default() })
        }
        Err(err) => {
            let message = format!("{err:#}");
            sqlx::query(
                "UPDATE backups SET push_status = $2, push_error = $3, push_attempts = push_attempts + 1
                 WHERE id = ANY($1)",
            )
            .bind(&ids)
            .bind(PushStatus::Failed)
            .bind(&message)
            .execute(pool)
            .await?;
            crate::metrics::backup_pushed(false);
            tracing::warn!(backups = ids.len(), error = %message, "pushing backups to the git remote failed");
            Ok(PushReport { error: Some(message), ..Default::default() })
        }
    }
}

/// Brings the clone up to the remote's branch, commits each archive, pushes; returns the commit.
async fn commit_and_push(
    settings: &BackupSettings,
    remote: &GitRemote,
    pending: &[(Uuid, String, String, String)],
) -> anyhow::Result<String> {
    let dir = settings.clone_dir();
    tokio::fs::create_dir_all(&dir).await.with_context(|| format!("cannot create {}", dir.display()))?;
    let git = Git { dir: &dir, remote };
    if !dir.join(".git").exists() {
        git.run(&["init", "-q", "-b", &remote.branch]).await?;
    }
    git.run(&["fetch", "-q", "origin"]).await?;
    let tracking = format!("refs/remotes/origin/{}", remote.branch);
    if git.succeeds(&["rev-parse", "-q", "--verify", &tracking]).await? {
        // Start from what the remote has: commits made here that never got pushed are made again
        // below from the catalog, on top of the remote's history.
        git.run(&["checkout", "-f", "-q", "-B", &remote.branch, &tracking]).await?;
    }
    tokio::fs::create_dir_all(dir.join("backups")).await?;
    for (id, file_name, sha256, description) in pending {
        let target = dir.join("backups").join(file_name);
        tokio::fs::copy(settings.archive_path(file_name), &target).await?;
        tokio::fs::write(dir.join("backups").join(format!("{file_name}.sha256")), format!("{sha256}  {file_name}\n"))
            .await?;
        let archive = format!("backups/{file_name}");
        let checksum = format!("backups/{file_name}.sha256");
        git.run(&["add", "--", &archive, &checksum]).await?;
        if !git.succeeds(&["diff", "--cached", "--quiet"]).await? {
            let message = format!("Backup {file_name}\n\n{description}\nid: {id}\nsha256: {sha256}\n");
            git.run(&["commit", "-q", "-m", &message]).await?;
        }
    }
    let refspec = format!("HEAD:refs/heads/{}", remote.branch);
    git.run(&["push", "-q", "origin", &refspec]).await?;
    git.run(&["rev-parse", "HEAD"]).await
}

/// Retries failed and pending pushes every `push_retry` until the task is dropped.
pub async fn run(pool: PgPool, settings: std::sync::Arc<BackupSettings>) {
    if settings.git.is_none() {
        return;
    }
    loop {
        tokio::time::sleep(settings.push_retry).await;
        match push_pending(&pool, &settings).await {
            Ok(report) if !report.pushed.is_empty() => {
                if let Err(err) = super::prune(&pool, &settings).await {
                    tracing::warn!(error = ?err, "pruning local backups failed");
                }
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = ?err, "retrying backup pushes failed"),
        }
    }
}
