//! The dashboard's contract with the server, checked on the host: every GraphQL document the
//! dashboard sends is valid against `schema.graphql` (itself checked against the code by
//! `schema.rs`), and every text it shows exists in English and in German.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apollo_compiler::{ExecutableDocument, Schema};

/// The dashboard's own catalogue of documents (`Document` can be made nowhere else), compiled
/// here as it is there.
mod documents {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../frontend/src/services/documents.rs"));
}

fn frontend_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Every file below `dir` whose name ends with `extension`, as paths relative to `dir`.
fn files_below(dir: &Path, extension: &str) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, extension: &str, found: &mut BTreeSet<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("listing {}: {err}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(root, &path, extension, found);
            } else if path.extension().is_some_and(|e| e == extension) {
                let relative = path.strip_prefix(root).expect("below the root");
                found.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(dir, dir, extension, &mut found);
    found
}

#[test]
fn every_graphql_document_of_the_dashboard_is_valid_against_the_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let schema = Schema::parse_and_validate(read(&schema_path), "schema.graphql")
        .unwrap_or_else(|invalid| panic!("schema.graphql is not a valid schema:\n{}", invalid.errors));

    let mut failures = Vec::new();
    for (name, text) in documents::ALL {
        match ExecutableDocument::parse_and_validate(&schema, *text, format!("{name}.graphql")) {
            Err(invalid) => failures.push(format!("{name}:\n{}", invalid.errors)),
            // The dashboard sends no operationName: a document must hold exactly one operation.
            Ok(document) if document.operations.len() != 1 => {
                failures.push(format!("{name}: {} operations instead of one", document.operations.len()))
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "dashboard documents that do not fit the schema:\n\n{}", failures.join("\n\n"));
    assert!(documents::ALL.len() >= 50, "only {} documents found in frontend/src/services", documents::ALL.len());
}

/// Stops every request after validation, so the server's own limits (depth, complexity) are
/// applied to a document without running it.
struct ValidateOnly;

impl async_graphql::extensions::ExtensionFactory for ValidateOnly {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &async_graphql::extensions::ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(async_graphql::Value::Null)
    }
}

#[tokio::test]
async fn every_document_of_the_dashboard_is_within_the_servers_depth_and_complexity_limits() {
    let schema = license_server::schema::builder().extension(ValidateOnly).finish();
    let mut failures = Vec::new();
    // Pages as the dashboard asks for them: `first` of 25 at most (the audit log's); time ranges
    // as the overview asks for them: 90 days by day at most, or 7 days by hour.
    let to = chrono::Utc::now();
    let ranges = [(90, "DAY"), (7, "HOUR")].map(|(days, bucket)| {
        serde_json::json!({"first": 25, "from": to - chrono::Duration::days(days), "to": to, "bucket": bucket})
    });
    for (name, text) in documents::ALL {
        for range in &ranges {
            let variables = async_graphql::Variables::from_json(range.clone());
            let response = schema.execute(async_graphql::Request::new(*text).variables(variables)).await;
            failures.extend(response.errors.iter().map(|err| format!("{name}: {}", err.message)));
        }
    }
    assert!(failures.is_empty(), "dashboard documents the server would refuse:\n{}", failures.join("\n"));
}

#[test]
fn every_graphql_file_of_the_dashboard_belongs_to_a_checked_document_and_no_query_is_written_elsewhere() {
    let graphql_dir = frontend_src().join("services/graphql");
    let on_disk = files_below(&graphql_dir, "graphql");
    let in_documents: BTreeSet<String> = documents::FILES.iter().map(|file| file.to_string()).collect();
    let unused: Vec<_> = on_disk.difference(&in_documents).collect();
    assert!(unused.is_empty(), "files in frontend/src/services/graphql that no document uses: {unused:?}");
    assert!(on_disk.len() >= 60, "only {} .graphql files found in {}", on_disk.len(), graphql_dir.display());

    // A query written as a Rust string would bypass the check above.
    let mut inline = Vec::new();
    for file in files_below(&frontend_src(), "rs") {
        for literal in string_literals(&read(&frontend_src().join(&file))) {
            let text = literal.trim_start();
            let first_word = text.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
            let then = text[first_word.len()..].trim_start_matches(' ');
            let is_operation = then.starts_with(|c: char| c == '{' || c == '(' || c.is_ascii_alphabetic());
            if matches!(first_word, "query" | "mutation" | "subscription" | "fragment") && is_operation {
                inline.push(format!("{file}: {literal:?}"));
            }
        }
    }
    assert!(inline.is_empty(), "GraphQL written inline instead of in services/graphql: {inline:#?}");
}

