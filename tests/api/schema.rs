//! `schema.graphql` is generated from the code; this fails when they drift apart.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = license_server::schema::sdl();
    assert!(committed == generated, "schema.graphql is out of date: run `make schema` and commit the result");
}
