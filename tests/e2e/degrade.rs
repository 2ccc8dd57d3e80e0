//! Degrade, don't stall: with Redis unreachable behind a stalled network
//! path, sign-in and mutations that queue emails still answer promptly
//! (the limiter's calls time out and let the attempt through, queue pushes
//! run beside the response), `/readyz` says Redis is unavailable, and the
//! email reaches the queue once Redis answers again; a client that trickles
//! its request headers loses its connection; beyond the GraphQL permits and
//! their wait queue a request is refused at once with 503 and Retry-After.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{eventually, proxy::Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    helpers::{STAFF_PASSWORD, TestApp},
    worker_helpers::{RedisNamespace, redis_url},
};

const LOGIN: &str = "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }";

/// The local Redis's address, from `TEST_REDIS_URL` or the default.
fn redis_address() -> std::net::SocketAddr {
    let url = redis_url();
    let host_port = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .expect("resolve Redis")
        .next()
        .expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stalled_sign_in_and_invites_answer_promptly_and_the_email_is_queued_later() {
    let proxy = Proxy::start(redis_address()).await.expect("proxy");
    let namespace = format!("test-{}", uuid::Uuid::now_v7().simple());
    let redis = RedisNamespace::new(&namespace).await;
    let through_proxy = format!("redis://{}", proxy.address());
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", &through_proxy),
        ("QUEUE_NAMESPACE", &namespace),
        ("OUTBOX_REDELIVER_SECONDS", "1"),
        ("OUTBOX_SWEEP_INTERVAL_MS", "200"),
    ])
    .await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Riverside", Some("maria@riverside.example"))
        .await;

    proxy.stall(true);
    let started = Instant::now();
    let data = app
        .gql_ok(None, LOGIN, json!({"e": staff.email, "p": STAFF_PASSWORD}))
        .await;
    assert!(data["staffLogin"]["token"].is_string());
    let invited = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { delivery { id status } } }",
            json!({"a": account}),
        )
        .await;
    assert_eq!(invited["inviteToPortal"]["delivery"]["status"], "QUEUED");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "sign-in and invite took {elapsed:?} with Redis stalled"
    );

    let started = Instant::now();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("JSON");
    assert_eq!(body["redis"], "unavailable", "{body}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(redis.depth().await, 0, "nothing reached Redis while it stalled");

    proxy.stall(false);
    eventually(Duration::from_secs(30), async || match redis.depth().await {
        0 => Err("the email's job has not reached the queue yet".to_owned()),
        _ => Ok(()),
    })
    .await;
}

#[tokio::test]
async fn a_client_that_trickles_its_request_headers_loses_the_connection() {
    let app = TestApp::spawn_with(&[("HTTP_HEADER_TIMEOUT_SECONDS", "1")]).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: portal\r\n")
        .await
        .expect("half a head");
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    // A client that sends its head in time is served on the same server.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_permits_and_their_queue_a_request_gets_503_with_retry_after() {
    let app = TestApp::spawn_with(&[("GRAPHQL_MAX_CONCURRENCY", "1"), ("GRAPHQL_MAX_WAITING", "1")]).await;
    let staff = app.staff("acme").await;
    // Password checks take a while (argon2): 12 at once cannot all fit.
    let answers = futures::future::join_all((0..12).map(|_| {
        app.client
            .post(format!("{}/graphql", app.address))
            .json(&json!({"query": LOGIN, "variables": {"e": staff.email, "p": STAFF_PASSWORD}}))
            .send()
    }))
    .await;
    let mut refused = 0;
    for answer in answers {
        let answer = answer.expect("an answer");
        match answer.status().as_u16() {
            200 => {}
            503 => {
                refused += 1;
                assert_eq!(
                    answer.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                let body: Value = answer.json().await.expect("JSON");
                assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{body}");
                assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 1);
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused >= 1, "no request was refused");
    assert!(refused <= 10, "at least the permit holder and one waiter were served");
    // The queue drains: the next request is served.
    let data = app
        .gql_ok(None, LOGIN, json!({"e": staff.email, "p": STAFF_PASSWORD}))
        .await;
    assert!(data["staffLogin"]["token"].is_string());
}
