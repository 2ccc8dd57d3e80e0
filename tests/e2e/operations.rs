//! What operators and staff watch and repair the email queue with: queue
//! metrics on the api's and each worker's own `METRICS_ADDR` listener,
//! `api deliveries list|retry` across organizations, and the staff filters
//! and bulk retry in GraphQL.

use std::time::Duration;

use entity::{DeliveryStatus, email_delivery};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use secrecy::ExposeSecret;
use serde_json::json;
use testkit::smtp_sink::SmtpSink;
use uuid::Uuid;

use crate::{
    helpers::{Staff, TestApp, api_binary},
    worker_helpers::{RedisNamespace, WorkerProcess, redis_url},
};

const INVITE: &str = "mutation($a: ID!) { inviteToPortal(accountId: $a) { delivery { id } } }";

/// Invites the contacts of `n` new accounts; the deliveries' ids.
async fn invite(app: &TestApp, staff: &Staff, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let account = app
            .create_account(
                staff,
                &format!("C-{i}"),
                &format!("Customer {i}"),
                Some(&format!("c{i}@customers.example")),
            )
            .await;
        let id = app
            .gql_string(
                staff.auth(),
                INVITE,
                json!({"a": account}),
                &["inviteToPortal", "delivery", "id"],
            )
            .await;
        ids.push(Uuid::parse_str(&id).expect("uuid"));
    }
    ids
}

/// Waits until the in-process queue has sent every delivery (so that no
/// worker holds a row the test is about to change).
async fn all_sent(app: &TestApp) {
    testkit::eventually(Duration::from_secs(20), async || {
        let waiting = email_delivery::Entity::find()
            .filter(email_delivery::Column::Status.ne(DeliveryStatus::Sent))
            .count(&app.db)
            .await
            .expect("read");
        if waiting == 0 {
            Ok(())
        } else {
            Err(format!("{waiting} not sent yet"))
        }
    })
    .await;
}

/// Marks deliveries FAILED, as a relay that refused them would have.
async fn fail(app: &TestApp, ids: &[Uuid]) {
    email_delivery::Entity::update_many()
        .col_expr(email_delivery::Column::Status, Expr::value(DeliveryStatus::Failed))
        .col_expr(email_delivery::Column::Attempts, Expr::value(5))
        .col_expr(
            email_delivery::Column::LastError,
            Expr::value(Some("550 5.1.1 mailbox unavailable".to_owned())),
        )
        .filter(email_delivery::Column::Id.is_in(ids.iter().copied()))
        .exec(&app.db)
        .await
        .expect("fail the deliveries");
}

async fn status_of(app: &TestApp, id: Uuid) -> email_delivery::Model {
    email_delivery::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the delivery")
}

