//! Email delivery end to end: outbox rows written straight into the test
//! app's database, jobs through real Redis, real `worker` processes (the
//! `e2e-worker` binary), and a real SMTP server on loopback.
//!
//! Rows are inserted directly (organization, account, PENDING invitation,
//! QUEUED INVITATION delivery) so these tests exercise the worker alone;
//! the invitation mutations have their own tests. Timings are shortened:
//! retries start at 200 ms and the sweeper redelivers after 1 s.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use common::outbox;
use entity::{DeliveryStatus, InvitationStatus, email_delivery, invitation, invitation_link};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Set, Statement, TransactionTrait,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use testkit::{
    builders::{AccountBuilder, InvitationBuilder, OrganizationBuilder},
    eventually,
    smtp_sink::{Mode, ReceivedEmail, SmtpSink},
};
use uuid::Uuid;
use worker::{
    jobs::{self, JobContext, Processed},
    queue::JobQueue,
};

use crate::{
    helpers::TestApp,
    worker_helpers::{RedisNamespace, WorkerProcess, redis_url},
};

const ORGANIZATION: &str = "Acme Sanitation & Sons";

/// One invitation with its queued email.
#[derive(Debug, Clone)]
struct Invited {
    organization_id: Uuid,
    invitation_id: Uuid,
    delivery_id: Uuid,
    email: String,
}

/// A fresh queue namespace, cleaned when dropped; create it before the app
/// so that it is dropped (and cleaned) after the app has stopped.
async fn namespace() -> RedisNamespace {
    RedisNamespace::new(&format!("test-{}", Uuid::now_v7().simple())).await
}

/// The test app on `redis`'s namespace, with the sink as SMTP server and
/// short timings.
async fn app_with(redis: &RedisNamespace, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("REDIS_URL", redis_url()),
        ("QUEUE_NAMESPACE", redis.namespace.clone()),
        ("SMTP_URL", sink.url()),
        ("EMAIL_RETRY_BASE_MS", "200".to_owned()),
        ("OUTBOX_REDELIVER_SECONDS", "1".to_owned()),
        ("OUTBOX_SWEEP_INTERVAL_MS", "200".to_owned()),
        ("PUBLIC_URL", "https://portal.example.test".to_owned()),
    ];
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key, (*value).to_owned()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&env).await
}

/// A Redis queue handle for the app's namespace, as the api would push.
async fn queue_of(app: &TestApp) -> JobQueue {
    let url = app.settings.redis_url.clone().expect("REDIS_URL");
    let conn = common::redis_conn::connect(&url).await.expect("redis");
    JobQueue::redis(conn, &app.settings.queue_namespace, 4)
}

/// Inserts an organization and `n` accounts, each with a PENDING invitation
/// and its QUEUED INVITATION delivery (subject as the api writes it).
async fn invite(app: &TestApp, n: usize) -> Vec<Invited> {
    let db = &app.db;
    let txn = db.begin().await.expect("begin");
    let organization_id = OrganizationBuilder::new()
        .name(ORGANIZATION)
        .insert(&txn)
        .await
        .expect("insert organization")
        .id;
    let mut invited = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("customer{i}@example.com");
        let account_id = AccountBuilder::new(organization_id)
            .number(format!("A-{i:05}"))
            .name(format!("Jones <Construction> {i}"))
            .contact_email(email.clone())
            .insert(&txn)
            .await
            .expect("insert account")
            .id;
        let invitation_id = InvitationBuilder::new(organization_id, account_id)
            .email(email.clone())
            .insert(&txn)
            .await
            .expect("insert invitation")
            .id;
        let delivery = queue_delivery(&txn, &app.settings, organization_id, invitation_id, &email).await;
        invited.push(Invited {
            organization_id,
            invitation_id,
            delivery_id: delivery,
            email,
        });
    }
    txn.commit().await.expect("commit");
    invited
}

/// Writes a QUEUED INVITATION delivery for an invitation; returns its id.
async fn queue_delivery(
    db: &impl ConnectionTrait,
    settings: &common::Settings,
    organization_id: Uuid,
    invitation_id: Uuid,
    email: &str,
) -> Uuid {
    let invitation = service::email::invitation::Invitation {
        invitation_id,
        organization_name: ORGANIZATION.to_owned(),
    };
    service::email::queue(db, settings, organization_id, email, &invitation)
        .await
        .expect("enqueue delivery")
}

async fn delivery(db: &DatabaseConnection, id: Uuid) -> email_delivery::Model {
    email_delivery::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read delivery")
        .expect("delivery exists")
}

async fn invitation_row(db: &DatabaseConnection, id: Uuid) -> invitation::Model {
    invitation::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read invitation")
        .expect("invitation exists")
}