/// Dotted strings in the dashboard's code that are not text keys.
const NOT_TEXT_KEYS: &[&str] = &[
    // The audit filter's placeholder: an example of an audit action.
    "license.created",
];

#[test]
fn every_text_of_the_dashboard_exists_in_english_and_german() {
    let i18n = read(&frontend_src().join("i18n.rs"));
    let table_start = i18n.find("const TEXTS").expect("frontend/src/i18n.rs defines `const TEXTS`");
    let texts = text_table(&i18n[table_start..]);
    assert!(texts.len() >= 300, "only {} texts found in frontend/src/i18n.rs", texts.len());

    let mut keys = BTreeSet::new();
    for (key, english, german) in &texts {
        assert!(keys.insert(key.as_str()), "the text key {key:?} is defined twice");
        assert!(!english.trim().is_empty(), "the text {key:?} has no English");
        assert!(!german.trim().is_empty(), "the text {key:?} has no German");
    }
    let namespaces: BTreeSet<&str> = keys.iter().filter_map(|key| key.split_once('.').map(|(ns, _)| ns)).collect();

    // Keys the code names: every argument `t("…")`, and every dotted string of a text namespace
    // (keys chosen in a `match` or passed around before they reach `t`).
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for file in files_below(&frontend_src(), "rs") {
        let source = read(&frontend_src().join(&file));
        let code = if file == "i18n.rs" { &source[..table_start] } else { &source[..] };
        let called: BTreeSet<String> = t_arguments(code).into_iter().collect();
        for literal in string_literals(code) {
            let is_key_shaped = literal.split('.').count() > 1
                && literal.split('.').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
                && namespaces.contains(literal.split('.').next().unwrap_or(""));
            let wanted = called.contains(&literal) || (is_key_shaped && !NOT_TEXT_KEYS.contains(&literal.as_str()));
            if !wanted {
                continue;
            }
            if keys.contains(literal.as_str()) {
                used.insert(literal);
            } else {
                missing.push(format!("{file}: {literal:?}"));
            }
        }
    }
    assert!(missing.is_empty(), "text keys the dashboard uses but i18n.rs lacks: {missing:#?}");
    let unused: Vec<_> = keys.iter().filter(|key| !used.contains(**key)).collect();
    assert!(unused.is_empty(), "texts in i18n.rs that nothing uses: {unused:?}");
}

/// The contents of every string literal in Rust source (escapes kept as written).
fn string_literals(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // A character literal ('"', '\'', 'x'); otherwise a lifetime.
            '\'' if chars.get(i + 1) == Some(&'\\') => i += 4,
            '\'' if chars.get(i + 2) == Some(&'\'') => i += 3,
            '"' => {
                let mut literal = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        literal.push(chars[i]);
                        i += 1;
                    }
                    literal.push(chars[i]);
                    i += 1;
                }
                literals.push(literal);
                i += 1;
            }
            _ => i += 1,
        }
    }
    literals
}

/// The literal arguments of every call `t("…")` (`app.t`, `lang.t`, `self.t`).
fn t_arguments(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("t(\"") {
        let is_call = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        rest = &rest[at + 3..];
        if let Some(end) = rest.find('"') {
            if is_call {
                found.push(rest[..end].to_owned());
            }
        }
    }
    found
}

/// The `(key, English, German)` rows of `const TEXTS: &[(&str, &str, &str)] = &[ … ];`. Anything
/// else in the table fails the test rather than being skipped.
fn text_table(source: &str) -> Vec<(String, String, String)> {
    let start = source.find("= &[").expect("TEXTS is a slice literal") + 4;
    let end = source.find("\n];").expect("TEXTS ends with `];` on its own line");
    let body = &source[start..end];
    let mut rows = Vec::new();
    for line in body.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("//")) {
        let literals = string_literals(line);
        let rebuilt = format!("({}),", literals.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join(", "));
        assert!(
            literals.len() == 3 && rebuilt == line,
            "not a (key, English, German) row of TEXTS in frontend/src/i18n.rs: {line}"
        );
        rows.push((literals[0].clone(), literals[1].clone(), literals[2].clone()));
    }
    rows
}
