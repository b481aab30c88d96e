//! The lead CRM: institutions, contacts with typed phones and e-mails, versioned notes, the step
//! from lead to customer, and the name search.

use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, TestApp};

const CREATE_INSTITUTION: &str = "mutation($i: InstitutionInput!) { createInstitution(input: $i) { id name website } }";
const CREATE_CONTACT: &str =
    "mutation($inst: ID!, $i: ContactInput!) { createContact(institutionId: $inst, input: $i) {
    id name position phones { kind number } emails { kind email } } }";
const ADD_NOTE: &str = "mutation($inst: ID, $c: ID, $b: String!) { addNote(institutionId: $inst, contactId: $c, body: $b) { id body version } }";
const EDIT_NOTE: &str = "mutation($id: ID!, $b: String!) { editNote(id: $id, body: $b) { id body version editedBy } }";
const CONVERT: &str = "mutation($inst: ID!, $c: CreateCustomerInput!) { convertInstitutionToCustomer(institutionId: $inst, customer: $c) {
    customerId customer { name email } } }";

async fn institution(app: &TestApp, admin: &str, name: &str) -> String {
    let reply = app.gql(admin, CREATE_INSTITUTION, json!({"i": {"name": name, "institutionType": "hospital"}})).await;
    reply.data("createInstitution")["id"].as_str().unwrap().to_owned()
}

