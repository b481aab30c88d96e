//! Batched loading of nested lists (customers → licenses → devices → sessions → resources, and
//! institutions → contacts → phones, e-mails, notes → versions): each
//! level of a nested query costs one statement however many parents the page holds.
//!
//! The loader keeps no cache, so it is shared by all requests: loads that arrive within the same
//! millisecond are batched together and every request sees current data.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::crm::notes::{Note, NoteVersion};
use crate::crm::{Contact, ContactEmail, ContactPhone, Institution};
use crate::customers::Customer;
use crate::devices::Device;
use crate::error::Error;
use crate::graphql::filter::Sql;
use crate::licenses::License;
use crate::resources::Resource;
use crate::sessions::LiveSession;
use crate::sessions::SessionSettings;

/// Loads rows for many parents with one statement (`… WHERE <column> = ANY($1)`).
pub struct BatchLoader {
    pool: PgPool,
    sessions: SessionSettings,
}

pub type AppLoader = DataLoader<BatchLoader>;

pub fn new(pool: PgPool, sessions: SessionSettings) -> AppLoader {
    DataLoader::new(BatchLoader { pool, sessions }, tokio::spawn)
}

/// A customer by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomerById(pub Uuid);
/// A license by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LicenseById(pub Uuid);
/// A device by id (active or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceById(pub Uuid);
/// A customer's licenses, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LicensesOfCustomer(pub Uuid);
/// A license's active devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActiveDevicesOfLicense(pub Uuid);
/// A license's live sessions, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveSessionsOfLicense(pub Uuid);
/// A device's live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveSessionOfDevice(pub Uuid);
/// The resources allocated to a license, by type and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourcesOfLicense(pub Uuid);

/// An institution by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstitutionById(pub Uuid);
/// An institution's contacts, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOfInstitution(pub Uuid);
/// A contact's phone numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhonesOfContact(pub Uuid);
/// A contact's e-mail addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmailsOfContact(pub Uuid);
/// The notes on an institution, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotesOfInstitution(pub Uuid);
/// The notes on a contact, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotesOfContact(pub Uuid);
/// Every version of a note, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionsOfNote(pub Uuid);

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<Error>>;

impl BatchLoader {
    /// Runs `sql` with the parents' ids as `$1`.
    async fn rows<T>(&self, sql: &str, ids: Vec<Uuid>) -> Result<Vec<T>, Arc<Error>>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        sqlx::query_as(sql).bind(ids).fetch_all(&self.pool).await.map_err(|e| Arc::new(Error::from(e)))
    }

    /// The live sessions whose `column` is one of `ids`, oldest first.
    async fn live_sessions(&self, column: &'static str, ids: Vec<Uuid>) -> Result<Vec<LiveSession>, Arc<Error>> {
        let mut sql = Sql::new("SELECT *");
        crate::sessions::push_live_rows(&mut sql, &self.sessions);
        sql.push(" AND ").push(column).push(" = ANY(").push_bind(ids).push(") ORDER BY started_at, id");
        sql.build_query_as().fetch_all(&self.pool).await.map_err(|e| Arc::new(Error::from(e)))
    }
}

/// Groups rows by their parent, keeping the statement's order within each group.
fn group<K: Hash + Eq + Copy, T>(
    keys: &[K],
    rows: Vec<T>,
    parent: impl Fn(&T) -> Uuid,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, Vec<T>> {
    let mut map: HashMap<K, Vec<T>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        map.entry(key(parent(&row))).or_default().push(row);
    }
    map
}

fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}

impl Loader<CustomerById> for BatchLoader {
    type Value = Customer;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CustomerById]) -> LoadResult<CustomerById, Customer> {
        let rows: Vec<Customer> = self
            .rows(
                &format!("SELECT {} FROM customers WHERE id = ANY($1)", crate::customers::COLUMNS),
                ids(keys, |k| k.0),
            )
            .await?;
        Ok(rows.into_iter().map(|c| (CustomerById(c.id), c)).collect())
    }
}

impl Loader<LicenseById> for BatchLoader {
    type Value = License;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LicenseById]) -> LoadResult<LicenseById, License> {
        let rows: Vec<License> = self
            .rows(&format!("SELECT {} FROM licenses WHERE id = ANY($1)", crate::licenses::COLUMNS), ids(keys, |k| k.0))
            .await?;
        Ok(rows.into_iter().map(|l| (LicenseById(l.id), l)).collect())
    }
}

