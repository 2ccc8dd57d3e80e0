//! GraphQL over HTTP (the graphql-over-http spec): content negotiation,
//! status codes, GET for queries, and GraphQL-shaped errors for everything
//! that is not a GraphQL request.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::TestApp;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(app: &TestApp, accept: Option<&str>, content_type: &str, body: String) -> (StatusCode, String, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(header::CONTENT_TYPE, content_type)
        .body(body);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = request.send().await.expect("POST");
    let status = response.status();
    let media = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, media, body)
}

fn query(q: &str) -> String {
    json!({ "query": q }).to_string()
}

#[tokio::test]
async fn the_answer_takes_the_media_type_the_client_accepts() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE,
        ),
        (
            Some("application/json, application/graphql-response+json"),
            "application/json",
        ),
    ] {
        let (status, media, body) = post(&app, accept, "application/json", query("{ __typename }")).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert!(media.starts_with(expected), "{accept:?} gave {media}");
        assert!(media.contains("charset=utf-8"), "{media}");
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let (status, _, body) = post(&app, Some("text/html"), "application/json", query("{ __typename }")).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert!(body["errors"][0]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn documents_that_do_not_parse_or_validate_are_400_without_data_under_graphql_response_json() {
    let app = TestApp::spawn().await;
    for document in ["{ accounts { ", "{ noSuchField }"] {
        let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), "application/json", query(document)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{document}: {body}");
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        // The legacy type keeps answering 200 with the errors.
        let (status, _, body) = post(&app, Some("application/json"), "application/json", query(document)).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        assert!(body["errors"].is_array());
    }
    // An execution error is a 200 with data, whatever the type.
    let (status, _, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        "application/json",
        query("{ accounts { totalCount } }"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(body.get("data").is_some());
}

#[tokio::test]
async fn bodies_that_are_not_a_graphql_request_get_graphql_shaped_errors() {
    let app = TestApp::spawn().await;
    for (content_type, body, status) in [
        (
            "text/plain",
            query("{ __typename }"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "application/x-www-form-urlencoded",
            "query=%7B__typename%7D".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "application/json",
            "[{\"query\": \"{ __typename }\"}]".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("application/json", "{\"query\": ".to_owned(), StatusCode::BAD_REQUEST),
        (
            "application/json",
            "{\"variables\": {}}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            "{\"query\": \"{ __typename }\", \"variables\": [1]}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            "{\"query\": \"{ __typename }\", \"operationName\": 7}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, _, answer) = post(&app, Some(GRAPHQL_RESPONSE), content_type, body.clone()).await;
        assert_eq!(got, status, "{content_type} {body}");
        assert!(answer["errors"][0]["message"].is_string(), "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let (_, _, batch) = post(&app, None, "application/json", "[]".to_owned()).await;
    assert!(
        batch["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("batched")),
        "{batch}"
    );
    // Null variables, operation name and extensions are fine.
    let body = json!({"query": "query Q { __typename }", "variables": null, "operationName": null, "extensions": null});
    let (status, _, answer) = post(&app, None, "application/json; charset=utf-8", body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn queries_run_over_get_and_mutations_do_not() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let get = |params: Vec<(&'static str, String)>| {
        app.client
            .get(format!("{}/graphql", app.address))
            .header(header::ACCEPT, GRAPHQL_RESPONSE)
            .bearer_auth(&staff.token)
            .query(&params)
            .send()
    };
    let response = get(vec![
        (
            "query",
            "query($n: String) { organization { slug } __type(name: $n) { name } }".to_owned(),
        ),
        ("variables", json!({"n": "Account"}).to_string()),
    ])
    .await
    .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["organization"]["slug"], "acme", "{body}");

    let response = get(vec![("query", "mutation { logout }".to_owned())])
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response
            .headers()
            .get(header::ALLOW)
            .map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"POST"[..])
    );
    // Still signed in: the mutation did not run.
    let (status, _, body) = post(&app, None, "application/json", query("{ __typename }")).await;
    assert_eq!((status, &body["data"]["__typename"]), (StatusCode::OK, &json!("Query")));

    let response = get(vec![
        ("query", "{ __typename }".to_owned()),
        ("variables", "{oops".to_owned()),
    ])
    .await
    .expect("GET");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Without a query, a browser gets GraphiQL.
    let page = app.get("/graphql").await;
    assert!(
        page.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"))
    );
}
