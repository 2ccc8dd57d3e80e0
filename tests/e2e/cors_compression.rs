//! Browsers on other origins (`CORS_ALLOWED_ORIGINS`) and compressed
//! answers for clients that ask for them.

use reqwest::{Method, header};
use serde_json::json;

use crate::helpers::TestApp;

const ALLOWED: &str = "http://localhost:5173";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header(header::ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .expect("OPTIONS")
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_and_may_read_the_answer() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", &format!("https://app.example.com,{ALLOWED}"))]).await;
    let staff = app.staff("acme").await;

    let answer = preflight(&app, ALLOWED).await;
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(allowed_origin(&answer), Some(ALLOWED));
    let allowed_headers = answer
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    assert!(
        answer
            .headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.to_lowercase().contains("origin")))
    );

    let actual = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(header::ORIGIN, ALLOWED)
        .bearer_auth(&staff.token)
        .json(&json!({"query": "{ organization { slug } }"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(allowed_origin(&actual), Some(ALLOWED));
    let exposed = actual
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let body: serde_json::Value = actual.json().await.expect("json");
    assert_eq!(body["data"]["organization"]["slug"], "acme");
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers_and_by_default_none_is_allowed() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", ALLOWED)]).await;
    let answer = preflight(&app, "https://evil.example").await;
    assert_eq!(allowed_origin(&answer), None);
    let post = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(allowed_origin(&post), None);

    let same_origin_only = TestApp::spawn().await;
    let answer = preflight(&same_origin_only, ALLOWED).await;
    assert_eq!(allowed_origin(&answer), None);
}

#[tokio::test]
async fn large_answers_are_compressed_only_when_the_client_asks() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let query = json!({"query": "{ __schema { types { name description fields { name description } } } }"});
    let ask = |encoding: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&staff.token)
            .json(&query);
        if let Some(encoding) = encoding {
            request = request.header(header::ACCEPT_ENCODING, encoding);
        }
        request.send()
    };
    let plain = ask(None).await.expect("POST");
    assert_eq!(plain.headers().get(header::CONTENT_ENCODING), None);
    let plain = plain.bytes().await.expect("body");
    assert!(plain.len() > 4096, "a large answer: {} bytes", plain.len());

    let gzip = ask(Some("gzip")).await.expect("POST");
    assert_eq!(
        gzip.headers()
            .get(header::CONTENT_ENCODING)
            .map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"gzip"[..])
    );
    let gzip = gzip.bytes().await.expect("body");
    assert_eq!(&gzip[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(gzip.len() * 3 < plain.len(), "{} of {} bytes", gzip.len(), plain.len());

    let brotli = ask(Some("br")).await.expect("POST");
    assert_eq!(
        brotli
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"br"[..])
    );

    // Small answers are not worth it.
    let small = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(small.headers().get(header::CONTENT_ENCODING), None);
}
