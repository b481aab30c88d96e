//! Batch loading of institutions, contacts and notes for nested queries: one statement per level, however many parents
//! the page holds.

use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::notes::{Note, NoteVersion};
use super::{Contact, ContactEmail, ContactPhone, Institution};
use crate::error::Error;
use crate::graphql::loaders::{group, ids, BatchLoader, LoadResult};

crate::batch_keys! {
    /// An institution by id.
    InstitutionById => BatchLoader;
    /// An institution's contacts, by name.
    ContactsOfInstitution => BatchLoader;
    /// A contact's phone numbers.
    PhonesOfContact => BatchLoader;
    /// A contact's e-mail addresses.
    EmailsOfContact => BatchLoader;
    /// The notes on an institution, oldest first.
    NotesOfInstitution => BatchLoader;
    /// The notes on a contact, oldest first.
    NotesOfContact => BatchLoader;
    /// Every version of a note, oldest first.
    VersionsOfNote => BatchLoader;
}

impl Loader<InstitutionById> for BatchLoader {
    type Value = Institution;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[InstitutionById]) -> LoadResult<InstitutionById, Institution> {
        let sql = format!("SELECT {} FROM institutions WHERE id = ANY($1)", super::INSTITUTION_COLUMNS);
        let rows: Vec<Institution> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|i| (InstitutionById(i.id.0), i)).collect())
    }
}

impl Loader<ContactsOfInstitution> for BatchLoader {
    type Value = Vec<Contact>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ContactsOfInstitution]) -> LoadResult<ContactsOfInstitution, Vec<Contact>> {
        let sql =
            format!("SELECT {} FROM contacts WHERE institution_id = ANY($1) ORDER BY name, id", super::CONTACT_COLUMNS);
        let rows: Vec<Contact> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |c| c.institution_id.0, ContactsOfInstitution))
    }
}

impl Loader<PhonesOfContact> for BatchLoader {
    type Value = Vec<ContactPhone>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[PhonesOfContact]) -> LoadResult<PhonesOfContact, Vec<ContactPhone>> {
        let sql =
            "SELECT contact_id, kind, number FROM contact_phones WHERE contact_id = ANY($1) ORDER BY kind, number";
        let rows: Vec<ContactPhone> = self.rows(sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |p| p.contact_id, PhonesOfContact))
    }
}

impl Loader<EmailsOfContact> for BatchLoader {
    type Value = Vec<ContactEmail>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[EmailsOfContact]) -> LoadResult<EmailsOfContact, Vec<ContactEmail>> {
        let sql = "SELECT contact_id, kind, email FROM contact_emails WHERE contact_id = ANY($1) ORDER BY kind, email";
        let rows: Vec<ContactEmail> = self.rows(sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |e| e.contact_id, EmailsOfContact))
    }
}

impl Loader<NotesOfInstitution> for BatchLoader {
    type Value = Vec<Note>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[NotesOfInstitution]) -> LoadResult<NotesOfInstitution, Vec<Note>> {
        let sql = format!("{} WHERE n.institution_id = ANY($1) ORDER BY n.created_at, n.id", super::notes::SELECT);
        let rows: Vec<Note> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |n| n.institution_id.map(Uuid::from).unwrap_or_default(), NotesOfInstitution))
    }
}

impl Loader<NotesOfContact> for BatchLoader {
    type Value = Vec<Note>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[NotesOfContact]) -> LoadResult<NotesOfContact, Vec<Note>> {
        let sql = format!("{} WHERE n.contact_id = ANY($1) ORDER BY n.created_at, n.id", super::notes::SELECT);
        let rows: Vec<Note> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |n| n.contact_id.map(Uuid::from).unwrap_or_default(), NotesOfContact))
    }
}

impl Loader<VersionsOfNote> for BatchLoader {
    type Value = Vec<NoteVersion>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[VersionsOfNote]) -> LoadResult<VersionsOfNote, Vec<NoteVersion>> {
        let sql = "SELECT note_id, version, body, edited_by, edited_at FROM note_versions
                   WHERE note_id = ANY($1) ORDER BY version";
        let rows: Vec<NoteVersion> = self.rows(sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |v| v.note_id, VersionsOfNote))
    }
}