/// Polls the delivery until `check` holds; panics after `deadline`.
async fn wait_for_delivery(
    db: &DatabaseConnection,
    id: Uuid,
    deadline: Duration,
    what: &str,
    check: impl Fn(&email_delivery::Model) -> bool,
) -> email_delivery::Model {
    eventually(deadline, async || {
        let row = delivery(db, id).await;
        if check(&row) {
            Ok(row)
        } else {
            Err(format!("delivery never became {what}: {row:?}"))
        }
    })
    .await
}

async fn wait_for_status(
    db: &DatabaseConnection,
    id: Uuid,
    status: DeliveryStatus,
    deadline: Duration,
) -> email_delivery::Model {
    wait_for_delivery(db, id, deadline, &format!("{status:?}"), |row| row.status == status).await
}

async fn count_with_status(db: &DatabaseConnection, status: DeliveryStatus) -> u64 {
    email_delivery::Entity::find()
        .filter(email_delivery::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count deliveries")
}

/// The raw token of the accept link in an email's text part.
fn link_token(email: &ReceivedEmail, public_url: &str) -> String {
    let text = email.text().expect("a text part");
    let prefix = format!("{public_url}/portal/accept?token=");
    let start = text.find(&prefix).expect("the accept link in the text part") + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every text value stored in the database (every table, every row).
async fn database_text(db: &DatabaseConnection) -> String {
    let mut out = String::new();
    for table in migration::TABLES {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let rows = db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("SELECT CAST(t AS text) FROM {table} t"),
                    ))
                    .await
                    .expect("dump table");
                for row in rows {
                    out.push_str(&row.try_get_by_index::<String>(0).expect("row text"));
                    out.push('\n');
                }
            }
            backend => {
                let rows = db
                    .query_all_raw(Statement::from_string(backend, format!("SELECT * FROM {table}")))
                    .await
                    .expect("dump table");
                for row in rows {
                    for i in 0..row.column_names().len() {
                        if let Ok(Some(text)) = row.try_get_by_index::<Option<String>>(i) {
                            out.push_str(&text);
                            out.push('\n');
                        }
                    }
                }
            }
        }
    }
    out
}

/// Counts emails per envelope recipient.
fn per_recipient(messages: &[ReceivedEmail]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in messages {
        for rcpt in &message.rcpt_to {
            *counts.entry(rcpt.clone()).or_insert(0) += 1;
        }
    }
    counts
}

