//! The lead CRM: institutions, their contacts with typed phones and e-mails, versioned notes, and
//! the step from lead to customer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::customers::CustomerRef;
use super::decode::{enum_from_json, field, from_json, typename, FromJson};
use super::{documents, gql, with_page, ApiError, Connection, Page};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneKind {
    Work,
    Mobile,
    Home,
    Fax,
    Other,
}

impl PhoneKind {
    pub const ALL: [PhoneKind; 5] =
        [PhoneKind::Work, PhoneKind::Mobile, PhoneKind::Home, PhoneKind::Fax, PhoneKind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Work => "WORK",
            PhoneKind::Mobile => "MOBILE",
            PhoneKind::Home => "HOME",
            PhoneKind::Fax => "FAX",
            PhoneKind::Other => "OTHER",
        }
    }

    /// The text key of its label.
    pub fn label_key(self) -> &'static str {
        match self {
            PhoneKind::Work => "crm.kind.work",
            PhoneKind::Mobile => "crm.kind.mobile",
            PhoneKind::Home => "crm.kind.home",
            PhoneKind::Fax => "crm.kind.fax",
            PhoneKind::Other => "crm.kind.other",
        }
    }

    pub fn parse(value: &str) -> PhoneKind {
        PhoneKind::ALL.into_iter().find(|k| k.as_str() == value).unwrap_or(PhoneKind::Other)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailKind {
    Work,
    Personal,
    Other,
}

impl EmailKind {
    pub const ALL: [EmailKind; 3] = [EmailKind::Work, EmailKind::Personal, EmailKind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Work => "WORK",
            EmailKind::Personal => "PERSONAL",
            EmailKind::Other => "OTHER",
        }
    }

    /// The text key of its label.
    pub fn label_key(self) -> &'static str {
        match self {
            EmailKind::Work => "crm.kind.work",
            EmailKind::Personal => "crm.kind.personal",
            EmailKind::Other => "crm.kind.other",
        }
    }

    pub fn parse(value: &str) -> EmailKind {
        EmailKind::ALL.into_iter().find(|k| k.as_str() == value).unwrap_or(EmailKind::Other)
    }
}

from_json! {
    /// An institution as the list shows it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Institution {
        pub id: String,
        pub name: String,
        pub institution_type: String,
        pub address: String,
        pub website: String,
        pub created_at: DateTime<Utc>,
        /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
        pub updated_at: String,
        pub customer: Option<CustomerRef>,
    }
}

/// An institution with its contacts and notes, for its own page.
#[derive(Clone, Debug, PartialEq)]
pub struct InstitutionDetail {
    pub institution: Institution,
    pub contacts: Vec<Contact>,
    pub notes: Vec<Note>,
}

