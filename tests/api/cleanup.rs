//! The background cleanup files timed-out sessions, once, whatever the number of instances.

use std::time::Duration;

use license_server::auth::Scope;
use license_server::sessions::SessionSettings;
use sqlx::PgPool;

use crate::helpers::{age_session, count, eventually, spawn_app_with, Options};

#[sqlx::test(migrations = "../migrations")]
async fn a_session_without_heartbeats_is_ended_with_reason_timeout(pool: PgPool) {
    // Interval 1 s, timeout 2 s, cleanup every second.
    let sessions = SessionSettings::new(1, 2, 1).unwrap();
    let app = spawn_app_with(&pool, Options { sessions, background: true, ..Options::default() }).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    let quiet = app.session(&client, &license_key, "quiet").await;
    let chatty = app.session(&client, &license_key, "chatty").await;

    let filed = eventually(Duration::from_secs(20), || {
        let (app, client, chatty, pool) = (&app, &client, &chatty, &pool);
        async move {
            assert_eq!(
                app.heartbeat(client, chatty).await["__typename"],
                "HeartbeatAccepted",
                "the chatty session stays live"
            );
            count(pool, "SELECT count(*) FROM session_history").await > 0
        }
    })
    .await;
    assert!(filed, "the quiet session was never ended");

    let (token, reason, at_deadline): (uuid::Uuid, String, bool) = sqlx::query_as(
        "SELECT session_token, end_reason, ended_at = last_heartbeat_at + interval '2 seconds' FROM session_history",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(token.to_string(), quiet);
    assert_eq!(reason, "timeout");
    assert!(at_deadline);
    assert_eq!(app.heartbeat(&client, &quiet).await["reason"], "SESSION_EXPIRED");
    let audited =
        count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'session.ended' AND actor_type = 'system'").await;
    assert_eq!(audited, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn cleanups_racing_on_several_instances_end_each_session_exactly_once(pool: PgPool) {
    let settings = SessionSettings::default();
    let app = spawn_app_with(&pool, Options::default()).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let (_, key) = app.create_license(&admin, 10, 10).await;
        for device in 0..10 {
            tokens.push(app.session(&client, &key, &format!("d{device}")).await);
        }
    }
    for token in &tokens[..60] {
        age_session(&pool, token, 3600).await;
    }

    // Eight cleanups at once, each on its own connection.
    let runs = (0..8).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            license_server::sessions::cleanup::end_timed_out_sessions(&pool, &settings).await.unwrap().timed_out
        })
    });
    let ended: u64 = futures_util::future::join_all(runs).await.into_iter().map(Result::unwrap).sum();

    assert_eq!(ended, 60, "every expired session ended exactly once across the runs");
    assert_eq!(count(&pool, "SELECT count(*) FROM session_history WHERE end_reason = 'timeout'").await, 60);
    assert_eq!(count(&pool, "SELECT count(*) FROM license_sessions").await, 40);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'session.ended'").await, 60);
}