const SOON: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_email_is_sent_once_with_a_link_whose_token_is_stored_only_as_its_digest() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 1).await.remove(0);
    let worker = WorkerProcess::spawn(&app, &[]).await;

    queue_of(&app).await.push(invited.delivery_id).await.expect("push");
    let email = sink.wait_for(1, SOON).await.remove(0);
    let row = wait_for_status(&app.db, invited.delivery_id, DeliveryStatus::Sent, SOON).await;
    assert!(row.sent_at.is_some(), "sentAt is set");
    assert_eq!((row.attempts, row.last_error.as_deref()), (1, None));
    assert!(row.lease_owner.is_none(), "the lease is released");

    // The envelope and the headers.
    assert_eq!(email.rcpt_to, vec![invited.email.clone()]);
    assert_eq!(email.mail_from, "no-reply@localhost");
    let subject = email.subject();
    assert!(subject.contains("Welcome to the Customer Portal"), "{subject}");
    assert!(subject.contains(ORGANIZATION), "{subject}");

    // Text and HTML, the HTML escaped (askama writes numeric character
    // references), both with the same link.
    let text = email.text().expect("text part");
    let html = email.html().expect("html part");
    assert!(text.contains("Hello Jones <Construction> 0,"), "{text}");
    assert!(html.contains("Hello Jones &#60;Construction&#62; 0,"), "{html}");
    assert!(html.contains("Acme Sanitation &#38; Sons"), "{html}");
    assert!(!html.contains("<Construction>"), "{html}");
    assert!(text.contains("ignore this email"), "{text}");
    let token = link_token(&email, &app.settings.public_url);
    assert_eq!(token.len(), 43, "256 bits, URL-safe base64");
    assert!(html.contains(&format!("/portal/accept?token={token}")), "{html}");
    let invitation = invitation_row(&app.db, invited.invitation_id).await;
    let expires = invitation.expires_at.format("%B %-d, %Y").to_string();
    assert!(
        text.contains(&expires) && html.contains(&expires),
        "expiry {expires} in {text}"
    );

    // Only the digest is stored: on the invitation and in its links.
    let digest = sha256_hex(&token);
    assert_eq!(invitation.token_digest.as_deref(), Some(digest.as_str()));
    let links = invitation_link::Entity::find()
        .filter(invitation_link::Column::InvitationId.eq(invited.invitation_id))
        .all(&app.db)
        .await
        .expect("links");
    assert_eq!(
        links.iter().map(|l| l.token_digest.clone()).collect::<Vec<_>>(),
        vec![digest]
    );
    let stored = database_text(&app.db).await;
    assert!(stored.contains(&invited.email), "the dump sees the data");
    assert!(!stored.contains(&token), "the raw token is in the database");
    let queued = redis.all_values().await;
    assert!(!queued.is_empty(), "the dump sees the queue");
    assert!(
        queued.iter().all(|value| !value.contains(&token)),
        "the raw token is in Redis"
    );

    // No second email, although the sweeper runs every 200 ms.
    sink.assert_count_stays(1, Duration::from_millis(1500)).await;
    assert!(worker.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_then_up_leaves_the_delivery_retrying_then_sends_it_exactly_once() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Down).await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[("EMAIL_MAX_ATTEMPTS", "50")]).await;
    let invited = invite(&app, 1).await.remove(0);
    let worker = WorkerProcess::spawn(&app, &[]).await;

    queue_of(&app).await.push(invited.delivery_id).await.expect("push");
    let retrying = wait_for_delivery(&app.db, invited.delivery_id, SOON, "RETRYING", |row| {
        row.status == DeliveryStatus::Retrying && row.attempts >= 1
    })
    .await;
    let error = retrying.last_error.clone().expect("lastError is recorded");
    assert!(!error.is_empty());
    assert!(retrying.sent_at.is_none());
    assert!(retrying.next_attempt_at > retrying.queued_at, "a backoff is scheduled");

    sink.set_mode(Mode::Accept).await;
    let email = sink.wait_for(1, SOON).await.remove(0);
    assert_eq!(email.rcpt_to, vec![invited.email]);
    let sent = wait_for_status(&app.db, invited.delivery_id, DeliveryStatus::Sent, SOON).await;
    assert!(sent.attempts >= 2, "{sent:?}");
    assert!(sent.last_error.is_none() && sent.sent_at.is_some());
    sink.assert_count_stays(1, Duration::from_millis(1500)).await;
    assert!(worker.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_550_fails_the_delivery_at_once_and_a_requeued_delivery_is_sent() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Permanent).await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 1).await.remove(0);
    let worker = WorkerProcess::spawn(&app, &[]).await;
    let queue = queue_of(&app).await;

    queue.push(invited.delivery_id).await.expect("push");
    let failed = wait_for_status(&app.db, invited.delivery_id, DeliveryStatus::Failed, SOON).await;
    assert_eq!(failed.attempts, 1, "no retry after a permanent failure");
    let error = failed.last_error.expect("lastError");
    assert!(error.contains("550"), "{error}");
    assert!(sink.messages().is_empty());

    sink.set_mode(Mode::Accept).await;
    let requeued = outbox::requeue_failed(
        &app.db,
        invited.organization_id,
        invited.delivery_id,
        app.settings.outbox_redeliver_after(),
    )
    .await
    .expect("requeue");
    assert!(requeued);
    queue.push(invited.delivery_id).await.expect("push again");
    sink.wait_for(1, SOON).await;
    let sent = wait_for_status(&app.db, invited.delivery_id, DeliveryStatus::Sent, SOON).await;
    assert_eq!(sent.attempts, 1, "a requeued delivery gets a fresh attempt budget");
    sink.assert_count_stays(1, Duration::from_millis(1500)).await;
    assert!(worker.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_pushed_several_times_sends_one_email() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 1).await.remove(0);
    let worker = WorkerProcess::spawn(&app, &[]).await;
    let queue = queue_of(&app).await;

    let pushes: Vec<_> = (0..5)
        .map(|_| {
            let queue = queue.clone();
            async move { queue.push(invited.delivery_id).await }
        })
        .collect();
    for pushed in futures_join(pushes).await {
        pushed.expect("push");
    }
    sink.wait_for(1, SOON).await;
    let sent = wait_for_status(&app.db, invited.delivery_id, DeliveryStatus::Sent, SOON).await;
    assert_eq!(sent.attempts, 1, "one claim won");
    sink.assert_count_stays(1, Duration::from_millis(2000)).await;
    assert!(worker.terminate().await.success());
}

