//! A page of customers read together with their licenses and the licenses' active devices in one
//! statement, planned from the selection set: `customers { … licenses { … devices { … } } }`
//! would otherwise take four round trips (count, page, then one batch load per level).
//!
//! Like PostGraphile, the statement joins each customer's licenses laterally to the page (their
//! devices, a few per license, by a plain join); unlike it, the database builds no JSON: it
//! returns one flat row per device (customer and license columns repeated), which is cheaper to
//! produce and to decode than nested `json_agg`. The nested rows travel with their parents
//! ([`ReadAhead`]), and the nested resolvers answer from them: the same rows in the same order as
//! their loaders (`LicensesOfCustomer`, `ActiveDevicesOfLicense`) read, with the same filters and
//! orders (`licenses::NEWEST_FIRST`, `devices::SELECT` and `devices::ACTIVE_ORDER` are shared).
//! Every other shape goes through the loaders.

use async_graphql::connection::CursorType;
use async_graphql::Lookahead;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{push_customer_order, push_selection, Customer, CustomerFilter, CustomerOrder, COLUMNS};
use crate::devices::{self, Device};
use crate::error::GqlResultExt;
use crate::graphql::filter::{contains_pattern, push_page, Sql};
use crate::graphql::loaders::ReadAhead;
use crate::graphql::pagination::{paginate, ListConnection, PageArgs, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::licenses::{self, License};

/// The columns a device row has, as `devices::SELECT` names them.
const DEVICE_COLUMNS: &str = "id, license_id, hardware_fingerprint, device_name, device_type, first_activated_at, \
                              last_seen_at, is_active, deactivated_at";

/// What one planned statement reads: a page of `limit` customers from `offset`, their licenses,
/// with `devices` the licenses' active devices, and with `sightings` their `lastSeenAt` (else the
/// devices' `last_seen_at` is the row's, never shown since nobody asked for it). Of the licenses
/// and devices it reads the columns their selected fields show ([`Columns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    offset: i64,
    limit: i64,
    /// Whether anything shows the count of all matching customers (`totalCount`, `pageInfo`).
    counted: bool,
    devices: bool,
    sightings: bool,
    license_columns: Columns,
    device_columns: Columns,
}

/// The columns of a table that a selection needs: the id and the foreign keys always (the fields
/// leading to other rows need nothing else), and the column of each selected field that shows one
/// column (`licenseKey`: `license_key`). A selection with any other field needs all of them.
/// The rest are left out of the statement: a license's `features` and `notes`, or a device's
/// timestamps, are most of a row's width, and the page reads a thousand of them. A struct field
/// whose column was left out keeps its default, which no selected field shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Columns {
    All,
    Only(Vec<&'static str>),
}

