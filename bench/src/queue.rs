//! `bench queue`: how fast the email queue drains, against what the SMTP
//! sink can take, measured in one run.
//!
//! 1. **Sink, bare client**: N invitation-sized messages sent straight to
//!    the sink by a pooled lettre `AsyncSmtpTransport` configured as the
//!    worker's mailer (`worker/src/mailer.rs`: pool of `concurrency`
//!    connections, the default `SMTP_TIMEOUT_SECONDS`), with as many messages
//!    in flight as one worker (`WORKER_CONCURRENCY`) and as two workers.
//! 2. **1 worker drain**: N accounts with contact emails created and invited
//!    with `inviteToPortal` over HTTP as staff while no worker runs (this
//!    also gives `inviteToPortal`'s rate); then one `worker` process is
//!    started and timed from its "worker ready" to the N-th email's arrival.
//! 3. **2 workers drain**: the same with N fresh accounts and two processes,
//!    timed from the first one's "worker ready".
//! 4. **Latency**: one worker running and idle, M sequential `inviteToPortal`
//!    calls (fresh accounts), each timed from the mutation's HTTP response to
//!    the sink accepting the email. A varying pause before each call keeps
//!    the calls from locking onto the worker's poll period.
//!
//! For each drain the database work is counted too, per email: the SQL
//! statements the workers ran (their `portal_db_statements_total`, scraped
//! from each worker's `METRICS_ADDR` listener when it is ready and once
//! every delivery is SENT), the commits PostgreSQL counted in the run's
//! database (`pg_stat_database.xact_commit`, every process's, the api's
//! and the bench's own included, from before the workers start until their
//! connections are gone; PostgreSQL publishes a backend's counts up to 10 s
//! late, so each drain first waits that long, except with `--quick`), and
//! the CPU time of all `postgres` processes (from `/proc`; other
//! databases' work on the same server counts too, so run the bench on a
//! quiet server). With the workers' own CPU time that is what an email
//! costs.
//!
//! Every measure checks that each of its emails arrived exactly once (and
//! nothing else did), and at the end every delivery row must be SENT. That is
//! all `--quick` asserts; no speed is asserted anywhere.
//!
//! The api and workers run with the product's defaults except
//! `OUTBOX_REDELIVER_SECONDS` ([`REDELIVER_SECONDS`], or
//! `--outbox-redeliver-seconds`): with the default (15 s) the sweeper pushes
//! every job of a backlog that has waited that long a second time, and the
//! drain figures would depend on how long queueing took.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use chrono::Utc;
use common::Settings;
use entity::{DeliveryStatus, email_delivery};
use futures::{StreamExt as _, TryStreamExt as _};
use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::PoolConfig,
};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DatabaseConnection, DbBackend, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, Statement,
};
use serde_json::json;
use testkit::{TestDatabase, smtp_sink::SmtpSink};

use crate::{
    harness::{self, Api, BenchRedis, ORGANIZATION, process_env, scratch_dir},
    report::{BareClient, Drain, Latency, QueueReport, Rate},
    workers::{self, Memory, WorkerProcess},
};

/// `OUTBOX_REDELIVER_SECONDS` of the run's api and workers unless
/// `--outbox-redeliver-seconds` says otherwise (see the module docs).
pub const REDELIVER_SECONDS: u32 = 600;

/// Concurrent HTTP clients that create and invite the accounts of a backlog.
const INVITE_CLIENTS: usize = 8;

/// `bench queue` options.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// Emails per throughput measure [default: 1000, or 20 with --quick]
    #[arg(long, value_name = "N")]
    emails: Option<usize>,
    /// Sequential invitations timed for latency [default: 30, or 5 with --quick]
    #[arg(long, value_name = "M")]
    latency: Option<usize>,
    /// The CI mode: few emails, finishes in seconds; checks that every email
    /// arrives exactly once and asserts nothing about speed
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report [default: <cargo target dir>/bench/queue.json]
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// `OUTBOX_REDELIVER_SECONDS` of the api and workers; the product's
    /// default (15) lets the sweeper push a waiting backlog again
    #[arg(long, value_name = "S", default_value_t = REDELIVER_SECONDS, value_parser = clap::value_parser!(u32).range(1..))]
    outbox_redeliver_seconds: u32,
}