impl FromJson for InstitutionDetail {
    fn from_json(json: &Value) -> Option<Self> {
        Some(InstitutionDetail {
            institution: Institution::from_json(json)?,
            contacts: field(json, "contacts")?,
            notes: field(json, "notes")?,
        })
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct ContactPhone {
        pub kind: PhoneKind,
        pub number: String,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct ContactEmail {
        pub kind: EmailKind,
        pub email: String,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct Contact {
        pub id: String,
        pub name: String,
        pub position: String,
        /// As the server wrote it: sent back unchanged as `expectedUpdatedAt` with an edit.
        pub updated_at: String,
        pub phones: Vec<ContactPhone>,
        pub emails: Vec<ContactEmail>,
        pub notes: Vec<Note>,
    }
}

impl Contact {
    /// The contact as it is, in the shape `updateContact` takes (which replaces everything).
    pub fn input(&self) -> ContactInput {
        ContactInput {
            name: self.name.clone(),
            position: self.position.clone(),
            phones: self.phones.clone(),
            emails: self.emails.clone(),
        }
    }
}

/// `ContactInput` of the API: phones and e-mails given here replace all of the contact's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContactInput {
    pub name: String,
    pub position: String,
    pub phones: Vec<ContactPhone>,
    pub emails: Vec<ContactEmail>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstitutionInput {
    pub name: String,
    pub institution_type: String,
    pub address: String,
    pub website: String,
}

impl From<&Institution> for InstitutionInput {
    fn from(institution: &Institution) -> Self {
        InstitutionInput {
            name: institution.name.clone(),
            institution_type: institution.institution_type.clone(),
            address: institution.address.clone(),
            website: institution.website.clone(),
        }
    }
}

from_json! {
    /// A note with its current text and every version, oldest first (the last is the current one).
    #[derive(Clone, Debug, PartialEq)]
    pub struct Note {
        pub id: String,
        pub body: String,
        pub version: i32,
        pub created_at: DateTime<Utc>,
        pub edited_at: DateTime<Utc>,
        pub edited_by: String,
        pub versions: Vec<NoteVersion>,
    }
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct NoteVersion {
        pub version: i32,
        pub body: String,
        pub edited_by: String,
        pub edited_at: DateTime<Utc>,
    }
}

/// What a note is about.
#[derive(Clone, Debug, PartialEq)]
pub enum NoteSubject {
    Institution(String),
    Contact(String),
}

from_json! {
    #[derive(Clone, Debug, PartialEq)]
    pub struct InstitutionRef {
        pub id: String,
        pub name: String,
    }
}

/// A hit of the name search over institutions and contacts.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchHit {
    Institution { id: String, name: String, institution_type: String },
    Contact { id: String, name: String, position: String, institution: Option<InstitutionRef> },
}

impl FromJson for SearchHit {
    fn from_json(json: &Value) -> Option<Self> {
        match typename(json)? {
            "Institution" => Some(SearchHit::Institution {
                id: field(json, "id")?,
                name: field(json, "name")?,
                institution_type: field(json, "institution_type")?,
            }),
            "Contact" => Some(SearchHit::Contact {
                id: field(json, "id")?,
                name: field(json, "name")?,
                position: field(json, "position")?,
                institution: field(json, "institution")?,
            }),
            _ => None,
        }
    }
}

pub async fn institutions(search: &str, page: &Page) -> Result<Connection<Institution>, ApiError> {
    let search = (!search.trim().is_empty()).then(|| search.trim());
    gql(documents::INSTITUTIONS, with_page(json!({"s": search}), page), "institutions").await
}

pub async fn institution(id: &str) -> Result<Option<InstitutionDetail>, ApiError> {
    gql(documents::INSTITUTION, json!({"id": id}), "institution").await
}

/// Institutions and contacts whose name contains `text`, institutions first.
pub async fn search(text: &str) -> Result<Vec<SearchHit>, ApiError> {
    gql(documents::SEARCH_CRM, json!({"q": text.trim()}), "searchCrm").await
}

pub async fn create_institution(input: &InstitutionInput) -> Result<Institution, ApiError> {
    gql(documents::CREATE_INSTITUTION, json!({"i": input}), "createInstitution").await
}

/// Saves the institution, unless someone else changed it after `read_at` (its `updatedAt` when
/// read): then [`ApiError::Conflict`].
pub async fn update_institution(id: &str, input: &InstitutionInput, read_at: &str) -> Result<Institution, ApiError> {
    gql(documents::UPDATE_INSTITUTION, json!({"id": id, "i": input, "at": read_at}), "updateInstitution").await
}

pub async fn create_contact(institution_id: &str, input: &ContactInput) -> Result<Contact, ApiError> {
    gql(documents::CREATE_CONTACT, json!({"id": institution_id, "i": input}), "createContact").await
}

/// Replaces the contact's name, position, phones and e-mails with `input`, unless someone else
/// changed the contact after `read_at` (its `updatedAt` when read): then [`ApiError::Conflict`].
pub async fn update_contact(id: &str, input: &ContactInput, read_at: &str) -> Result<Contact, ApiError> {
    gql(documents::UPDATE_CONTACT, json!({"id": id, "i": input, "at": read_at}), "updateContact").await
}

pub async fn add_note(subject: &NoteSubject, body: &str) -> Result<Note, ApiError> {
    let (institution_id, contact_id) = match subject {
        NoteSubject::Institution(id) => (Some(id), None),
        NoteSubject::Contact(id) => (None, Some(id)),
    };
    gql(documents::ADD_NOTE, json!({"i": institution_id, "c": contact_id, "body": body}), "addNote").await
}

/// Adds a version to the note (the earlier ones stay), unless someone else edited it after the
/// `version` this edit starts from: then [`ApiError::Conflict`].
pub async fn edit_note(id: &str, body: &str, version: i32) -> Result<Note, ApiError> {
    gql(documents::EDIT_NOTE, json!({"id": id, "body": body, "v": version}), "editNote").await
}

pub async fn link_to_customer(institution_id: &str, customer_id: &str) -> Result<Institution, ApiError> {
    let variables = json!({"i": institution_id, "c": customer_id});
    gql(documents::LINK_INSTITUTION_TO_CUSTOMER, variables, "linkInstitutionToCustomer").await
}

/// Makes the institution a lead again; the customer stays.
pub async fn unlink_from_customer(institution_id: &str) -> Result<Institution, ApiError> {
    gql(documents::UNLINK_INSTITUTION_FROM_CUSTOMER, json!({"i": institution_id}), "unlinkInstitutionFromCustomer")
        .await
}

/// Creates a customer from the lead and links it, in one step.
pub async fn convert_to_customer(institution_id: &str, name: &str, email: &str) -> Result<Institution, ApiError> {
    let variables = json!({"i": institution_id, "c": {"name": name, "email": email}});
    gql(documents::CONVERT_INSTITUTION_TO_CUSTOMER, variables, "convertInstitutionToCustomer").await
}

enum_from_json!(PhoneKind, EmailKind);
