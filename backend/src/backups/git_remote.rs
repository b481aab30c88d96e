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
use chrono::{DateTime, Utc};
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

/// The newest push attempt, as recorded on the backups it carried.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LastPush {
    pub attempted_at: DateTime<Utc>,
    /// `Pushed`, or `Failed` with `error` (a backup pushed again since is `Pushed`).
    pub status: PushStatus,
    /// The commit that carried the backups, when it succeeded.
    pub commit: Option<String>,
    pub error: Option<String>,
}

/// The newest push attempt of any backup, if there was one.
pub async fn last_push(pool: &PgPool) -> Result<Option<LastPush>> {
    Ok(sqlx::query_as(
        "SELECT push_attempted_at AS attempted_at, push_status AS status, push_commit AS commit, push_error AS error
         FROM backups WHERE push_attempted_at IS NOT NULL
         ORDER BY push_attempted_at DESC, created_at DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?)
}

/// Completed backups still waiting for a successful push.
pub async fn unpushed_count(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM backups WHERE status = 'completed' AND push_status IN ('pending', 'failed')",
    )
    .fetch_one(pool)
    .await?)
}

/// The remote URL as it may be shown: credentials (`user:token@` in a URL with a scheme) are
/// replaced by `***`, and a query or fragment (where tokens hide too) is dropped. scp-like
/// addresses (`git@host:path`) and paths carry no secret and stay as they are.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // Everything up to the last `@`, so that a `/` or `@` left unencoded in a password never
    // shows (at worst an `@` in the path hides a little too much).
    match rest.rsplit_once('@') {
        Some((_, host_and_path)) => format!("{scheme}://***@{host_and_path}"),
        None => format!("{scheme}://{rest}"),
    }
}

/// The parts of a remote URL that may be secrets, longest first: the credentials (`user:token`,
/// the token alone, or a user name standing alone, which is how tokens are often given), the
/// query and the fragment.
fn secret_parts(url: &str) -> Vec<&str> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let (address, tail) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
    let mut parts: Vec<&str> = tail.split(['?', '#']).collect();
    if let Some((credentials, _)) = address.rsplit_once('@') {
        parts.push(credentials);
        match credentials.split_once(':') {
            Some((_, password)) => parts.push(password),
            None => parts.push(credentials),
        }
    }
    parts.retain(|part| !part.is_empty());
    parts.sort_by_key(|part| std::cmp::Reverse(part.len()));
    parts
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
            let url = self.remote.url.expose();
            let mut stderr = String::from_utf8_lossy(&output.stderr).replace(url, "<BACKUP_GIT_REMOTE>");
            // git itself prints the URL without its credentials but with its query.
            for secret in secret_parts(url) {
                stderr = stderr.replace(secret, "***");
            }
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
                        push_attempts = push_attempts + 1, push_attempted_at = now()
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
                "UPDATE backups SET push_status = $2, push_error = $3, push_attempts = push_attempts + 1,
                        push_attempted_at = now()
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

/// An archive on the git remote's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteArchive {
    pub file_name: String,
    pub size_bytes: i64,
    /// The SHA-256 its `.sha256` file gives; `None` when that file is missing or unreadable.
    pub sha256: Option<String>,
    /// The blob holding the archive.
    object: String,
}

/// Fetches the remote's branch into the clone in `git.dir` (made when missing: this works on a
/// new machine) and returns the ref of the branch's tip; `None` when the remote has no such
/// branch (nothing was pushed yet).
async fn fetch_branch(git: &Git<'_>) -> anyhow::Result<Option<String>> {
    tokio::fs::create_dir_all(git.dir).await.with_context(|| format!("cannot create {}", git.dir.display()))?;
    if !git.dir.join(".git").exists() {
        git.run(&["init", "-q", "-b", &git.remote.branch]).await?;
    }
    git.run(&["fetch", "-q", "origin"]).await?;
    let tracking = format!("refs/remotes/origin/{}", git.remote.branch);
    Ok(git.succeeds(&["rev-parse", "-q", "--verify", &tracking]).await?.then_some(tracking))
}