/// What one run does.
struct Plan {
    quick: bool,
    emails: usize,
    latency_samples: usize,
    concurrency: usize,
    worker_bin: PathBuf,
    /// The product's defaults (sender, public URL).
    defaults: Settings,
    /// How long to watch for a late duplicate after a measure's last email.
    settle: Duration,
    /// `OUTBOX_REDELIVER_SECONDS` of the api and workers.
    redeliver_seconds: u32,
}

/// Runs the queue benchmark, prints its table and writes its JSON.
///
/// # Errors
/// When PostgreSQL, Redis or the worker binary are missing, a measure times
/// out, or an email did not arrive exactly once.
pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let json_path = match &args.json {
        Some(path) => path.clone(),
        None => default_json_path()?,
    };
    let report = measure_all(args).await?;
    println!("{}", report.table());
    report.write_json(&json_path)?;
    println!("JSON: {}", json_path.display());
    if !report.exactly_once {
        bail!("not every email arrived exactly once (see above)");
    }
    Ok(())
}

/// The options `bench all` runs the queue measures with.
pub fn args_for_all(quick: bool) -> QueueArgs {
    QueueArgs {
        emails: None,
        latency: None,
        quick,
        json: None,
        outbox_redeliver_seconds: REDELIVER_SECONDS,
    }
}

/// Runs every queue measure and returns the report (printing progress only).
///
/// # Errors
/// As [`run`], except that emails not arriving exactly once is reported in
/// [`QueueReport::exactly_once`] rather than as an error.
pub async fn measure_all(args: QueueArgs) -> anyhow::Result<QueueReport> {
    let defaults = Settings::from_lookup(|_| None).context("the product's default settings")?;
    let plan = Plan {
        quick: args.quick,
        emails: args.emails.unwrap_or(if args.quick { 20 } else { 1000 }),
        latency_samples: args.latency.unwrap_or(if args.quick { 5 } else { 30 }),
        concurrency: usize::try_from(defaults.worker_concurrency)?.max(1),
        worker_bin: workers::locate_worker()?,
        defaults,
        settle: if args.quick {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(1)
        },
        redeliver_seconds: args.outbox_redeliver_seconds,
    };
    if plan.emails == 0 {
        bail!("--emails must be at least 1");
    }
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: this is a debug build; run with `--release` for meaningful figures");
    }
    let started_at = Utc::now().to_rfc3339();

    let database = harness::database().await?;
    progress(&format!("created database {}", database.name()));
    let result = in_database(&plan, &database).await;
    let name = database.name().to_owned();
    match database.remove().await {
        Ok(()) => progress(&format!("dropped database {name}")),
        Err(err) => eprintln!("bench: could not drop database {name}: {err:#}"),
    }
    let (measured, all_once) = result?;

    let report = QueueReport {
        benchmark: "queue",
        started_at,
        quick: plan.quick,
        release_build: !cfg!(debug_assertions),
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        emails: plan.emails,
        worker_concurrency: plan.concurrency,
        outbox_redeliver_seconds: plan.redeliver_seconds,
        two_workers_speedup: measured.drain[1].rate.per_second / measured.drain[0].rate.per_second,
        sink_bare_client: measured.bare,
        invite_mutations: measured.invite,
        invite_clients: INVITE_CLIENTS,
        drain: measured.drain,
        latency: measured.latency,
        exactly_once: all_once,
        sink_messages: measured.sink_messages,
        worker_memory_idle: measured.worker_memory_idle,
    };
    Ok(report)
}