/// Awaits futures concurrently, in order.
async fn futures_join<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_queued_in_a_wiped_redis_queue_are_still_all_delivered_by_the_sweeper() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 10).await;
    let queue = queue_of(&app).await;
    for one in &invited {
        queue.push(one.delivery_id).await.expect("push");
    }
    assert!(redis.depth().await >= 10, "the jobs are queued");
    assert!(queue.depth().await >= Some(10), "the queue reports its depth");

    // Redis loses the queue (a flush, a restart without persistence). Only
    // a sweeper pushing the QUEUED rows again can deliver them now.
    assert!(redis.wipe_queue().await > 0);

    let worker = WorkerProcess::spawn(&app, &[]).await;
    let messages = sink.wait_for(10, Duration::from_secs(60)).await;
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), 10);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    for one in &invited {
        wait_for_status(&app.db, one.delivery_id, DeliveryStatus::Sent, SOON).await;
    }
    sink.assert_count_stays(10, Duration::from_millis(1500)).await;
    assert!(worker.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_200_invitations_once_each() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 200).await;
    let first = WorkerProcess::spawn(&app, &[]).await;
    let second = WorkerProcess::spawn(&app, &[]).await;
    let queue = queue_of(&app).await;
    for one in &invited {
        queue.push(one.delivery_id).await.expect("push");
    }

    let messages = sink.wait_for(200, Duration::from_secs(180)).await;
    sink.assert_count_stays(200, Duration::from_millis(1500)).await;
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), 200, "every invitation was sent");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    assert_eq!(count_with_status(&app.db, DeliveryStatus::Sent).await, 200);
    let (by_first, by_second) = (first.log_count("email sent"), second.log_count("email sent"));
    assert_eq!(by_first + by_second, 200);
    assert!(
        by_first > 0 && by_second > 0,
        "both workers sent: {by_first} + {by_second}"
    );
    assert!(first.terminate().await.success());
    assert!(second.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sent_sigterm_under_load_exits_0_and_a_restarted_worker_sends_the_rest_once() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 200).await;
    let queue = queue_of(&app).await;
    let first = WorkerProcess::spawn(&app, &[]).await;
    for one in &invited {
        queue.push(one.delivery_id).await.expect("push");
    }

    sink.wait_for(10, Duration::from_secs(60)).await;
    let status = first.terminate().await;
    assert_eq!(status.code(), Some(0), "graceful stop under load: {status}");
    let at_stop = sink.messages().len();
    assert!(at_stop < 200, "the worker was stopped with work left ({at_stop} sent)");
    assert_eq!(
        count_with_status(&app.db, DeliveryStatus::Sent).await as usize,
        at_stop,
        "every email the stopped worker sent is recorded SENT, and only those"
    );

    let restarted = WorkerProcess::spawn(&app, &[]).await;
    let messages = sink.wait_for(200, Duration::from_secs(180)).await;
    sink.assert_count_stays(200, Duration::from_millis(1500)).await;
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), 200, "nothing was lost");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    assert_eq!(count_with_status(&app.db, DeliveryStatus::Sent).await, 200);
    assert!(restarted.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_the_embedded_queue_writes_each_email_as_an_eml_file() {
    let app = TestApp::spawn_with(&[
        ("OUTBOX_REDELIVER_SECONDS", "1"),
        ("OUTBOX_SWEEP_INTERVAL_MS", "200"),
        ("PUBLIC_URL", "https://portal.example.test"),
    ])
    .await;
    assert!(app.settings.redis_url.is_none() && app.settings.smtp_url.is_none());
    let invited = invite(&app, 2).await;
    let events = common::events::Events::in_process();
    let embedded = worker::embedded::start(app.db.clone(), &app.settings, events.clone(), Default::default())
        .expect("start in-process jobs");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper = worker::sweeper::spawn(
        app.db.clone(),
        embedded.queue(),
        events,
        app.settings.outbox_sweep_interval(),
        app.settings.outbox_redeliver_after(),
        async move {
            let _ = stopped.await;
        },
    );
    // The first is pushed after "commit"; the second only the sweeper finds.
    embedded.queue().push(invited[0].delivery_id).await.expect("push");

    for one in &invited {
        wait_for_status(&app.db, one.delivery_id, DeliveryStatus::Sent, SOON).await;
    }
    let dir = &app.settings.mail_outbox_dir;
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .expect("the outbox directory exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for one in &invited {
        let file = files
            .iter()
            .find(|path| path.to_string_lossy().ends_with(&format!("-{}.eml", one.delivery_id)))
            .expect("a file named after the delivery");
        let email = ReceivedEmail {
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: std::fs::read_to_string(file).expect("read .eml"),
        };
        assert!(email.subject().contains("Welcome to the Customer Portal"));
        assert_eq!(email.header("To").as_deref(), Some(one.email.as_str()));
        let token = link_token(&email, &app.settings.public_url);
        let invitation = invitation_row(&app.db, one.invitation_id).await;
        assert_eq!(invitation.token_digest, Some(sha256_hex(&token)));
    }

    let _ = stop.send(());
    sweeper.await.expect("sweeper stopped");
    assert!(embedded.shutdown(Duration::from_secs(10)).await, "drained");
    std::fs::remove_dir_all(dir).ok();
}

/// A job context in this test process, as the worker builds it.
fn context(app: &TestApp) -> JobContext {
    JobContext::from_settings(
        app.db.clone(),
        &app.settings,
        format!("test-{}", Uuid::now_v7().simple()),
        common::events::Events::in_process(),
    )
    .expect("job context")
}

/// In-process tests keep the app's own sweeper (if any) out of the way.
const QUIET: [(&str, &str); 2] = [("OUTBOX_REDELIVER_SECONDS", "3600"), ("EMAIL_RETRY_BASE_MS", "3600000")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_no_longer_pending_cancels_its_delivery_without_an_email() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &QUIET).await;
    let invited = invite(&app, 2).await;
    let (revoked, expired) = (&invited[0], &invited[1]);
    let mut row: invitation::ActiveModel = invitation_row(&app.db, revoked.invitation_id).await.into();
    row.status = Set(InvitationStatus::Revoked);
    row.revoked_at = Set(Some(Utc::now()));
    row.update(&app.db).await.expect("revoke");
    let mut row: invitation::ActiveModel = invitation_row(&app.db, expired.invitation_id).await.into();
    row.expires_at = Set(Utc::now() - chrono::Duration::minutes(1));
    row.update(&app.db).await.expect("expire");

    let ctx = context(&app);
    for one in [revoked, expired] {
        let processed = jobs::process_delivery(&ctx, one.delivery_id).await.expect("process");
        assert_eq!(
            processed,
            Processed::Cancelled {
                reason: jobs::INVITATION_NOT_PENDING.to_owned()
            }
        );
        let row = delivery(&app.db, one.delivery_id).await;
        assert_eq!(
            row.status,
            DeliveryStatus::Cancelled,
            "not wanted any more is not a failure"
        );
        assert_eq!(row.last_error.as_deref(), Some("invitation is no longer pending"));
        assert!(
            invitation_row(&app.db, one.invitation_id).await.token_digest.is_none(),
            "no link minted"
        );
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_email_for_an_invitation_mints_a_new_link_that_supersedes_the_last() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &QUIET).await;
    let invited = invite(&app, 1).await.remove(0);
    let ctx = context(&app);

    assert_eq!(
        jobs::process_delivery(&ctx, invited.delivery_id).await.expect("first"),
        Processed::Sent
    );
    let resend = queue_delivery(
        &app.db,
        &app.settings,
        invited.organization_id,
        invited.invitation_id,
        &invited.email,
    )
    .await;
    assert_eq!(
        jobs::process_delivery(&ctx, resend).await.expect("resend"),
        Processed::Sent
    );

    let messages = sink.wait_for(2, SOON).await;
    let first = link_token(&messages[0], &app.settings.public_url);
    let second = link_token(&messages[1], &app.settings.public_url);
    assert_ne!(first, second);
    let invitation = invitation_row(&app.db, invited.invitation_id).await;
    assert_eq!(
        invitation.token_digest,
        Some(sha256_hex(&second)),
        "the latest link is current"
    );
    let mut links: Vec<String> = invitation_link::Entity::find()
        .filter(invitation_link::Column::InvitationId.eq(invited.invitation_id))
        .all(&app.db)
        .await
        .expect("links")
        .into_iter()
        .map(|link| link.token_digest)
        .collect();
    links.sort();
    let mut expected = vec![sha256_hex(&first), sha256_hex(&second)];
    expected.sort();
    assert_eq!(links, expected, "both links are known, the first as superseded");

    // Sent rows are never sent again.
    assert_eq!(
        jobs::process_delivery(&ctx, resend).await.expect("again"),
        Processed::Skipped
    );
    assert_eq!(sink.messages().len(), 2);
}

