//! `bench soak`: the email path under the faults production sees, checked
//! end to end.
//!
//! On PostgreSQL (`BENCH_DATABASE_URL`), a Redis server of its own (a
//! `redis-server` child on a free loopback port, so restarting it touches
//! nothing else) and the test SMTP sink, it starts **2 api processes and 3
//! workers** (the release binaries), then sends N invitations with
//! `inviteToPortal` over HTTP, alternating between the two apis, while:
//!
//! - every few seconds one worker is **SIGKILLed** and started again (and a
//!   worker that exits by itself, as one does when it loses Redis, is
//!   started again: the bench is its supervisor);
//! - **Redis is restarted** once, empty (the queue's jobs are gone; the
//!   outbox sweepers push them again);
//! - the relay **fails** (451 to everything) for a while, then **stalls**
//!   after DATA (each send cut off by `SMTP_TIMEOUT_SECONDS`), then
//!   recovers.
//!
//! When every delivery is SENT it prints what arrived: every invitation
//! must have arrived (0 lost), no delivery may be left unsent, and the
//! duplicates are counted and must stay within the emails that could be in
//! flight at the kills (`kills × WORKER_CONCURRENCY`: a worker killed after
//! the relay accepted an email and before it recorded SENT sends it again
//! from its next claim). `--quick` (CI) sends a few hundred in about a
//! minute and a half.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use entity::{DeliveryStatus, email_delivery};
use futures::StreamExt as _;
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, TransactionTrait as _};
use serde_json::{Value, json};
use testkit::{
    builders::AccountBuilder,
    smtp_sink::{Mode, SmtpSink},
};
use tokio::process::{Child, Command};

use crate::{
    harness::{self, STAFF_EMAIL, scratch_dir},
    workers::{self, API_READY, WorkerProcess},
};

/// `bench soak` options.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Invitations to send [default: 3000, or 300 with --quick]
    #[arg(long, value_name = "N")]
    invitations: Option<usize>,
    /// The CI mode: few invitations and short faults; the same checks
    #[arg(long)]
    quick: bool,
}

/// Workers running at once.
const WORKERS: usize = 3;
/// Jobs in flight per worker.
const CONCURRENCY: usize = 4;
/// Each send's bound, short so that a stalled relay costs little time.
const SMTP_TIMEOUT_SECONDS: u64 = 2;
/// Concurrent HTTP clients sending the invitations.
const CLIENTS: usize = 8;

fn progress(message: &str) {
    eprintln!("bench soak: {message}");
}