/// `<cargo target dir>/bench/queue.json`.
fn default_json_path() -> anyhow::Result<PathBuf> {
    crate::report::default_json_path("queue.json")
}

fn progress(message: &str) {
    eprintln!("bench: {message}");
}

/// The figures of the measures.
struct Measured {
    bare: Vec<BareClient>,
    invite: Rate,
    drain: Vec<Drain>,
    latency: Option<Latency>,
    sink_messages: usize,
    worker_memory_idle: Option<Memory>,
}

async fn in_database(plan: &Plan, database: &TestDatabase) -> anyhow::Result<(Measured, bool)> {
    let redis = BenchRedis::create().await?;
    let result = in_namespace(plan, database, &redis).await;
    match redis.delete_keys().await {
        Ok(deleted) => progress(&format!(
            "deleted {deleted} Redis keys of namespace {}",
            redis.namespace
        )),
        Err(err) => eprintln!(
            "bench: could not delete the Redis keys of namespace {}: {err:#}",
            redis.namespace
        ),
    }
    result
}

async fn in_namespace(plan: &Plan, database: &TestDatabase, redis: &BenchRedis) -> anyhow::Result<(Measured, bool)> {
    let sink = SmtpSink::try_start().await.context("starting the SMTP sink")?;
    let scratch = scratch_dir(&redis.namespace);
    let env = process_env(
        database,
        redis,
        &sink,
        &scratch,
        &[("OUTBOX_REDELIVER_SECONDS", plan.redeliver_seconds.to_string())],
    );
    let api = Api::start(&env).await?;
    progress(&format!(
        "api on {}, SMTP sink on {}, queue namespace {}",
        api.address,
        sink.url(),
        redis.namespace
    ));
    let mut worker_env = env.clone();
    worker_env.insert("WORKER_CONCURRENCY".to_owned(), plan.concurrency.to_string());
    worker_env.insert("LOG_FORMAT".to_owned(), "json".to_owned());
    if let Ok(filter) = std::env::var("BENCH_WORKER_LOG") {
        worker_env.insert("RUST_LOG".to_owned(), filter);
    }
    let result = tokio::select! {
        result = measure(plan, &api, &sink, &worker_env) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    api.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Checks run along the way; a failed one is reported, the run goes on.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
}

impl Checks {
    fn fail(&mut self, failure: String) {
        eprintln!("bench: CHECK FAILED: {failure}");
        self.failures.push(failure);
    }

    /// The messages from index `from` on are exactly `expected`, once each;
    /// then no further message arrives within `settle`.
    async fn exactly_once(&mut self, what: &str, sink: &SmtpSink, from: usize, expected: &[String], settle: Duration) {
        if sink.wait_for_count(from + expected.len() + 1, settle).await.is_ok() {
            self.fail(format!("{what}: a further email arrived after the last expected one"));
        }
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(expected.len());
        for (_, email) in sink.arrivals_from(from) {
            for recipient in email.rcpt_to {
                *seen.entry(recipient).or_default() += 1;
            }
        }
        let missing = expected.iter().filter(|e| !seen.contains_key(*e)).count();
        let duplicated = seen.values().filter(|n| **n > 1).count();
        let unexpected = seen.len() - (expected.len() - missing);
        if missing + duplicated + unexpected > 0 {
            self.fail(format!(
                "{what}: {missing} of {} emails missing, {duplicated} received more than once, {unexpected} unexpected recipients",
                expected.len()
            ));
        }
    }
}

async fn measure(
    plan: &Plan,
    api: &Api,
    sink: &SmtpSink,
    worker_env: &HashMap<String, String>,
) -> anyhow::Result<(Measured, bool)> {
    let n = plan.emails;
    let mut checks = Checks::default();
    let mut bare = Vec::new();
    for concurrency in [plan.concurrency, 2 * plan.concurrency] {
        bare.push(bare_client(plan, sink, concurrency, &mut checks).await?);
    }

    let one = create_accounts(api, "w1", n).await?;
    let invite = invite_all(api, &one).await?;
    progress(&format!(
        "queued {n} invitations ({:.1} inviteToPortal/s over {INVITE_CLIENTS} clients)",
        invite.per_second
    ));
    let first = drain(
        plan,
        api,
        sink,
        worker_env,
        &one,
        1,
        bare[0].rate.per_second,
        &mut checks,
    )
    .await?;

    let two = create_accounts(api, "w2", n).await?;
    invite_all(api, &two).await?;
    progress(&format!("queued {n} invitations"));
    let second = drain(
        plan,
        api,
        sink,
        worker_env,
        &two,
        2,
        bare[1].rate.per_second,
        &mut checks,
    )
    .await?;

    let (latency, worker_memory_idle) = if plan.latency_samples == 0 {
        (None, None)
    } else {
        let accounts = create_accounts(api, "lat", plan.latency_samples).await?;
        latency(plan, api, sink, worker_env, &accounts, &mut checks).await?
    };

    let expected_sent = 2 * n + plan.latency_samples;
    let sent = email_delivery::Entity::find()
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Sent))
        .count(&api.db)
        .await? as usize;
    let all = email_delivery::Entity::find().count(&api.db).await? as usize;
    if sent != expected_sent || all != expected_sent {
        checks.fail(format!(
            "{expected_sent} deliveries should be SENT; {sent} of {all} delivery rows are"
        ));
    }
    let measured = Measured {
        bare,
        invite,
        drain: vec![first, second],
        latency,
        sink_messages: sink.count(),
        worker_memory_idle,
    };
    Ok((measured, checks.failures.is_empty()))
}