/// Which link a token is now, as the accept page would see it.
async fn link_state(app: &TestApp, token: &str) -> Option<service::invitations::Link> {
    service::invitations::find_by_token(&app.db, token)
        .await
        .expect("look the token up")
        .map(|(_, link)| link)
}

/// A resend that the relay refuses for now, and one that stalls after
/// DATA, never reached the customer: the link in the last email received
/// keeps working through both. The stalled send is cut off by
/// `SMTP_TIMEOUT_SECONDS` as one attempt (RETRYING, a readable error). Only
/// a later email that the relay accepts makes its own link current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_that_fails_or_stalls_after_data_leaves_the_last_received_link_working() {
    use service::invitations::Link;

    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let mut settings = QUIET.to_vec();
    settings.push(("SMTP_TIMEOUT_SECONDS", "1"));
    let app = app_with(&redis, &sink, &settings).await;
    let invited = invite(&app, 1).await.remove(0);
    let ctx = context(&app);
    let resend = async || {
        queue_delivery(
            &app.db,
            &app.settings,
            invited.organization_id,
            invited.invitation_id,
            &invited.email,
        )
        .await
    };

    assert_eq!(
        jobs::process_delivery(&ctx, invited.delivery_id).await.expect("first"),
        Processed::Sent
    );
    let first = link_token(&sink.wait_for(1, SOON).await[0], &app.settings.public_url);
    assert_eq!(link_state(&app, &first).await, Some(Link::Current));

    sink.set_mode(Mode::Transient).await;
    let refused = resend().await;
    let processed = jobs::process_delivery(&ctx, refused).await.expect("refused resend");
    assert!(
        matches!(processed, Processed::Retrying { attempts: 1, .. }),
        "{processed:?}"
    );
    assert_eq!(
        link_state(&app, &first).await,
        Some(Link::Current),
        "after a refused resend"
    );

    sink.set_mode(Mode::StallAfterData).await;
    let stalled = resend().await;
    let started = std::time::Instant::now();
    let processed = jobs::process_delivery(&ctx, stalled).await.expect("stalled resend");
    assert!(
        matches!(processed, Processed::Retrying { attempts: 1, .. }),
        "{processed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    let row = delivery(&app.db, stalled).await;
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish within 1 s")),
        "{row:?}"
    );
    assert!(row.lease_owner.is_none(), "the worker slot was released: {row:?}");
    assert_eq!(
        link_state(&app, &first).await,
        Some(Link::Current),
        "after a stalled resend"
    );
    assert_eq!(
        invitation_row(&app.db, invited.invitation_id).await.token_digest,
        Some(sha256_hex(&first))
    );

    sink.set_mode(Mode::Accept).await;
    let accepted = resend().await;
    assert_eq!(
        jobs::process_delivery(&ctx, accepted).await.expect("accepted resend"),
        Processed::Sent
    );
    let messages = sink.wait_for(2, SOON).await;
    assert_eq!(messages.len(), 2, "neither the refused nor the stalled email arrived");
    let second = link_token(&messages[1], &app.settings.public_url);
    assert_eq!(link_state(&app, &second).await, Some(Link::Current));
    assert_eq!(link_state(&app, &first).await, Some(Link::Superseded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_451_is_retried_until_the_attempts_run_out_and_a_leased_row_is_skipped() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Transient).await;
    let mut env = QUIET.to_vec();
    env.push(("EMAIL_MAX_ATTEMPTS", "2"));
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &env).await;
    let invited = invite(&app, 2).await;
    let ctx = context(&app);
    let id = invited[0].delivery_id;

    let processed = jobs::process_delivery(&ctx, id).await.expect("first attempt");
    let Processed::Retrying {
        attempts,
        next_attempt_at,
    } = processed
    else {
        panic!("expected a retry, got {processed:?}");
    };
    assert_eq!(attempts, 1);
    assert!(
        next_attempt_at > Utc::now() + chrono::Duration::minutes(30),
        "backoff from EMAIL_RETRY_BASE_MS"
    );
    let row = delivery(&app.db, id).await;
    assert_eq!(row.status, DeliveryStatus::Retrying);
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("451")), "{row:?}");
    assert_eq!(
        jobs::process_delivery(&ctx, id).await.expect("early"),
        Processed::Skipped,
        "not before it is due"
    );

    // Make it due; the sweeper's take_due (ours or the app's) re-queues it.
    let mut due: email_delivery::ActiveModel = row.into();
    due.next_attempt_at = Set(Utc::now() - chrono::Duration::seconds(1));
    due.update(&app.db).await.expect("make due");
    outbox::take_due(&app.db, 100, app.settings.outbox_redeliver_after())
        .await
        .expect("take due");
    assert_eq!(delivery(&app.db, id).await.status, DeliveryStatus::Queued);
    let processed = jobs::process_delivery(&ctx, id).await.expect("last attempt");
    let Processed::Failed { reason } = processed else {
        panic!("expected FAILED, got {processed:?}");
    };
    assert!(
        reason.contains("451") && reason.contains("gave up after 2 attempts"),
        "{reason}"
    );

    // Another worker holds the second row: this one skips it.
    let other = invited[1].delivery_id;
    assert!(
        outbox::claim(&app.db, other, "another-worker", app.settings.delivery_lease())
            .await
            .expect("claim")
            .is_some()
    );
    assert_eq!(
        jobs::process_delivery(&ctx, other).await.expect("leased"),
        Processed::Skipped
    );
    assert!(sink.messages().is_empty());
    // The settings the test relied on.
    assert!(
        app.settings
            .smtp_url
            .as_ref()
            .is_some_and(|u| u.expose_secret() == sink.url())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_on_a_backlog_of_9000_jobs_drains_it_and_the_sweeper_does_not_add_to_it() {
    const BACKLOG: usize = 9000;
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &[]).await;
    let invited = invite(&app, 3).await;
    let queue = queue_of(&app).await;
    // Jobs pushed while no worker runs; most have no row (skipped at once).
    // apalis-redis's fetch promotes all due scheduled jobs in one Lua
    // `unpack`, which fails beyond about 8000.
    let ids: Vec<Uuid> = (0..BACKLOG).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(500) {
        let pushes: Vec<_> = chunk
            .iter()
            .map(|id| {
                let (queue, id) = (queue.clone(), *id);
                async move { queue.push(id).await }
            })
            .collect();
        for pushed in futures_join(pushes).await {
            pushed.expect("push");
        }
    }
    for one in &invited {
        queue.push(one.delivery_id).await.expect("push");
    }
    // (The api's sweeper may have pushed the three rows again while the
    // queue was still short: they are due for redelivery after 1 s.)
    let queued = redis.depth().await;
    assert!(queued >= (BACKLOG + invited.len()) as u64, "{queued} jobs queued");

    // The sweeper runs every 200 ms, but the rows wait in a deep queue.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(redis.depth().await, queued, "the sweeper pushed onto the backlog");

    let worker = WorkerProcess::spawn(&app, &[]).await;
    let messages = sink.wait_for(invited.len(), Duration::from_secs(120)).await;
    let counts = per_recipient(&messages);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    for one in &invited {
        wait_for_status(&app.db, one.delivery_id, DeliveryStatus::Sent, SOON).await;
    }
    eventually(Duration::from_secs(60), async || match redis.depth().await {
        0 => Ok(()),
        left => Err(format!("the backlog was not drained: {left} jobs left")),
    })
    .await;
    assert!(worker.terminate().await.success(), "the worker kept running");
}