/// A `redis-server` of the run's own, restartable on the same port.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    async fn start(port: u16) -> anyhow::Result<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (is it installed?)")?;
        let redis = Self { port, child };
        let client = redis::Client::open(redis.url())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return Ok(redis);
            }
            if Instant::now() > deadline {
                bail!("the run's redis-server on port {port} did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (no data kept) and starts a fresh one on the same port.
    async fn restart(mut self) -> anyhow::Result<Self> {
        let _ = self.child.kill().await;
        let port = self.port;
        // The port is free again once the old process is gone.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Self::start(port).await
    }
}

/// What the run counts while it goes.
#[derive(Default)]
struct Faults {
    kills: AtomicUsize,
    restarts_after_exit: AtomicUsize,
    redis_restarts: AtomicUsize,
    relay_failures: AtomicUsize,
    relay_stalls: AtomicUsize,
}

/// Runs the soak and prints its table.
///
/// # Errors
/// When something cannot start, or an email is lost, a delivery is stuck,
/// or duplicates exceed their bound.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let n = args.invitations.unwrap_or(if args.quick { 300 } else { 3000 });
    let (kill_every, fail_for, stall_for) = if args.quick {
        (Duration::from_secs(3), Duration::from_secs(2), Duration::from_secs(3))
    } else {
        (Duration::from_secs(4), Duration::from_secs(5), Duration::from_secs(6))
    };
    let api_bin = workers::locate_api()?;
    let worker_bin = workers::locate_worker()?;
    let database = harness::database().await?;
    let db = database.connect().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut redis = OwnRedis::start(port).await?;
    let sink = Arc::new(SmtpSink::try_start().await.context("starting the SMTP sink")?);
    let scratch = scratch_dir("soak");

    progress(&format!("seeding {n} accounts"));
    let (org, _) = service::organizations::create(&db, harness::organization())
        .await
        .map_err(|err| anyhow::anyhow!("creating the organization: {err:?}"))?;
    let mut accounts = Vec::with_capacity(n);
    let txn = db.begin().await?;
    for i in 0..n {
        let account = AccountBuilder::new(org.id)
            .number(format!("S-{i:05}"))
            .name(format!("Soak customer {i}"))
            .contact_email(recipient(i))
            .insert(&txn)
            .await?;
        accounts.push(account.id.to_string());
    }
    txn.commit().await?;

    let env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_owned(), database.url().to_owned()),
        ("REDIS_URL".to_owned(), redis.url()),
        ("QUEUE_NAMESPACE".to_owned(), "soak".to_owned()),
        ("SMTP_URL".to_owned(), sink.url()),
        ("MAIL_OUTBOX_DIR".to_owned(), scratch.display().to_string()),
        ("LISTEN_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("LOG_FORMAT".to_owned(), "json".to_owned()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
        ("MIGRATE_ON_START".to_owned(), "false".to_owned()),
        ("WORKER_CONCURRENCY".to_owned(), CONCURRENCY.to_string()),
        ("SMTP_TIMEOUT_SECONDS".to_owned(), SMTP_TIMEOUT_SECONDS.to_string()),
        ("EMAIL_MAX_ATTEMPTS".to_owned(), "100".to_owned()),
        ("EMAIL_RETRY_BASE_MS".to_owned(), "200".to_owned()),
        ("OUTBOX_REDELIVER_SECONDS".to_owned(), "5".to_owned()),
        ("OUTBOX_SWEEP_INTERVAL_MS".to_owned(), "250".to_owned()),
        ("INVITATIONS_PER_ORGANIZATION_PER_HOUR".to_owned(), (n * 2).to_string()),
    ]);
    // The api prints its ready line on stdout; its logs stay quiet (warn).
    let api_env = env.clone();
    let mut apis = Vec::new();
    for _ in 0..2 {
        apis.push(workers::spawn_one(&api_bin, &["serve"], &api_env, API_READY).await?);
    }
    let addresses: Vec<String> = apis
        .iter()
        .map(|api| {
            api.ready_line
                .split(API_READY)
                .nth(1)
                .map(|a| a.trim().to_owned())
                .context("the api's ready line has no address")
        })
        .collect::<anyhow::Result<_>>()?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let token = staff_login(&client, &addresses[0]).await?;
    let mut worker_env = env.clone();
    worker_env.insert("RUST_LOG".to_owned(), "info,sqlx=warn,sea_orm=warn".to_owned());
    let mut pool = workers::spawn(&worker_bin, &worker_env, WORKERS).await?;
    progress(&format!(
        "2 apis on {}, {WORKERS} workers; sending {n} invitations",
        addresses.join(" and ")
    ));

    let started = Instant::now();
    let faults = Arc::new(Faults::default());
    let sent = Arc::new(AtomicUsize::new(0));
    let invites = {
        let (client, token, addresses, sent) = (client.clone(), token.clone(), addresses.clone(), sent.clone());
        tokio::spawn(async move {
            futures::stream::iter(accounts.into_iter().enumerate())
                .map(|(i, account)| {
                    let (client, token, address, sent) =
                        (client.clone(), token.clone(), addresses[i % 2].clone(), sent.clone());
                    async move {
                        let result = invite(&client, &address, &token, &account).await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        result
                    }
                })
                .buffer_unordered(CLIENTS)
                .collect::<Vec<anyhow::Result<()>>>()
                .await
        })
    };

    // The faults, in order, while the invitations go out and drain.
    let deadline = started + Duration::from_secs(if args.quick { 240 } else { 900 });
    let mut next_kill = Instant::now() + kill_every;
    let mut victim = 0;
    let mut redis_restarted = false;
    let mut relay_phase = 0;
    let mut relay_until = Instant::now();
    let mut chaos_over = false;
    loop {
        let progress_now = sent.load(Ordering::Relaxed);
        let done = sent_count(&db).await?;
        if done >= n as u64 && invites.is_finished() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the soak did not finish within its deadline: {done} of {n} SENT\n{}",
                report_processes(&mut pool)
            );
        }
        let chaos = !chaos_over;
        // Kill a worker now and then, and start it again.
        if chaos && Instant::now() >= next_kill {
            victim = (victim + 1) % pool.len();
            let killed = pool.remove(victim);
            killed.kill().await;
            faults.kills.fetch_add(1, Ordering::Relaxed);
            pool.insert(
                victim,
                workers::spawn_one(&worker_bin, &[], &worker_env, workers::WORKER_READY).await?,
            );
            next_kill = Instant::now() + kill_every;
        }
        // Restart what exited by itself (a worker that lost Redis exits 1).
        for process in &mut pool {
            if process.exited()?.is_some() {
                faults.restarts_after_exit.fetch_add(1, Ordering::Relaxed);
                *process = workers::spawn_one(&worker_bin, &[], &worker_env, workers::WORKER_READY).await?;
            }
        }
        // A third of the way in: Redis restarts, empty.
        if !redis_restarted && progress_now >= n / 3 {
            progress("restarting Redis (its queue is lost)");
            redis = redis.restart().await?;
            redis_restarted = true;
            faults.redis_restarts.fetch_add(1, Ordering::Relaxed);
        }
        // Half way: the relay fails, then stalls after DATA, then recovers.
        if relay_phase == 0 && progress_now >= n / 2 {
            progress("the relay refuses everything (451)");
            sink.set_mode(Mode::Transient).await;
            faults.relay_failures.fetch_add(1, Ordering::Relaxed);
            relay_until = Instant::now() + fail_for;
            relay_phase = 1;
        } else if relay_phase == 1 && Instant::now() >= relay_until {
            progress("the relay stalls after DATA");
            sink.set_mode(Mode::StallAfterData).await;
            faults.relay_stalls.fetch_add(1, Ordering::Relaxed);
            relay_until = Instant::now() + stall_for;
            relay_phase = 2;
        } else if relay_phase == 2 && Instant::now() >= relay_until {
            progress("the relay recovers");
            sink.set_mode(Mode::Accept).await;
            relay_phase = 3;
        }
        // Once every invitation is queued and the relay is back, let it drain.
        if relay_phase == 3 && invites.is_finished() {
            chaos_over = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let failures: Vec<String> = invites
        .await?
        .into_iter()
        .filter_map(|result| result.err().map(|err| format!("{err:#}")))
        .collect();

    // Let any late duplicate arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = sink.messages();
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for message in &messages {
        for to in &message.rcpt_to {
            *per_recipient.entry(to.clone()).or_default() += 1;
        }
    }
    let expected: HashSet<String> = (0..n).map(recipient).collect();
    let lost = expected.iter().filter(|r| !per_recipient.contains_key(*r)).count();
    let duplicates: usize = per_recipient.values().map(|count| count - 1).sum();
    let unsent = email_delivery::Entity::find()
        .filter(email_delivery::Column::Status.ne(DeliveryStatus::Sent))
        .count(&db)
        .await?;
    let kills = faults.kills.load(Ordering::Relaxed);
    let bound = kills * CONCURRENCY;

    for process in pool {
        let _ = process.terminate().await;
    }
    for api in apis {
        let _ = api.terminate().await;
    }
    drop(redis);
    db.close().await.ok();
    let _ = std::fs::remove_dir_all(&scratch);

    println!();
    println!(
        "bench soak: 2 api processes, {WORKERS} workers (WORKER_CONCURRENCY {CONCURRENCY}), PostgreSQL, Redis, the test SMTP sink"
    );
    println!("  invitations sent                  {n:>8}");
    println!("  invitation requests that failed   {:>8}", failures.len());
    println!("  emails received                   {:>8}", messages.len());
    println!("  lost (never arrived)              {lost:>8}");
    println!(
        "  duplicates                        {duplicates:>8}  (bound: {kills} kills × {CONCURRENCY} in flight = {bound})"
    );
    println!("  deliveries not SENT at the end    {unsent:>8}");
    println!("  workers SIGKILLed and restarted   {kills:>8}");
    println!(
        "  workers restarted after exiting   {:>8}",
        faults.restarts_after_exit.load(Ordering::Relaxed)
    );
    println!(
        "  Redis restarts (queue lost)       {:>8}",
        faults.redis_restarts.load(Ordering::Relaxed)
    );
    println!(
        "  relay failing / stalling periods  {:>8}",
        format!(
            "{} / {}",
            faults.relay_failures.load(Ordering::Relaxed),
            faults.relay_stalls.load(Ordering::Relaxed)
        )
    );
    println!("  time to the last email            {:>7.1}s", elapsed.as_secs_f64());

    if !failures.is_empty() {
        bail!(
            "{} invitation requests failed; the first: {}",
            failures.len(),
            failures[0]
        );
    }
    if lost > 0 || unsent > 0 {
        bail!("{lost} invitations never arrived and {unsent} deliveries are not SENT");
    }
    if duplicates > bound {
        bail!("{duplicates} duplicate emails, more than the {bound} that could be in flight at the kills");
    }
    Ok(())
}

