//! `schema.graphql` is generated from the code; this fails when they drift apart. The constraints
//! the domains register for input errors name real ones.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = license_server::schema::sdl();
    assert!(committed == generated, "schema.graphql is out of date: run `make schema` and commit the result");
}

/// Each domain registers the constraints a caller can violate; a name that matches nothing in
/// the database (a typo, a renamed constraint) would silently turn that mistake into a 500.
#[sqlx::test(migrations = "../migrations")]
async fn every_registered_input_constraint_exists_in_the_database(pool: sqlx::PgPool) {
    let names: Vec<&str> = license_server::error::input_constraints().map(|c| c.name).collect();
    assert!(names.len() >= 7, "expected the domains' constraints to be registered, found {names:?}");
    for name in names {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1)
                 OR EXISTS (SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'i')",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(exists, "registered constraint {name} does not exist in the database");
    }
}