/// An account created for the run.
struct BenchAccount {
    id: String,
    email: String,
}

/// Creates `n` accounts with contact emails over GraphQL, named after `tag`
/// and their index (the same data set every run).
async fn create_accounts(api: &Api, tag: &str, n: usize) -> anyhow::Result<Vec<BenchAccount>> {
    const CREATE: &str = "mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }";
    let upper = tag.to_ascii_uppercase();
    futures::stream::iter(0..n)
        .map(|i| {
            let email = format!("{tag}-{i:05}@customers.bench.example");
            let input = json!({
                "number": format!("{upper}-{i:05}"),
                "name": format!("Bench {upper} Construction {i}"),
                "contact": {"name": format!("Customer {upper}-{i}"), "email": email},
            });
            async move {
                let data = api.graphql(CREATE, json!({ "input": input })).await?;
                let id = data["createAccount"]["id"]
                    .as_str()
                    .context("createAccount returned no id")?
                    .to_owned();
                anyhow::Ok(BenchAccount { id, email })
            }
        })
        .buffered(INVITE_CLIENTS)
        .try_collect()
        .await
        .context("creating the accounts")
}

const INVITE: &str = "mutation($a: ID!) { inviteToPortal(accountId: $a) { id status } }";

/// `inviteToPortal` for every account, `INVITE_CLIENTS` at a time; the rate.
async fn invite_all(api: &Api, accounts: &[BenchAccount]) -> anyhow::Result<Rate> {
    let start = Instant::now();
    futures::stream::iter(accounts)
        .map(|account| api.graphql(INVITE, json!({ "a": account.id })))
        .buffer_unordered(INVITE_CLIENTS)
        .try_for_each(|_| async { Ok(()) })
        .await
        .context("inviteToPortal")?;
    Ok(Rate::new(accounts.len(), start.elapsed().as_secs_f64()))
}