async fn scrape(address: &str) -> String {
    let response = reqwest::get(format!("{address}/metrics")).await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// The value of the sample line that starts with `series`.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{metrics}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_each_worker_serve_queue_metrics_on_their_own_listener() {
    let sink = SmtpSink::start().await;
    let namespace = format!("test-{}", Uuid::now_v7().simple());
    let _redis = RedisNamespace::new(&namespace).await;
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", &redis_url()),
        ("QUEUE_NAMESPACE", &namespace),
        ("SMTP_URL", &sink.url()),
        ("METRICS_ADDR", "127.0.0.1:0"),
    ])
    .await;
    let api_metrics = app.metrics_address.clone().expect("a metrics listener");
    assert_eq!(app.get("/metrics").await.status(), 404, "not on the public port");

    let staff = app.staff("acme").await;
    invite(&app, &staff, 3).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let metrics = scrape(&api_metrics).await;
    assert_eq!(sample(&metrics, "portal_email_queue_depth"), 3.0);
    assert_eq!(
        sample(
            &metrics,
            r#"portal_email_deliveries{kind="INVITATION",status="QUEUED"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"portal_email_deliveries{kind="INVITATION",status="FAILED"}"#
        ),
        0.0
    );
    assert!(
        sample(&metrics, "portal_email_oldest_queued_age_seconds") >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("portal_http_requests_total"),
        "the api's own metrics too"
    );

    let port = free_port();
    let worker = WorkerProcess::spawn(&app, &[("METRICS_ADDR", &format!("127.0.0.1:{port}"))]).await;
    sink.wait_for(3, Duration::from_secs(30)).await;
    let worker_metrics = format!("http://127.0.0.1:{port}");
    let metrics = testkit::eventually(Duration::from_secs(10), async || {
        let metrics = scrape(&worker_metrics).await;
        if metrics.contains(r#"portal_email_outcomes_total{kind="INVITATION",outcome="sent"} 3"#) {
            Ok(metrics)
        } else {
            Err(metrics)
        }
    })
    .await;
    assert_eq!(sample(&metrics, "portal_email_queue_depth"), 0.0);
    assert_eq!(sample(&metrics, "portal_email_oldest_queued_age_seconds"), 0.0);
    assert_eq!(
        sample(
            &metrics,
            r#"portal_email_send_duration_seconds_count{kind="INVITATION"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(&metrics, r#"portal_email_attempts_count{kind="INVITATION"}"#),
        3.0
    );
    let health = reqwest::get(format!("{worker_metrics}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.text().await.expect("text"), "ok");
    assert!(worker.terminate().await.success());
}

fn deliveries(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(api_binary())
        .arg("deliveries")
        .args(args)
        .env("DATABASE_URL", app.settings.database_url.expose_secret())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run api deliveries")
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn operators_list_and_retry_failed_deliveries_across_organizations() {
    let app = TestApp::spawn().await;
    let acme = app.staff("acme").await;
    let other = app.staff("zenith").await;
    let failed_acme = invite(&app, &acme, 2).await;
    let failed_other = invite(&app, &other, 1).await;
    all_sent(&app).await;
    fail(&app, &failed_acme[..1]).await;
    fail(&app, &failed_other).await;

    let listed = stdout(&deliveries(&app, &["list", "--status", "failed"]));
    assert!(listed.contains("2 of 2 matching deliveries shown"), "{listed}");
    assert!(listed.contains("acme") && listed.contains("zenith"), "{listed}");
    assert!(listed.contains("550 5.1.1 mailbox unavailable"), "{listed}");
    assert!(
        listed.contains("c***@customers.example"),
        "recipients are masked: {listed}"
    );
    assert!(!listed.contains("c0@customers.example"), "{listed}");
    let listed = stdout(&deliveries(
        &app,
        &["list", "--organization", "acme", "--kind", "invitation"],
    ));
    assert!(listed.contains("2 of 2 matching"), "{listed}");
    let listed = stdout(&deliveries(&app, &["list", "--older-than", "1h"]));
    assert!(listed.contains("0 of 0 matching"), "{listed}");

    let counted = stdout(&deliveries(&app, &["retry", "--dry-run"]));
    assert!(counted.contains("2 FAILED deliveries match"), "{counted}");
    assert_eq!(status_of(&app, failed_acme[0]).await.status, DeliveryStatus::Failed);

    let retried = stdout(&deliveries(&app, &["retry", "--organization", "acme"]));
    assert!(retried.contains("1 FAILED deliveries put back"), "{retried}");
    let row = status_of(&app, failed_acme[0]).await;
    assert_eq!((row.status, row.attempts), (DeliveryStatus::Queued, 0), "{row:?}");
    assert!(row.next_attempt_at <= chrono::Utc::now(), "due at once: {row:?}");
    assert_eq!(status_of(&app, failed_other[0]).await.status, DeliveryStatus::Failed);

    let refused = deliveries(&app, &["list", "--status", "lost"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("--status \"lost\": expected one of queued, retrying"),
        "{err}"
    );
    let refused = deliveries(&app, &["retry", "--status", "sent"]);
    assert!(!refused.status.success());
}

#[tokio::test]
async fn staff_filter_deliveries_by_kind_and_status_and_retry_failed_ones_in_bulk() {
    let app = TestApp::spawn_with(&[("OUTBOX_REDELIVER_SECONDS", "3600")]).await;
    let staff = app.staff("acme").await;
    let other = app.staff("zenith").await;
    let ids = invite(&app, &staff, 3).await;
    let theirs = invite(&app, &other, 1).await;
    all_sent(&app).await;
    fail(&app, &ids[..2]).await;
    fail(&app, &theirs).await;

    const LIST: &str =
        "query($s: DeliveryStatus, $k: EmailKind) { emailDeliveries(status: $s, kind: $k) { totalCount } }";
    let count = async |vars| app.gql_ok(staff.auth(), LIST, vars).await["emailDeliveries"]["totalCount"].clone();
    assert_eq!(count(json!({"s": "FAILED", "k": "INVITATION"})).await, 2);
    assert_eq!(count(json!({"k": "INVITATION"})).await, 3);
    assert_eq!(count(json!({"k": "PASSWORD_RESET"})).await, 0);

    const RETRY: &str = "mutation($k: EmailKind, $ids: [ID!], $l: Int) { retryEmailDeliveries(kind: $k, ids: $ids, limit: $l) { id status attempts } }";
    let (code, error) = app.gql_err(staff.auth(), RETRY, json!({"l": 0})).await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "limit");
    let first = app
        .gql_ok(staff.auth(), RETRY, json!({"k": "INVITATION", "l": 1}))
        .await;
    let first = first["retryEmailDeliveries"].as_array().expect("list").clone();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["id"], ids[0].to_string(), "oldest first");
    assert_eq!(first[0]["status"], "QUEUED");
    assert_eq!(first[0]["attempts"], 0);
    let rest = app.gql_ok(staff.auth(), RETRY, json!({"k": "INVITATION"})).await;
    assert_eq!(rest["retryEmailDeliveries"].as_array().expect("list").len(), 1);
    let none = app.gql_ok(staff.auth(), RETRY, json!({})).await;
    assert_eq!(none["retryEmailDeliveries"], json!([]));
    // Another organization's FAILED email is neither listed nor retried.
    let by_id = app
        .gql_ok(staff.auth(), RETRY, json!({"ids": [theirs[0].to_string()]}))
        .await;
    assert_eq!(by_id["retryEmailDeliveries"], json!([]));
    assert_eq!(status_of(&app, theirs[0]).await.status, DeliveryStatus::Failed);
}
