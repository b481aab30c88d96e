//! The embedded default: with no DATABASE_URL, the binary runs its own PostgreSQL cluster,
//! private to its owner.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The data directory, the socket's directory and the cluster are the owner's alone, its
/// password file too, and the cluster asks every connection for that password.
fn assert_private(dir: &Path) {
    for sub in ["", "run", "postgres"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "{}/{sub}", dir.display());
    }
    assert_eq!(mode(&dir.join("postgres.password")), 0o600);
    let hba = std::fs::read_to_string(dir.join("postgres/pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect();
    assert_eq!(rules, ["local all all scram-sha-256"]);
}

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
    assert_private(&dir);

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

/// A cluster made by an older version (`initdb --auth=trust`, directories as the umask left them,
/// no password) is made private when the server starts on it; then a connection without the
/// password, or with a wrong one, is refused.
#[tokio::test]
async fn an_older_trusting_cluster_is_made_private_and_then_refuses_connections_without_the_password() {
    let dir = std::env::temp_dir().join(format!("license-server-embedded-{}", uuid::Uuid::new_v4()));
    let binary = env!("CARGO_BIN_EXE_license-server");
    let migrated =
        Command::new(binary).args(["migrate", "--data-dir"]).arg(&dir).env_remove("DATABASE_URL").output().unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    // What earlier versions left behind.
    std::fs::write(dir.join("postgres/pg_hba.conf"), "local all all trust\n").unwrap();
    std::fs::remove_file(dir.join("postgres.password")).unwrap();
    for sub in ["", "run"] {
        std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let log_path = dir.with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(binary)
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let ready =
            reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        if let Some(status) = server.try_wait().unwrap() {
            panic!("serve ended ({status}): {}", std::fs::read_to_string(&log_path).unwrap_or_default());
        }
        assert!(started.elapsed() < Duration::from_secs(90), "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_private(&dir);
    let socket = dir.join("run/.s.PGSQL.5432");
    assert_eq!(mode(&socket) & 0o777, 0o700, "unix_socket_permissions");
    let password = std::fs::read_to_string(dir.join("postgres.password")).unwrap();
    let options =
        PgConnectOptions::new().socket(dir.join("run")).port(5432).username("postgres").database("license_server");
    for wrong in [None, Some("not-the-password")] {
        let attempt = match wrong {
            Some(wrong) => options.clone().password(wrong).connect().await,
            None => options.clone().connect().await,
        };
        let err = attempt.err().unwrap_or_else(|| panic!("connected with password {wrong:?}"));
        assert!(err.to_string().contains("password"), "refused for its password: {err}");
    }
    let mut conn = options.password(password.trim()).connect().await.expect("the password is accepted");
    let migrations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    assert!(migrations > 0);
    conn.close().await.unwrap();

    let stopped = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status().unwrap();
    assert!(stopped.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");
    assert!(!dir.join("postgres/postmaster.pid").exists(), "and stops its cluster");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log_path);
}
