//! Backups: taken, listed, verified and restored through GraphQL, the CLI and the scheduler;
//! pushed to a git remote where nothing is ever removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use license_server::auth::{Actor, Scope};
use license_server::backups::{self, BackupSettings, GitRemote, PushStatus, Schedule};
use serde_json::{json, Value};
use sha2::Digest as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, PgPool};

use crate::helpers::{spawn_app_with, Options, TestApp};

/// A directory of its own under the system's temporary directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("license-server-{what}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn settings_in(dir: &Path) -> BackupSettings {
    BackupSettings { dir: dir.join("backups"), ..Default::default() }
}

pub async fn spawn_with_backups(pool: &PgPool, settings: BackupSettings) -> TestApp {
    spawn_app_with(pool, Options { backups: Some(settings), ..Default::default() }).await
}

/// Every table's row count and a digest of its rows (the backup catalog excepted; the audit
/// log without the rows about backups, which record the backup itself; API keys without
/// `last_used_at`, which every request moves).
pub(crate) async fn snapshot(pool: &PgPool) -> BTreeMap<String, (i64, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'backups' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut snapshot = BTreeMap::new();
    for table in tables {
        let rows = match table.as_str() {
            "audit_log" => "(SELECT * FROM audit_log WHERE entity_type <> 'backup')".to_owned(),
            "api_keys" => "(SELECT id, name, scope, key_digest, display_prefix, created_by, created_at, revoked_at \
                           FROM api_keys)"
                .to_owned(),
            _ => format!("\"{table}\""),
        };
        let row: (i64, Option<String>) =
            sqlx::query_as(&format!("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {rows} t"))
                .fetch_one(pool)
                .await
                .unwrap();
        snapshot.insert(table, (row.0, row.1.unwrap_or_default()));
    }
    snapshot
}

/// What the tests read of a backup.
pub const BACKUP_FIELDS: &str =
    "id fileName kind status sizeBytes sha256 createdBy pushStatus pushError restoreStatus restoreError";

