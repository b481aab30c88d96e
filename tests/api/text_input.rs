//! Text PostgreSQL would refuse (the NUL character) is a typed input error, wherever it is sent,
//! and changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::StreamExt;
use license_server::auth::Scope;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{count, spawn_app, Reply, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn a_nul_character_in_any_text_is_bad_user_input_naming_where_it_was(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);
    let (_, license_key) = app.create_license(&admin, 2, 2).await;
    let keys_before = count(&pool, "SELECT count(*) FROM api_keys").await;
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;

    let cases = [
        (
            &admin,
            "mutation($input: InstitutionInput!) { createInstitution(input: $input) { id } }",
            json!({"input": {"name": "Lab\u{0}oratory"}}),
            "input.name",
        ),
        (&admin, r#"mutation { createInstitution(input: {name: "Lab\u0000"}) { id } }"#, json!({}), "input.name"),
        (
            &admin,
            "mutation($n: String!) { generateApiKey(name: $n, scope: CLIENT) { key } }",
            json!({"n": "ci\u{0}"}),
            "n",
        ),
        (
            &admin,
            "query($c: String) { licenses(filter: {licenseKey: {contains: $c}}) { totalCount } }",
            json!({"c": "\u{0}"}),
            "c",
        ),
        (
            &admin,
            "query($c: [String!]) { licenses(filter: {licenseKey: {in: $c}}) { totalCount } }",
            json!({"c": ["ok", "\u{0}"]}),
            "c.1",
        ),
        (
            &client,
            "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
            json!({"i": {"licenseKey": license_key, "hardwareFingerprint": "pc\u{0}"}}),
            "i.hardwareFingerprint",
        ),
    ];
    for (key, query, variables, field) in cases {
        let reply = app.gql(key, query, variables.clone()).await;
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{query} {variables}: {}", reply.body);
        assert_eq!(reply.error_field(), field, "{query}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM institutions").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM api_keys").await, keys_before);
    assert_eq!(count(&pool, "SELECT count(*) FROM device_registrations").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, audit_before, "nothing changed");

    // The same text without the NUL goes through.
    let fine = app
        .gql(
            &admin,
            "mutation($input: InstitutionInput!) { createInstitution(input: $input) { id } }",
            json!({"input": {"name": "Laboratory"}}),
        )
        .await;
    assert!(fine.data("createInstitution")["id"].is_string());
}

// The schema walk: every text position of every query and mutation, found by introspection.

/// A type as introspection describes it (`NON_NULL` and `LIST` wrap `ofType`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeRef {
    kind: String,
    name: Option<String>,
    of_type: Option<Box<TypeRef>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputValue {
    name: String,
    #[serde(rename = "type")]
    ty: TypeRef,
    default_value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Field {
    name: String,
    args: Vec<InputValue>,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Debug, Deserialize)]
struct EnumValue {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamedType {
    kind: String,
    name: String,
    fields: Option<Vec<Field>>,
    input_fields: Option<Vec<InputValue>>,
    enum_values: Option<Vec<EnumValue>>,
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The served schema, read through introspection (deprecated fields and arguments included:
/// they take input all the same).
struct Introspected {
    types: HashMap<String, NamedType>,
}

impl Introspected {
    async fn read(app: &TestApp, admin: &str) -> Self {
        let query = format!(
            "{{ __schema {{ types {{ kind name
                fields(includeDeprecated: true) {{ name type {{ {TYPE_REF} }}
                    args(includeDeprecated: true) {{ name defaultValue type {{ {TYPE_REF} }} }} }}
                inputFields(includeDeprecated: true) {{ name defaultValue type {{ {TYPE_REF} }} }}
                enumValues {{ name }} }} }} }}"
        );
        let reply = app.gql(admin, &query, json!({})).await;
        let types: Vec<NamedType> = serde_json::from_value(reply.data("__schema")["types"].clone()).unwrap();
        Introspected { types: types.into_iter().map(|t| (t.name.clone(), t)).collect() }
    }

    fn named(&self, ty: &TypeRef) -> &NamedType {
        &self.types[ty.name.as_deref().expect("a named type")]
    }

    fn root_fields(&self, root: &str) -> &[Field] {
        self.types[root].fields.as_deref().unwrap()
    }
}

