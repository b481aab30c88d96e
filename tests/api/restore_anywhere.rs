//! Disaster recovery: the machine is gone, a new one has only `DATABASE_URL` and the git remote.
//! The real binary lists the remote's archives and restores one onto a database that has never
//! seen it, checking its SHA-256 first; GraphQL and the CLI name backups by archive name too.

use std::path::Path;
use std::process::{Command, Output};

use license_server::auth::Scope;
use license_server::backups::{BackupSettings, GitRemote};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, PgPool};

use crate::backups::{bare_repository, finished, snapshot, some_activity, TempDir};
use crate::helpers::{spawn_app_with, Options};

/// A database of its own beside the test's, created empty: the "new machine".
pub(crate) struct EmptyDatabase {
    name: String,
    pub(crate) url: String,
    pub(crate) pool: PgPool,
    admin: PgPool,
}

impl EmptyDatabase {
    pub(crate) async fn create(beside: &PgPool) -> Self {
        let name = format!("restore_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(beside).await.unwrap();
        let options = (*beside.connect_options()).clone().database(&name);
        let url = options.to_url_lossy().to_string();
        let pool = PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
        EmptyDatabase { name, url, pool, admin: beside.clone() }
    }

    pub(crate) async fn table_count(&self) -> i64 {
        crate::helpers::count(&self.pool, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").await
    }

    pub(crate) async fn remove(self) {
        self.pool.close().await;
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).execute(&self.admin).await.unwrap();
    }
}

/// The real binary, run in `cwd` (so a default `./backups` lands there) with only the given
/// environment (and `PATH`, for git and the PostgreSQL client programs).
pub(crate) fn license_server(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    std::fs::create_dir_all(cwd).unwrap();
    Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Takes a backup with the binary; returns its archive's file name.
pub(crate) async fn backup_with_cli(pool: &PgPool, cwd: &Path, env: &[(&str, &str)]) -> String {
    let url = pool.connect_options().to_url_lossy().to_string();
    let mut env = env.to_vec();
    env.push(("DATABASE_URL", &url));
    let created = license_server(cwd, &env, &["backup", "create"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let id: uuid::Uuid = stdout(&created).trim().parse().unwrap();
    sqlx::query_scalar("SELECT file_name FROM backups WHERE id = $1 AND push_status <> 'failed'")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_backup_restores_from_the_git_remote_onto_a_new_machine_with_every_table_equal(pool: PgPool) {
    let dir = TempDir::new("restore-remote");
    let remote = bare_repository(&dir.0);
    let remote_url = remote.display().to_string();
    let app = spawn_app_with(&pool, Options::default()).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    some_activity(&app, &admin, &client, "old-machine").await;
    app.create_customer(&admin, "disaster@example.com").await;
    let name = backup_with_cli(&pool, &dir.0.join("old"), &[("BACKUP_GIT_REMOTE", &remote_url)]).await;
    let before = snapshot(&pool).await;

    // The new machine: an empty database, an empty working directory (so an empty BACKUP_DIR).
    let target = EmptyDatabase::create(&pool).await;
    let new_machine = dir.0.join("new");
    let env = [("DATABASE_URL", target.url.as_str()), ("BACKUP_GIT_REMOTE", remote_url.as_str())];

    let listed = license_server(&new_machine, &env, &["backup", "list", "--remote"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listing = stdout(&listed);
    let line = listing.lines().find(|line| line.ends_with(&name)).unwrap_or_else(|| panic!("{listing}"));
    let sha256: String = sqlx::query_scalar("SELECT sha256 FROM backups WHERE file_name = $1")
        .bind(&name)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(line.starts_with(&sha256), "the checksum of the .sha256 file beside it: {line}");
    assert_eq!(target.table_count().await, 0, "listing needs no database");

    let dry = license_server(&new_machine, &env, &["backup", "restore", "--remote", &name]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("would restore") && stdout(&dry).contains("intact"), "{}", stdout(&dry));
    assert_eq!(target.table_count().await, 0, "without --yes the database is not touched");

    let restored = license_server(&new_machine, &env, &["backup", "restore", "--remote", &name, "--yes"]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(snapshot(&target.pool).await, before, "every table is exactly as on the old machine");

    let recorded: (String, serde_json::Value) = sqlx::query_as(
        "SELECT actor_name, new_values FROM audit_log WHERE action = 'backup.restored' AND entity_id = $1",
    )
    .bind(&name)
    .fetch_one(&target.pool)
    .await
    .unwrap();
    assert!(recorded.0.starts_with("cli"), "{recorded:?}");
    assert_eq!(recorded.1["source"], "remote");
    assert_eq!(recorded.1["sha256"], sha256.as_str());
    assert_eq!(crate::helpers::count(&target.pool, "SELECT count(*) FROM backups").await, 0, "the catalog exists");
    assert!(
        std::fs::read_dir(new_machine.join("backups"))
            .unwrap()
            .all(|entry| { !entry.unwrap().file_name().to_string_lossy().ends_with(".from-remote") }),
        "the fetched copy is removed"
    );

    // The server runs on the restored database.
    let server = spawn_app_with(&target.pool, Options::default()).await;
    let key = server.key(Scope::Admin).await;
    let customers = server.gql(&key, "{ customers { totalCount } }", json!({})).await;
    assert!(customers.data("customers")["totalCount"].as_i64().unwrap() >= 1);
    drop(server);
    target.remove().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_file_restores_only_when_its_checksum_matches_and_a_refused_one_changes_nothing(pool: PgPool) {
    let dir = TempDir::new("restore-file");
    let remote = bare_repository(&dir.0);
    let remote_url = remote.display().to_string();
    sqlx::query("INSERT INTO customers (name, email) VALUES ('File Restore GmbH', 'file@example.com')")
        .execute(&pool)
        .await
        .unwrap();
    let name = backup_with_cli(&pool, &dir.0.join("old"), &[("BACKUP_GIT_REMOTE", &remote_url)]).await;
    let before = snapshot(&pool).await;
    // What an operator copies off the remote: the archive and its .sha256.
    let pushed = dir.0.join("old/backups/.git-remote/backups");
    let copies = dir.0.join("copies");
    std::fs::create_dir_all(&copies).unwrap();
    for file in [name.clone(), format!("{name}.sha256")] {
        std::fs::copy(pushed.join(&file), copies.join(&file)).unwrap();
    }
    let good = copies.join(&name);
    let corrupt = copies.join(format!("corrupt-{name}"));
    let mut bytes = std::fs::read(&good).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&corrupt, bytes).unwrap();
    std::fs::copy(copies.join(format!("{name}.sha256")), copies.join(format!("corrupt-{name}.sha256"))).unwrap();
    let unchecked = copies.join(format!("unchecked-{name}"));
    std::fs::copy(&good, &unchecked).unwrap();

    let target = EmptyDatabase::create(&pool).await;
    sqlx::query("CREATE TABLE unrelated (note text)").execute(&target.pool).await.unwrap();
    sqlx::query("INSERT INTO unrelated VALUES ('other data')").execute(&target.pool).await.unwrap();
    let cwd = dir.0.join("new");
    let env = [("DATABASE_URL", target.url.as_str())];
    let restore = |path: &Path, extra: &[&str]| {
        let mut args = vec!["backup", "restore", "--file", path.to_str().unwrap(), "--yes"];
        args.extend_from_slice(extra);
        license_server(&cwd, &env, &args)
    };

    let refused = restore(&corrupt, &[]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("corrupt") && stderr(&refused).contains("unchanged"), "{}", stderr(&refused));
    let refused = restore(&unchecked, &[]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains(".sha256") && stderr(&refused).contains("--no-checksum"), "{}", stderr(&refused));
    assert_eq!(target.table_count().await, 1, "nothing changed: only the unrelated table");

    let restored = restore(&unchecked, &["--no-checksum"]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(snapshot(&target.pool).await.remove("customers"), before.get("customers").cloned());

    // Restoring again, checked, onto the now populated database replaces it.
    sqlx::query("INSERT INTO customers (name, email) VALUES ('Later', 'later@example.com')")
        .execute(&target.pool)
        .await
        .unwrap();
    let restored = restore(&good, &[]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    let mut after = snapshot(&target.pool).await;
    assert!(after.remove("unrelated").is_some(), "other data is left alone");
    assert_eq!(after, before);
    let sources: Vec<String> =
        sqlx::query_scalar("SELECT new_values->>'source' FROM audit_log WHERE action = 'backup.restored' ORDER BY id")
            .fetch_all(&target.pool)
            .await
            .unwrap();
    assert_eq!(sources, ["file"], "the audit log as restored, plus this restore");
    target.remove().await;
}

const BY_NAME: &str = "query($id: ID!) { backup(id: $id) { id fileName } }";
const VERIFY: &str = "mutation($id: ID!) { verifyBackup(id: $id) { ok problem backup { id } } }";
const RESTORE: &str = "mutation($id: ID!) { restoreBackup(id: $id, confirm: true) { id fileName } }";
const REMOTE: &str = "{ remoteBackups { fileName sizeBytes sha256 backup { id } } }";
const RESTORE_REMOTE: &str =
    "mutation($f: String!, $c: Boolean!) { restoreRemoteBackup(fileName: $f, confirm: $c) { fileName sha256 backup { id } } }";

#[sqlx::test(migrations = "../migrations")]
async fn graphql_names_a_backup_by_its_archive_and_restores_one_only_the_remote_has(pool: PgPool) {
    let dir = TempDir::new("restore-graphql");
    let remote = bare_repository(&dir.0);
    let remote_url = remote.display().to_string();
    // The server and the CLI share the backup directory (the CLI's `./backups`).
    let settings = BackupSettings {
        dir: dir.0.join("cli/backups"),
        git: Some(GitRemote { url: remote_url.clone().into(), branch: "main".into() }),
        ..Default::default()
    };
    let app = spawn_app_with(&pool, Options { backups: Some(settings), ..Default::default() }).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    app.create_customer(&admin, "in-the-archive@example.com").await;
    let name = backup_with_cli(&pool, &dir.0.join("cli"), &[("BACKUP_GIT_REMOTE", &remote_url)]).await;
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM backups WHERE file_name = $1").bind(&name).fetch_one(&pool).await.unwrap();

    let before = snapshot(&pool).await;
    app.create_customer(&admin, "after-the-backup@example.com").await;

    let found = app.gql(&analyst, BY_NAME, json!({"id": name})).await;
    assert_eq!(found.data("backup")["id"], id.to_string());
    let verified = app.gql(&admin, VERIFY, json!({"id": name})).await;
    assert_eq!(verified.data("verifyBackup")["backup"]["id"], id.to_string());
    assert_eq!(verified.data("verifyBackup")["ok"], true, "{:?}", verified.body);
    let restored = app.gql(&admin, RESTORE, json!({"id": name})).await;
    assert_eq!(restored.data("restoreBackup")["id"], id.to_string());
    let done = finished(&app, &admin, &id.to_string(), "restoreStatus").await;
    assert_eq!(done["restoreStatus"], "COMPLETED", "{done}");
    assert_eq!(snapshot(&pool).await, before, "restored by its archive's name");

    for bad in ["../../etc/passwd", "backups/x.dump", "x.sql", ".git-remote", "x.dump/../y.dump"] {
        for (key, query) in [(&analyst, BY_NAME), (&admin, VERIFY), (&admin, RESTORE)] {
            let reply = app.gql(key, query, json!({"id": bad})).await;
            assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{bad}: {:?}", reply.body);
            assert_eq!(reply.error_field(), "id");
        }
        let reply = app.gql(&admin, RESTORE_REMOTE, json!({"f": bad, "c": true})).await;
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{bad}: {:?}", reply.body);
    }
    let unknown = app.gql(&admin, RESTORE, json!({"id": "license-server-20200101T000000Z-00000000.dump"})).await;
    assert_eq!(unknown.error_code(), "NOT_FOUND");

    // A new machine's catalog: the remote's archive is unknown to it.
    sqlx::query("DELETE FROM backups").execute(&pool).await.unwrap();
    app.create_customer(&admin, "after-the-backup@example.com").await;

    assert_eq!(app.gql(&analyst, REMOTE, json!({})).await.error_code(), "FORBIDDEN");
    let listed = app.gql(&admin, REMOTE, json!({})).await;
    let archives = listed.data("remoteBackups").as_array().unwrap().clone();
    assert_eq!(archives.len(), 1, "{archives:?}");
    assert_eq!(archives[0]["fileName"], name.as_str());
    assert_eq!(archives[0]["backup"], serde_json::Value::Null, "not in this catalog");
    assert_eq!(archives[0]["sha256"].as_str().unwrap().len(), 64);

    let unconfirmed = app.gql(&admin, RESTORE_REMOTE, json!({"f": name, "c": false})).await;
    assert_eq!(unconfirmed.error_field(), "confirm");
    let missing = app.gql(&admin, RESTORE_REMOTE, json!({"f": "license-server-x.dump", "c": true})).await;
    assert_eq!(missing.error_code(), "NOT_FOUND");
    assert_eq!(app.gql(&analyst, RESTORE_REMOTE, json!({"f": name, "c": true})).await.error_code(), "FORBIDDEN");

    // While a backup or restore job runs (its lock held, here by another connection), a restore
    // from the remote is refused and changes nothing.
    let after = snapshot(&pool).await;
    let mut job = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(hashtext('license-server backup job'))").execute(&mut *job).await.unwrap();
    let busy = app.gql(&admin, RESTORE_REMOTE, json!({"f": name, "c": true})).await;
    assert_eq!(busy.error_code(), "BACKUP_IN_PROGRESS", "{:?}", busy.body);
    assert_eq!(snapshot(&pool).await, after, "nothing restored while a job runs");
    sqlx::query("SELECT pg_advisory_unlock(hashtext('license-server backup job'))").execute(&mut *job).await.unwrap();
    drop(job);

    let restored = app.gql(&admin, RESTORE_REMOTE, json!({"f": name, "c": true})).await;
    assert_eq!(restored.data("restoreRemoteBackup")["fileName"], name.as_str());
    assert_eq!(snapshot(&pool).await, before, "the customer added after the backup is gone");
}