/// A relay that accepts TCP connections and then never says a word (no
/// greeting): with `SMTP_TIMEOUT_SECONDS=1` the attempt ends within about a
/// second as RETRYING with a readable error, once, and the row is not
/// claimed again while its retry is not due.
#[tokio::test]
async fn a_relay_that_accepts_and_never_greets_costs_one_attempt_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let silent_relay = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let smtp = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &smtp),
        ("SMTP_TIMEOUT_SECONDS", "1"),
        ("EMAIL_RETRY_BASE_MS", "600000"),
    ])
    .await;
    let staff = app.staff("acme").await;
    let account = app
        .create_account(&staff, "C-1", "Riverside", Some("maria@riverside.example"))
        .await;
    let started = std::time::Instant::now();
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { delivery { id } } }",
            serde_json::json!({"a": account}),
        )
        .await;
    let id = Uuid::parse_str(data["inviteToPortal"]["delivery"]["id"].as_str().expect("id")).expect("uuid");
    let row = eventually(Duration::from_secs(10), async || {
        let row = delivery(&app.db, id).await;
        if row.status == DeliveryStatus::Retrying {
            Ok(row)
        } else {
            Err(format!("still {:?} after {:?}", row.status, started.elapsed()))
        }
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the stalled send took {:?}",
        started.elapsed()
    );
    assert_eq!(row.attempts, 1, "{row:?}");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish within 1 s")),
        "{row:?}"
    );
    assert!(row.lease_owner.is_none(), "the worker slot was released: {row:?}");
    silent_relay.abort();
}