/// Scalars whose values are JSON strings: every one but these can carry text to the server.
fn is_text_scalar(name: &str) -> bool {
    !matches!(name, "Int" | "Float" | "Boolean")
}

/// An argument or input field that must be given (non-null and without a default).
fn is_required(value: &InputValue) -> bool {
    value.ty.kind == "NON_NULL" && value.default_value.is_none()
}

/// The GraphQL notation of a type: `[String!]!`.
fn notation(ty: &TypeRef) -> String {
    match ty.kind.as_str() {
        "NON_NULL" => format!("{}!", notation(ty.of_type.as_ref().unwrap())),
        "LIST" => format!("[{}]", notation(ty.of_type.as_ref().unwrap())),
        _ => ty.name.clone().unwrap(),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Item,
}

/// One place a string can be sent: an argument of a root field, then input fields and list items.
#[derive(Clone, Debug)]
struct Position {
    root: &'static str,
    field: String,
    argument: String,
    steps: Vec<Step>,
    scalar: String,
}

impl Position {
    /// The path the server names in `extensions.field`: `input.phones.0.number`.
    fn path(&self) -> String {
        let mut path = self.argument.clone();
        for step in &self.steps {
            match step {
                Step::Field(name) => path += &format!(".{name}"),
                Step::Item => path += ".0",
            }
        }
        path
    }
}

/// Every text position below `ty`. A recursive input type (a filter's `and` / `or`) is entered
/// twice at most: its fields are then covered both at the top and nested.
fn text_positions(
    schema: &Introspected,
    ty: &TypeRef,
    steps: &mut Vec<Step>,
    entered: &mut Vec<String>,
    out: &mut Vec<(Vec<Step>, String)>,
) {
    match ty.kind.as_str() {
        "NON_NULL" => text_positions(schema, ty.of_type.as_ref().unwrap(), steps, entered, out),
        "LIST" => {
            steps.push(Step::Item);
            text_positions(schema, ty.of_type.as_ref().unwrap(), steps, entered, out);
            steps.pop();
        }
        "SCALAR" if is_text_scalar(ty.name.as_deref().unwrap()) => out.push((steps.clone(), ty.name.clone().unwrap())),
        "INPUT_OBJECT" => {
            let name = ty.name.clone().unwrap();
            if entered.iter().filter(|entered| **entered == name).count() >= 2 {
                return;
            }
            entered.push(name);
            for field in schema.named(ty).input_fields.as_deref().unwrap() {
                steps.push(Step::Field(field.name.clone()));
                text_positions(schema, &field.ty, steps, entered, out);
                steps.pop();
            }
            entered.pop();
        }
        _ => {}
    }
}

fn all_positions(schema: &Introspected) -> Vec<Position> {
    let mut positions = Vec::new();
    for root in ["Query", "Mutation"] {
        for field in schema.root_fields(root) {
            for argument in &field.args {
                let mut found = Vec::new();
                text_positions(schema, &argument.ty, &mut Vec::new(), &mut Vec::new(), &mut found);
                positions.extend(found.into_iter().map(|(steps, scalar)| Position {
                    root,
                    field: field.name.clone(),
                    argument: argument.name.clone(),
                    steps,
                    scalar,
                }));
            }
        }
    }
    positions
}

/// A harmless value of a scalar, of the right shape: ids are random UUIDs.
fn sample(scalar: &str) -> Value {
    match scalar {
        "Int" => json!(1),
        "Float" => json!(1.0),
        "Boolean" => json!(true),
        "ID" | "UUID" => json!(Uuid::new_v4().to_string()),
        "DateTime" => json!("2026-01-01T00:00:00Z"),
        "NaiveDate" => json!("2026-01-01"),
        _ => json!("text"),
    }
}

/// A value of `ty` with `text` at `target` (a path of steps below it; harmless text when `text`
/// is `None`) and every required field filled in: enums take their first value, lists of
/// nothing targeted are empty.
fn build_value(schema: &Introspected, ty: &TypeRef, target: Option<&[Step]>, text: Option<&Value>) -> Value {
    match ty.kind.as_str() {
        "NON_NULL" => build_value(schema, ty.of_type.as_ref().unwrap(), target, text),
        "LIST" => match target {
            Some([Step::Item, rest @ ..]) => {
                json!([build_value(schema, ty.of_type.as_ref().unwrap(), Some(rest), text)])
            }
            _ => json!([]),
        },
        "SCALAR" if target == Some(&[]) => text.cloned().unwrap_or_else(|| sample(ty.name.as_deref().unwrap())),
        "SCALAR" => sample(ty.name.as_deref().unwrap()),
        "ENUM" => json!(schema.named(ty).enum_values.as_ref().unwrap()[0].name),
        "INPUT_OBJECT" => {
            let mut object = serde_json::Map::new();
            for field in schema.named(ty).input_fields.as_deref().unwrap() {
                let below = match target {
                    Some([Step::Field(name), rest @ ..]) if *name == field.name => Some(rest),
                    _ => None,
                };
                if below.is_some() || is_required(field) {
                    object.insert(field.name.clone(), build_value(schema, &field.ty, below, text));
                }
            }
            Value::Object(object)
        }
        kind => panic!("{kind} is not an input type"),
    }
}

/// `value` of type `ty` written as a GraphQL literal (enum values bare, object keys unquoted).
fn literal(schema: &Introspected, ty: &TypeRef, value: &Value) -> String {
    match (ty.kind.as_str(), value) {
        ("NON_NULL", _) => literal(schema, ty.of_type.as_ref().unwrap(), value),
        ("LIST", Value::Array(items)) => {
            let items: Vec<String> =
                items.iter().map(|item| literal(schema, ty.of_type.as_ref().unwrap(), item)).collect();
            format!("[{}]", items.join(", "))
        }
        ("ENUM", Value::String(name)) => name.clone(),
        ("INPUT_OBJECT", Value::Object(fields)) => {
            let input_fields = schema.named(ty).input_fields.as_deref().unwrap();
            let fields: Vec<String> = fields
                .iter()
                .map(|(name, value)| {
                    let field = input_fields.iter().find(|f| f.name == *name).unwrap();
                    format!("{name}: {}", literal(schema, &field.ty, value))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        // JSON's string escapes (`\u0000` among them) are GraphQL's.
        _ => value.to_string(),
    }
}

/// A selection that makes the field's resolver run and read: the scalars of the result and of
/// the objects directly below it (never fields that need arguments).
fn selection(schema: &Introspected, ty: &TypeRef, depth: usize) -> String {
    let named = schema.named(unwrapped(ty));
    match named.kind.as_str() {
        "OBJECT" => {
            let mut parts = vec!["__typename".to_owned()];
            for field in named.fields.as_deref().unwrap() {
                if field.args.iter().any(is_required) {
                    continue;
                }
                match schema.named(unwrapped(&field.ty)).kind.as_str() {
                    "SCALAR" | "ENUM" => parts.push(field.name.clone()),
                    _ if depth > 0 => parts.push(format!("{}{}", field.name, selection(schema, &field.ty, depth - 1))),
                    _ => {}
                }
            }
            format!(" {{ {} }}", parts.join(" "))
        }
        "UNION" | "INTERFACE" => " { __typename }".to_owned(),
        _ => String::new(),
    }
}

fn unwrapped(ty: &TypeRef) -> &TypeRef {
    match &ty.of_type {
        Some(inner) if matches!(ty.kind.as_str(), "NON_NULL" | "LIST") => unwrapped(inner),
        _ => ty,
    }
}

/// How the text travels: in variables, as literals in the document, or as a variable's default.
#[derive(Clone, Copy, Debug)]
enum Form {
    Variables,
    Literals,
    VariableDefaults,
}

/// The operation for `field` with its required arguments (and the position's, holding `text`).
fn operation(
    schema: &Introspected,
    root: &str,
    field: &Field,
    position: Option<&Position>,
    text: Option<&Value>,
    form: Form,
) -> (String, Value) {
    let mut declarations = Vec::new();
    let mut arguments = Vec::new();
    let mut variables = serde_json::Map::new();
    for argument in &field.args {
        let target = position.filter(|p| p.argument == argument.name).map(|p| p.steps.as_slice());
        if target.is_none() && !is_required(argument) {
            continue;
        }
        let value = build_value(schema, &argument.ty, target, text);
        let (name, ty) = (&argument.name, notation(&argument.ty));
        match form {
            Form::Variables => {
                declarations.push(format!("${name}: {ty}"));
                arguments.push(format!("{name}: ${name}"));
                variables.insert(name.clone(), value);
            }
            Form::Literals => arguments.push(format!("{name}: {}", literal(schema, &argument.ty, &value))),
            Form::VariableDefaults => {
                declarations.push(format!("${name}: {ty} = {}", literal(schema, &argument.ty, &value)));
                arguments.push(format!("{name}: ${name}"));
            }
        }
    }
    let declarations = if declarations.is_empty() { String::new() } else { format!("({})", declarations.join(", ")) };
    let arguments = if arguments.is_empty() { String::new() } else { format!("({})", arguments.join(", ")) };
    let keyword = if root == "Query" { "query" } else { "mutation" };
    let selection = selection(schema, &field.ty, 1);
    (format!("{keyword} Walk{declarations} {{ {}{arguments}{selection} }}", field.name), Value::Object(variables))
}

/// The text PostgreSQL's text columns refuse.
const NUL_TEXT: &str = "nul\u{0}text";

/// One GraphQL request of the walk.
struct Request {
    caller: &'static str,
    /// The caller's API key (`None`: anonymous).
    key: Option<String>,
    query: String,
    variables: Value,
    /// What it stands for in a failure message.
    label: String,
    /// For a refusal: the path `extensions.field` must name, when the form determines it.
    field: Option<String>,
}

/// Sends the requests, four at a time (the server's pool has four connections).
async fn send_all(app: &TestApp, requests: &[Request]) -> Vec<Reply> {
    futures_util::stream::iter(requests)
        .map(|request| async move {
            let mut post = app.client.post(format!("{}/graphql", app.address));
            if let Some(key) = &request.key {
                post = post.header("X-API-Key", key);
            }
            let response = post
                .json(&json!({"query": request.query, "variables": request.variables}))
                .send()
                .await
                .expect("request failed");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
        })
        .buffered(4)
        .collect()
        .await
}

fn error_codes(reply: &Reply) -> Vec<Option<&str>> {
    let errors = reply.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    errors.iter().map(|error| error["extensions"]["code"].as_str()).collect()
}

/// What is wrong with the answer to a request holding harmless text: it must have been a valid
/// operation (so that the same operation with a NUL tests what it should), and must not fail
/// inside the server.
fn control_problem(reply: &Reply) -> Option<String> {
    let codes = error_codes(reply);
    let messages = reply.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    let invalid = messages.iter().filter_map(|e| e["message"].as_str()).any(|message| {
        ["Invalid value for argument", "Failed to parse", "Invalid default value"]
            .iter()
            .any(|m| message.starts_with(m))
    });
    let bad = reply.status >= 500
        || codes.iter().any(|code| {
            matches!(code, None | Some("INTERNAL_SERVER_ERROR" | "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED"))
        })
        || invalid;
    bad.then(|| format!("{} {}", reply.status, reply.body))
}

/// What is wrong with the answer to a request holding a NUL: it must be refused as
/// `BAD_USER_INPUT` naming `field`, with a code on every error and nothing executed.
fn refusal_problem(reply: &Reply, field: Option<&str>) -> Option<String> {
    let codes = error_codes(reply);
    let first = &reply.body["errors"][0]["extensions"];
    let refused = reply.status < 500
        && !codes.is_empty()
        && codes.iter().all(|code| code.is_some_and(|code| code != "INTERNAL_SERVER_ERROR"))
        && codes[0] == Some("BAD_USER_INPUT")
        && field.is_none_or(|field| first["field"] == field)
        && reply.body["data"].as_object().is_none_or(|data| data.values().all(Value::is_null));
    (!refused).then(|| format!("{} {}", reply.status, reply.body))
}

/// Every table's rows (API keys without `last_used_at`, which using a key refreshes), as one
/// digest per table: equal snapshots mean nothing was inserted, changed or deleted.
async fn snapshot(pool: &PgPool) -> BTreeMap<String, String> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT format('%I', tablename) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut digests = BTreeMap::new();
    for table in tables {
        let sql = format!(
            "SELECT count(*) || ' rows ' || coalesce(md5(string_agg(r, ',' ORDER BY r)), '')
             FROM (SELECT (to_jsonb(t) - 'last_used_at')::text AS r FROM {table} t) rows"
        );
        digests.insert(table, sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap());
    }
    digests
}

/// The callers of the walk: an admin, an analyst and a client key, and nobody.
async fn callers(app: &TestApp) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("admin", Some(app.key(Scope::Admin).await)),
        ("analyst", Some(app.key(Scope::Analyst).await)),
        ("client", Some(app.key(Scope::Client).await)),
        ("anonymous", None),
    ]
}

/// The callers allowed to call each root field: an operation with harmless arguments is neither
/// refused at the door (401, 403) nor answered FORBIDDEN for the field itself.
async fn allowed_callers(
    app: &TestApp,
    schema: &Introspected,
    callers: &[(&'static str, Option<String>)],
) -> HashMap<String, Vec<(&'static str, Option<String>)>> {
    let mut requests = Vec::new();
    for root in ["Query", "Mutation"] {
        for field in schema.root_fields(root) {
            let (query, variables) = operation(schema, root, field, None, None, Form::Variables);
            for (caller, key) in callers {
                requests.push(Request {
                    caller,
                    key: key.clone(),
                    query: query.clone(),
                    variables: variables.clone(),
                    label: field.name.clone(),
                    field: None,
                });
            }
        }
    }
    let replies = send_all(app, &requests).await;
    let mut allowed: HashMap<String, Vec<_>> = HashMap::new();
    for (request, reply) in requests.iter().zip(&replies) {
        let errors = reply.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
        // UNAUTHENTICATED from the field itself is a wrong password or challenge, not a refusal.
        let refused = matches!(reply.status, 401 | 403)
            || errors.iter().any(|error| {
                error["extensions"]["code"] == "FORBIDDEN"
                    && error["path"].as_array().is_none_or(|path| path.len() <= 1)
            });
        if !refused {
            let caller = (request.caller, request.key.clone());
            allowed.entry(request.label.clone()).or_default().push(caller);
        }
    }
    allowed
}

/// The requests that put `text` (harmless text when `None`) in each position in turn, in the
/// given forms, by each caller allowed to call the position's field.
fn walk_requests(
    schema: &Introspected,
    positions: &[Position],
    callers: &HashMap<String, Vec<(&'static str, Option<String>)>>,
    forms: &[Form],
    text: Option<&Value>,
) -> Vec<Request> {
    let mut requests = Vec::new();
    for position in positions {
        let field = schema.root_fields(position.root).iter().find(|f| f.name == position.field).unwrap();
        for form in forms {
            let (query, variables) = operation(schema, position.root, field, Some(position), text, *form);
            for (caller, key) in callers.get(&position.field).map(Vec::as_slice).unwrap_or_default() {
                requests.push(Request {
                    caller,
                    key: key.clone(),
                    query: query.clone(),
                    variables: variables.clone(),
                    label: format!("{caller} {form:?} {}.{} ({})", position.field, position.path(), position.scalar),
                    field: matches!(form, Form::Variables | Form::Literals).then(|| position.path()),
                });
            }
        }
    }
    requests
}

fn report(requests: &[Request], problems: Vec<(usize, String)>) -> String {
    problems
        .into_iter()
        .map(|(i, problem)| {
            let request = &requests[i];
            format!("{}\n  {} {}\n  -> {problem}", request.label, request.query, request.variables)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[sqlx::test(migrations = "../migrations")]
async fn every_text_argument_and_input_field_in_the_schema_refuses_the_nul_character(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let callers = callers(&app).await;
    let schema = Introspected::read(&app, callers[0].1.as_deref().unwrap()).await;
    let positions = all_positions(&schema);

    // The walk reaches nested input objects, lists, filters and filters within filters.
    let paths: HashSet<String> = positions.iter().map(|p| format!("{}.{}", p.field, p.path())).collect();
    for known in [
        "activate.input.hardwareFingerprint",
        "login.password",
        "createInstitution.input.name",
        "createContact.input.phones.0.number",
        "importResources.values.0",
        "licenses.search",
        "licenses.filter.licenseKey.contains",
        "licenses.filter.or.0.customerEmail.in.0",
        "auditLog.filter.action",
        "convertInstitutionToCustomer.customer.email",
    ] {
        assert!(paths.contains(known), "the walk misses {known}");
    }
    let strings = positions.iter().filter(|p| p.scalar == "String").count();
    let fields: HashSet<&str> = positions.iter().map(|p| p.field.as_str()).collect();
    println!(
        "{} text positions ({strings} of type String, the others ID, UUID, DateTime …) in {} root fields",
        positions.len(),
        fields.len()
    );
    assert!(strings >= 200, "only {strings} String positions: the walk has lost part of the schema");

    let allowed = allowed_callers(&app, &schema, &callers).await;
    for (field, expected) in
        [("licenses", "admin analyst"), ("createInstitution", "admin"), ("activate", "admin client")]
    {
        let names: Vec<&str> = allowed[field].iter().map(|(name, _)| *name).collect();
        assert_eq!(names.join(" "), expected, "who may call {field}");
    }
    assert!(allowed["login"].iter().any(|(name, _)| *name == "anonymous"));

    let forms = [Form::Variables, Form::Literals];
    assert_operations_are_valid(&app, &schema, &positions, &callers[1], &forms).await;
    assert_all_refused(&app, &walk_requests(&schema, &positions, &allowed, &forms, Some(&json!(NUL_TEXT)))).await;
}

/// The walk's operations with harmless text are valid and run (an analyst's mutations are
/// refused after validation), so the same operations with a NUL test the refusal and nothing else.
async fn assert_operations_are_valid(
    app: &TestApp,
    schema: &Introspected,
    positions: &[Position],
    analyst: &(&'static str, Option<String>),
    forms: &[Form],
) {
    let everything: HashMap<String, Vec<_>> =
        positions.iter().map(|position| (position.field.clone(), vec![analyst.clone()])).collect();
    let controls = walk_requests(schema, positions, &everything, forms, None);
    let replies = send_all(app, &controls).await;
    let problems: Vec<_> = replies.iter().enumerate().filter_map(|(i, r)| Some((i, control_problem(r)?))).collect();
    assert!(problems.is_empty(), "operations of the walk that are not valid:\n{}", report(&controls, problems));
}

/// Sends the requests holding a NUL and asserts that each was refused and that no table changed.
async fn assert_all_refused(app: &TestApp, requests: &[Request]) {
    let before = snapshot(&app.pool).await;
    let replies = send_all(app, requests).await;
    let after = snapshot(&app.pool).await;
    let changed: Vec<&String> = after.keys().filter(|table| before.get(*table) != after.get(*table)).collect();
    let problems: Vec<_> = replies
        .iter()
        .zip(requests)
        .enumerate()
        .filter_map(|(i, (reply, request))| Some((i, refusal_problem(reply, request.field.as_deref())?)))
        .collect();
    println!("{} requests with a NUL, {} not refused as they should be", requests.len(), problems.len());
    assert!(
        problems.is_empty() && changed.is_empty(),
        "tables changed: {changed:?}; {} requests not refused as BAD_USER_INPUT:\n{}",
        problems.len(),
        report(requests, problems)
    );
}

/// A variable's default value (`query($c: String = "…")` with no `c` in the request) is text of
/// the document that stands in for a variable: it reaches the resolvers like any other value.
#[sqlx::test(migrations = "../migrations")]
async fn a_nul_character_in_the_default_value_of_a_variable_is_bad_user_input_too(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let callers = callers(&app).await;
    let schema = Introspected::read(&app, callers[0].1.as_deref().unwrap()).await;
    let positions = all_positions(&schema);
    let forms = [Form::VariableDefaults];
    assert_operations_are_valid(&app, &schema, &positions, &callers[1], &forms).await;
    let admin: HashMap<String, Vec<_>> =
        positions.iter().map(|position| (position.field.clone(), vec![callers[0].clone()])).collect();
    assert_all_refused(&app, &walk_requests(&schema, &positions, &admin, &forms, Some(&json!(NUL_TEXT)))).await;
}
