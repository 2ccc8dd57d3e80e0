//! The HTTP surface around the resolvers: GraphiQL at `GET /graphql` served
//! entirely from this origin, `/healthz`, `/readyz` (database, and Redis
//! when configured), `/metrics`, the `x-request-id` on every response, and
//! `GRAPHQL_MAX_CONCURRENCY` queueing requests rather than failing them.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The `src` and `href` values of an HTML page.
fn referenced_urls(html: &str) -> Vec<String> {
    ["src=\"", "href=\"", "src='", "href='"]
        .iter()
        .flat_map(|attribute| {
            let quote = attribute.chars().last().unwrap_or('"');
            html.match_indices(attribute).filter_map(move |(at, _)| {
                let rest = &html[at + attribute.len()..];
                rest.find(quote).map(|end| rest[..end].to_owned())
            })
        })
        .collect()
}

#[tokio::test]
async fn graphiql_is_served_at_get_graphql_and_loads_nothing_from_another_host() {
    let app = TestApp::spawn().await;
    let response = app.get("/graphql").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.expect("body");
    assert!(html.contains("<script"), "a console page: {html:.300}");

    // No absolute URL of any other host (a CDN would break offline staff machines).
    for scheme in ["http://", "https://"] {
        for (at, _) in html.match_indices(scheme) {
            let url: String = html[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
            assert!(url.starts_with(&app.address), "external URL in the page: {url}");
        }
    }
    let urls = referenced_urls(&html);
    let same_origin: Vec<&String> = urls
        .iter()
        .filter(|url| url.starts_with('/') && !url.starts_with("//"))
        .collect();
    assert!(
        !same_origin.is_empty(),
        "the page loads its script from the api: {urls:?}"
    );
    for url in &urls {
        assert!(
            (url.starts_with('/') && !url.starts_with("//")) || url.starts_with("data:") || url.starts_with('#'),
            "{url} is not same-origin"
        );
    }
    for url in same_origin {
        let asset = app.get(url).await;
        assert_eq!(asset.status().as_u16(), 200, "{url}");
        assert!(!asset.bytes().await.expect("body").is_empty(), "{url}");
    }
}

#[tokio::test]
async fn healthz_answers_200_while_the_process_is_up() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn readyz_reports_the_database_ok_and_redis_not_configured_without_redis_url() {
    let app = TestApp::spawn().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"status": "ready", "database": "ok", "redis": "not configured"})
    );
}

#[tokio::test]
async fn readyz_reports_redis_ok_when_redis_is_configured() {
    let app = TestApp::spawn_with(&[("REDIS_URL", "redis://127.0.0.1:6379")]).await;
    assert!(app.settings.redis_url.is_some(), "the app runs with Redis");
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({"status": "ready", "database": "ok", "redis": "ok"}));
}

/// The value of the sample `name` (with its labels exactly as written) in
/// Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|value| value.parse().ok())
    })
}