async fn crm_rows(pool: &PgPool) -> i64 {
    count(
        pool,
        "SELECT (SELECT count(*) FROM institutions) + (SELECT count(*) FROM contacts) + (SELECT count(*) FROM contact_phones)
              + (SELECT count(*) FROM contact_emails) + (SELECT count(*) FROM notes) + (SELECT count(*) FROM note_versions)
              + (SELECT count(*) FROM customers)",
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lead_keeps_its_contacts_typed_details_and_every_version_of_its_notes(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let reply = app
        .gql(
            &admin,
            CREATE_INSTITUTION,
            json!({"i": {"name": " Charité Berlin ", "institutionType": "hospital", "address": "Charitéplatz 1, Berlin", "website": "https://www.charite.de/kontakt"}}),
        )
        .await;
    let created = reply.data("createInstitution");
    assert_eq!(created["name"], "Charité Berlin");
    let inst = created["id"].as_str().unwrap().to_owned();

    let reply = app
        .gql(
            &admin,
            CREATE_CONTACT,
            json!({"inst": inst, "i": {"name": "Dr. Anna Schmidt", "position": "CIO",
                "phones": [{"kind": "WORK", "number": "+49 30 450 50"}, {"kind": "MOBILE", "number": "+49 151 23456789"}],
                "emails": [{"kind": "WORK", "email": "anna.schmidt@charite.example"}, {"kind": "PERSONAL", "email": "anna@mail.example"}]}}),
        )
        .await;
    let contact = reply.data("createContact").clone();
    assert_eq!(
        contact["phones"],
        json!([{"kind": "MOBILE", "number": "+4915123456789"}, {"kind": "WORK", "number": "+493045050"}])
    );
    assert_eq!(contact["emails"].as_array().unwrap().len(), 2);
    let contact_id = contact["id"].as_str().unwrap();

    let note = app.gql(&admin, ADD_NOTE, json!({"inst": inst, "b": "First call: interested in 50 seats"})).await;
    let note_id = note.data("addNote")["id"].as_str().unwrap().to_owned();
    assert_eq!(note.data("addNote")["version"], 1);
    app.gql(&admin, ADD_NOTE, json!({"c": contact_id, "b": "Prefers e-mail"})).await.data("addNote");
    let edited = app.gql(&admin, EDIT_NOTE, json!({"id": note_id, "b": "First call: interested in 80 seats"})).await;
    assert_eq!(edited.data("editNote")["version"], 2);
    assert_eq!(edited.data("editNote")["editedBy"], "test Admin");
    app.gql(&admin, EDIT_NOTE, json!({"id": note_id, "b": "Offer sent"})).await.data("editNote");
    // Saving the same text again is no new version.
    let unchanged = app.gql(&admin, EDIT_NOTE, json!({"id": note_id, "b": " Offer sent "})).await;
    assert_eq!(unchanged.data("editNote")["version"], 3);

    let read = app
        .gql(
            &admin,
            "query($id: ID!) { institution(id: $id) { name address website
                notes { body version versions { version body } }
                contacts { name position notes { body } phones { number } } } }",
            json!({"id": inst}),
        )
        .await;
    let read = read.data("institution");
    assert_eq!(read["notes"][0]["body"], "Offer sent");
    assert_eq!(read["notes"][0]["version"], 3);
    let versions: Vec<&str> =
        read["notes"][0]["versions"].as_array().unwrap().iter().map(|v| v["body"].as_str().unwrap()).collect();
    assert_eq!(versions, ["First call: interested in 50 seats", "First call: interested in 80 seats", "Offer sent"]);
    assert_eq!(read["contacts"][0]["notes"][0]["body"], "Prefers e-mail");
    assert_eq!(read["contacts"][0]["position"], "CIO");

    // The database itself refuses to rewrite an earlier version.
    let tamper = sqlx::query("UPDATE note_versions SET body = 'rewritten'").execute(&pool).await;
    assert!(tamper.is_err(), "note versions cannot be rewritten");
    assert_eq!(count(&pool, "SELECT count(*) FROM note_versions WHERE body = 'rewritten'").await, 0);

    // Replacing the contact's details keeps exactly the new ones.
    let updated = app
        .gql(
            &admin,
            "mutation($id: ID!, $i: ContactInput!) { updateContact(id: $id, input: $i) { name phones { kind number } emails { email } } }",
            json!({"id": contact_id, "i": {"name": "Dr. Anna Schmidt-Meyer", "phones": [{"kind": "FAX", "number": "+49 30 450 51"}]}}),
        )
        .await;
    assert_eq!(
        updated.data("updateContact"),
        &json!({"name": "Dr. Anna Schmidt-Meyer", "phones": [{"kind": "FAX", "number": "+493045051"}], "emails": []})
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log WHERE entity_type IN ('institution', 'contact', 'note')").await,
        7
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_crm_input_is_refused_naming_the_field_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let inst = institution(&app, &admin, "Uni Example").await;
    let before = crm_rows(&pool).await;
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;

    let contact = |i: Value| json!({"inst": inst, "i": i});
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (CREATE_INSTITUTION, json!({"i": {"name": "  "}}), "BAD_USER_INPUT", "name"),
        (CREATE_INSTITUTION, json!({"i": {"name": "X", "website": "not a site"}}), "BAD_USER_INPUT", "website"),
        (CREATE_CONTACT, contact(json!({"name": ""})), "BAD_USER_INPUT", "name"),
        (
            CREATE_CONTACT,
            contact(json!({"name": "A", "phones": [{"kind": "WORK", "number": "030 1234"}]})),
            "BAD_USER_INPUT",
            "phones.0.number",
        ),
        (
            CREATE_CONTACT,
            contact(
                json!({"name": "A", "phones": [{"kind": "WORK", "number": "+49 30 45050"}, {"kind": "FAX", "number": "+493045050"}]}),
            ),
            "BAD_USER_INPUT",
            "phones.1.number",
        ),
        (
            CREATE_CONTACT,
            contact(json!({"name": "A", "emails": [{"kind": "WORK", "email": "no-at-sign"}]})),
            "BAD_USER_INPUT",
            "emails.0.email",
        ),
        (CREATE_CONTACT, json!({"inst": uuid::Uuid::new_v4(), "i": {"name": "A"}}), "NOT_FOUND", "institutionId"),
        (ADD_NOTE, json!({"inst": inst, "b": " "}), "BAD_USER_INPUT", "body"),
        (ADD_NOTE, json!({"b": "orphan"}), "BAD_USER_INPUT", "institutionId"),
        (ADD_NOTE, json!({"c": uuid::Uuid::new_v4(), "b": "x"}), "NOT_FOUND", "contactId"),
        (EDIT_NOTE, json!({"id": uuid::Uuid::new_v4(), "b": "x"}), "NOT_FOUND", "id"),
    ];
    for (query, variables, code, field) in cases {
        let reply = app.gql(&admin, query, variables.clone()).await;
        assert_eq!((reply.error_code(), reply.error_field()), (code, field), "{variables}");
    }
    assert_eq!(crm_rows(&pool).await, before);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, audit_before);
}

