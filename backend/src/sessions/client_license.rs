//! What a client application sees of its license, and the signed lease it gets with every grant,
//! accepted heartbeat and validation (`crate::leases` signs them).

use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::ClientPool;
use crate::error::{GqlResultExt, Result};
use crate::leases::{LeaseHolder, LeaseTerms, Leases};
use crate::licenses::{License, LicenseType};
use crate::resources::{self, ResourceState, ResourceType};

/// The terms of a license that a lease states, as read with the grant or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseTerms {
    pub license_id: Uuid,
    pub license_type: String,
    pub valid_until: Option<DateTime<Utc>>,
    pub features: Vec<String>,
    pub offline_grace_seconds: i32,
}

impl From<&License> for LicenseTerms {
    fn from(license: &License) -> Self {
        LicenseTerms {
            license_id: license.id.0,
            license_type: license.license_type.clone(),
            valid_until: license.valid_until,
            features: license.features.clone(),
            offline_grace_seconds: license.offline_grace_seconds,
        }
    }
}

/// Everything a lease names: the license's terms, the device (and its session, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSubject {
    pub terms: LicenseTerms,
    pub device_id: Uuid,
    pub session_id: Option<Uuid>,
    pub hardware_fingerprint: String,
}

impl LeaseSubject {
    /// A lease issued at `now` for a holder licensed until `until` (its session's deadline):
    /// valid until `until` plus the offline grace, never past the license's end.
    pub async fn sign(&self, leases: &Leases, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<String> {
        let terms = LeaseTerms {
            license_id: self.terms.license_id,
            license_type: &self.terms.license_type,
            valid_until: self.terms.valid_until,
            features: &self.terms.features,
            offline_grace_seconds: self.terms.offline_grace_seconds,
        };
        let holder = LeaseHolder {
            device_id: self.device_id,
            session_id: self.session_id,
            hardware_fingerprint: &self.hardware_fingerprint,
        };
        leases.sign(&terms, &holder, now, until).await
    }
}

/// The lease field of a result: signed only when the client selects it.
pub(super) async fn lease_field(
    ctx: &Context<'_>,
    subject: &LeaseSubject,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> async_graphql::Result<String> {
    subject.sign(ctx.data_unchecked::<Leases>(), now, until).await.gql()
}

/// The license as its client application sees it.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct ClientLicense {
    pub license_type: LicenseType,
    /// Open-ended when null.
    pub valid_until: Option<DateTime<Utc>>,
    /// Named features (editions, modules) the application may unlock.
    pub features: Vec<String>,
    /// How long the application may stay licensed without reaching the server, beyond its
    /// session's deadline: leases expire that much later (never past `validUntil`).
    pub offline_grace_seconds: i32,
    #[graphql(skip)]
    pub license_id: Uuid,
}

impl From<&License> for ClientLicense {
    fn from(license: &License) -> Self {
        ClientLicense {
            license_type: LicenseType::parse(&license.license_type),
            valid_until: license.valid_until,
            features: license.features.clone(),
            offline_grace_seconds: license.offline_grace_seconds,
            license_id: license.id.0,
        }
    }
}

#[ComplexObject]
impl ClientLicense {
    /// The resources (domains, IPv4 addresses, phone numbers) allocated to the license, by type
    /// and value.
    #[graphql(complexity = "crate::graphql::NESTED_LIST_ESTIMATE * child_complexity")]
    async fn resources(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ClientResource>> {
        let pool = ctx.data_unchecked::<ClientPool>();
        let resources = resources::list_for_license(pool, self.license_id).await.gql()?;
        Ok(resources
            .into_iter()
            .filter(|r| ResourceState::parse(&r.state) == ResourceState::Allocated)
            .map(|r| ClientResource { resource_type: ResourceType::parse(&r.resource_type), value: r.value })
            .collect())
    }
}

/// One resource allocated to the license.
#[derive(Debug, Clone, SimpleObject)]
pub struct ClientResource {
    #[graphql(name = "type")]
    pub resource_type: ResourceType,
    /// In normal form: lower-case ASCII domain, dotted-quad IPv4, E.164 phone number.
    pub value: String,
}
