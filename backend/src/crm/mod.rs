//! The lead CRM: institutions, their contacts (with typed phones and e-mails), versioned notes,
//! and the step from lead to customer.

mod loaders;
pub mod notes;

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, Union, ID};
use chrono::{DateTime, Utc};
use notes::{Note, Subject};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::{caller, Caller, Permission, Require};
use crate::customers::{self, CreateCustomerInput, Customer, CustomerById};
use crate::error::{ensure_unchanged, Error, GqlResultExt, Result};
use crate::graphql::filter::{
    contains_pattern, filtered_page, nested_filters, push_filter, push_order, Conditions, DateTimeFilter, Filter,
    IdFilter, OrderDirection, Sql, StringFilter,
};
use crate::graphql::ids::{parse_id, Id};
use crate::graphql::loaders::load;
use crate::graphql::pagination::{ListConnection, PageArgs};
use crate::resources::ResourceType;
pub use loaders::{
    ContactsOfInstitution, EmailsOfContact, InstitutionById, NotesOfContact, NotesOfInstitution, PhonesOfContact,
    VersionsOfNote,
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Institution {
    pub name: String,
    /// Free text, e.g. "hospital", "university", "municipality".
    pub institution_type: String,
    pub address: String,
    pub website: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id: Id,
    /// Set once the lead is linked to or turned into a customer.
    pub customer_id: Option<Id>,
}

#[ComplexObject]
impl Institution {
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        let Some(id) = self.customer_id else { return Ok(None) };
        load(ctx, CustomerById(id.0)).await
    }

    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    async fn contacts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Contact>> {
        Ok(load(ctx, ContactsOfInstitution(self.id.0)).await?.unwrap_or_default())
    }

    /// Notes on the institution, oldest first, each with its current text.
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Note>> {
        Ok(load(ctx, NotesOfInstitution(self.id.0)).await?.unwrap_or_default())
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub name: String,
    pub position: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub id: Id,
    pub institution_id: Id,
}

#[ComplexObject]
impl Contact {
    async fn institution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Institution>> {
        load(ctx, InstitutionById(self.institution_id.0)).await
    }

    #[graphql(complexity = "crate::graphql::DETAIL_LIST_ESTIMATE * child_complexity")]
    async fn phones(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ContactPhone>> {
        Ok(load(ctx, PhonesOfContact(self.id.0)).await?.unwrap_or_default())
    }

    #[graphql(complexity = "crate::graphql::DETAIL_LIST_ESTIMATE * child_complexity")]
    async fn emails(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ContactEmail>> {
        Ok(load(ctx, EmailsOfContact(self.id.0)).await?.unwrap_or_default())
    }

    /// Notes on the contact, oldest first, each with its current text.
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Note>> {
        Ok(load(ctx, NotesOfContact(self.id.0)).await?.unwrap_or_default())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Work,
    Mobile,
    Home,
    Fax,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Work,
    Personal,
    Other,
}

fn parse_phone_kind(s: &str) -> PhoneKind {
    match s {
        "work" => PhoneKind::Work,
        "mobile" => PhoneKind::Mobile,
        "home" => PhoneKind::Home,
        "fax" => PhoneKind::Fax,
        _ => PhoneKind::Other,
    }
}

fn parse_email_kind(s: &str) -> EmailKind {
    match s {
        "work" => EmailKind::Work,
        "personal" => EmailKind::Personal,
        _ => EmailKind::Other,
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct ContactPhone {
    #[graphql(skip)]
    #[serde(skip)]
    pub contact_id: Uuid,
    #[graphql(skip)]
    pub kind: String,
    /// E.164, e.g. `+493012345678`.
    pub number: String,
}

#[ComplexObject]
impl ContactPhone {
    async fn kind(&self) -> PhoneKind {
        parse_phone_kind(&self.kind)
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct ContactEmail {
    #[graphql(skip)]
    #[serde(skip)]
    pub contact_id: Uuid,
    #[graphql(skip)]
    pub kind: String,
    pub email: String,
}

#[ComplexObject]
impl ContactEmail {
    async fn kind(&self) -> EmailKind {
        parse_email_kind(&self.kind)
    }
}

#[derive(Debug, InputObject)]
pub struct InstitutionInput {
    pub name: String,
    #[graphql(default)]
    pub institution_type: String,
    #[graphql(default)]
    pub address: String,
    #[graphql(default)]
    pub website: String,
}

#[derive(Debug, InputObject)]
pub struct PhoneInput {
    pub kind: PhoneKind,
    /// International form with country code; stored as E.164.
    pub number: String,
}

#[derive(Debug, InputObject)]
pub struct EmailInput {
    pub kind: EmailKind,
    pub email: String,
}

#[derive(Debug, InputObject)]
pub struct ContactInput {
    pub name: String,
    #[graphql(default)]
    pub position: String,
    /// Replaces all of the contact's phone numbers.
    #[graphql(default)]
    pub phones: Vec<PhoneInput>,
    /// Replaces all of the contact's e-mail addresses.
    #[graphql(default)]
    pub emails: Vec<EmailInput>,
}

/// A hit of the CRM name search.
#[derive(Union)]
pub enum CrmSearchResult {
    Institution(Institution),
    Contact(Contact),
}

crate::input_constraint! {
    "institutions_customer_id_key" => "customerId", "this customer is already linked to another institution";
}

pub const INSTITUTION_COLUMNS: &str =
    "id, name, institution_type, address, website, customer_id, created_at, updated_at";
pub const CONTACT_COLUMNS: &str = "id, institution_id, name, position, created_at, updated_at";

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min || len > max {
        return Err(Error::bad_input(field, format!("{field} must be {min} to {max} characters")));
    }
    Ok(value.to_owned())
}

fn clean_website(website: &str) -> Result<String> {
    let website = text("website", website, 0, 300)?;
    if website.is_empty() {
        return Ok(website);
    }
    let host = website.strip_prefix("https://").or_else(|| website.strip_prefix("http://")).unwrap_or(&website);
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    ResourceType::Domain
        .normalise(host)
        .map_err(|reason| Error::bad_input("website", format!("website must be a web address: {reason}")))?;
    Ok(website)
}

pub async fn find_institution(conn: &mut PgConnection, id: Uuid) -> Result<Option<Institution>> {
    Ok(sqlx::query_as(&format!("SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

async fn lock_institution(conn: &mut PgConnection, id: Uuid, field: &str) -> Result<Institution> {
    sqlx::query_as(&format!("SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found("institution", field))
}

async fn save_institution(
    pool: &PgPool,
    caller: &Caller,
    id: Option<Uuid>,
    input: InstitutionInput,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<Institution> {
    let name = text("name", &input.name, 1, 200)?;
    let institution_type = text("institutionType", &input.institution_type, 0, 100)?;
    let address = text("address", &input.address, 0, 500)?;
    let website = clean_website(&input.website)?;
    let mut tx = pool.begin().await?;
    let old = match id {
        Some(id) => {
            let old = lock_institution(&mut tx, id, "id").await?;
            ensure_unchanged("institution", expected_updated_at, old.updated_at)?;
            Some(old)
        }
        None => None,
    };
    let new: Institution = sqlx::query_as(&format!(
        "INSERT INTO institutions (id, name, institution_type, address, website)
         VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = $2, institution_type = $3, address = $4, website = $5
         RETURNING {INSTITUTION_COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(institution_type)
    .bind(address)
    .bind(website)
    .fetch_one(&mut *tx)
    .await?;
    let entry = match &old {
        Some(old) => AuditEntry::new("institution.updated", "institution", new.id).old_values(old),
        None => AuditEntry::new("institution.created", "institution", new.id),
    };
    audit::record(&mut tx, caller, entry.new_values(&new)).await?;
    tx.commit().await?;
    Ok(new)
}

/// A phone number or e-mail address with its kind, as stored.
type KindAndValue = (&'static str, String);

/// Checks and normalises phones and e-mails; a repeated value is refused, not silently merged.
fn clean_details(input: &ContactInput) -> Result<(Vec<KindAndValue>, Vec<KindAndValue>)> {
    let mut phones = Vec::new();
    for (i, phone) in input.phones.iter().enumerate() {
        let field = format!("phones.{i}.number");
        let number = ResourceType::Phone.normalise(&phone.number).map_err(|reason| Error::bad_input(&field, reason))?;
        if phones.iter().any(|(_, n)| *n == number) {
            return Err(Error::bad_input(field, "this number is listed twice"));
        }
        let kind = match phone.kind {
            PhoneKind::Work => "work",
            PhoneKind::Mobile => "mobile",
            PhoneKind::Home => "home",
            PhoneKind::Fax => "fax",
            PhoneKind::Other => "other",
        };
        phones.push((kind, number));
    }
    let mut emails: Vec<KindAndValue> = Vec::new();
    for (i, email) in input.emails.iter().enumerate() {
        let field = format!("emails.{i}.email");
        let address = customers::clean_email(&email.email).map_err(|e| Error::bad_input(&field, e.to_string()))?;
        if emails.iter().any(|(_, e)| e.eq_ignore_ascii_case(&address)) {
            return Err(Error::bad_input(field, "this address is listed twice"));
        }
        let kind = match email.kind {
            EmailKind::Work => "work",
            EmailKind::Personal => "personal",
            EmailKind::Other => "other",
        };
        emails.push((kind, address));
    }
    Ok((phones, emails))
}

/// Creates (`id` absent, `institution_id` given) or updates a contact with its phones and e-mails.
async fn save_contact(
    pool: &PgPool,
    caller: &Caller,
    id: Option<Uuid>,
    institution_id: Option<Uuid>,
    input: ContactInput,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<Contact> {
    let name = text("name", &input.name, 1, 200)?;
    let position = text("position", &input.position, 0, 200)?;
    let (phones, emails) = clean_details(&input)?;
    let mut tx = pool.begin().await?;
    let old: Option<Contact> = match id {
        Some(id) => {
            let old: Contact =
                sqlx::query_as(&format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1 FOR UPDATE"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| Error::not_found("contact", "id"))?;
            ensure_unchanged("contact", expected_updated_at, old.updated_at)?;
            Some(old)
        }
        None => None,
    };
    let contact: Contact = match id {
        None => {
            let institution_id = institution_id.ok_or_else(|| Error::bad_input("institutionId", "required"))?;
            lock_institution(&mut tx, institution_id, "institutionId").await?;
            sqlx::query_as(&format!(
                "INSERT INTO contacts (institution_id, name, position) VALUES ($1, $2, $3) RETURNING {CONTACT_COLUMNS}"
            ))
            .bind(institution_id)
            .bind(&name)
            .bind(&position)
            .fetch_one(&mut *tx)
            .await?
        }
        Some(id) => {
            sqlx::query_as(&format!(
                "UPDATE contacts SET name = $2, position = $3 WHERE id = $1 RETURNING {CONTACT_COLUMNS}"
            ))
            .bind(id)
            .bind(&name)
            .bind(&position)
            // Locked above, so it exists.
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let old_details: serde_json::Value = sqlx::query_scalar(
        "SELECT json_build_object(
             'phones', (SELECT coalesce(json_agg(json_build_object('kind', kind, 'number', number) ORDER BY number), '[]') FROM contact_phones WHERE contact_id = $1),
             'emails', (SELECT coalesce(json_agg(json_build_object('kind', kind, 'email', email) ORDER BY email), '[]') FROM contact_emails WHERE contact_id = $1))",
    )
    .bind(contact.id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM contact_phones WHERE contact_id = $1").bind(contact.id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM contact_emails WHERE contact_id = $1").bind(contact.id).execute(&mut *tx).await?;
    let (kinds, numbers): (Vec<&str>, Vec<String>) = phones.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO contact_phones (contact_id, kind, number) SELECT $1, * FROM unnest($2::text[], $3::text[])",
    )
    .bind(contact.id)
    .bind(&kinds)
    .bind(&numbers)
    .execute(&mut *tx)
    .await?;
    let (kinds, addresses): (Vec<&str>, Vec<String>) = emails.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO contact_emails (contact_id, kind, email) SELECT $1, * FROM unnest($2::text[], $3::text[])",
    )
    .bind(contact.id)
    .bind(&kinds)
    .bind(&addresses)
    .execute(&mut *tx)
    .await?;
    let new_values = serde_json::json!({
        "contact": contact,
        "phones": phones.iter().map(|(k, n)| serde_json::json!({"kind": k, "number": n})).collect::<Vec<_>>(),
        "emails": emails.iter().map(|(k, e)| serde_json::json!({"kind": k, "email": e})).collect::<Vec<_>>(),
    });
    let entry = match id {
        Some(_) => AuditEntry::new("contact.updated", "contact", contact.id).old_values(
            serde_json::json!({"contact": old, "phones": old_details["phones"], "emails": old_details["emails"]}),
        ),
        None => AuditEntry::new("contact.created", "contact", contact.id),
    };
    audit::record(&mut tx, caller, entry.new_values(new_values)).await?;
    tx.commit().await?;
    Ok(contact)
}

/// Links a lead to an existing customer, or (with `new_customer`) creates the customer in the
/// same transaction and links it.
async fn link_customer(
    pool: &PgPool,
    caller: &Caller,
    institution_id: Uuid,
    customer_id: Option<Uuid>,
    new_customer: Option<CreateCustomerInput>,
) -> Result<Institution> {
    let mut tx = pool.begin().await?;
    let old = lock_institution(&mut tx, institution_id, "institutionId").await?;
    if old.customer_id.is_some() {
        return Err(Error::bad_input("institutionId", "this institution is already linked to a customer"));
    }
    let customer_id = match (customer_id, new_customer) {
        (Some(id), _) => {
            customers::find(&mut tx, id).await?.ok_or_else(|| Error::not_found("customer", "customerId"))?.id
        }
        (None, Some(input)) => customers::insert(&mut tx, caller, input).await?.id,
        (None, None) => return Err(Error::bad_input("customerId", "a customer is required")),
    };
    let new: Institution = sqlx::query_as(&format!(
        "UPDATE institutions SET customer_id = $2 WHERE id = $1 RETURNING {INSTITUTION_COLUMNS}"
    ))
    .bind(institution_id)
    .bind(customer_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("institution.linked_to_customer", "institution", institution_id)
            .old_values(serde_json::json!({"customerId": old.customer_id}))
            .new_values(serde_json::json!({"customerId": customer_id})),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Undoes a link: the institution is a lead again; the customer and its licenses stay as they are.
async fn unlink_customer(pool: &PgPool, caller: &Caller, institution_id: Uuid) -> Result<Institution> {
    let mut tx = pool.begin().await?;
    let old = lock_institution(&mut tx, institution_id, "institutionId").await?;
    let Some(customer_id) = old.customer_id else {
        return Err(Error::bad_input("institutionId", "this institution is not linked to a customer"));
    };
    let new: Institution = sqlx::query_as(&format!(
        "UPDATE institutions SET customer_id = NULL WHERE id = $1 RETURNING {INSTITUTION_COLUMNS}"
    ))
    .bind(institution_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        caller,
        AuditEntry::new("institution.unlinked_from_customer", "institution", institution_id)
            .old_values(serde_json::json!({"customerId": customer_id}))
            .new_values(serde_json::json!({"customerId": null})),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

#[derive(Debug, Default, InputObject)]
pub struct InstitutionFilter {
    pub name: Option<StringFilter>,
    pub institution_type: Option<StringFilter>,
    pub address: Option<StringFilter>,
    /// `isNull: true` for leads not yet linked to a customer.
    pub customer_id: Option<IdFilter>,
    pub created_at: Option<DateTimeFilter>,
    /// All of these must hold too.
    pub and: Option<Vec<InstitutionFilter>>,
    /// At least one of these must hold too.
    pub or: Option<Vec<InstitutionFilter>>,
}

impl Filter for InstitutionFilter {
    fn conditions(&self, c: &mut Conditions<'_>) -> Result<()> {
        c.string("name", "name", &self.name)?;
        c.string("institutionType", "institution_type", &self.institution_type)?;
        c.string("address", "address", &self.address)?;
        c.id("customerId", "customer_id", &self.customer_id)?;
        c.datetime("created_at", &self.created_at);
        Ok(())
    }

    nested_filters!();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum InstitutionOrderField {
    Name,
    InstitutionType,
    CreatedAt,
}

#[derive(Debug, InputObject)]
pub struct InstitutionOrder {
    pub field: InstitutionOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

async fn list_institutions(
    pool: &PgPool,
    search: Option<&str>,
    filter: Option<InstitutionFilter>,
    order_by: Vec<InstitutionOrder>,
    args: PageArgs,
) -> async_graphql::Result<ListConnection<Institution>> {
    let pattern = search.map(contains_pattern);
    let query = |select: &str| -> Result<Sql> {
        let mut sql = Sql::new(select);
        sql.push(" FROM institutions WHERE TRUE");
        if let Some(pattern) = &pattern {
            sql.push(" AND (name ILIKE ").push_bind(pattern.clone());
            sql.push(" OR institution_type ILIKE ").push_bind(pattern.clone()).push(")");
        }
        if let Some(filter) = &filter {
            push_filter(&mut sql, filter)?;
        }
        Ok(sql)
    };
    let keys: Vec<_> = order_by.iter().map(|o| (o.field, o.direction)).collect();
    let order = |sql: &mut Sql| {
        push_order(sql, &keys, "name", "id", |field| match field {
            InstitutionOrderField::Name => "name",
            InstitutionOrderField::InstitutionType => "institution_type",
            InstitutionOrderField::CreatedAt => "created_at",
        })
    };
    filtered_page(pool, INSTITUTION_COLUMNS, query, order, args).await
}

/// Institutions and contacts whose name contains `query` (case-insensitive): up to `limit` of
/// each, so that many matching institutions never hide the contacts; institutions first.
async fn search(pool: &PgPool, query: &str, limit: i32) -> Result<Vec<CrmSearchResult>> {
    let query = text("query", query, 1, 200)?;
    if !(1..=100).contains(&limit) {
        return Err(Error::bad_input("limit", "limit must be between 1 and 100"));
    }
    let pattern = contains_pattern(&query);
    let institutions: Vec<Institution> = sqlx::query_as(&format!(
        "SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE name ILIKE $1 ORDER BY name, id LIMIT $2"
    ))
    .bind(&pattern)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    let contacts: Vec<Contact> = sqlx::query_as(&format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE name ILIKE $1 ORDER BY name, id LIMIT $2"
    ))
    .bind(&pattern)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(institutions
        .into_iter()
        .map(CrmSearchResult::Institution)
        .chain(contacts.into_iter().map(CrmSearchResult::Contact))
        .collect())
}

#[derive(Default)]
pub struct CrmQuery;

#[Object]
impl CrmQuery {
    /// Institutions ordered by name unless `orderBy` says otherwise; `search` matches the name or type.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::page_complexity(first, last, child_complexity)"
    )]
    async fn institutions(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        filter: Option<InstitutionFilter>,
        order_by: Option<Vec<InstitutionOrder>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ListConnection<Institution>> {
        let pool = ctx.data_unchecked::<PgPool>();
        let page = PageArgs { after, before, first, last };
        list_institutions(pool, search.as_deref(), filter, order_by.unwrap_or_default(), page).await
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn institution(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Institution>> {
        let id = parse_id(&id, "id").gql()?;
        let mut conn = ctx.data_unchecked::<PgPool>().acquire().await.gql()?;
        find_institution(&mut conn, id).await.gql()
    }

    #[graphql(guard = "Require(Permission::Read)")]
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Contact>> {
        let id = parse_id(&id, "id").gql()?;
        sqlx::query_as(&format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1"))
            .bind(id)
            .fetch_optional(ctx.data_unchecked::<PgPool>())
            .await
            .gql()
    }

    /// Institutions and contacts whose name contains `query`: up to `limit` (1–100) of each,
    /// institutions first, each kind by name.
    #[graphql(
        guard = "Require(Permission::Read)",
        complexity = "crate::graphql::TABLE_SCAN_COMPLEXITY + 2 * crate::graphql::page_complexity(Some(limit), None, child_complexity)"
    )]
    async fn search_crm(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 20)] limit: i32,
    ) -> async_graphql::Result<Vec<CrmSearchResult>> {
        search(ctx.data_unchecked::<PgPool>(), &query, limit).await.gql()
    }
}

#[derive(Default)]
pub struct CrmMutation;

#[Object]
impl CrmMutation {
    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_institution(
        &self,
        ctx: &Context<'_>,
        input: InstitutionInput,
    ) -> async_graphql::Result<Institution> {
        save_institution(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, None, input, None).await.gql()
    }

    /// Replaces the institution's fields. With `expectedUpdatedAt` (the `updatedAt` the change is
    /// based on) a change made by someone else in between is refused with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn update_institution(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: InstitutionInput,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Institution> {
        let id = parse_id(&id, "id").gql()?;
        let (pool, caller) = (ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?);
        save_institution(pool, caller, Some(id), input, expected_updated_at).await.gql()
    }

    #[graphql(guard = "Require(Permission::Write)")]
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        institution_id: ID,
        input: ContactInput,
    ) -> async_graphql::Result<Contact> {
        let institution_id = parse_id(&institution_id, "institutionId").gql()?;
        save_contact(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, None, Some(institution_id), input, None)
            .await
            .gql()
    }

    /// Replaces the contact's name, position, phones and e-mails. With `expectedUpdatedAt` (the
    /// `updatedAt` the change is based on) a change made by someone else in between is refused
    /// with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ContactInput,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Contact> {
        let id = parse_id(&id, "id").gql()?;
        let (pool, caller) = (ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?);
        save_contact(pool, caller, Some(id), None, input, expected_updated_at).await.gql()
    }

    /// Adds a note to an institution or a contact (exactly one of the two).
    #[graphql(guard = "Require(Permission::Write)")]
    async fn add_note(
        &self,
        ctx: &Context<'_>,
        institution_id: Option<ID>,
        contact_id: Option<ID>,
        body: String,
    ) -> async_graphql::Result<Note> {
        let subject = match (institution_id, contact_id) {
            (Some(id), None) => Subject::Institution(parse_id(&id, "institutionId").gql()?),
            (None, Some(id)) => Subject::Contact(parse_id(&id, "contactId").gql()?),
            _ => {
                return Err(Error::bad_input("institutionId", "give exactly one of institutionId and contactId")).gql()
            }
        };
        let pool = ctx.data_unchecked::<PgPool>();
        let (sql, id, field) = match subject {
            Subject::Institution(id) => {
                ("SELECT EXISTS (SELECT 1 FROM institutions WHERE id = $1)", id, "institutionId")
            }
            Subject::Contact(id) => ("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1)", id, "contactId"),
        };
        if !sqlx::query_scalar::<_, bool>(sql).bind(id).fetch_one(pool).await.gql()? {
            return Err(Error::not_found("note subject", field)).gql();
        }
        notes::add(pool, caller(ctx).gql()?, subject, &body).await.gql()
    }

    /// Replaces a note's text with a new version; earlier versions stay readable. The same text
    /// again adds no version. With `expectedVersion` (the version the edit is based on) an edit
    /// made by someone else in between is refused with `CONFLICT`.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn edit_note(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Note> {
        let id = parse_id(&id, "id").gql()?;
        notes::edit(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, id, &body, expected_version).await.gql()
    }

    /// Links a lead to an existing customer.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn link_institution_to_customer(
        &self,
        ctx: &Context<'_>,
        institution_id: ID,
        customer_id: ID,
    ) -> async_graphql::Result<Institution> {
        let institution_id = parse_id(&institution_id, "institutionId").gql()?;
        let customer_id = parse_id(&customer_id, "customerId").gql()?;
        link_customer(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, institution_id, Some(customer_id), None)
            .await
            .gql()
    }

    /// Removes the link between an institution and its customer (the customer stays).
    #[graphql(guard = "Require(Permission::Write)")]
    async fn unlink_institution_from_customer(
        &self,
        ctx: &Context<'_>,
        institution_id: ID,
    ) -> async_graphql::Result<Institution> {
        let institution_id = parse_id(&institution_id, "institutionId").gql()?;
        unlink_customer(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, institution_id).await.gql()
    }

    /// Turns a lead into a customer: creates the customer and links it, in one transaction.
    #[graphql(guard = "Require(Permission::Write)")]
    async fn convert_institution_to_customer(
        &self,
        ctx: &Context<'_>,
        institution_id: ID,
        customer: CreateCustomerInput,
    ) -> async_graphql::Result<Institution> {
        let institution_id = parse_id(&institution_id, "institutionId").gql()?;
        link_customer(ctx.data_unchecked::<PgPool>(), caller(ctx).gql()?, institution_id, None, Some(customer))
            .await
            .gql()
    }
}