#[sqlx::test(migrations = "../migrations")]
async fn converting_a_lead_creates_and_links_the_customer_in_one_transaction(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let (lead, other) =
        (institution(&app, &admin, "Klinikum Nord").await, institution(&app, &admin, "Klinikum Süd").await);
    let taken = app.create_customer(&admin, "taken@example.com").await;

    // The customer cannot be created (e-mail taken): the institution stays an unlinked lead.
    let reply = app
        .gql(&admin, CONVERT, json!({"inst": lead, "c": {"name": "Klinikum Nord", "email": "TAKEN@example.com"}}))
        .await;
    assert_eq!((reply.error_code(), reply.error_field()), ("BAD_USER_INPUT", "email"));
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM institutions WHERE customer_id IS NOT NULL").await, 0);

    let reply = app
        .gql(&admin, CONVERT, json!({"inst": lead, "c": {"name": "Klinikum Nord GmbH", "email": "it@nord.example"}}))
        .await;
    let converted = reply.data("convertInstitutionToCustomer");
    assert_eq!(converted["customer"], json!({"name": "Klinikum Nord GmbH", "email": "it@nord.example"}));
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'customer.created'").await, 2);

    let again =
        app.gql(&admin, CONVERT, json!({"inst": lead, "c": {"name": "Again", "email": "again@example.com"}})).await;
    assert_eq!((again.error_code(), again.error_field()), ("BAD_USER_INPUT", "institutionId"));

    let link = "mutation($inst: ID!, $c: ID!) { linkInstitutionToCustomer(institutionId: $inst, customerId: $c) { customerId } }";
    let linked = app.gql(&admin, link, json!({"inst": other, "c": taken})).await;
    assert_eq!(linked.data("linkInstitutionToCustomer")["customerId"], taken.as_str());
    let third = institution(&app, &admin, "Klinikum West").await;
    let twice = app.gql(&admin, link, json!({"inst": third, "c": taken})).await;
    assert_eq!(
        (twice.error_code(), twice.error_field()),
        ("BAD_USER_INPUT", "customerId"),
        "one institution per customer"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 2);

    // A wrong link is undone; the customer stays, and the customer is free for another lead.
    let unlink =
        "mutation($inst: ID!) { unlinkInstitutionFromCustomer(institutionId: $inst) { customerId customer { id } } }";
    let unlinked = app.gql(&admin, unlink, json!({"inst": other})).await;
    assert_eq!(unlinked.data("unlinkInstitutionFromCustomer"), &json!({"customerId": null, "customer": null}));
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 2);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'institution.unlinked_from_customer'").await,
        1
    );
    let not_linked = app.gql(&admin, unlink, json!({"inst": other})).await;
    assert_eq!((not_linked.error_code(), not_linked.error_field()), ("BAD_USER_INPUT", "institutionId"));
    let relinked = app.gql(&admin, link, json!({"inst": third, "c": taken})).await;
    assert_eq!(relinked.data("linkInstitutionToCustomer")["customerId"], taken.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_name_search_finds_institutions_and_contacts_and_analysts_may_read_but_not_write(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, analyst) = (app.key(Scope::Admin).await, app.key(Scope::Analyst).await);
    let inst = institution(&app, &admin, "Stadtwerke Müller").await;
    institution(&app, &admin, "Other Corp").await;
    app.gql(&admin, CREATE_CONTACT, json!({"inst": inst, "i": {"name": "Jens Müller"}})).await.data("createContact");
    app.gql(&admin, CREATE_CONTACT, json!({"inst": inst, "i": {"name": "Eva Braun"}})).await.data("createContact");

    let search = "query($q: String!) { searchCrm(query: $q) {
        __typename ... on Institution { name } ... on Contact { name institution { name } } } }";
    let hits = app.gql(&analyst, search, json!({"q": "müller"})).await;
    assert_eq!(
        hits.data("searchCrm"),
        &json!([
            {"__typename": "Institution", "name": "Stadtwerke Müller"},
            {"__typename": "Contact", "name": "Jens Müller", "institution": {"name": "Stadtwerke Müller"}},
        ])
    );
    // Many matching institutions never crowd out the contacts: the limit is per kind.
    institution(&app, &admin, "Müller Bau").await;
    let limited =
        "{ searchCrm(query: \"müller\", limit: 1) { __typename ... on Institution { name } ... on Contact { name } } }";
    assert_eq!(
        app.gql(&analyst, limited, json!({})).await.data("searchCrm"),
        &json!([{"__typename": "Institution", "name": "Müller Bau"}, {"__typename": "Contact", "name": "Jens Müller"}])
    );
    let none = app.gql(&analyst, search, json!({"q": "100%"})).await;
    assert_eq!(none.data("searchCrm"), &json!([]), "wildcards in the query are literal");

    let list =
        app.gql(&analyst, "{ institutions(search: \"corp\") { totalCount edges { node { name } } } }", json!({})).await;
    assert_eq!(list.data("institutions")["totalCount"], 1);

    let before = crm_rows(&pool).await;
    for (query, variables) in [
        (CREATE_INSTITUTION, json!({"i": {"name": "Sneaky"}})),
        (ADD_NOTE, json!({"inst": inst, "b": "analyst note"})),
        (CONVERT, json!({"inst": inst, "c": {"name": "X", "email": "x@example.com"}})),
    ] {
        assert_eq!(app.gql(&analyst, query, variables).await.error_code(), "FORBIDDEN", "{query}");
    }
    assert_eq!(crm_rows(&pool).await, before);
}