/// An invitation email as the worker composes it (same template, link and
/// headers), to `to`.
fn invitation_message(plan: &Plan, from: &Mailbox, to: &str, index: usize) -> anyhow::Result<Message> {
    let (token, _) = common::token::new_token();
    let payload = service::email::invitation::Invitation {
        invitation_id: uuid::Uuid::nil(),
        organization_name: ORGANIZATION.to_owned(),
    };
    let email = service::email::invitation::render_content(&service::email::invitation::Content {
        subject: service::email::Email::subject(&payload)?,
        organization_name: ORGANIZATION.to_owned(),
        account_name: format!("Bench BARE Construction {index}"),
        link: service::invitation_links::accept_link(&plan.defaults.public_url, &token),
        expires_at: Utc::now() + chrono::Duration::hours(i64::from(plan.defaults.invitation_ttl_hours)),
    })?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(email.subject)
        .message_id(Some(format!(
            "<{}@{}>",
            uuid::Uuid::now_v7().simple(),
            from.email.domain()
        )))
        .multipart(MultiPart::alternative_plain_html(email.text, email.html))?)
}

/// N messages straight into the sink with `concurrency` in flight, through
/// a transport set up like the worker's mailer. Messages are built before
/// the clock starts; the time runs to the last message's arrival.
async fn bare_client(
    plan: &Plan,
    sink: &SmtpSink,
    concurrency: usize,
    checks: &mut Checks,
) -> anyhow::Result<BareClient> {
    let n = plan.emails;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())?
        .timeout(Some(plan.defaults.smtp_timeout()))
        .pool_config(PoolConfig::new().max_size(u32::try_from(concurrency)?))
        .build();
    let from: Mailbox = plan.defaults.mail_from.parse()?;
    let recipients: Vec<String> = (0..n)
        .map(|i| format!("bare{concurrency}-{i:05}@customers.bench.example"))
        .collect();
    let mut messages = recipients
        .iter()
        .enumerate()
        .map(|(i, to)| invitation_message(plan, &from, to, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    messages.reverse(); // popped from the back: sent in index order
    let queue = Arc::new(Mutex::new(messages));
    let before = sink.count();
    let start = Instant::now();
    let senders: Vec<_> = (0..concurrency)
        .map(|_| {
            let transport = transport.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                loop {
                    let next = queue.lock().ok().and_then(|mut queue| queue.pop());
                    let Some(message) = next else { return anyhow::Ok(()) };
                    transport.send(message).await?;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await?.context("sending to the sink")?;
    }
    let end = last_arrival(sink, before, n, Duration::from_secs(60)).await?;
    let rate = Rate::new(n, end.duration_since(start).as_secs_f64());
    checks
        .exactly_once(
            &format!("bare client ×{concurrency}"),
            sink,
            before,
            &recipients,
            plan.settle,
        )
        .await;
    progress(&format!(
        "bare client, {concurrency} connections: {n} emails in {:.3} s = {:.1}/s",
        rate.seconds, rate.per_second
    ));
    Ok(BareClient { concurrency, rate })
}

/// Waits for the sink to hold `before + n` messages; the arrival time of
/// the last one.
async fn last_arrival(sink: &SmtpSink, before: usize, n: usize, timeout: Duration) -> anyhow::Result<Instant> {
    if let Err(got) = sink.wait_for_count(before + n, timeout).await {
        bail!(
            "only {} of {n} emails reached the sink within {timeout:?}",
            got - before
        );
    }
    sink.arrivals_from(before + n - 1)
        .first()
        .map(|(at, _)| *at)
        .context("the sink lost a message")
}

/// Starts `count` workers on the queued backlog of `accounts` and times them
/// from the first one's "worker ready" to the last email's arrival; counts
/// their statements, the database's commits and PostgreSQL's CPU time from
/// then until every delivery of the backlog is SENT.
#[expect(
    clippy::too_many_arguments,
    reason = "the measure's inputs, each used once; a struct would only rename them"
)]
async fn drain(
    plan: &Plan,
    api: &Api,
    sink: &SmtpSink,
    worker_env: &HashMap<String, String>,
    accounts: &[BenchAccount],
    count: usize,
    bare_rate: f64,
    checks: &mut Checks,
) -> anyhow::Result<Drain> {
    let n = accounts.len();
    let before = sink.count();
    let sent_before = sent_count(&api.db).await?;
    if !plan.quick {
        // The invitations' commits must not land in the drain's count.
        progress("waiting for PostgreSQL to publish the statistics of the queueing");
        tokio::time::sleep(STATS_FLUSH).await;
    }
    let backends_before = backends(&api.db).await;
    let commits_at_start = commits(&api.db).await;
    let (mut processes, metrics) = spawn_with_metrics(plan, worker_env, count).await?;
    let start = processes
        .iter()
        .map(|p| p.ready_at)
        .min()
        .context("no worker started")?;
    let costs_at_start = Costs::read(&metrics).await;
    // Generous: a broken worker fails the run, a slow machine does not.
    let timeout = Duration::from_secs(60) + Duration::from_millis(200) * u32::try_from(n)?;
    let cpu_at_start = worker_cpu(&processes);
    let end = match drained(sink, before, n, timeout, &mut processes).await {
        Ok(end) => end,
        Err(err) => {
            for process in &processes {
                eprintln!("--- last lines of a worker's log ---\n{}", process.log_tail());
            }
            return Err(err);
        }
    };
    let worker_cpu_ms_per_email = worker_cpu(&processes)
        .zip(cpu_at_start)
        .map(|(now, then)| now.saturating_sub(then).as_secs_f64() * 1000.0 / n as f64);
    let worker_memory = processes
        .iter()
        .filter_map(WorkerProcess::memory)
        .max_by_key(|m| m.peak_rss_kib);
    let rate = Rate::new(n, end.duration_since(start).as_secs_f64());
    all_sent(&api.db, sent_before + n).await?;
    let costs_at_end = Costs::read(&metrics).await;
    let expected: Vec<String> = accounts.iter().map(|a| a.email.clone()).collect();
    checks
        .exactly_once(&format!("{count} worker(s)"), sink, before, &expected, plan.settle)
        .await;
    stop_workers(processes).await;
    // A backend publishes its last statistics when it exits.
    workers_disconnected(&api.db, backends_before).await;
    let commits_at_end = commits(&api.db).await;
    let per_email = |then: Option<f64>, now: Option<f64>| now.zip(then).map(|(now, then)| (now - then) / n as f64);
    let drain = Drain {
        workers: count,
        concurrency: count * plan.concurrency,
        ratio_to_bare: rate.per_second / bare_rate,
        rate,
        worker_cpu_ms_per_email,
        worker_memory,
        worker_statements_per_email: per_email(costs_at_start.statements, costs_at_end.statements),
        commits_per_email: per_email(commits_at_start, commits_at_end),
        postgres_cpu_ms_per_email: per_email(costs_at_start.postgres_cpu_ms, costs_at_end.postgres_cpu_ms),
    };
    progress(&format!(
        "{count} worker(s): {n} emails in {:.3} s = {:.1}/s ({:.3} of the bare client); per email: {} statements, {} commits, PostgreSQL CPU {} ms",
        drain.rate.seconds,
        drain.rate.per_second,
        drain.ratio_to_bare,
        crate::report::or_na(drain.worker_statements_per_email, 2),
        crate::report::or_na(drain.commits_per_email, 2),
        crate::report::or_na(drain.postgres_cpu_ms_per_email, 3),
    ));
    Ok(drain)
}

/// Starts `count` workers at once, each with a `METRICS_ADDR` of its own on
/// a free loopback port; returns them with their metrics URLs.
async fn spawn_with_metrics(
    plan: &Plan,
    worker_env: &HashMap<String, String>,
    count: usize,
) -> anyhow::Result<(Vec<WorkerProcess>, Vec<String>)> {
    let mut envs = Vec::with_capacity(count);
    let mut urls = Vec::with_capacity(count);
    for _ in 0..count {
        let port = free_port()?;
        let mut env = worker_env.clone();
        env.insert("METRICS_ADDR".to_owned(), format!("127.0.0.1:{port}"));
        envs.push(env);
        urls.push(format!("http://127.0.0.1:{port}/metrics"));
    }
    // All started before any is waited for, as `workers::spawn` does.
    let processes = futures::future::try_join_all(
        envs.iter()
            .map(|env| workers::spawn_one(&plan.worker_bin, &[], env, workers::WORKER_READY)),
    )
    .await?;
    Ok((processes, urls))
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Delivery rows SENT so far.
async fn sent_count(db: &DatabaseConnection) -> anyhow::Result<usize> {
    Ok(email_delivery::Entity::find()
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Sent))
        .count(db)
        .await? as usize)
}