/// Polls `backup(id)` until `field` (`status` or `restoreStatus`) is no longer RUNNING, and a
/// completed backup's push (which follows the job) is no longer PENDING; returns the backup.
pub async fn finished(app: &TestApp, admin: &str, id: &str, field: &str) -> Value {
    let query = format!("query($id: ID!) {{ backup(id: $id) {{ {BACKUP_FIELDS} }} }}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let backup = app.gql(admin, &query, json!({"id": id})).await.data("backup").clone();
        if backup[field] != "RUNNING" && backup["pushStatus"] != "PENDING" {
            return backup;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job never finished: {backup}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `createBackup`, which returns at once with the backup RUNNING; then the backup once its job ended.
pub async fn create_backup(app: &TestApp, admin: &str) -> Value {
    let reply = app.gql(admin, &format!("mutation {{ createBackup {{ {BACKUP_FIELDS} }} }}"), json!({})).await;
    let started = reply.data("createBackup");
    assert_eq!(started["status"], "RUNNING", "{started}");
    finished(app, admin, started["id"].as_str().unwrap(), "status").await
}

/// `restoreBackup`, which returns at once with the restore RUNNING; then the backup once the
/// restore ended (or the refusal).
pub async fn restore_backup(app: &TestApp, admin: &str, id: &str) -> Result<Value, crate::helpers::Reply> {
    let reply = app
        .gql(
            admin,
            &format!("mutation($id: ID!) {{ restoreBackup(id: $id, confirm: true) {{ {BACKUP_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await;
    if reply.body["errors"].is_array() {
        return Err(reply);
    }
    let started = reply.data("restoreBackup");
    assert_eq!((&started["id"], &started["restoreStatus"]), (&json!(id), &json!("RUNNING")), "{started}");
    Ok(finished(app, admin, id, "restoreStatus").await)
}

/// Some of everything: customers, licenses, devices, sessions, heartbeats, ended sessions, keys.
pub(crate) async fn some_activity(app: &TestApp, admin: &str, client: &str, tag: &str) {
    let (_, license_key) = app.create_license(admin, 3, 2).await;
    let token = app.session(client, &license_key, &format!("{tag}-a")).await;
    app.heartbeat(client, &token).await;
    let other = app.session(client, &license_key, &format!("{tag}-b")).await;
    app.end_session(client, &other).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restored_backup_brings_every_table_back_exactly_as_it_was(pool: PgPool) {
    let dir = TempDir::new("backup-restore");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    some_activity(&app, &admin, &client, "before").await;
    let before = snapshot(&pool).await;

    let backup = create_backup(&app, &admin).await;
    assert_eq!(backup["status"], "COMPLETED", "{backup}");
    assert_eq!(backup["kind"], "MANUAL");
    assert!(backup["createdBy"].as_str().unwrap().starts_with("test"), "the creator is the calling key: {backup}");
    let archive = dir.0.join("backups").join(backup["fileName"].as_str().unwrap());
    let bytes = std::fs::read(&archive).unwrap();
    assert_eq!(bytes.len() as i64, backup["sizeBytes"].as_i64().unwrap());
    assert_eq!(&bytes[..5], b"PGDMP", "a pg_dump custom-format archive");
    let (_, sha256) = backups::digest(&archive).await.unwrap();
    assert_eq!(backup["sha256"], sha256);

    // Change everything the backup holds: new rows, changed rows, deleted rows, a new key.
    some_activity(&app, &admin, &client, "after").await;
    sqlx::query("UPDATE licenses SET notes = 'changed after the backup'").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM license_sessions").execute(&pool).await.unwrap();
    let later_key = app.key(Scope::Admin).await;
    assert_ne!(snapshot(&pool).await, before);

    let id = backup["id"].as_str().unwrap();
    let restored = restore_backup(&app, &admin, id).await.unwrap();
    assert_eq!(restored["restoreStatus"], "COMPLETED", "{restored}");

    assert_eq!(snapshot(&pool).await, before, "every table is exactly as it was when the backup was taken");
    let restores: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'backup.restored' AND entity_id = $1 AND actor_name = 'test Admin'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(restores, 1, "the restore itself is audited");

    // The server goes on working on the restored database, through its own pool.
    let listed = app.gql(&admin, "{ backups { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(listed.data("backups")["nodes"][0]["id"], id, "the catalog survives the restore");
    let later = app.gql(&later_key, "{ backups { totalCount } }", json!({})).await;
    assert_eq!(later.status, 401, "the key created after the backup is gone");
    some_activity(&app, &admin, &client, "restored").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_corrupt_archive_is_refused_and_the_database_is_left_as_it_was(pool: PgPool) {
    let dir = TempDir::new("backup-corrupt");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    some_activity(&app, &admin, &client, "one").await;
    let backup = create_backup(&app, &admin).await;
    some_activity(&app, &admin, &client, "two").await;

    let archive = dir.0.join("backups").join(backup["fileName"].as_str().unwrap());
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let before = snapshot(&pool).await;

    let id = backup["id"].as_str().unwrap();
    let verified =
        app.gql(&admin, "mutation($id: ID!) { verifyBackup(id: $id) { ok problem } }", json!({"id": id})).await;
    assert_eq!(verified.data("verifyBackup")["ok"], false);
    assert!(verified.data("verifyBackup")["problem"].as_str().unwrap().contains("corrupt"));

    // The restore starts, verifies the archive first, and fails without touching anything.
    let failed = restore_backup(&app, &admin, id).await.unwrap();
    assert_eq!(failed["restoreStatus"], "FAILED", "{failed}");
    let message = failed["restoreError"].as_str().unwrap();
    assert!(message.contains("corrupt") && message.contains("unchanged"), "{message}");
    let after = snapshot(&pool).await;
    let audited = crate::helpers::count(
        &pool,
        &format!("SELECT count(*) FROM audit_log WHERE entity_id = '{id}' AND action IN ('backup.restore_started', 'backup.restore_failed')"),
    )
    .await;
    assert_eq!(audited, 2, "the start and the failure are audited");
    assert_eq!(after, before, "nothing changed");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restore_without_confirmation_or_by_an_analyst_changes_nothing(pool: PgPool) {
    let dir = TempDir::new("backup-confirm");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let backup = create_backup(&app, &admin).await;
    app.create_customer(&admin, "after@example.com").await;
    let before = snapshot(&pool).await;
    let id = backup["id"].as_str().unwrap();
    let restore = "mutation($id: ID!, $c: Boolean!) { restoreBackup(id: $id, confirm: $c) { id } }";

    let unconfirmed = app.gql(&admin, restore, json!({"id": id, "c": false})).await;
    assert_eq!(unconfirmed.error_code(), "BAD_USER_INPUT");
    assert_eq!(unconfirmed.error_field(), "confirm");
    let by_analyst = app.gql(&analyst, restore, json!({"id": id, "c": true})).await;
    assert_eq!(by_analyst.error_code(), "FORBIDDEN");
    let unknown = app.gql(&admin, restore, json!({"id": uuid::Uuid::new_v4().to_string(), "c": true})).await;
    assert_eq!(unknown.error_code(), "NOT_FOUND");
    assert_eq!(snapshot(&pool).await, before);

    let listed = app.gql(&analyst, "{ backups { nodes { id } } }", json!({})).await;
    assert_eq!(listed.data("backups")["nodes"][0]["id"], id, "analysts may list backups");
}

#[sqlx::test(migrations = "../migrations")]
async fn backups_are_listed_newest_first(pool: PgPool) {
    let dir = TempDir::new("backup-list");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let admin = app.key(Scope::Admin).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_backup(&app, &admin).await["id"].as_str().unwrap().to_owned());
    }
    let listed = app.gql(&admin, "{ backups(first: 10) { totalCount nodes { id } } }", json!({})).await;
    let listed: Vec<&str> =
        listed.data("backups")["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").arg("--git-dir").arg(dir).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub(crate) fn bare_repository(dir: &Path) -> PathBuf {
    let remote = dir.join("remote.git");
    let status = Command::new("git").args(["init", "-q", "--bare"]).arg(&remote).status().unwrap();
    assert!(status.success());
    remote
}

#[sqlx::test(migrations = "../migrations")]
async fn backups_pushed_to_a_git_remote_are_never_removed_there(pool: PgPool) {
    let dir = TempDir::new("backup-git");
    let remote = bare_repository(&dir.0);
    let settings = BackupSettings {
        git: Some(GitRemote { url: remote.display().to_string().into(), branch: "main".into() }),
        retention_count: 1,
        ..settings_in(&dir.0)
    };
    let mut history: Vec<String> = Vec::new();
    let mut taken = Vec::new();
    for _ in 0..4 {
        let backup = backups::create(&pool, &settings, &Actor::cli(), None).await.unwrap();
        assert_eq!(backup.push_status, PushStatus::Pushed, "{:?}", backup.push_error);
        let head = git(&remote, &["rev-parse", "main"]);
        if let Some(previous) = history.last() {
            let kept = Command::new("git")
                .arg("--git-dir")
                .arg(&remote)
                .args(["merge-base", "--is-ancestor", previous, &head])
                .status()
                .unwrap();
            assert!(kept.success(), "the remote's history only grows: {previous} is still an ancestor of {head}");
        }
        assert_eq!(backup.push_commit.as_deref(), Some(head.as_str()));
        history.push(head);
        taken.push(backup);
    }

    let files = git(&remote, &["ls-tree", "-r", "--name-only", "main"]);
    for backup in &taken {
        assert!(files.contains(&format!("backups/{}", backup.file_name)), "{files}");
        assert!(files.contains(&format!("backups/{}.sha256", backup.file_name)), "{files}");
        let content = Command::new("git")
            .arg("--git-dir")
            .arg(&remote)
            .args(["cat-file", "blob", &format!("main:backups/{}", backup.file_name)])
            .output()
            .unwrap()
            .stdout;
        let digest = sha2::Sha256::digest(&content).iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(Some(digest), backup.sha256, "the remote holds the archive itself");
    }
    let commits: Vec<String> =
        git(&remote, &["log", "--format=%H %an <%ae>", "main"]).lines().map(str::to_owned).collect();
    assert_eq!(commits.len(), 4, "one commit per backup: {commits:?}");
    assert!(commits.iter().all(|c| c.ends_with("License Server Backups <backups@license-server.invalid>")));

    // Locally only the newest archive is kept; the remote keeps all four.
    let local: Vec<String> = std::fs::read_dir(dir.0.join("backups"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".dump"))
        .collect();
    assert_eq!(local, [taken[3].file_name.clone()]);
    let pruned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM backups WHERE pruned_at IS NOT NULL").fetch_one(&pool).await.unwrap();
    assert_eq!(pruned, 3);

    // A pruned backup still verifies from the pushed copy.
    let verification = backups::verify(&pool, &settings, taken[0].id).await.unwrap();
    assert_eq!(verification.problem, None);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_push_is_recorded_keeps_the_local_copy_and_succeeds_on_retry(pool: PgPool) {
    let dir = TempDir::new("backup-git-retry");
    let missing = dir.0.join("not-yet.git");
    let settings = BackupSettings {
        git: Some(GitRemote { url: missing.display().to_string().into(), branch: "main".into() }),
        retention_count: 1,
        ..settings_in(&dir.0)
    };
    let first = backups::create(&pool, &settings, &Actor::cli(), None).await.unwrap();
    let second = backups::create(&pool, &settings, &Actor::cli(), None).await.unwrap();
    for backup in [&first, &second] {
        assert_eq!(backup.push_status, PushStatus::Failed);
        assert!(backup.push_error.as_deref().unwrap_or("").contains("git"), "{:?}", backup.push_error);
        assert!(!backup.push_error.as_deref().unwrap().contains(missing.to_str().unwrap()), "the remote URL is masked");
    }
    assert!(settings.dir.join(&first.file_name).is_file(), "an unpushed backup is never pruned");

    let remote = bare_repository(&dir.0);
    std::fs::rename(&remote, &missing).unwrap();
    let report = backups::git_remote::push_pending(&pool, &settings).await.unwrap();
    assert_eq!(report.pushed.len(), 2, "{report:?}");
    backups::prune(&pool, &settings).await.unwrap();
    assert!(!settings.dir.join(&first.file_name).exists(), "pruned once pushed");
    assert_eq!(git(&missing, &["rev-list", "--count", "main"]), "2");
    let attempts: i32 = sqlx::query_scalar("SELECT push_attempts FROM backups WHERE id = $1")
        .bind(first.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(attempts >= 2, "the failure and the retry are counted: {attempts}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_scheduled_backup_runs_exactly_once_when_two_schedulers_race(pool: PgPool) {
    let dir = TempDir::new("backup-schedule");
    // Due since midnight, so both schedulers find it due now.
    let settings = BackupSettings {
        schedule: Some(Schedule { time: chrono::NaiveTime::MIN, timezone: "Europe/Berlin".into() }),
        ..settings_in(&dir.0)
    };
    let options = (*pool.connect_options()).clone();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (options, settings) = (options.clone(), settings.clone());
        runs.push(tokio::spawn(async move {
            // Each scheduler with its own pool, as in two server processes.
            let instance = PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
            let taken = backups::schedule::run_if_due(&instance, &settings).await.unwrap();
            instance.close().await;
            taken
        }));
    }
    let mut taken = Vec::new();
    for run in runs {
        taken.extend(run.await.unwrap());
    }
    assert_eq!(taken.len(), 1, "exactly one of the two took the backup");
    assert_eq!(
        backups::schedule::run_if_due(&pool, &settings).await.unwrap().map(|b| b.id),
        None,
        "and only once a day"
    );
    let (count, kind, by, today): (i64, String, String, bool) = sqlx::query_as(
        "SELECT count(*), min(kind), min(created_by), bool_and(scheduled_for = (now() AT TIME ZONE 'Europe/Berlin')::date)
         FROM backups",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((count, kind.as_str(), by.as_str(), today), (1, "scheduled", "system", true));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cli_creates_lists_verifies_and_restores_only_with_yes(pool: PgPool) {
    let dir = TempDir::new("backup-cli");
    let url = pool.connect_options().to_url_lossy().to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_license-server"))
            .arg("backup")
            .args(args)
            .env("DATABASE_URL", &url)
            .env("DATABASE_MAX_CONNECTIONS", "2")
            .env("BACKUP_DIR", dir.0.join("backups"))
            .output()
            .unwrap()
    };
    let created = run(&["create"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let id = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "create prints the new backup's id: {id:?}");

    let listed = run(&["list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));
    let verified = run(&["verify", &id]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("intact"));

    sqlx::query("INSERT INTO customers (name, email) VALUES ('Later', 'later@example.com')")
        .execute(&pool)
        .await
        .unwrap();
    let dry = run(&["restore", &id]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would restore"), "{}", String::from_utf8_lossy(&dry.stdout));
    let customers = || async { crate::helpers::count(&pool, "SELECT count(*) FROM customers").await };
    assert_eq!(customers().await, 1, "without --yes nothing is restored");

    let restored = run(&["restore", &id, "--yes"]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    assert_eq!(customers().await, 0, "the customer added after the backup is gone");

    let unknown = run(&["verify", &uuid::Uuid::new_v4().to_string()]);
    assert!(!unknown.status.success());
}

const RESTORABLE: &str = "{ backups(first: 10) { nodes { id fileName status prunedAt restorable } } }";

/// The listed backups by id: (pruned, restorable).
async fn restorable_by_id(app: &TestApp, admin: &str) -> BTreeMap<String, (bool, bool)> {
    let listed = app.gql(admin, RESTORABLE, json!({})).await;
    listed.data("backups")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let id = n["id"].as_str().unwrap().to_owned();
            (id, (!n["prunedAt"].is_null(), n["restorable"].as_bool().unwrap()))
        })
        .collect()
}

/// Until the backup's local copy is pruned: pruning follows the job that completed a newer one
/// (and its push).
async fn until_pruned(app: &TestApp, admin: &str, id: &str) -> bool {
    crate::helpers::eventually(std::time::Duration::from_secs(30), || async {
        restorable_by_id(app, admin).await[id].0
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_backup_pruned_locally_stays_restorable_from_the_git_clone_and_restores(pool: PgPool) {
    let dir = TempDir::new("backup-restorable-clone");
    let remote = bare_repository(&dir.0);
    let settings = BackupSettings {
        git: Some(GitRemote { url: remote.display().to_string().into(), branch: "main".into() }),
        retention_count: 1,
        ..settings_in(&dir.0)
    };
    let app = spawn_with_backups(&pool, settings.clone()).await;
    let admin = app.key(Scope::Admin).await;
    let first = create_backup(&app, &admin).await;
    app.create_customer(&admin, "after-first@example.com").await;
    let second = create_backup(&app, &admin).await;
    let (first_id, second_id) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    assert!(
        until_pruned(&app, &admin, first_id).await && !settings.dir.join(first["fileName"].as_str().unwrap()).exists(),
        "the first is pruned locally"
    );

    let listed = restorable_by_id(&app, &admin).await;
    assert_eq!(listed[first_id], (true, true), "pruned here, but in the git clone: restorable");
    assert_eq!(listed[second_id], (false, true), "the local copy: restorable");

    // And it really restores, from the clone.
    let restored = restore_backup(&app, &admin, first_id).await.unwrap();
    assert_eq!(restored["restoreStatus"], "COMPLETED", "{restored}");
    assert_eq!(crate::helpers::count(&pool, "SELECT count(*) FROM customers").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_backup_whose_archive_is_nowhere_on_the_server_is_not_restorable(pool: PgPool) {
    // No git remote: pruning deletes the only copy.
    let dir = TempDir::new("backup-not-restorable");
    let settings = BackupSettings { retention_count: 1, ..settings_in(&dir.0) };
    let app = spawn_with_backups(&pool, settings).await;
    let admin = app.key(Scope::Admin).await;
    let first = create_backup(&app, &admin).await;
    let second = create_backup(&app, &admin).await;
    let failed: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO backups (file_name, kind, status, created_by, error, completed_at)
         VALUES ('license-server-failed.dump', 'manual', 'failed', 'test', 'pg_dump exited with 1', now()) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    std::fs::write(dir.0.join("backups").join("license-server-failed.dump"), b"half an archive").unwrap();
    assert!(until_pruned(&app, &admin, first["id"].as_str().unwrap()).await);

    let listed = restorable_by_id(&app, &admin).await;
    assert_eq!(listed[first["id"].as_str().unwrap()], (true, false), "pruned, and no clone holds it");
    assert_eq!(listed[second["id"].as_str().unwrap()], (false, true));
    assert_eq!(listed[&failed.to_string()], (false, false), "a failed backup is never restorable");
    let analyst = app.key(Scope::Analyst).await;
    assert_eq!(restorable_by_id(&app, &analyst).await, listed, "analysts read the same");

    let refused = restore_backup(&app, &admin, first["id"].as_str().unwrap()).await.unwrap_err();
    assert_eq!(refused.error_code(), "BAD_USER_INPUT", "what the list says is what restore does");
}

const SCHEDULE: &str = "{ backupSchedule { enabled time timezone nextRunAt retentionCount retentionDays
    gitRemote { url branch unpushedCount lastPush { attemptedAt ok commit error } } } }";

#[sqlx::test(migrations = "../migrations")]
async fn admins_see_the_schedule_the_remote_with_its_last_push_and_the_retention(pool: PgPool) {
    let dir = TempDir::new("backup-schedule-shown");
    let remote = bare_repository(&dir.0);
    let settings = BackupSettings {
        schedule: Some(Schedule {
            time: chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            timezone: "Europe/Berlin".into(),
        }),
        git: Some(GitRemote { url: remote.display().to_string().into(), branch: "main".into() }),
        retention_count: 7,
        retention_days: Some(30),
        ..settings_in(&dir.0)
    };
    let app = spawn_with_backups(&pool, settings).await;
    let admin = app.key(Scope::Admin).await;

    let before = app.gql(&admin, SCHEDULE, json!({})).await;
    let schedule = before.data("backupSchedule");
    assert_eq!(schedule["enabled"], true);
    assert_eq!(schedule["time"], "03:00:00");
    assert_eq!(schedule["timezone"], "Europe/Berlin");
    assert_eq!((schedule["retentionCount"].as_i64(), schedule["retentionDays"].as_i64()), (Some(7), Some(30)));
    assert_eq!(schedule["gitRemote"]["url"], remote.display().to_string());
    assert_eq!(schedule["gitRemote"]["branch"], "main");
    assert_eq!(schedule["gitRemote"]["lastPush"], Value::Null, "nothing pushed yet");
    // The next run is 03:00 in Berlin, within the next day (at 01:00 or 02:00 UTC).
    let next: chrono::DateTime<chrono::Utc> = schedule["nextRunAt"].as_str().unwrap().parse().unwrap();
    let ahead = next - chrono::Utc::now();
    assert!(ahead > chrono::Duration::zero() && ahead <= chrono::Duration::hours(24), "{next}");
    assert!(["01:00:00", "02:00:00"].contains(&next.format("%H:%M:%S").to_string().as_str()), "{next}");

    let backup = create_backup(&app, &admin).await;
    assert_eq!(backup["pushStatus"], "PUSHED", "{backup}");
    let after = app.gql(&admin, SCHEDULE, json!({})).await;
    let push = &after.data("backupSchedule")["gitRemote"]["lastPush"];
    assert_eq!(push["ok"], true, "{push}");
    assert_eq!(push["commit"], git(&remote, &["rev-parse", "main"]));
    assert_eq!(push["error"], Value::Null);
    assert_eq!(after.data("backupSchedule")["gitRemote"]["unpushedCount"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_push_shows_with_its_error_and_the_remote_never_shows_its_credentials(pool: PgPool) {
    let dir = TempDir::new("backup-schedule-secret");
    // Nothing listens on port 9: the push fails at once.
    let url = "https://backup-bot:s3cr3t-t0ken@127.0.0.1:9/ops/backups.git?private_token=s3cr3t-query";
    let settings = BackupSettings {
        git: Some(GitRemote { url: url.to_owned().into(), branch: "backups".into() }),
        ..settings_in(&dir.0)
    };
    let app = spawn_with_backups(&pool, settings).await;
    let admin = app.key(Scope::Admin).await;
    let backup = create_backup(&app, &admin).await;
    assert_eq!(backup["pushStatus"], "FAILED", "{backup}");

    let reply = app.gql(&admin, SCHEDULE, json!({})).await;
    let schedule = reply.data("backupSchedule");
    assert_eq!(schedule["enabled"], false, "no schedule configured");
    assert_eq!((schedule["time"].clone(), schedule["nextRunAt"].clone()), (Value::Null, Value::Null));
    assert_eq!(schedule["gitRemote"]["url"], "https://***@127.0.0.1:9/ops/backups.git");
    assert_eq!(schedule["gitRemote"]["branch"], "backups");
    assert_eq!(schedule["gitRemote"]["unpushedCount"], 1);
    let push = &schedule["gitRemote"]["lastPush"];
    assert_eq!((push["ok"].clone(), push["commit"].clone()), (json!(false), Value::Null), "{push}");
    assert!(push["error"].as_str().unwrap().contains("git"), "{push}");
    assert!(push["attemptedAt"].is_string());
    let listed = app.gql(&admin, "{ backups { nodes { pushError } } }", json!({})).await;
    for body in [reply.body.to_string(), listed.body.to_string()] {
        assert!(!body.contains("s3cr3t"), "no credential anywhere: {body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_backup_schedule_is_for_admins_only(pool: PgPool) {
    let dir = TempDir::new("backup-schedule-analyst");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let refused = app.gql(&analyst, SCHEDULE, json!({})).await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    assert!(refused.body["data"].is_null() || refused.body["data"]["backupSchedule"].is_null(), "{}", refused.body);
    let client = app.key(Scope::Client).await;
    assert_eq!(app.gql(&client, SCHEDULE, json!({})).await.error_code(), "FORBIDDEN");

    let shown = app.gql(&admin, SCHEDULE, json!({})).await;
    assert_eq!(shown.data("backupSchedule")["gitRemote"], Value::Null, "no remote configured");
    assert_eq!(shown.data("backupSchedule")["retentionCount"], 14);
}
