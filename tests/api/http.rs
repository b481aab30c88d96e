//! GraphQL over HTTP: methods, media types, authentication, limits.

use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{count, spawn_app, MAX_BODY_BYTES};

async fn post(
    app: &crate::helpers::TestApp,
    key: Option<&str>,
    content_type: &str,
    accept: Option<&str>,
    body: String,
) -> (u16, String, String) {
    let mut request =
        app.client.post(format!("{}/graphql", app.address)).header("Content-Type", content_type).body(body);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, media, response.text().await.unwrap())
}

const GRAPHQL_RESPONSE: Option<&str> = Some("application/graphql-response+json");

fn code(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn requests_without_a_valid_api_key_are_unauthenticated(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let query = json!({"query": "{ licenses { totalCount } }"}).to_string();
    let wrong_shape = "AF-2026-short";
    let unknown = "AF-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for key in [None, Some(wrong_shape), Some(unknown), Some("")] {
        let (status, _, body) = post(&app, key, "application/json", None, query.clone()).await;
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn post_requires_json_and_get_refuses_mutations(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let body = json!({"query": "{ __typename }"}).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let (status, _, _) = post(&app, Some(&admin), content_type, None, body.clone()).await;
        assert_eq!(status, 415, "{content_type}");
    }
    let (status, _, _) = post(&app, Some(&admin), "application/json; charset=utf-8", None, body).await;
    assert_eq!(status, 200);

    let mutation = "mutation { createCustomer(input: {name: \"N\", email: \"n@example.com\"}) { id } }";
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", mutation)])
        .header("X-API-Key", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(count(&pool, "SELECT count(*) FROM customers").await, 0);

    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "query Q { customers { totalCount } }"), ("operationName", "Q")])
        .header("X-API-Key", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["customers"]["totalCount"], 0);

    let response = app.client.put(format!("{}/graphql", app.address)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_response_media_type_follows_accept_and_request_errors_are_400_unless_the_client_asks_for_json(
    pool: PgPool,
) {
    let app = spawn_app(&pool).await;
    let admin = app.key(Scope::Admin).await;
    let invalid = json!({"query": "{ noSuchField }"}).to_string();
    let unparsable = json!({"query": "{ licenses { "}).to_string();

    let (status, media, body) = post(&app, Some(&admin), "application/json", GRAPHQL_RESPONSE, invalid.clone()).await;
    assert_eq!((status, media.as_str()), (400, "application/graphql-response+json"));
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert!(parsed.get("data").is_none(), "a request error has no data entry");

    let (status, _, body) = post(&app, Some(&admin), "application/json", GRAPHQL_RESPONSE, unparsable.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED");

    // Clients that do not ask for application/graphql-response+json (legacy application/json,
    // `*/*`, or no Accept at all) get application/json, and 200 for GraphQL request errors, as
    // the spec says.
    let no_accept = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("Content-Type", "application/json")
        .header("X-API-Key", &admin)
        .body(unparsable.clone())
        .build()
        .map(|mut request| {
            request.headers_mut().remove("accept");
            request
        })
        .unwrap();
    assert!(no_accept.headers().get("accept").is_none());
    let response = app.client.execute(no_accept).await.unwrap();
    assert_eq!(
        (response.status().as_u16(), response.headers()["content-type"].to_str().unwrap()),
        (200, "application/json")
    );
    assert_eq!(code(&response.text().await.unwrap()), "GRAPHQL_PARSE_FAILED");
    for accept in ["application/json", "*/*", "application/*"] {
        for document in [&invalid, &unparsable] {
            let (status, media, _) = post(&app, Some(&admin), "application/json", Some(accept), document.clone()).await;
            assert_eq!((status, media.as_str()), (200, "application/json"), "{accept}: {document}");
        }
    }
    let (status, media, _) = post(
        &app,
        Some(&admin),
        "application/json",
        Some("application/json, application/graphql-response+json;q=0.9"),
        invalid,
    )
    .await;
    assert_eq!((status, media.as_str()), (400, "application/graphql-response+json"), "named, it is chosen");

    let (status, _, _) = post(&app, Some(&admin), "application/json", Some("text/html"), unparsable).await;
    assert_eq!(status, 406);

    let (status, _, body) = post(&app, Some(&admin), "application/json", None, "{not json".into()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_REQUEST");
    // Without a `query` it is no GraphQL request at all, whatever the client accepts.
    let misspelt = json!({"qeury": "{ __typename }"}).to_string();
    for accept in [GRAPHQL_RESPONSE, Some("application/json")] {
        let (status, _, body) = post(&app, Some(&admin), "application/json", accept, misspelt.clone()).await;
        assert_eq!((status, code(&body).as_str()), (400, "BAD_REQUEST"), "{accept:?}");
    }

    // A field error during execution is not a request error: 200 with data present.
    let (status, _, body) = post(
        &app,
        Some(&admin),
        "application/json",
        None,
        json!({"query": "{ license(id: \"nope\") { id } }"}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[sqlx::test(migrations = "../migrations")]
async fn bodies_batches_depth_and_introspection_are_bounded(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let (admin, client) = (app.key(Scope::Admin).await, app.key(Scope::Client).await);

    let huge = json!({"query": format!("{{ __typename }} # {}", "x".repeat(MAX_BODY_BYTES))}).to_string();
    let (status, _, body) = post(&app, Some(&admin), "application/json", None, huge).await;
    assert_eq!(status, 413);
    assert_eq!(code(&body), "PAYLOAD_TOO_LARGE");

    let one = json!({"query": "{ __typename }"});
    let (status, _, body) =
        post(&app, Some(&admin), "application/json", None, Value::Array(vec![one.clone(); 3]).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().len(), 3);
    let (status, _, body) =
        post(&app, Some(&admin), "application/json", None, Value::Array(vec![one; 11]).to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BATCH_TOO_LARGE");

    let nested = "customer { licenses { ".repeat(6) + "id" + &" } }".repeat(6);
    let deep = format!("{{ licenses {{ edges {{ node {{ {nested} }} }} }} }}");
    let (status, _, body) =
        post(&app, Some(&admin), "application/json", GRAPHQL_RESPONSE, json!({"query": deep}).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");

    let introspection = json!({"query": "{ __schema { queryType { name } } }"}).to_string();
    let (status, _, body) = post(&app, Some(&admin), "application/json", None, introspection.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["data"]["__schema"]["queryType"]["name"], "Query");
    let (status, _, body) = post(&app, Some(&client), "application/json", None, introspection).await;
    assert_eq!(status, 403);
    assert_eq!(code(&body), "FORBIDDEN");
    let hidden =
        json!({"query": "query { ...F } fragment F on Query { __type(name: \"License\") { name } }"}).to_string();
    let (status, _, _) = post(&app, Some(&client), "application/json", None, hidden).await;
    assert_eq!(status, 403, "introspection inside a fragment is refused too");
}

/// graphql-js's full introspection query goes 13 deep (nine `ofType`s), beyond the depth limit of
/// data queries; an operation that only introspects is bounded by the schema instead.
#[sqlx::test(migrations = "../migrations")]
async fn the_standard_tools_introspection_query_answers_for_analysts_and_admins_only(pool: PgPool) {
    let app = spawn_app(&pool).await;
    let full = json!({"query": include_str!("introspection_query.graphql"), "operationName": "IntrospectionQuery"})
        .to_string();
    for scope in [Scope::Admin, Scope::Analyst] {
        let key = app.key(scope).await;
        let (status, _, body) = post(&app, Some(&key), "application/json", None, full.clone()).await;
        assert_eq!(status, 200, "{body}");
        let reply: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(reply["errors"], Value::Null, "{body}");
        let types = reply["data"]["__schema"]["types"].as_array().unwrap();
        let license = types.iter().find(|t| t["name"] == "License").expect("License is described");
        let key_field = license["fields"].as_array().unwrap().iter().find(|f| f["name"] == "licenseKey").unwrap();
        assert_eq!(key_field["type"]["kind"], "NON_NULL", "type references are unwrapped");
        assert_eq!(key_field["type"]["ofType"]["name"], "String");
    }
    let (status, _, body) = post(&app, Some(&app.key(Scope::Client).await), "application/json", None, full).await;
    assert_eq!(status, 403, "{body}");

    // The deeper limit is for introspection alone: data beside it keeps the data limit.
    let nested = "customer { licenses { ".repeat(6) + "id" + &" } }".repeat(6);
    let mixed = format!("{{ __schema {{ queryType {{ name }} }} licenses {{ edges {{ node {{ {nested} }} }} }} }}");
    let admin = app.key(Scope::Admin).await;
    let (status, _, body) =
        post(&app, Some(&admin), "application/json", GRAPHQL_RESPONSE, json!({"query": mixed}).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    // And introspection deeper than any schema's type references is still refused.
    let of_type = "ofType { ".repeat(30) + "name" + &" }".repeat(30);
    let absurd = format!("{{ __type(name: \"License\") {{ fields {{ type {{ {of_type} }} }} }} }}");
    let (status, _, body) =
        post(&app, Some(&admin), "application/json", GRAPHQL_RESPONSE, json!({"query": absurd}).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
}

#[sqlx::test(migrations = "../migrations")]
async fn health_and_readiness_answer(pool: PgPool) {
    let app = spawn_app(&pool).await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}