/// Waits until `expected` delivery rows are SENT (the last emails reach the
/// sink a moment before their rows are marked).
async fn all_sent(db: &DatabaseConnection, expected: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = sent_count(db).await?;
        if sent >= expected {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("only {sent} of {expected} deliveries were SENT 30 s after their emails arrived");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long PostgreSQL (≥ 15) may keep an idle backend's statistics
/// before publishing them (`PGSTAT_IDLE_INTERVAL`, 10 s), and a margin: a
/// drain's commits are counted from after it.
const STATS_FLUSH: Duration = Duration::from_secs(11);

/// What the workers' database work is counted with at one moment (commits
/// are read apart: see [`drain`]); `None` where it could not be read.
struct Costs {
    /// The workers' `portal_db_statements_total`, summed.
    statements: Option<f64>,
    /// CPU time of every `postgres` process, milliseconds.
    postgres_cpu_ms: Option<f64>,
}

impl Costs {
    async fn read(metrics: &[String]) -> Self {
        Self {
            statements: worker_statements(metrics).await,
            postgres_cpu_ms: postgres_cpu_ms(),
        }
    }
}

/// Connections to the run's database now (PostgreSQL only).
async fn backends(db: &DatabaseConnection) -> Option<i64> {
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()",
        ))
        .await
        .ok()??;
    row.try_get::<i64>("", "n").ok()
}