/// A row whose claims keep ending without an outcome (database errors, a
/// worker that stopped mid-send) uses up its attempts like failed sends do:
/// claimed once more than `EMAIL_MAX_ATTEMPTS` allows, it ends FAILED
/// without an email instead of going round forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_claimed_past_its_attempts_fails_without_an_email() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &QUIET).await;
    let invited = invite(&app, 1).await.remove(0);
    // As if every earlier claim had died before recording an outcome.
    let max = i32::try_from(app.settings.email_max_attempts).expect("small");
    let mut row: email_delivery::ActiveModel = delivery(&app.db, invited.delivery_id).await.into();
    row.attempts = Set(max);
    row.update(&app.db).await.expect("use up the attempts");

    let processed = jobs::process_delivery(&context(&app), invited.delivery_id)
        .await
        .expect("process");
    let Processed::Failed { reason } = processed else {
        panic!("expected FAILED, got {processed:?}");
    };
    assert!(reason.starts_with(jobs::OVER_BUDGET), "{reason}");
    let row = delivery(&app.db, invited.delivery_id).await;
    assert_eq!(row.status, DeliveryStatus::Failed);
    assert_eq!(row.attempts, max + 1);
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("without an outcome")),
        "{row:?}"
    );
    assert!(sink.messages().is_empty(), "nothing was sent");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The `portal_db_statements_total` a worker serves on `127.0.0.1:{port}`