impl Loader<DeviceById> for BatchLoader {
    type Value = Device;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[DeviceById]) -> LoadResult<DeviceById, Device> {
        let rows: Vec<Device> =
            self.rows(&format!("{} WHERE d.id = ANY($1)", crate::devices::SELECT), ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|d| (DeviceById(d.id), d)).collect())
    }
}

impl Loader<LicensesOfCustomer> for BatchLoader {
    type Value = Vec<License>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LicensesOfCustomer]) -> LoadResult<LicensesOfCustomer, Vec<License>> {
        let sql = format!(
            "SELECT {} FROM licenses WHERE customer_id = ANY($1) ORDER BY created_at DESC, id",
            crate::licenses::COLUMNS
        );
        let rows: Vec<License> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |l| l.customer_id, LicensesOfCustomer))
    }
}

impl Loader<ActiveDevicesOfLicense> for BatchLoader {
    type Value = Vec<Device>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ActiveDevicesOfLicense]) -> LoadResult<ActiveDevicesOfLicense, Vec<Device>> {
        let sql = format!(
            "{} WHERE d.license_id = ANY($1) AND d.is_active ORDER BY d.first_activated_at, d.id",
            crate::devices::SELECT
        );
        let rows: Vec<Device> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |d| d.license_id, ActiveDevicesOfLicense))
    }
}

impl Loader<LiveSessionsOfLicense> for BatchLoader {
    type Value = Vec<LiveSession>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LiveSessionsOfLicense]) -> LoadResult<LiveSessionsOfLicense, Vec<LiveSession>> {
        let rows = self.live_sessions("license_id", ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |s| s.license_id, LiveSessionsOfLicense))
    }
}

impl Loader<LiveSessionOfDevice> for BatchLoader {
    type Value = LiveSession;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LiveSessionOfDevice]) -> LoadResult<LiveSessionOfDevice, LiveSession> {
        let rows = self.live_sessions("device_id", ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|s| (LiveSessionOfDevice(s.device_id), s)).collect())
    }
}

impl Loader<ResourcesOfLicense> for BatchLoader {
    type Value = Vec<Resource>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ResourcesOfLicense]) -> LoadResult<ResourcesOfLicense, Vec<Resource>> {
        let sql = format!(
            "SELECT {} FROM resource_pools WHERE license_id = ANY($1) ORDER BY resource_type, value",
            crate::resources::COLUMNS
        );
        let rows: Vec<Resource> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| r.license_id.unwrap_or_default(), ResourcesOfLicense))
    }
}

impl Loader<InstitutionById> for BatchLoader {
    type Value = Institution;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[InstitutionById]) -> LoadResult<InstitutionById, Institution> {
        let sql = format!("SELECT {} FROM institutions WHERE id = ANY($1)", crate::crm::INSTITUTION_COLUMNS);
        let rows: Vec<Institution> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(rows.into_iter().map(|i| (InstitutionById(i.id), i)).collect())
    }
}

impl Loader<ContactsOfInstitution> for BatchLoader {
    type Value = Vec<Contact>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ContactsOfInstitution]) -> LoadResult<ContactsOfInstitution, Vec<Contact>> {
        let sql = format!(
            "SELECT {} FROM contacts WHERE institution_id = ANY($1) ORDER BY name, id",
            crate::crm::CONTACT_COLUMNS
        );
        let rows: Vec<Contact> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |c| c.institution_id, ContactsOfInstitution))
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
        let sql = format!("{} WHERE n.institution_id = ANY($1) ORDER BY n.created_at, n.id", crate::crm::notes::SELECT);
        let rows: Vec<Note> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |n| n.institution_id.unwrap_or_default(), NotesOfInstitution))
    }
}

impl Loader<NotesOfContact> for BatchLoader {
    type Value = Vec<Note>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[NotesOfContact]) -> LoadResult<NotesOfContact, Vec<Note>> {
        let sql = format!("{} WHERE n.contact_id = ANY($1) ORDER BY n.created_at, n.id", crate::crm::notes::SELECT);
        let rows: Vec<Note> = self.rows(&sql, ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |n| n.contact_id.unwrap_or_default(), NotesOfContact))
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

/// Loads one key through the shared loader, keeping the error's GraphQL code.
pub async fn load<K>(ctx: &Context<'_>, key: K) -> async_graphql::Result<Option<<BatchLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    BatchLoader: Loader<K, Error = Arc<Error>>,
{
    ctx.data_unchecked::<AppLoader>().load_one(key).await.map_err(|e| e.extend())
}