/// `(ok replies, CONFLICT replies)` among `replies` to `mutation`; anything else fails the test.
fn outcomes(replies: &[crate::helpers::Reply], mutation: &str) -> (usize, usize) {
    let ok = replies.iter().filter(|r| r.body["errors"].is_null() && !r.body["data"][mutation].is_null()).count();
    let conflicts = replies.iter().filter(|r| !r.body["errors"].is_null() && r.error_code() == "CONFLICT").count();
    assert_eq!(ok + conflicts, replies.len(), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    (ok, conflicts)
}

#[sqlx::test(migrations = "../migrations")]
async fn edits_based_on_a_stale_read_are_refused_and_change_nothing(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let update = "mutation($id: ID!, $n: String!, $at: DateTime) {
        updateInstitution(id: $id, input: {name: $n}, expectedUpdatedAt: $at) { name updatedAt } }";
    let created =
        app.gql(&admin, "mutation { createInstitution(input: {name: \"Lead\"}) { id updatedAt } }", json!({})).await;
    let (id, read_at) =
        (created.data("createInstitution")["id"].clone(), created.data("createInstitution")["updatedAt"].clone());

    let first = app.gql(&admin, update, json!({"id": id, "n": "First edit", "at": read_at})).await;
    let now_at = first.data("updateInstitution")["updatedAt"].clone();
    assert_ne!(now_at, read_at);
    let stale = app.gql(&admin, update, json!({"id": id, "n": "Second edit", "at": read_at})).await;
    assert_eq!((stale.error_code(), stale.error_field()), ("CONFLICT", "expectedUpdatedAt"));
    let name: String = sqlx::query_scalar("SELECT name FROM institutions").fetch_one(&pool).await.unwrap();
    assert_eq!(name, "First edit", "the stale edit changed nothing");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'institution.updated'").await, 1);
    // Without `expectedUpdatedAt` the last write wins, as before.
    app.gql(&admin, update, json!({"id": id, "n": "Blind edit"})).await.data("updateInstitution");

    // Two admins save at the same moment from the same read: one wins, the other is told.
    let current = app.gql(&admin, "query($id: ID!) { institution(id: $id) { updatedAt } }", json!({"id": id})).await;
    let at = current.data("institution")["updatedAt"].clone();
    let (a, b) = tokio::join!(
        app.gql(&admin, update, json!({"id": id, "n": "Admin A", "at": at})),
        app.gql(&admin, update, json!({"id": id, "n": "Admin B", "at": at})),
    );
    assert_eq!(outcomes(&[a, b], "updateInstitution"), (1, 1));

    let contact = app
        .gql(
            &admin,
            "mutation($i: ID!) { createContact(institutionId: $i, input: {name: \"Eva\", phones: [{kind: WORK, number: \"+49 30 1234567\"}]}) { id updatedAt } }",
            json!({"i": id}),
        )
        .await;
    let (contact_id, at) =
        (contact.data("createContact")["id"].clone(), contact.data("createContact")["updatedAt"].clone());
    let update_contact = "mutation($id: ID!, $p: [PhoneInput!]!, $at: DateTime) {
        updateContact(id: $id, input: {name: \"Eva\", phones: $p}, expectedUpdatedAt: $at) { id } }";
    let (a, b) = tokio::join!(
        app.gql(&admin, update_contact, json!({"id": contact_id, "at": at, "p": [{"kind": "WORK", "number": "+49 30 1234567"}, {"kind": "MOBILE", "number": "+49 151 23456789"}]})),
        app.gql(&admin, update_contact, json!({"id": contact_id, "at": at, "p": [{"kind": "WORK", "number": "+49 30 1234567"}, {"kind": "FAX", "number": "+49 30 7654321"}]})),
    );
    assert_eq!(outcomes(&[a, b], "updateContact"), (1, 1));
    assert_eq!(count(&pool, "SELECT count(*) FROM contact_phones").await, 2, "one of the two added numbers, not both");

    let note = app.gql(&admin, ADD_NOTE, json!({"inst": id, "b": "v1"})).await;
    let note_id = note.data("addNote")["id"].clone();
    let edit =
        "mutation($id: ID!, $b: String!, $v: Int) { editNote(id: $id, body: $b, expectedVersion: $v) { version } }";
    let (a, b) = tokio::join!(
        app.gql(&admin, edit, json!({"id": note_id, "b": "v2 by A", "v": 1})),
        app.gql(&admin, edit, json!({"id": note_id, "b": "v2 by B", "v": 1})),
    );
    assert_eq!(outcomes(&[a, b], "editNote"), (1, 1));
    let stale = app.gql(&admin, edit, json!({"id": note_id, "b": "v2 again", "v": 1})).await;
    assert_eq!((stale.error_code(), stale.error_field()), ("CONFLICT", "expectedVersion"));
    assert_eq!(count(&pool, "SELECT count(*) FROM note_versions").await, 2);
}