#[tokio::test]
async fn metrics_count_requests_and_time_operations_by_root_field_and_count_statements() {
    // Keep the outbox sweeper (which also runs statements) asleep after its
    // first sweep, so the statement count read below is exact.
    let app = TestApp::spawn_with(&[("OUTBOX_SWEEP_INTERVAL_MS", "3600000")]).await;
    let staff = app.staff("acme").await;
    app.gql_ok(staff.auth(), "{ accounts { totalCount } }", json!({})).await;
    app.gql_ok(staff.auth(), "{ accounts { totalCount } }", json!({})).await;
    app.gql_err(None, "{ accounts { totalCount } }", json!({})).await;
    app.gql_ok(
        staff.auth(),
        "{ viewer { __typename } organization { slug } }",
        json!({}),
    )
    .await;
    app.gql(staff.auth(), "{ accounts { nope } }", json!({})).await;
    let statements = app.statements.get();

    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let metrics = response.text().await.expect("body");
    let value = |name: &str| sample(&metrics, name).unwrap_or_else(|| panic!("no {name} in\n{metrics}"));

    assert_eq!(
        value("portal_graphql_operations_total{operation=\"accounts\",outcome=\"ok\"}"),
        2.0
    );
    assert_eq!(
        value("portal_graphql_operations_total{operation=\"accounts\",outcome=\"error\"}"),
        1.0
    );
    assert_eq!(
        value("portal_graphql_operations_total{operation=\"staffLogin\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        value("portal_graphql_operations_total{operation=\"organization+viewer\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        value("portal_graphql_operations_total{operation=\"invalid\",outcome=\"error\"}"),
        1.0
    );
    assert_eq!(
        value("portal_graphql_operation_duration_seconds_count{operation=\"accounts\"}"),
        3.0
    );
    assert!(value("portal_graphql_operation_duration_seconds_sum{operation=\"accounts\"}") > 0.0);
    assert_eq!(
        value("portal_graphql_operation_duration_seconds_bucket{le=\"+Inf\",operation=\"accounts\"}"),
        3.0
    );
    assert_eq!(
        value("portal_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}"),
        6.0
    );
    assert_eq!(
        value("portal_http_request_duration_seconds_count{method=\"POST\",route=\"/graphql\"}"),
        6.0
    );
    #[expect(clippy::cast_precision_loss, reason = "a small count")]
    let statements = statements as f64;
    // The scrape itself reads the email queue's state: one statement.
    assert_eq!(value("portal_db_statements_total"), statements + 1.0);
    assert_eq!(
        value("portal_graphql_waiting"),
        0.0,
        "nothing waits once every request answered"
    );
    assert!(statements > 0.0);
}

#[tokio::test]
async fn made_up_http_methods_do_not_create_metric_labels() {
    let app = TestApp::spawn().await;
    for made_up in ["PROPFIND", "BREW", "X-ONE-OFF"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).expect("a token");
        let response = app
            .client
            .request(method, format!("{}/graphql", app.address))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 405, "{made_up}");
    }
    let metrics = app.get("/metrics").await.text().await.expect("body");
    for made_up in ["PROPFIND", "BREW", "X-ONE-OFF"] {
        assert!(!metrics.contains(made_up), "{made_up} became a label:\n{metrics}");
    }
    assert_eq!(
        sample(
            &metrics,
            "portal_http_requests_total{method=\"OTHER\",route=\"/graphql\",status=\"405\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_client_supplied_one_is_kept() {
    let app = TestApp::spawn().await;
    let request_id = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no x-request-id on {}", response.url()))
    };
    let first = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({"query": "{ viewer { __typename } }"}))
        .send()
        .await
        .expect("POST");
    let second = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({"query": "{ viewer { __typename } }"}))
        .send()
        .await
        .expect("POST");
    let (first, second) = (request_id(&first), request_id(&second));
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
    assert_ne!(first, second, "each request gets its own id");
    for path in ["/healthz", "/readyz", "/metrics", "/graphql", "/no-such-page"] {
        let response = app.get(path).await;
        request_id(&response);
    }
    let kept = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-from-the-load-balancer-42")
        .send()
        .await
        .expect("GET");
    assert_eq!(request_id(&kept), "trace-from-the-load-balancer-42");
}

#[tokio::test]
async fn with_one_graphql_permit_concurrent_requests_wait_their_turn_and_all_succeed() {
    // Room in the wait queue for all of them (beyond it see `degrade`).
    let app = TestApp::spawn_with(&[("GRAPHQL_MAX_CONCURRENCY", "1"), ("GRAPHQL_MAX_WAITING", "16")]).await;
    let staff = app.staff("acme").await;
    let requests = (0..12).map(|_| {
        app.gql(
            staff.auth(),
            "{ accounts { totalCount } viewer { __typename } }",
            json!({}),
        )
    });
    let answers = futures::future::join_all(requests).await;
    for answer in answers {
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(answer["data"]["viewer"]["__typename"], "StaffUser", "{answer}");
    }
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_answered_408_after_http_request_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::spawn_with(&[("HTTP_REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let authority = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.expect("connect");
    // Headers promise 100 bytes of body; only one ever comes.
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    let mut answer = vec![0_u8; 256];
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut answer))
        .await
        .expect("the api answers instead of waiting for the body for ever")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