fn recipient(i: usize) -> String {
    format!("soak{i}@customers.example")
}

async fn sent_count(db: &sea_orm::DatabaseConnection) -> anyhow::Result<u64> {
    Ok(email_delivery::Entity::find()
        .filter(email_delivery::Column::Status.eq(DeliveryStatus::Sent))
        .count(db)
        .await?)
}

fn report_processes(pool: &mut [WorkerProcess]) -> String {
    pool.iter()
        .map(|p| format!("worker {}:\n{}", p.pid(), p.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn staff_login(client: &reqwest::Client, address: &str) -> anyhow::Result<String> {
    let data = graphql(
        client,
        address,
        None,
        "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
        json!({"e": STAFF_EMAIL, "p": harness::STAFF_PASSWORD}),
    )
    .await?;
    data["staffLogin"]["token"]
        .as_str()
        .map(str::to_owned)
        .context("staffLogin returned no token")
}

/// `inviteToPortal`, tried again a few times on a transport error or a 503
/// (an api shedding load answers 503 with Retry-After).
async fn invite(client: &reqwest::Client, address: &str, token: &str, account: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..5 {
        match graphql(
            client,
            address,
            Some(token),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": account}),
        )
        .await
        {
            Ok(_) => return Ok(()),
            Err(err) => {
                last = Some(err);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
}

async fn graphql(
    client: &reqwest::Client,
    address: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = client
        .post(format!("{address}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.context("POST /graphql")?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the answer")?;
    if !status.is_success() {
        bail!("HTTP {status}: {body}");
    }
    if let Some(errors) = body.get("errors") {
        bail!("GraphQL errors: {errors}");
    }
    Ok(body["data"].clone())
}
