//! Backups and restores as background jobs (one at a time across instances, interrupted ones
//! marked failed, failed scheduled backups retried the same day), and the backup taken before
//! start-up applies pending migrations.

use std::borrow::Cow;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use license_server::auth::{Actor, Scope};
use license_server::backups::{self, BackupSettings, Schedule};
use license_server::db::MIGRATOR;
use serde_json::json;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::backups::{
    create_backup, finished, restore_backup, settings_in, spawn_with_backups, TempDir, BACKUP_FIELDS,
};
use crate::helpers::{count, eventually, spawn_app_with, Options};

/// Holds an exclusive lock on `customers`, so that a `pg_dump` waits (RUNNING) until released.
async fn hold_customers(pool: &PgPool) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE").execute(&mut *tx).await.unwrap();
    tx
}

/// Until `pg_dump` is waiting for a lock.
async fn dump_is_waiting(pool: &PgPool) -> bool {
    eventually(Duration::from_secs(30), || async {
        count(
            pool,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'license-server pg_dump' AND wait_event_type = 'Lock'",
        )
        .await
            == 1
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn create_backup_returns_running_at_once_and_a_second_job_on_any_instance_is_refused(pool: PgPool) {
    let dir = TempDir::new("backup-job");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let other_instance = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let admin = app.key(Scope::Admin).await;
    let earlier = create_backup(&app, &admin).await;
    assert_eq!(earlier["status"], "COMPLETED", "{earlier}");

    let held = hold_customers(&pool).await;
    let started = app.gql(&admin, &format!("mutation {{ createBackup {{ {BACKUP_FIELDS} }} }}"), json!({})).await;
    let started = started.data("createBackup").clone();
    let id = started["id"].as_str().unwrap();
    assert_eq!((started["status"].as_str(), started["sizeBytes"].as_i64()), (Some("RUNNING"), None), "{started}");
    assert!(dump_is_waiting(&pool).await, "the dump runs in the background after the answer");
    let polled = app.gql(&admin, "query($id: ID!) { backup(id: $id) { status } }", json!({"id": id})).await;
    assert_eq!(polled.data("backup")["status"], "RUNNING");

    let rows = count(&pool, "SELECT count(*) FROM backups").await;
    for (instance, mutation, variables) in [
        (&app, "mutation { createBackup { id } }", json!({})),
        (&other_instance, "mutation { createBackup { id } }", json!({})),
        (
            &other_instance,
            "mutation($id: ID!) { restoreBackup(id: $id, confirm: true) { id } }",
            json!({"id": earlier["id"]}),
        ),
    ] {
        let refused = instance.gql(&admin, mutation, variables).await;
        assert_eq!(refused.error_code(), "BACKUP_IN_PROGRESS", "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["backupId"], id, "the refusal names the running job");
        assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("already running"));
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM backups").await, rows, "no second backup was recorded");
    let restores = count(&pool, "SELECT count(*) FROM backups WHERE restore_status IS NOT NULL").await;
    assert_eq!(restores, 0, "no restore was recorded");

    held.rollback().await.unwrap();
    let done = finished(&app, &admin, id, "status").await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(done["sizeBytes"].as_i64().unwrap() > 0);
    let audited = count(
        &pool,
        &format!("SELECT count(*) FROM audit_log WHERE entity_id = '{id}' AND action IN ('backup.created', 'backup.completed')"),
    )
    .await;
    assert_eq!(audited, 2, "the start and the completion are audited");
    // Once it has finished, the next job may start, on any instance.
    assert_eq!(create_backup(&other_instance, &admin).await["status"], "COMPLETED");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restore_returns_running_at_once_and_its_outcome_lands_on_the_backup(pool: PgPool) {
    let dir = TempDir::new("restore-job");
    let app = spawn_with_backups(&pool, settings_in(&dir.0)).await;
    let admin = app.key(Scope::Admin).await;
    let backup = create_backup(&app, &admin).await;
    app.create_customer(&admin, "after-the-backup@example.com").await;

    let restored = restore_backup(&app, &admin, backup["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(restored["restoreStatus"], "COMPLETED", "{restored}");
    assert_eq!(restored["restoreError"], json!(null));
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 0, "the data is as it was at backup time");
    let (requested_by, finished_after_start): (String, bool) = sqlx::query_as(
        "SELECT restore_requested_by, restore_finished_at >= restore_started_at FROM backups WHERE id = $1::uuid",
    )
    .bind(backup["id"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(requested_by.starts_with("test") && finished_after_start, "{requested_by}");
}

const JOB_LOCK: &str = "SELECT pg_advisory_lock(hashtext('license-server backup job'))";

#[sqlx::test(migrations = "../migrations")]
async fn running_rows_whose_job_is_gone_are_marked_failed_at_start_and_block_nothing(pool: PgPool) {
    let dir = TempDir::new("backup-interrupted");
    let settings = settings_in(&dir.0);
    let restored = backups::create(&pool, &settings, &Actor::cli(), None).await.unwrap();
    // What a process killed during a dump and during a restore leaves behind.
    let crashed: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO backups (file_name, kind, created_by) VALUES ('license-server-crashed.dump', 'manual', 'test')
         RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let interrupted_restore = "UPDATE backups SET restore_status = 'running', restore_started_at = now() WHERE id = $1";
    sqlx::query(interrupted_restore).bind(restored.id).execute(&pool).await.unwrap();
    let running = "SELECT count(*) FROM backups WHERE status = 'running' OR restore_status = 'running'";

    // While a job of another instance holds the lock, its rows are left alone.
    let mut live_job = pool.connect_options().connect().await.unwrap();
    sqlx::query(JOB_LOCK).execute(&mut live_job).await.unwrap();
    backups::jobs::recover(&pool, &settings).await.unwrap();
    assert_eq!(count(&pool, running).await, 2);
    live_job.close().await.unwrap();

    backups::jobs::recover(&pool, &settings).await.unwrap();
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM backups WHERE id = $1").bind(crashed).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("interrupted"), "{error}");
    let (restore_status, restore_error): (String, String) =
        sqlx::query_as("SELECT restore_status, restore_error FROM backups WHERE id = $1")
            .bind(restored.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(restore_status, "failed");
    assert!(restore_error.contains("interrupted"), "{restore_error}");
    let audited =
        count(&pool, "SELECT count(*) FROM audit_log WHERE action IN ('backup.failed', 'backup.restore_failed')").await;
    assert_eq!(audited, 2, "both are audited");

    // A row left RUNNING while the server keeps running does not block the next job: it is
    // marked failed by the job that takes the lock next.
    sqlx::query(
        "INSERT INTO backups (file_name, kind, created_by) VALUES ('license-server-crashed-2.dump', 'manual', 'test')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = spawn_with_backups(&pool, settings.clone()).await;
    let admin = app.key(Scope::Admin).await;
    assert_eq!(create_backup(&app, &admin).await["status"], "COMPLETED");
    assert_eq!(count(&pool, running).await, 0);
}

/// Due since midnight UTC, so due now; a failed attempt is retried after `retry` (doubling).
fn scheduled_into(dir: &Path, retry: Duration) -> BackupSettings {
    BackupSettings {
        dir: dir.to_owned(),
        schedule: Some(Schedule { time: chrono::NaiveTime::MIN, timezone: "UTC".into() }),
        retry,
        ..Default::default()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_scheduled_backup_is_retried_the_same_day_by_the_running_scheduler(pool: PgPool) {
    let dir = TempDir::new("backup-retry");
    // BACKUP_DIR cannot be created while a file stands in its place.
    let backup_dir = dir.0.join("backups");
    std::fs::write(&backup_dir, b"not a directory").unwrap();
    let settings = scheduled_into(&backup_dir, Duration::from_secs(1));
    let _app = spawn_app_with(&pool, Options { backups: Some(settings), background: true, ..Default::default() }).await;
    let failed = "SELECT count(*) FROM backups WHERE kind = 'scheduled' AND status = 'failed'";
    assert!(eventually(Duration::from_secs(30), || async { count(&pool, failed).await >= 1 }).await);
    let error: String =
        sqlx::query_scalar("SELECT error FROM backups WHERE status = 'failed' LIMIT 1").fetch_one(&pool).await.unwrap();
    assert!(error.contains("BACKUP_DIR"), "{error}");

    std::fs::remove_file(&backup_dir).unwrap();
    let completed = "SELECT count(*) FROM backups WHERE kind = 'scheduled' AND status = 'completed'";
    assert!(
        eventually(Duration::from_secs(30), || async { count(&pool, completed).await == 1 }).await,
        "retried after the failure, the same day"
    );
    let days = count(&pool, "SELECT count(DISTINCT scheduled_for) FROM backups").await;
    assert_eq!(days, 1, "the attempts are all for today");
    assert!(count(&pool, failed).await <= 2, "at most the attempts before the directory was fixed failed");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_day_gets_at_most_three_scheduled_attempts(pool: PgPool) {
    let dir = TempDir::new("backup-attempts");
    let backup_dir = dir.0.join("backups");
    std::fs::write(&backup_dir, b"not a directory").unwrap();
    let settings = scheduled_into(&backup_dir, Duration::from_millis(1));
    // The retry waits 1, then 2 ms after a failure (doubling): each attempt comes after it, since
    // an attempt that fails faster than that would find the next one not due yet.
    for attempt in 1..=3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(backups::schedule::run_if_due(&pool, &settings).await.is_err(), "attempt {attempt} fails");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(backups::schedule::run_if_due(&pool, &settings).await.unwrap().map(|b| b.id), None);
    assert_eq!(count(&pool, "SELECT count(*) FROM backups WHERE status = 'failed'").await, 3);

    // With a longer retry, the next attempt waits for it.
    let patient = scheduled_into(&backup_dir, Duration::from_secs(3600));
    sqlx::query("DELETE FROM backups WHERE id = (SELECT id FROM backups ORDER BY created_at DESC LIMIT 1)")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(backups::schedule::run_if_due(&pool, &patient).await.unwrap().map(|b| b.id), None, "not yet");
    assert_eq!(count(&pool, "SELECT count(*) FROM backups").await, 2);
}

/// The migrations before the last `behind` applied on an empty database, and a customer in it:
/// a database as the previous version left it.
async fn database_behind(pool: &PgPool, behind: usize) -> i64 {
    let applied = MIGRATOR.migrations.len() - behind;
    let earlier = sqlx::migrate::Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..applied].to_vec()),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    earlier.run(pool).await.unwrap();
    sqlx::query("INSERT INTO customers (name, email) VALUES ('Before the upgrade', 'before@example.com')")
        .execute(pool)
        .await
        .unwrap();
    applied as i64
}

const APPLIED: &str = "SELECT count(*) FROM _sqlx_migrations";

/// `license-server <args>` against the test's database, with `BACKUP_DIR=backup_dir`.
fn license_server(pool: &PgPool, backup_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(args)
        .env("DATABASE_URL", pool.connect_options().to_url_lossy().to_string())
        .env("DATABASE_MAX_CONNECTIONS", "2")
        .env("BACKUP_DIR", backup_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn start_up_backs_up_a_database_with_data_before_applying_pending_migrations(pool: PgPool) {
    let dir = TempDir::new("pre-migration");
    let settings = settings_in(&dir.0);
    let before = database_behind(&pool, 1).await;

    let migrated = license_server(&pool, &settings.dir, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert_eq!(count(&pool, APPLIED).await, MIGRATOR.migrations.len() as i64, "the migrations were applied");
    let (id, kind, status, created_by): (uuid::Uuid, String, String, String) =
        sqlx::query_as("SELECT id, kind, status, created_by FROM backups").fetch_one(&pool).await.unwrap();
    assert_eq!((kind.as_str(), status.as_str(), created_by.as_str()), ("pre_migration", "completed", "system"));
    assert_eq!(backups::verify(&pool, &settings, id).await.unwrap().problem, None, "the archive is intact");
    let audited = count(
        &pool,
        &format!("SELECT count(*) FROM audit_log WHERE action = 'backup.completed' AND entity_id = '{id}'"),
    )
    .await;
    assert_eq!(audited, 1);

    // It holds the database as it was before migrating.
    sqlx::query("DELETE FROM customers").execute(&pool).await.unwrap();
    backups::restore(&pool, &settings, &Actor::cli(), None, id).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM customers WHERE email = 'before@example.com'").await, 1);
    assert_eq!(count(&pool, APPLIED).await, before, "with the migrations of its time");

    // Started again on the restored database, the server migrates it again (after a new backup).
    let again = license_server(&pool, &settings.dir, &["migrate"], &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(count(&pool, APPLIED).await, MIGRATOR.migrations.len() as i64);
    assert_eq!(count(&pool, "SELECT count(*) FROM backups WHERE kind = 'pre_migration'").await, 2);
}

#[sqlx::test(migrations = false)]
async fn when_the_backup_before_migrating_fails_start_up_fails_and_nothing_is_migrated(pool: PgPool) {
    let dir = TempDir::new("pre-migration-fails");
    let before = database_behind(&pool, 1).await;
    let not_a_dir = dir.0.join("backups");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();

    for command in [&["migrate"][..], &["serve", "--listen-addr", "127.0.0.1:0"][..]] {
        let refused = license_server(&pool, &not_a_dir, command, &[]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{command:?}: {stderr}");
        assert!(stderr.contains("backup before applying 1 pending migration(s) failed"), "{command:?}: {stderr}");
        assert!(stderr.contains("BACKUP_BEFORE_MIGRATE"), "the message says how to go on: {stderr}");
        assert_eq!(count(&pool, APPLIED).await, before, "{command:?}: no migration was applied");
    }
}

#[sqlx::test(migrations = false)]
async fn with_backup_before_migrate_off_start_up_migrates_without_a_backup_and_warns(pool: PgPool) {
    let dir = TempDir::new("pre-migration-off");
    database_behind(&pool, 1).await;
    let not_a_dir = dir.0.join("backups");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();

    let migrated = license_server(&pool, &not_a_dir, &["migrate"], &[("BACKUP_BEFORE_MIGRATE", "false")]);
    let stderr = String::from_utf8_lossy(&migrated.stderr);
    assert!(migrated.status.success(), "{stderr}");
    assert!(stderr.contains("WARN") && stderr.contains("BACKUP_BEFORE_MIGRATE=false"), "{stderr}");
    assert_eq!(count(&pool, APPLIED).await, MIGRATOR.migrations.len() as i64);
    assert_eq!(count(&pool, "SELECT count(*) FROM backups").await, 0);
}

#[sqlx::test(migrations = false)]
async fn a_brand_new_database_is_migrated_without_a_backup(pool: PgPool) {
    let dir = TempDir::new("pre-migration-new");
    let settings = settings_in(&dir.0);
    let migrated = license_server(&pool, &settings.dir, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert_eq!(count(&pool, APPLIED).await, MIGRATOR.migrations.len() as i64);
    assert_eq!(count(&pool, "SELECT count(*) FROM backups").await, 0);
    assert!(!settings.dir.exists(), "nothing was written");
}