/// (the scrape's own read of the queue's state included).
async fn worker_statements(port: u16) -> u64 {
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("portal_db_statements_total ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no portal_db_statements_total in\n{metrics}"))
}

/// The jobs in flight in one worker share their database rounds
/// (`worker::group_commit`): a backlog drained by one worker with the
/// default `WORKER_CONCURRENCY` costs at most 3 SQL statements per email —
/// counted from the worker's start, its start-up checks and its sweeper
/// included — where claiming, reading, storing the link and marking SENT
/// one email at a time cost 4 or 5. And batching changes nothing about
/// what arrives: every email once, every row SENT with its link current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_drained_by_one_worker_costs_at_most_3_statements_per_email_and_each_email_arrives_once() {
    const BACKLOG: usize = 200;
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let app = app_with(&redis, &sink, &QUIET).await;
    let invited = invite(&app, BACKLOG).await;
    let queue = queue_of(&app).await;
    for one in &invited {
        queue.push(one.delivery_id).await.expect("push");
    }
    let port = free_port();
    let worker = WorkerProcess::spawn(&app, &[("METRICS_ADDR", &format!("127.0.0.1:{port}"))]).await;

    let messages = sink.wait_for(BACKLOG, Duration::from_secs(120)).await;
    eventually(Duration::from_secs(10), async || {
        match count_with_status(&app.db, DeliveryStatus::Sent).await as usize {
            BACKLOG => Ok(()),
            sent => Err(format!("{sent} of {BACKLOG} deliveries SENT")),
        }
    })
    .await;
    let statements = worker_statements(port).await;
    let per_email = statements as f64 / BACKLOG as f64;
    println!("one worker drained {BACKLOG} invitations with {statements} SQL statements: {per_email:.2} per email");
    assert!(per_email <= 3.0, "{statements} statements for {BACKLOG} emails");

    sink.assert_count_stays(BACKLOG, Duration::from_millis(1500)).await;
    let counts = per_recipient(&messages);
    assert_eq!(counts.len(), BACKLOG, "every invitation was sent");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    for message in messages.iter().take(20) {
        let token = link_token(message, &app.settings.public_url);
        assert_eq!(
            link_state(&app, &token).await,
            Some(service::invitations::Link::Current),
            "the link of the email to {:?} is current",
            message.rcpt_to
        );
    }
    assert!(worker.terminate().await.success());
}

/// Two jobs for one delivery that reach the worker together end up in one
/// database round: its claim UPDATE lets one of them through, the other
/// skips, and one email goes out, its attempt counted once.
#[tokio::test]
async fn a_delivery_pushed_twice_into_one_batch_is_sent_once() {
    let sink = SmtpSink::start().await;
    let redis = namespace().await;
    let mut env = QUIET.to_vec();
    // The app's sweeper shares the pool's statement counter: keep it asleep.
    env.push(("OUTBOX_SWEEP_INTERVAL_MS", "3600000"));
    let app = app_with(&redis, &sink, &env).await;
    let invited = invite(&app, 1).await.remove(0);
    let ctx = context(&app);
    // The app's start-up work (its sweeper's first round) is over.
    eventually(Duration::from_secs(10), async || {
        let before = app.statements.get();
        tokio::time::sleep(Duration::from_millis(200)).await;
        match app.statements.get() - before {
            0 => Ok(()),
            more => Err(format!("the app still runs statements ({more} in 200 ms)")),
        }
    })
    .await;

    // On this single-threaded runtime both jobs ask for their claim before
    // the database task runs: one round.
    let before = app.statements.get();
    let (first, second) = tokio::join!(
        jobs::process_delivery(&ctx, invited.delivery_id),
        jobs::process_delivery(&ctx, invited.delivery_id)
    );
    let statements = app.statements.get() - before;
    let mut processed = [first.expect("first job"), second.expect("second job")];
    processed.sort_by_key(|p| matches!(p, Processed::Sent));
    assert_eq!(processed, [Processed::Skipped, Processed::Sent]);
    // One claim round (the claim UPDATE, the invitation's SELECT), one
    // record round (the link's INSERT, the invitation's UPDATE, the SENT
    // UPDATE).
    assert_eq!(statements, 5, "one claim round and one record round");

    let messages = sink.wait_for(1, SOON).await;
    sink.assert_count_stays(1, Duration::from_millis(1000)).await;
    let row = delivery(&app.db, invited.delivery_id).await;
    assert_eq!(row.status, DeliveryStatus::Sent);
    assert_eq!(row.attempts, 1, "one claim won");
    let token = link_token(&messages[0], &app.settings.public_url);
    assert_eq!(
        invitation_row(&app.db, invited.invitation_id).await.token_digest,
        Some(sha256_hex(&token)),
        "the sent link is current"
    );
}
