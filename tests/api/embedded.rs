//! The embedded default: with no DATABASE_URL, the binary runs its own PostgreSQL cluster.

use std::process::Command;

#[test]
fn without_database_url_the_cli_runs_its_own_cluster_and_stops_it_again() {
    let dir = std::env::temp_dir().join(format!("license-server-embedded-{}", uuid::Uuid::new_v4()));
    let binary = env!("CARGO_BIN_EXE_license-server");
    let run = |args: &[&str]| {
        Command::new(binary).args(args).arg("--data-dir").arg(&dir).env_remove("DATABASE_URL").output().unwrap()
    };

    let migrated = run(&["migrate"]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(dir.join("postgres/PG_VERSION").exists(), "a cluster was created in the data directory");

    let created = run(&["api-key", "create", "--name", "ci", "--scope", "admin"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = String::from_utf8(created.stdout).unwrap();
    assert!(license_server::api_keys::is_well_formed(key.trim()), "printed key: {key:?}");

    let listed = run(&["api-key", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&key.trim()[..12]), "the key's prefix is listed");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(key.trim()), "the key itself is never listed");

    // Each command stopped the cluster it started: no server is left running on the socket.
    assert!(!dir.join("postgres/postmaster.pid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_help_never_prints_the_credentials_in_its_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(["serve", "--help"])
        .env("DATABASE_URL", "postgres://app:db-s3cret@db.example/licenses")
        .env("BACKUP_GIT_REMOTE", "https://backup:git-t0ken@git.example/backups.git")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("DATABASE_URL") && help.contains("BACKUP_GIT_REMOTE"), "{help}");
    for secret in ["db-s3cret", "git-t0ken"] {
        assert!(!help.contains(secret), "--help shows {secret}");
    }
}
