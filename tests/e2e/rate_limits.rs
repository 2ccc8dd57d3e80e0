//! Client addresses and the sign-in rate limits under load balancers and
//! parallel guessing: `TRUSTED_PROXIES` decides whose `X-Forwarded-For` /
//! `Forwarded` is believed; the limiter counts before it hashes, per
//! (subject, address) with a higher ceiling per subject; the audit log
//! records the same client address.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::{
    helpers::{STAFF_PASSWORD, Staff, TestApp},
    worker_helpers::{RedisNamespace, redis_url},
};

const LOGIN: &str = "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }";

/// `staffLogin` as sent through a proxy that says the client is `forwarded`
/// (no header when `None`); the first error's code, or "OK".
async fn login(app: &TestApp, forwarded: Option<&str>, email: &str, password: &str) -> String {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({"query": LOGIN, "variables": {"e": email, "p": password}}));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    let body: Value = request.send().await.expect("POST /graphql").json().await.expect("JSON");
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map_or_else(|| "OK".to_owned(), str::to_owned)
}

/// The client address of the newest audit event of a new account that
/// staff invited through a proxy saying `forwarded`.
async fn audited_address(app: &TestApp, staff: &Staff, forwarded: &str) -> Value {
    let account = app
        .create_account(
            staff,
            &format!("A-{forwarded}"),
            "Riverside",
            Some("maria@riverside.example"),
        )
        .await;
    let invited: Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&staff.token)
        .header("x-forwarded-for", forwarded)
        .json(&json!({
            "query": "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            "variables": {"a": account}
        }))
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("JSON");
    assert!(invited.get("errors").is_none(), "{invited}");
    let data = app
        .gql_ok(
            staff.auth(),
            "query($a: ID!) { account(id: $a) { auditLog(first: 1) { nodes { action clientAddress } } } }",
            json!({"a": account}),
        )
        .await;
    let event = &data["account"]["auditLog"]["nodes"][0];
    assert_eq!(event["action"], "INVITATION_SENT", "{data}");
    event["clientAddress"].clone()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_buckets_and_its_address_is_audited() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let staff = app.staff("acme").await;
    // A guesser behind the balancer (which appends the address it saw).
    let guesser = "6.6.6.6, 203.0.113.5";
    for _ in 0..10 {
        assert_eq!(
            login(&app, Some(guesser), &staff.email, "wrong").await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login(&app, Some(guesser), &staff.email, STAFF_PASSWORD).await,
        "RATE_LIMITED"
    );
    // Forging another leftmost hop does not give the guesser a new bucket.
    assert_eq!(
        login(&app, Some("1.1.1.1, 203.0.113.5"), &staff.email, "wrong").await,
        "RATE_LIMITED"
    );
    // The owner of the account, at their own address behind the same balancer.
    assert_eq!(
        login(&app, Some("198.51.100.9"), &staff.email, STAFF_PASSWORD).await,
        "OK"
    );
    // The balancer's own address was never charged for its clients' failures.
    assert_eq!(login(&app, None, &staff.email, STAFF_PASSWORD).await, "OK");

    assert_eq!(
        audited_address(&app, &staff, "6.6.6.6, 203.0.113.77").await,
        "203.0.113.77"
    );
}

#[tokio::test]
async fn without_trusted_proxies_forwarding_headers_are_ignored_everywhere() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    for n in 0..10 {
        let forged = format!("203.0.113.{n}");
        assert_eq!(
            login(&app, Some(&forged), &staff.email, "wrong").await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login(&app, Some("198.51.100.9"), &staff.email, STAFF_PASSWORD).await,
        "RATE_LIMITED"
    );
    assert_eq!(audited_address(&app, &staff, "203.0.113.77").await, "127.0.0.1");
}

/// 64 wrong passwords for one email sent at once, to two api processes
/// sharing Redis: the limit is counted before any password is hashed, so
/// exactly 10 are evaluated and the rest are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_parallel_wrong_passwords_across_two_apis_get_exactly_ten_evaluated() {
    let redis = redis_url();
    let settings = [("REDIS_URL", redis.as_str()), ("GRAPHQL_MAX_CONCURRENCY", "64")];
    let app = TestApp::spawn_with(&settings).await;
    let _cleanup = RedisNamespace::new(&app.settings.queue_namespace).await;
    let other = TestApp::spawn_beside(&app).await;
    let staff = app.staff("acme").await;
    let answers = join_all((0..64).map(|n| {
        let target = if n % 2 == 0 { &app } else { &other };
        login(target, None, &staff.email, "wrong")
    }))
    .await;
    let evaluated = answers.iter().filter(|code| *code == "INVALID_CREDENTIALS").count();
    let refused = answers.iter().filter(|code| *code == "RATE_LIMITED").count();
    assert_eq!((evaluated, refused), (10, 54), "{answers:?}");
}

/// The same in the embedded mode (one process, counters in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_parallel_wrong_passwords_in_one_process_get_exactly_ten_evaluated() {
    let app = TestApp::spawn_with(&[("GRAPHQL_MAX_CONCURRENCY", "64")]).await;
    let staff = app.staff("acme").await;
    let answers = join_all((0..64).map(|_| login(&app, None, &staff.email, "wrong"))).await;
    let evaluated = answers.iter().filter(|code| *code == "INVALID_CREDENTIALS").count();
    assert_eq!(evaluated, 10, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|code| code == "INVALID_CREDENTIALS" || code == "RATE_LIMITED")
    );
}