impl Columns {
    /// What the fields selected under `lists` (every place the list is selected) need of
    /// `columns` (as `COLUMNS` spells them), given the fields that need only `keys`.
    fn selected(lists: &[Lookahead<'_>], columns: &'static str, keys: &[&'static str], relations: &[&str]) -> Self {
        let all: Vec<&'static str> = columns.split(',').map(str::trim).collect();
        let mut needed: Vec<&'static str> = keys.to_vec();
        for list in lists {
            for field in list.selection_fields().iter().flat_map(|field| field.selection_set()) {
                let name = field.name();
                if name == "__typename" || relations.contains(&name) {
                    continue;
                }
                let column = crate::graphql::snake_case(name);
                match all.iter().find(|c| **c == column) {
                    Some(c) if !needed.contains(c) => needed.push(c),
                    Some(_) => {}
                    None => return Columns::All,
                }
            }
        }
        Columns::Only(needed)
    }

    /// The comma-separated columns of `all` (a `COLUMNS` list) this reads.
    fn of(&self, all: &'static str) -> String {
        match self {
            Columns::All => all.to_owned(),
            Columns::Only(columns) => columns.join(", "),
        }
    }
}

/// The fields of a license and of a device that lead to other rows by the id or a foreign key.
const LICENSE_RELATIONS: [&str; 5] = ["customer", "devices", "liveSessions", "resources", "sessionHistory"];
const DEVICE_RELATIONS: [&str; 2] = ["liveSession", "license"];

impl Plan {
    /// The plan for a `customers` selection that reads the page's licenses (under `edges.node`
    /// or `nodes`) of a forward page (`first`, `after`); none for any other shape, or for page
    /// arguments the connection refuses (which the loader path then reports).
    pub fn for_selection(look: &Lookahead<'_>, page: &PageArgs) -> Option<Plan> {
        let licenses = [look.field("edges").field("node"), look.field("nodes")].map(|node| node.field("licenses"));
        if !licenses.iter().any(Lookahead::exists) || page.before.is_some() || page.last.is_some() {
            return None;
        }
        let limit = match page.first {
            None => DEFAULT_PAGE_SIZE,
            Some(first) => usize::try_from(first).ok().filter(|first| *first <= MAX_PAGE_SIZE)?,
        };
        let offset = match &page.after {
            None => 0,
            Some(cursor) => usize::decode_cursor(cursor).ok()?.checked_add(1)?,
        };
        let devices = licenses.iter().map(|l| l.field("devices")).filter(Lookahead::exists).collect::<Vec<_>>();
        let licenses = licenses.into_iter().filter(Lookahead::exists).collect::<Vec<_>>();
        Some(Plan {
            offset: i64::try_from(offset).ok()?,
            limit: i64::try_from(limit).ok()?,
            counted: look.field("totalCount").exists() || look.field("pageInfo").exists(),
            sightings: devices.iter().any(|d| d.field("lastSeenAt").exists()),
            devices: !devices.is_empty(),
            license_columns: Columns::selected(
                &licenses,
                licenses::COLUMNS,
                &["id", "customer_id"],
                &LICENSE_RELATIONS,
            ),
            device_columns: Columns::selected(&devices, DEVICE_COLUMNS, &["id", "license_id"], &DEVICE_RELATIONS),
        })
    }
}

/// `t.a AS p_a, t.b AS p_b, …` for the comma-separated `columns` of table alias `table`.
fn prefixed(columns: &str, table: &str, prefix: &str) -> String {
    columns.split(',').map(str::trim).map(|c| format!("{table}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

/// The page as `list` would answer it, with every customer's licenses (and their devices) read ahead.
pub async fn page(
    pool: &PgPool,
    plan: Plan,
    search: Option<&str>,
    filter: Option<CustomerFilter>,
    order_by: &[CustomerOrder],
    args: PageArgs,
) -> async_graphql::Result<ListConnection<Customer>> {
    let pattern = search.map(contains_pattern);
    let mut order = Sql::new("");
    push_customer_order(&mut order, order_by).gql()?;
    let order = order.sql().to_owned();

    // The page first (a top-N sort), then its rows numbered by the same order: numbering every
    // matching customer before the limit would sort them all.
    let mut sql = Sql::new(format!(
        "WITH page AS (SELECT *, row_number() OVER ({order}) AS page_position FROM (SELECT {COLUMNS}"
    ));
    push_selection(&mut sql, pattern.as_deref(), filter.as_ref()).gql()?;
    sql.push(&order);
    push_page(&mut sql, plan.offset, plan.limit);
    sql.push(") numbered");
    if plan.counted {
        sql.push("), total AS (SELECT count(*) AS total");
        push_selection(&mut sql, pattern.as_deref(), filter.as_ref()).gql()?;
        sql.push(") SELECT total.total, ");
    } else {
        sql.push(") SELECT ");
    }
    let newest_first = licenses::NEWEST_FIRST;
    sql.push(format!(
        "{customer}, l.*{devices}
         FROM {from}
         LEFT JOIN LATERAL (SELECT {license}, row_number() OVER ({newest_first}) AS l_position
                            FROM licenses l WHERE l.customer_id = c.id {newest_first} LIMIT {MAX_PAGE_SIZE}) l ON TRUE",
        customer = prefixed(COLUMNS, "c", "c_"),
        from = if plan.counted { "total LEFT JOIN page c ON TRUE" } else { "page c" },
        license = prefixed(&plan.license_columns.of(licenses::COLUMNS), "l", "l_"),
        devices = if plan.devices {
            format!(", {}", prefixed(&plan.device_columns.of(DEVICE_COLUMNS), "d", "d_"))
        } else {
            String::new()
        },
    ));
    if plan.devices {
        // A plain join, ordered once with the rest: a license's active devices are at most its
        // device limit, and a lateral subquery numbering them would sort each license's apart.
        sql.push(format!(
            " LEFT JOIN ({select} WHERE d.is_active) d ON d.license_id = l.l_id
             ORDER BY c.page_position, l.l_position, {active_order}",
            select = if plan.sightings { devices::SELECT } else { devices::SELECT_UNSIGHTED },
            active_order = devices::ACTIVE_ORDER,
        ));
    } else {
        sql.push(" ORDER BY c.page_position, l.l_position");
    }
    let rows = sql.build().fetch_all(pool).await.gql()?;
    // Uncounted, the page ends where its rows do: nothing selected shows the count.
    let total: i64 = if plan.counted {
        rows.first().map(|row| row.try_get("total")).transpose().gql()?.unwrap_or(0)
    } else {
        i64::MAX
    };
    let customers = assemble(&rows, plan.devices).gql()?;
    paginate(args, total, |_, _| async move { Ok(customers) }).await
}

/// A customer with its licenses, each with its devices, as the flat rows are grouped.
type Grouped = Vec<(Customer, Vec<(License, Vec<Device>)>)>;

/// The customers of the flat rows (ordered by customer, license, device), each with its licenses
/// and, with `devices`, each license with its devices.
fn assemble(rows: &[PgRow], devices: bool) -> sqlx::Result<Vec<Customer>> {
    let mut customers: Grouped = Vec::new();
    for row in rows {
        let Some(customer_id) = row.try_get::<Option<Uuid>, _>("c_id")? else { continue };
        if customers.last().map(|(c, _)| c.id.0) != Some(customer_id) {
            customers.push((customer(row)?, Vec::new()));
        }
        let Some((_, licenses)) = customers.last_mut() else { continue };
        let Some(license_id) = row.try_get::<Option<Uuid>, _>("l_id")? else { continue };
        if licenses.last().map(|(l, _)| l.id.0) != Some(license_id) {
            licenses.push((license(row)?, Vec::new()));
        }
        let Some((_, license_devices)) = licenses.last_mut() else { continue };
        if devices && row.try_get::<Option<Uuid>, _>("d_id")?.is_some() {
            license_devices.push(device(row)?);
        }
    }
    Ok(customers
        .into_iter()
        .map(|(mut customer, licenses)| {
            let licenses = licenses
                .into_iter()
                .map(|(mut license, read)| {
                    if devices {
                        license.devices_read = ReadAhead::new(read);
                    }
                    license
                })
                .collect();
            customer.licenses_read = ReadAhead::new(licenses);
            customer
        })
        .collect())
}

/// The column `name` of `row`, or the type's default when the statement left it out ([`Columns`]).
fn column<'r, T>(row: &'r PgRow, name: &str) -> sqlx::Result<T>
where
    T: Default + sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    match row.try_get(name) {
        Err(sqlx::Error::ColumnNotFound(_)) => Ok(T::default()),
        read => read,
    }
}

fn customer(row: &PgRow) -> sqlx::Result<Customer> {
    Ok(Customer {
        name: row.try_get("c_name")?,
        email: row.try_get("c_email")?,
        is_test: row.try_get("c_is_test")?,
        created_at: row.try_get("c_created_at")?,
        updated_at: row.try_get("c_updated_at")?,
        id: row.try_get("c_id")?,
        licenses_read: ReadAhead::default(),
    })
}

fn license(row: &PgRow) -> sqlx::Result<License> {
    Ok(License {
        license_key: column(row, "l_license_key")?,
        license_type: column(row, "l_license_type")?,
        valid_from: column(row, "l_valid_from")?,
        valid_until: column(row, "l_valid_until")?,
        is_active: column(row, "l_is_active")?,
        device_limit: column(row, "l_device_limit")?,
        concurrent_sessions_limit: column(row, "l_concurrent_sessions_limit")?,
        features: column(row, "l_features")?,
        offline_grace_seconds: column(row, "l_offline_grace_seconds")?,
        max_device_releases: column(row, "l_max_device_releases")?,
        notes: column(row, "l_notes")?,
        created_at: column(row, "l_created_at")?,
        updated_at: column(row, "l_updated_at")?,
        id: row.try_get("l_id")?,
        customer_id: row.try_get("l_customer_id")?,
        devices_read: ReadAhead::default(),
    })
}

fn device(row: &PgRow) -> sqlx::Result<Device> {
    Ok(Device {
        hardware_fingerprint: column(row, "d_hardware_fingerprint")?,
        device_name: column(row, "d_device_name")?,
        device_type: column(row, "d_device_type")?,
        first_activated_at: column(row, "d_first_activated_at")?,
        last_seen_at: column(row, "d_last_seen_at")?,
        is_active: column(row, "d_is_active")?,
        deactivated_at: column(row, "d_deactivated_at")?,
        id: row.try_get("d_id")?,
        license_id: row.try_get("d_license_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_prefixed_with_their_table() {
        assert_eq!(prefixed("id, name", "c", "c_"), "c.id AS c_id, c.name AS c_name");
    }
}
