//! Notes on institutions and contacts. An edit adds a version; earlier versions are never changed
//! (the database refuses UPDATE and DELETE on `note_versions`).

use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::PgPool;
use uuid::Uuid;

use super::VersionsOfNote;
use crate::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::graphql::ids::Id;
use crate::graphql::loaders::load;

/// A note with its current text (the latest version).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub body: String,
    /// 1 for a note never edited.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    /// When the current version was written, and by whom.
    pub edited_at: DateTime<Utc>,
    pub edited_by: String,
    pub id: Id,
    pub institution_id: Option<Id>,
    pub contact_id: Option<Id>,
}

#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
pub struct NoteVersion {
    #[graphql(skip)]
    pub note_id: Uuid,
    pub version: i32,
    pub body: String,
    pub edited_by: String,
    pub edited_at: DateTime<Utc>,
}

#[ComplexObject]
impl Note {
    /// Every version, oldest first; the last one is the current text.
    #[graphql(complexity = "crate::graphql::DETAIL_LIST_ESTIMATE * child_complexity")]
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<NoteVersion>> {
        Ok(load(ctx, VersionsOfNote(self.id.0)).await?.unwrap_or_default())
    }
}

/// What a note is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Institution(Uuid),
    Contact(Uuid),
}

pub const SELECT: &str =
    "SELECT n.id, n.institution_id, n.contact_id, v.body, v.version, n.created_at, v.edited_at, v.edited_by
    FROM notes n
    JOIN LATERAL (SELECT * FROM note_versions WHERE note_id = n.id ORDER BY version DESC LIMIT 1) v ON true";

fn clean_body(body: &str) -> Result<String> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(Error::bad_input("body", "body must be 1 to 10000 characters"));
    }
    Ok(body.to_owned())
}

async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Note> {
    sqlx::query_as(&format!("{SELECT} WHERE n.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found("note", "id"))
}

pub async fn add(pool: &PgPool, caller: &Caller, subject: Subject, body: &str) -> Result<Note> {
    let body = clean_body(body)?;
    let (institution, contact) = match subject {
        Subject::Institution(id) => (Some(id), None),
        Subject::Contact(id) => (None, Some(id)),
    };
    let mut tx = pool.begin().await?;
    let id: Uuid = sqlx::query_scalar("INSERT INTO notes (institution_id, contact_id) VALUES ($1, $2) RETURNING id")
        .bind(institution)
        .bind(contact)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO note_versions (note_id, version, body, edited_by) VALUES ($1, 1, $2, $3)")
        .bind(id)
        .bind(&body)
        .bind(&caller.actor.name)
        .execute(&mut *tx)
        .await?;
    let note = find(&mut tx, id).await?;
    audit::record(&mut tx, caller, AuditEntry::new("note.created", "note", id).new_values(&note)).await?;
    tx.commit().await?;
    Ok(note)
}

/// Adds a version (unless the text is unchanged); the note row is locked so that two edits get
/// consecutive version numbers.
pub async fn edit(pool: &PgPool, caller: &Caller, id: Uuid, body: &str, expected_version: Option<i32>) -> Result<Note> {
    let body = clean_body(body)?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM notes WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("note", "id"))?;
    let old = find(&mut tx, id).await?;
    if expected_version.is_some_and(|v| v != old.version) {
        return Err(Error::conflict(
            "expectedVersion",
            format!(
                "the note is at version {} now (edited by {}); read it again and repeat the edit",
                old.version, old.edited_by
            ),
        ));
    }
    if old.body == body {
        // Nothing changed: no version, no audit entry.
        return Ok(old);
    }
    sqlx::query("INSERT INTO note_versions (note_id, version, body, edited_by) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(old.version + 1)
        .bind(&body)
        .bind(&caller.actor.name)
        .execute(&mut *tx)
        .await?;
    let new = find(&mut tx, id).await?;
    audit::record(&mut tx, caller, AuditEntry::new("note.edited", "note", id).old_values(&old).new_values(&new))
        .await?;
    tx.commit().await?;
    Ok(new)
}
