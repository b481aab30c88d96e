//! Restoring from anywhere: a backup is named by its id or its archive's name, and an archive the
//! catalog has never seen (on the git remote, or a file) restores onto any database, on a new
//! machine too. Such an archive is trusted only with its checksum: the `.sha256` file beside it
//! on the remote (required), or beside the file (required unless the operator says
//! `--no-checksum`).

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::{git_remote, Backup, BackupSettings, COLUMNS};
use crate::auth::Actor;
use crate::error::{Error, Result};
use sqlx::PgPool;

/// The longest archive name accepted.
const MAX_NAME_LEN: usize = 200;

/// An archive name as backups are named (`license-server-….dump`, `….dump.age`): a plain file
/// name, never a path.
pub fn check_archive_name(name: &str, field: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.contains("..");
    if plain && (name.ends_with(".dump") || name.ends_with(".dump.age")) {
        return Ok(());
    }
    Err(Error::bad_input(
        field,
        format!("{field} must be a backup id or an archive's file name (such as license-server-20260101T030000Z-1a2b3c4d.dump)"),
    ))
}

/// The catalog's backup with this id or archive name.
pub async fn find_by_id_or_name(pool: &PgPool, value: &str, field: &str) -> Result<Option<Backup>> {
    if let Ok(id) = Uuid::parse_str(value) {
        return super::find(pool, id).await;
    }
    check_archive_name(value, field)?;
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM backups WHERE file_name = $1"))
        .bind(value)
        .fetch_optional(pool)
        .await?)
}

/// The id of the catalog's backup with this id or archive name.
pub async fn resolve(pool: &PgPool, value: &str, field: &str) -> Result<Uuid> {
    match find_by_id_or_name(pool, value, field).await? {
        Some(backup) => Ok(backup.id),
        None => Err(Error::not_found("backup", field)),
    }
}

/// Where an archive outside the catalog comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Remote,
    File,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Remote => "remote",
            Origin::File => "file",
        }
    }
}

/// An archive outside the catalog, with the checksum it must have.
#[derive(Debug)]
pub struct LooseArchive {
    pub name: String,
    pub path: PathBuf,
    pub origin: Origin,
    /// From the `.sha256` file beside it; `None` when there is none.
    pub sha256: Option<String>,
    /// A copy fetched from the remote, deleted when this is dropped.
    fetched: bool,
}

