//! Encrypted archives: with age recipients set, nothing readable of the database reaches the
//! disk or the git remote, and the identity file restores it.

use std::path::Path;
use std::process::Command;

use age::secrecy::ExposeSecret as _;
use license_server::admin::users::Role;
use sqlx::{ConnectOptions as _, PgPool};

use crate::backups::{bare_repository, snapshot, TempDir};
use crate::restore_anywhere::{backup_with_cli, license_server, stderr, stdout, EmptyDatabase};

const CUSTOMER: &str = "Zyxwvut Geheimkunde AG";
const TOTP_SECRET: &[u8] = b"TOTP-SECRET-0123456789";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// An age key pair as `age-keygen` writes it; returns the public key.
fn key_pair(file: &Path) -> String {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    std::fs::write(file, format!("# public key: {recipient}\n{}\n", identity.to_string().expose_secret())).unwrap();
    recipient
}

fn blob_on_remote(remote: &Path, file: &str) -> Vec<u8> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(remote)
        .args(["cat-file", "blob", &format!("main:backups/{file}")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[sqlx::test(migrations = "../migrations")]
async fn encrypted_archives_show_no_secret_on_disk_or_remote_and_restore_with_the_identity(pool: PgPool) {
    let dir = TempDir::new("backup-encrypted");
    let remote = bare_repository(&dir.0);
    let remote_url = remote.display().to_string();
    let identity_file = dir.0.join("backup-key.txt");
    let recipient = key_pair(&identity_file);
    let identity = identity_file.display().to_string();
    sqlx::query("INSERT INTO customers (name, email) VALUES ($1, 'secret@example.com')")
        .bind(CUSTOMER)
        .execute(&pool)
        .await
        .unwrap();
    crate::helpers::create_user(&pool, "totp-admin", Role::Admin, "a long enough password 1").await;
    sqlx::query("UPDATE admin_users SET totp_secret = $1, totp_enabled_at = now() WHERE username = 'totp-admin'")
        .bind(TOTP_SECRET)
        .execute(&pool)
        .await
        .unwrap();
    let secret_hex: String = TOTP_SECRET.iter().map(|b| format!("{b:02x}")).collect();

    // The control: a plain archive shows its schema, so the checks below can fail.
    let plain_name = backup_with_cli(&pool, &dir.0.join("plain"), &[]).await;
    let plain = std::fs::read(dir.0.join("plain/backups").join(&plain_name)).unwrap();
    assert!(plain.starts_with(b"PGDMP") && contains(&plain, b"CREATE TABLE"));

    let env = [("BACKUP_GIT_REMOTE", remote_url.as_str()), ("BACKUP_ENCRYPTION_RECIPIENTS", recipient.as_str())];
    let name = backup_with_cli(&pool, &dir.0.join("old"), &env).await;
    let before = snapshot(&pool).await;
    let on_disk = std::fs::read(dir.0.join("old/backups").join(&name)).unwrap();
    let on_remote = blob_on_remote(&remote, &name);
    assert_eq!(on_disk, on_remote, "the remote holds the same encrypted file");
    let recorded: String = sqlx::query_scalar("SELECT sha256 FROM backups WHERE file_name = $1")
        .bind(&name)
        .fetch_one(&pool)
        .await
        .unwrap();
    let (_, sha256) = license_server::backups::digest(&dir.0.join("old/backups").join(&name)).await.unwrap();
    assert_eq!(recorded, sha256, "the checksum is the encrypted file's");
    assert!(on_disk.starts_with(b"age-encryption.org/v1\n"));
    for needle in [CUSTOMER.as_bytes(), TOTP_SECRET, secret_hex.as_bytes(), b"CREATE TABLE", b"PGDMP", b"totp_secret"] {
        assert!(!contains(&on_disk, needle), "{} on disk", String::from_utf8_lossy(needle));
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.0.join("old/backups"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|file| file != &name && file != ".git-remote")
        .collect();
    assert!(leftovers.is_empty(), "no plaintext or partial file is left beside it: {leftovers:?}");

    // Verify: with the identity the content is read; without it only the checksum is.
    let url = pool.connect_options().to_url_lossy().to_string();
    let cwd = dir.0.join("old");
    let verified = license_server(
        &cwd,
        &[("DATABASE_URL", &url), ("BACKUP_DECRYPTION_IDENTITY_FILE", &identity)],
        &["backup", "verify", &name],
    );
    assert!(verified.status.success(), "{}", stderr(&verified));
    let blind = license_server(&cwd, &[("DATABASE_URL", &url)], &["backup", "verify", &name]);
    assert!(!blind.status.success());
    assert!(stderr(&blind).contains("BACKUP_DECRYPTION_IDENTITY_FILE"), "{}", stderr(&blind));

    // A new machine restores it from the remote, with the identity only.
    let target = EmptyDatabase::create(&pool).await;
    let new_machine = dir.0.join("new");
    let restore = |extra: &[(&str, &str)]| {
        let mut env = vec![("DATABASE_URL", target.url.as_str()), ("BACKUP_GIT_REMOTE", remote_url.as_str())];
        env.extend_from_slice(extra);
        license_server(&new_machine, &env, &["backup", "restore", "--remote", &name, "--yes"])
    };
    let without = restore(&[]);
    assert!(!without.status.success());
    assert!(stderr(&without).contains("BACKUP_DECRYPTION_IDENTITY_FILE"), "{}", stderr(&without));
    let wrong_key = dir.0.join("other-key.txt");
    key_pair(&wrong_key);
    let wrong = restore(&[("BACKUP_DECRYPTION_IDENTITY_FILE", wrong_key.to_str().unwrap())]);
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("cannot decrypt"), "{}", stderr(&wrong));
    assert_eq!(target.table_count().await, 0, "refused restores change nothing");

    let restored = restore(&[("BACKUP_DECRYPTION_IDENTITY_FILE", &identity)]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(snapshot(&target.pool).await, before, "every table is back");
    target.remove().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_recipient_or_identity_file_stops_the_binary_with_a_clear_error(pool: PgPool) {
    let dir = TempDir::new("backup-bad-keys");
    let url = pool.connect_options().to_url_lossy().to_string();
    let bad = license_server(
        &dir.0,
        &[("DATABASE_URL", &url), ("BACKUP_ENCRYPTION_RECIPIENTS", "age1notakey")],
        &["backup", "list"],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("not an age public key"), "{}", stderr(&bad));
    assert!(stdout(&bad).is_empty());

    let missing = dir.0.join("no-such-key.txt").display().to_string();
    let serve = license_server(
        &dir.0,
        &[
            ("DATABASE_URL", &url),
            ("BACKUP_DECRYPTION_IDENTITY_FILE", &missing),
            ("LISTEN_ADDR", "127.0.0.1:0"),
            ("FRONTEND_DIR", dir.0.to_str().unwrap()),
        ],
        &["serve"],
    );
    assert!(!serve.status.success());
    assert!(stderr(&serve).contains("BACKUP_DECRYPTION_IDENTITY_FILE"), "{}", stderr(&serve));
}
