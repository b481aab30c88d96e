//! Running `pg_dump` and `pg_restore` against the database the pool talks to.
//!
//! The connection comes from the pool's own options (host or Unix socket directory, port, user,
//! database, SSL mode) and is handed to the programs through libpq's environment variables; the
//! password travels only in `PGPASSWORD`, never on a command line (visible to every local user)
//! or in a log line. Other `PG*` variables of the server's environment are removed so that they
//! cannot redirect a dump or a restore to another database.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context as _};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, PgPool};
use tokio::process::Command;

use super::encryption;
use crate::embedded_pg::find_pg_bin_dir;

/// How long a restore waits for a table lock before it gives up (and changes nothing).
const RESTORE_LOCK_TIMEOUT: &str = "60s";

pub struct PgTools {
    bin_dir: PathBuf,
    options: PgConnectOptions,
}

impl PgTools {
    pub fn for_pool(pool: &PgPool) -> anyhow::Result<Self> {
        let bin_dir = find_pg_bin_dir(&["pg_dump", "pg_restore"], "postgresql-client")?;
        Ok(PgTools { bin_dir, options: (*pool.connect_options()).clone() })
    }

    fn database(&self) -> &str {
        self.options.get_database().unwrap_or_else(|| self.options.get_username())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                cmd.env_remove(name);
            }
        }
        let host = match self.options.get_socket() {
            Some(dir) => dir.to_string_lossy().into_owned(),
            None => self.options.get_host().to_owned(),
        };
        cmd.env("PGHOST", host)
            .env("PGPORT", self.options.get_port().to_string())
            .env("PGUSER", self.options.get_username())
            .env("PGDATABASE", self.database())
            .env("PGAPPNAME", format!("license-server {program}"))
            .env("PGSSLMODE", ssl_mode(self.options.get_ssl_mode()));
        if let Some(password) = password(&self.options) {
            cmd.env("PGPASSWORD", password);
        }
        cmd.envs(tls_files(&self.options));
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    async fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let output = cmd.output().await.with_context(|| format!("could not run {what}"))?;
        check_exit(&output, what)
    }

    /// A compressed custom-format archive of the whole database except the backup catalog; with
    /// recipients, encrypted to them as it streams from `pg_dump` (no plaintext touches the disk).
    pub async fn dump(&self, target: &Path, encrypt_to: &[age::x25519::Recipient]) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_dump");
        cmd.args(["--format=custom", "--compress=6", "--exclude-table=backups"]);
        if encrypt_to.is_empty() {
            cmd.arg("--file").arg(target);
            return self.run(cmd, "pg_dump").await;
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().context("could not run pg_dump")?;
        let stdout = std::fs::File::from(child.stdout.take().expect("piped").into_owned_fd()?);
        let (target, recipients) = (target.to_owned(), encrypt_to.to_vec());
        let writing = tokio::task::spawn_blocking(move || encryption::encrypt_into(stdout, &target, &recipients));
        let output = child.wait_with_output().await.context("could not run pg_dump")?;
        let written = writing.await.context("the encryption task failed")?;
        check_exit(&output, "pg_dump")?;
        written
    }

    /// Reads the archive's table of contents: fails on anything that is not a readable archive.
    pub async fn list(&self, archive: &Archive<'_>) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_restore");
        cmd.arg("--list");
        self.run_on(cmd, archive, "pg_restore --list").await
    }

    /// Drops and recreates every object of the archive in one transaction (see the module
    /// documentation of `backups` for how this meets the running server).
    pub async fn restore(&self, archive: &Archive<'_>) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_restore");
        cmd.env("PGOPTIONS", format!("-c lock_timeout={RESTORE_LOCK_TIMEOUT}"))
            .args([
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
            ])
            .arg(format!("--dbname={}", self.database()));
        self.run_on(cmd, archive, "pg_restore").await
    }

    /// Runs `pg_restore` on the archive: named on its command line, or decrypted into its stdin.
    async fn run_on(&self, mut cmd: Command, archive: &Archive<'_>, what: &str) -> anyhow::Result<()> {
        let Some(identity_file) = archive.decrypt_with else {
            cmd.arg(archive.path);
            return self.run(cmd, what).await;
        };
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("could not run {what}"))?;
        let stdin = std::fs::File::from(child.stdin.take().expect("piped").into_owned_fd()?);
        let (path, identity_file) = (archive.path.to_owned(), identity_file.to_owned());
        let feeding = tokio::task::spawn_blocking(move || encryption::decrypt_into(&path, &identity_file, stdin));
        let output = child.wait_with_output().await.with_context(|| format!("could not run {what}"))?;
        let fed = feeding.await.context("the decryption task failed")?;
        // A failed decryption cuts pg_restore's input short, so it fails too: the decryption's
        // error says why. `pg_restore --list` stops reading after the table of contents, which
        // breaks the pipe of a decryption that went well.
        match fed {
            Err(err) if !is_broken_pipe(&err) => Err(err),
            _ => check_exit(&output, what),
        }
    }
}

/// An archive as `pg_restore` gets it.
pub struct Archive<'a> {
    pub path: &'a Path,
    /// The identity file that decrypts it, when it is an age file.
    pub decrypt_with: Option<&'a Path>,
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn check_exit(output: &std::process::Output, what: &str) -> anyhow::Result<()> {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(4000).collect();
        bail!("{what} failed ({}): {stderr}", output.status);
    }
    Ok(())
}

fn ssl_mode(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// The pool's certificate files (`sslrootcert`, `sslcert`, `sslkey`) as libpq's variables, so that
/// `verify-ca`/`verify-full` check the server as the pool does. sqlx offers no getters for them
/// either; its URL form writes a file as `file: PATH`.
fn tls_files(options: &PgConnectOptions) -> Vec<(&'static str, String)> {
    options
        .to_url_lossy()
        .query_pairs()
        .filter_map(|(name, value)| {
            let variable = match &*name {
                "sslrootcert" => "PGSSLROOTCERT",
                "sslcert" => "PGSSLCERT",
                "sslkey" => "PGSSLKEY",
                _ => return None,
            };
            Some((variable, value.strip_prefix("file: ")?.to_owned()))
        })
        .collect()
}

/// The pool's password (sqlx offers no getter for it, but keeps it in its URL form).
fn password(options: &PgConnectOptions) -> Option<String> {
    options.to_url_lossy().password().map(percent_decode)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_password_is_taken_from_the_pool_options_and_decoded() {
        let options = PgConnectOptions::from_str("postgres://app:p%40ss%3Aw%2Frd@db.example:6543/licenses").unwrap();
        assert_eq!(password(&options).as_deref(), Some("p@ss:w/rd"));
        let without = PgConnectOptions::from_str("postgres://app@db.example/licenses").unwrap();
        assert_eq!(password(&without), None);
    }

    #[test]
    fn the_certificate_files_reach_libpq_as_its_variables() {
        let url = "postgres://app@db.example/licenses?sslmode=verify-full&sslrootcert=/etc/db%20ca.pem&sslcert=/c.pem";
        let options = PgConnectOptions::from_str(url).unwrap();
        let mut files = tls_files(&options);
        files.sort();
        assert_eq!(files, [("PGSSLCERT", "/c.pem".to_owned()), ("PGSSLROOTCERT", "/etc/db ca.pem".to_owned())]);
        assert_eq!(ssl_mode(options.get_ssl_mode()), "verify-full");
    }
}