impl Drop for LooseArchive {
    fn drop(&mut self) {
        if self.fetched {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The archive `name` of the git remote, fetched into the backup directory for as long as the
/// returned value lives.
pub async fn from_remote(settings: &BackupSettings, name: &str) -> Result<LooseArchive> {
    check_archive_name(name, "fileName")?;
    if settings.git.is_none() {
        return Err(Error::bad_input("fileName", "no git remote is configured (BACKUP_GIT_REMOTE)"));
    }
    tokio::fs::create_dir_all(&settings.dir)
        .await
        .map_err(|err| internal(err, format!("cannot create BACKUP_DIR {}", settings.dir.display())))?;
    let path = settings.dir.join(format!("{name}.from-remote"));
    let mut archive = LooseArchive { name: name.to_owned(), path, origin: Origin::Remote, sha256: None, fetched: true };
    match git_remote::fetch_archive(settings, name, &archive.path).await.map_err(Error::Internal)? {
        Some(found) => archive.sha256 = found.sha256,
        None => return Err(Error::not_found("archive on the git remote", "fileName")),
    }
    Ok(archive)
}

/// The archive in the file at `path`, with the checksum of `<path>.sha256` when that exists.
pub async fn from_file(path: &Path) -> Result<LooseArchive> {
    let metadata = tokio::fs::metadata(path)
        .await
        .map_err(|err| Error::bad_input("file", format!("cannot read {}: {err}", path.display())))?;
    if !metadata.is_file() {
        return Err(Error::bad_input("file", format!("{} is not a file", path.display())));
    }
    let mut checksum_file = path.as_os_str().to_owned();
    checksum_file.push(".sha256");
    let sha256 = match tokio::fs::read_to_string(&checksum_file).await {
        Ok(content) => Some(git_remote::parse_checksum(&content).ok_or_else(|| {
            Error::bad_input("file", format!("{} holds no SHA-256", Path::new(&checksum_file).display()))
        })?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(internal(err, format!("cannot read {}", Path::new(&checksum_file).display()))),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(LooseArchive { name, path: path.to_owned(), origin: Origin::File, sha256, fetched: false })
}

/// Why the archive cannot be restored here; `None` when it can. Without a checksum it is
/// refused unless `without_checksum` (the operator's `--no-checksum`, for files only).
pub async fn check(
    pool: &PgPool,
    settings: &BackupSettings,
    archive: &LooseArchive,
    without_checksum: bool,
) -> Result<Option<String>> {
    let expected = match (&archive.sha256, archive.origin) {
        (Some(sha256), _) => Some(sha256.as_str()),
        (None, Origin::File) if without_checksum => None,
        (None, Origin::Remote) => {
            return Ok(Some(format!("the remote holds no {}.sha256: the archive cannot be checked", archive.name)))
        }
        (None, Origin::File) => {
            return Ok(Some(format!(
                "there is no {}.sha256 beside the file: the archive cannot be checked (--no-checksum restores it \
                 unchecked)",
                archive.path.display()
            )))
        }
    };
    let source = format!("its .sha256 file says {}", expected.unwrap_or("-"));
    super::check_archive(pool, settings, &archive.path, &archive.name, expected.map(|sha| (sha, None, source))).await
}

/// Replaces the database's contents with the archive's after checking it; a bad archive is
/// refused and nothing changes. Recording the restore is [`record`]'s (after migrating, on the
/// command line).
pub async fn restore(
    pool: &PgPool,
    settings: &BackupSettings,
    archive: &LooseArchive,
    without_checksum: bool,
) -> Result<()> {
    if let Some(problem) = check(pool, settings, archive, without_checksum).await? {
        return Err(Error::bad_input(
            "fileName",
            format!("{problem}; nothing was restored and the database is unchanged"),
        ));
    }
    super::restore_checked(pool, settings, &archive.path).await
}

/// Audits the restore of an archive outside the catalog (by the catalog's id when it has one
/// by that name, else by the archive's name).
pub async fn record(pool: &PgPool, actor: &Actor, ip: Option<std::net::IpAddr>, archive: &LooseArchive) -> Result<()> {
    let known = find_by_id_or_name(pool, &archive.name, "fileName").await.ok().flatten();
    let entity = known.map_or_else(|| archive.name.clone(), |backup| backup.id.to_string());
    super::record_restore(
        pool,
        actor,
        ip,
        entity,
        serde_json::json!({
            "fileName": archive.name,
            "sha256": archive.sha256,
            "source": archive.origin.as_str(),
        }),
    )
    .await
}

fn internal(err: impl std::error::Error + Send + Sync + 'static, context: String) -> Error {
    Error::Internal(anyhow::Error::new(err).context(context))
}

#[cfg(test)]
mod tests {
    use super::check_archive_name;

    #[test]
    fn archive_names_are_plain_file_names_of_dumps() {
        for good in ["license-server-20261203T103000Z-1a2b3c4d.dump", "x.dump.age", "a_b-c.dump"] {
            assert!(check_archive_name(good, "id").is_ok(), "{good}");
        }
        for bad in [
            "",
            "../license-server.dump",
            "backups/x.dump",
            "/etc/passwd",
            "x.dump/../../y.dump",
            ".hidden.dump",
            "x.sql",
            "x.dump.sha256",
            "x..dump",
            "x\\y.dump",
            "x y.dump",
            "x.dump\n",
        ] {
            let err = check_archive_name(bad, "id").unwrap_err();
            assert_eq!(err.code(), "BAD_USER_INPUT", "{bad:?}");
        }
        assert!(check_archive_name(&format!("{}.dump", "a".repeat(200)), "id").is_err(), "too long");
    }
}