/// Waits (up to 5 s) until the stopped workers' connections are gone, that
/// is, until their backends have exited and published their statistics.
async fn workers_disconnected(db: &DatabaseConnection, before: Option<i64>) {
    let Some(before) = before else { return };
    let deadline = Instant::now() + Duration::from_secs(5);
    while backends(db).await.is_some_and(|now| now > before) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sum of the workers' `portal_db_statements_total` (each scrape runs
/// one statement of its own, the queue's state, before it counts).
async fn worker_statements(metrics: &[String]) -> Option<f64> {
    let client = reqwest::Client::new();
    let mut total = 0.0;
    for url in metrics {
        let text = client.get(url).send().await.ok()?.text().await.ok()?;
        total += text.lines().find_map(|line| {
            line.strip_prefix("portal_db_statements_total ")
                .and_then(|value| value.trim().parse::<f64>().ok())
        })?;
    }
    Some(total)
}

/// Transactions committed in the run's database so far (PostgreSQL only).
async fn commits(db: &DatabaseConnection) -> Option<f64> {
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await
        .ok()??;
    row.try_get::<i64>("", "xact_commit").ok().map(|n| n as f64)
}

/// User + system CPU time of every process named `postgres`, milliseconds
/// (`/proc/<pid>/stat`, in clock ticks of 10 ms); `None` without `/proc`.
fn postgres_cpu_ms() -> Option<f64> {
    let mut ticks = 0_u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // gone meanwhile
        };
        // `pid (comm) state …`: utime and stime are the 12th and 13th fields after `)`.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if head.split_once('(').map(|(_, comm)| comm) != Some("postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        ticks += field(11) + field(12);
    }
    Some(ticks as f64 * 10.0)
}