/// The archives on the remote's branch (fetched now), newest first (by the time in their
/// names), each with the checksum of its `.sha256` file.
pub async fn list_remote(settings: &BackupSettings) -> anyhow::Result<Vec<RemoteArchive>> {
    let Some(remote) = &settings.git else {
        bail!("no git remote is configured (BACKUP_GIT_REMOTE)");
    };
    let dir = settings.clone_dir();
    let git = Git { dir: &dir, remote };
    let Some(tracking) = fetch_branch(&git).await? else {
        return Ok(Vec::new());
    };
    let tree = git.run(&["ls-tree", "-l", &tracking, "--", "backups/"]).await?;
    // `<mode> <type> <object> <size>\t<path>`
    let entries: Vec<(String, String, i64)> = tree
        .lines()
        .filter_map(|line| {
            let (meta, path) = line.split_once('\t')?;
            let mut meta = meta.split_whitespace().skip(1);
            let (kind, object, size) = (meta.next()?, meta.next()?, meta.next()?.parse().ok()?);
            let name = path.strip_prefix("backups/")?;
            (kind == "blob").then(|| (name.to_owned(), object.to_owned(), size))
        })
        .collect();
    let mut archives = Vec::new();
    for (name, object, size_bytes) in &entries {
        if super::source::check_archive_name(name, "name").is_err() {
            continue;
        }
        let checksum_file = format!("{name}.sha256");
        let sha256 = match entries.iter().find(|(other, _, _)| *other == checksum_file) {
            Some((_, checksum_object, _)) => parse_checksum(&git.run(&["cat-file", "blob", checksum_object]).await?),
            None => None,
        };
        archives.push(RemoteArchive {
            file_name: name.clone(),
            size_bytes: *size_bytes,
            sha256,
            object: object.clone(),
        });
    }
    archives.sort_by(|a, b| b.file_name.cmp(&a.file_name));
    Ok(archives)
}

/// The checksum of a `.sha256` file (`<hex>  <name>`, as `sha256sum` writes it).
pub(super) fn parse_checksum(content: &str) -> Option<String> {
    let hex = content.split_whitespace().next()?.to_ascii_lowercase();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Fetches the remote's branch and writes its archive `name` to `target`; returns what the
/// remote knows of it, or `None` when the branch has no such archive.
pub async fn fetch_archive(
    settings: &BackupSettings,
    name: &str,
    target: &Path,
) -> anyhow::Result<Option<RemoteArchive>> {
    let Some(archive) = list_remote(settings).await?.into_iter().find(|archive| archive.file_name == name) else {
        return Ok(None);
    };
    let remote = settings.git.as_ref().expect("listed from the remote");
    let dir = settings.clone_dir();
    let git = Git { dir: &dir, remote };
    let file = std::fs::File::create(target).with_context(|| format!("cannot create {}", target.display()))?;
    let mut cmd = git.command(&["cat-file", "blob", &archive.object]);
    let status = cmd.stdout(file).status().await.context("could not run git")?;
    if !status.success() {
        bail!("git cat-file could not read {name} from the clone of the remote ({status})");
    }
    Ok(Some(archive))
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

#[cfg(test)]
mod tests {
    use super::{display_url, parse_checksum, secret_parts};

    #[test]
    fn credentials_in_the_remote_url_are_never_shown() {
        assert_eq!(
            display_url("https://backup-bot:s3cret@git.example.com/ops/backups.git"),
            "https://***@git.example.com/ops/backups.git"
        );
        assert_eq!(display_url("https://ghp_token@github.com/o/r.git"), "https://***@github.com/o/r.git");
        assert_eq!(display_url("https://git.example.com/r.git?access_token=s3cret#x"), "https://git.example.com/r.git");
        assert_eq!(display_url("ssh://git@git.example.com:2222/r.git"), "ssh://***@git.example.com:2222/r.git");
        assert_eq!(display_url("https://user:p@ss@host"), "https://***@host");
        assert_eq!(display_url("https://user:pa/ss@host/r.git"), "https://***@host/r.git");
    }

    #[test]
    fn the_secret_parts_of_a_remote_url_are_its_credentials_query_and_fragment() {
        assert_eq!(
            secret_parts("https://bot:t0ken@host/r.git?private_token=q#f"),
            ["private_token=q", "bot:t0ken", "t0ken", "f"]
        );
        assert_eq!(secret_parts("https://ghp_t0ken@host/r.git"), ["ghp_t0ken", "ghp_t0ken"]);
        assert!(secret_parts("https://host/r.git").is_empty());
        assert!(secret_parts("git@github.com:o/r.git").is_empty());
    }

    #[test]
    fn a_checksum_file_gives_the_lowercase_digest_or_nothing() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_checksum(&format!("{}  license-server-x.dump\n", hex.to_uppercase())), Some(hex));
        assert_eq!(parse_checksum("not a checksum  license-server-x.dump"), None);
        assert_eq!(parse_checksum(""), None);
    }

    #[test]
    fn addresses_without_credentials_stay_as_they_are() {
        assert_eq!(display_url("https://git.example.com/r.git"), "https://git.example.com/r.git");
        assert_eq!(display_url("git@github.com:ops/backups.git"), "git@github.com:ops/backups.git");
        assert_eq!(display_url("/srv/git/backups.git"), "/srv/git/backups.git");
    }
}