/// The CPU time the worker processes have used in total, if `/proc` says.
fn worker_cpu(processes: &[WorkerProcess]) -> Option<Duration> {
    processes.iter().map(WorkerProcess::cpu_time).sum()
}

/// Like [`last_arrival`], failing early when a worker exits.
async fn drained(
    sink: &SmtpSink,
    before: usize,
    n: usize,
    timeout: Duration,
    processes: &mut [WorkerProcess],
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + timeout;
    while let Err(got) = sink.wait_for_count(before + n, Duration::from_millis(500)).await {
        for process in processes.iter_mut() {
            if let Some(status) = process.exited()? {
                bail!(
                    "a worker exited ({status}) while draining: {} of {n} emails had arrived",
                    got - before
                );
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "only {} of {n} emails reached the sink within {timeout:?}",
                got - before
            );
        }
    }
    last_arrival(sink, before, n, Duration::ZERO).await
}

async fn stop_workers(processes: Vec<WorkerProcess>) {
    for process in processes {
        match process.terminate().await {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("bench: WARNING: a worker exited with {status} after SIGTERM"),
            Err(err) => eprintln!("bench: WARNING: {err:#}"),
        }
    }
}

/// With one idle worker, invites each account in turn and times the
/// mutation's response to the email's arrival.
async fn latency(
    plan: &Plan,
    api: &Api,
    sink: &SmtpSink,
    worker_env: &HashMap<String, String>,
    accounts: &[BenchAccount],
    checks: &mut Checks,
) -> anyhow::Result<(Option<Latency>, Option<Memory>)> {
    let processes = workers::spawn(&plan.worker_bin, worker_env, 1).await?;
    // Let it settle into idle polling.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_memory = processes.first().and_then(WorkerProcess::memory);
    let first = sink.count();
    let mut samples = Vec::with_capacity(accounts.len());
    for (i, account) in accounts.iter().enumerate() {
        tokio::time::sleep(pause(i)).await;
        let before = sink.count();
        api.graphql(INVITE, json!({ "a": account.id }))
            .await
            .context("inviteToPortal")?;
        let returned = Instant::now();
        let arrived = last_arrival(sink, before, 1, Duration::from_secs(30)).await?;
        samples.push(signed_ms(returned, arrived));
    }
    let expected: Vec<String> = accounts.iter().map(|a| a.email.clone()).collect();
    checks
        .exactly_once("latency", sink, first, &expected, plan.settle)
        .await;
    stop_workers(processes).await;
    let latency = Latency::of(&samples);
    if let Some(latency) = &latency {
        progress(&format!(
            "latency over {} invitations: median {:.1} ms, p90 {:.1} ms",
            latency.samples, latency.median_ms, latency.p90_ms
        ));
    }
    Ok((latency, idle_memory))
}

/// The pause before latency sample `i`: spread evenly (golden-ratio steps)
/// over a little more than the worker's poll period, the same every run.
fn pause(i: usize) -> Duration {
    let spread = worker::POLL_INTERVAL + Duration::from_millis(50);
    let fraction = (i as f64 * 0.618_033_988_749_895).fract();
    spread.mul_f64(fraction)
}

/// `to - from` in milliseconds, negative when `to` came first.
fn signed_ms(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(from.duration_since(to).as_secs_f64() * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_spread_over_the_poll_period() {
        let spread = worker::POLL_INTERVAL + Duration::from_millis(50);
        let pauses: Vec<Duration> = (0..30).map(pause).collect();
        assert!(pauses.iter().all(|p| *p < spread));
        let short = pauses.iter().filter(|p| **p < spread / 2).count();
        assert!((12..=18).contains(&short), "{short} of 30 in the first half");
    }

    #[test]
    fn signed_milliseconds() {
        let now = Instant::now();
        let later = now + Duration::from_millis(250);
        assert!((signed_ms(now, later) - 250.0).abs() < 1e-6);
        assert!((signed_ms(later, now) + 250.0).abs() < 1e-6);
    }
}
