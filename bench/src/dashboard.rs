//! `bench dashboard`: the staff and portal dashboards under load, against the
//! database's ceiling, and the api's resident memory, measured in one run.
//!
//! 1. A fresh PostgreSQL database gets the fixed data set ([`crate::dataset`]).
//! 2. The real `api` binary (release, next to `bench`) serves it as its own
//!    process, with Redis and the SMTP sink configured as in production.
//! 3. **Staff dashboard**: [`STAFF_QUERY`] over HTTP from `connections`
//!    concurrent connections for a fixed time, paging through all accounts
//!    (request *n* asks for page *n* mod pages, 50 accounts a page).
//! 4. **Portal dashboard**: [`PORTAL_QUERY`], each request as the next portal
//!    user (their sessions were started by the seeding).
//! 5. **Ceiling** of each: the same rows fetched from the same database by
//!    the minimal SQL — one statement per level, decoded into Rust values,
//!    from as many tasks over a pool as big as the api's, no GraphQL, no HTTP.
//!    GraphQL ÷ ceiling says what the api's layers cost over the database.
//!
//!    Each measure's time is cut into three slices, GraphQL and its ceiling
//!    alternating, so that the machine's load changing during the run (it is
//!    shared) weighs on both sides of the ratio alike.
//! 6. **Portal web page**: `GET /portal` (the customer's HTML dashboard,
//!    which runs its own GraphQL document in process and renders it), each
//!    request as the next portal user with the session in its cookie,
//!    against the same ceiling as the portal dashboard: its api CPU per
//!    request is the page's server time.
//! 7. **Memory**: the api's `VmRSS` once it is up and idle (before any
//!    request), and its `VmHWM` (peak) at the end.
//!
//! Before timing, one response of each dashboard is read in full and its
//! accounts, locations, assets and invoices are compared with the ceiling's
//! rows for the same page or user: the two measure the same work. Under load
//! a response counts as an error unless it is HTTP 200 with `data` and
//! without `errors`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context as _, bail, ensure};
use chrono::Utc;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, QueryResult, Statement, Value as DbValue};
use serde::Serialize;
use serde_json::{Value, json};
use testkit::{TestDatabase, smtp_sink::SmtpSink};
use uuid::Uuid;

use crate::{
    dataset::{self, Seeded, Size},
    harness::{self, BenchRedis, process_env, scratch_dir},
    load::{self, LoadResult},
    workers::{self, API_READY, Memory, WorkerProcess},
};

/// Slices each measure is cut into, alternating GraphQL and the ceiling.
const ROUNDS: u32 = 3;

/// Accounts per staff dashboard page.
pub const PAGE: usize = 50;

/// The api's database pool size (`api/src/lib.rs`); the ceiling uses the same.
pub const API_POOL: u32 = 16;

/// The staff dashboard, as the issue gives it.
pub const STAFF_QUERY: &str = include_str!("../queries/staff-dashboard.graphql");

/// The portal dashboard: who I am, my accounts → locations → assets, and
/// each account's open invoices.
pub const PORTAL_QUERY: &str = include_str!("../queries/portal-dashboard.graphql");

/// `bench dashboard` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// Seconds each measure runs [default: 15, or 2 with --quick]
    #[arg(long, value_name = "S")]
    seconds: Option<u64>,
    /// Concurrent connections (and ceiling tasks)
    #[arg(long, value_name = "N", default_value_t = 32)]
    connections: usize,
    /// The CI mode: a small data set and short measures; checks that the
    /// dashboards answer the same rows as the ceiling, asserts no speed
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report [default: <cargo target dir>/bench/dashboard.json]
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// An extra setting for the api process, e.g. `--api-env GRAPHQL_MAX_CONCURRENCY=4`
    /// (repeatable; the api otherwise runs with the product's defaults)
    #[arg(long = "api-env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    api_env: Vec<(String, String)>,
}

fn parse_key_value(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{pair:?} is not KEY=VALUE"))
}

impl DashboardArgs {
    /// The options `bench all` runs with.
    pub fn for_all(quick: bool) -> Self {
        Self {
            seconds: None,
            connections: 32,
            quick,
            json: None,
            api_env: Vec::new(),
        }
    }
}

/// One dashboard's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardFigures {
    /// GraphQL over HTTP.
    pub graphql: LoadResult,
    /// The minimal SQL.
    pub ceiling: LoadResult,
    /// `graphql.per_second ÷ ceiling.per_second`.
    pub ratio: f64,
    /// SQL statements the api ran per request (from its `/metrics`).
    pub statements_per_request: f64,
    /// SQL statements per ceiling request.
    pub ceiling_statements: usize,
    /// Mean response body size, bytes.
    pub response_bytes: usize,
    /// CPU time (user + system) the api process used per GraphQL request
    /// (Linux; 10 ms ticks over thousands of requests). Steadier than
    /// requests/s on a shared machine: what a change costs or saves.
    pub api_cpu_ms_per_request: Option<f64>,
    /// Fields (object entries, at every level) in a mean answer: counted in
    /// the answers checked before the measure, scaled to the mean size.
    /// `None` for the HTML page.
    pub fields_per_response: Option<f64>,
    /// `api_cpu_ms_per_request ÷ fields_per_response`, in microseconds.
    pub api_cpu_us_per_field: Option<f64>,
}

/// What the answers checked before a measure held.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    fields: usize,
    bytes: usize,
}

impl Sample {
    fn add(&mut self, answer: &Value, bytes: usize) {
        self.fields += count_fields(&answer["data"]);
        self.bytes += bytes;
    }

    /// Fields in an answer of `bytes` bytes, at the samples' density.
    fn fields_for(self, bytes: usize) -> Option<f64> {
        (self.bytes > 0 && bytes > 0).then(|| self.fields as f64 * bytes as f64 / self.bytes as f64)
    }
}

/// Object entries at every level of `value`.
fn count_fields(value: &Value) -> usize {
    match value {
        Value::Object(object) => object.len() + object.values().map(count_fields).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_fields).sum(),
        _ => 0,
    }
}

/// The report of `bench dashboard`.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardReport {
    /// "dashboard".
    pub benchmark: &'static str,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// `--quick`.
    pub quick: bool,
    /// Built with optimisations.
    pub release_build: bool,
    /// CPUs available.
    pub cpus: usize,
    /// The data set's size.
    pub size: Size,
    /// Rows seeded.
    pub rows: dataset::RowCounts,
    /// Seconds seeding took.
    pub seed_seconds: f64,
    /// Seconds per measure.
    pub seconds_per_measure: u64,
    /// The staff dashboard.
    pub staff: DashboardFigures,
    /// The portal dashboard.
    pub portal: DashboardFigures,
    /// The portal's HTML dashboard page (`GET /portal`).
    pub portal_page: DashboardFigures,
    /// The api's memory once up and idle (before any request).
    pub api_memory_idle: Option<Memory>,
    /// The api's memory at the end (`peak_rss_kib` is the run's peak).
    pub api_memory_end: Option<Memory>,
}

/// Runs `bench dashboard`: prints the table, writes the JSON.
///
/// # Errors
/// See [`measure`].
pub async fn run(args: DashboardArgs) -> anyhow::Result<()> {
    let json_path = match &args.json {
        Some(path) => path.clone(),
        None => crate::report::default_json_path("dashboard.json")?,
    };
    let report = measure(&args).await?;
    println!("{}", report.table());
    crate::report::write_json(&report, &json_path)?;
    println!("JSON: {}", json_path.display());
    Ok(())
}

/// Seeds, starts the api, measures; removes the database and Redis keys.
///
/// # Errors
/// When PostgreSQL, Redis or the binaries are missing, the dashboards do not
/// answer the ceiling's rows, or the api fails.
pub async fn measure(args: &DashboardArgs) -> anyhow::Result<DashboardReport> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    let seconds = args.seconds.unwrap_or(if args.quick { 2 } else { 15 }).max(1);
    let size = if args.quick { Size::QUICK } else { Size::FULL };
    let api_bin = workers::locate_api()?;
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: this is a debug build; run with `--release` for meaningful figures");
    }
    let started_at = Utc::now().to_rfc3339();
    let database = harness::database().await?;
    progress(&format!("created database {}", database.name()));
    let result = async {
        let redis = BenchRedis::create().await?;
        let result = tokio::select! {
            result = in_database(args, seconds, size, &api_bin, &database, &redis) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        if let Err(err) = redis.delete_keys().await {
            eprintln!("bench: could not delete the Redis keys of {}: {err:#}", redis.namespace);
        }
        result
    }
    .await;
    let name = database.name().to_owned();
    match database.remove().await {
        Ok(()) => progress(&format!("dropped database {name}")),
        Err(err) => eprintln!("bench: could not drop database {name}: {err:#}"),
    }
    let mut report = result?;
    report.started_at = started_at;
    Ok(report)
}

async fn in_database(
    args: &DashboardArgs,
    seconds: u64,
    size: Size,
    api_bin: &std::path::Path,
    database: &TestDatabase,
    redis: &BenchRedis,
) -> anyhow::Result<DashboardReport> {
    let (db, ceiling_statements) = common::db::connect(&database.url().to_owned().into(), API_POOL)
        .await
        .context("connecting to the bench database")?;
    common::db::migrate(&db).await.context("migrating the bench database")?;
    progress(&format!(
        "seeding {} accounts × {} locations × {} assets, {} invoices × {} lines each, {} portal users",
        size.accounts,
        dataset::LOCATIONS_PER_ACCOUNT,
        dataset::ASSETS_PER_LOCATION,
        dataset::INVOICES_PER_ACCOUNT,
        dataset::LINES_PER_INVOICE,
        size.portal_users
    ));
    let seeded = dataset::seed(&db, size).await?;
    progress(&format!("seeded in {:.1} s", seeded.seconds));

    let sink = SmtpSink::try_start().await.context("starting the SMTP sink")?;
    let scratch = scratch_dir(&redis.namespace);
    let mut env = process_env(database, redis, &sink, &scratch, &[]);
    env.insert("LISTEN_ADDR".to_owned(), "127.0.0.1:0".to_owned());
    env.insert("LOG_FORMAT".to_owned(), "json".to_owned());
    if let Ok(filter) = std::env::var("BENCH_API_LOG") {
        env.insert("RUST_LOG".to_owned(), filter);
    }
    for (key, value) in &args.api_env {
        env.insert(key.clone(), value.clone());
    }
    let api = workers::spawn_one(api_bin, &["serve"], &env, API_READY).await?;
    let result = with_api(args, seconds, &db, &ceiling_statements, &seeded, &api).await;
    if let Err(err) = api.terminate().await {
        eprintln!("bench: stopping the api: {err:#}");
    }
    let _ = std::fs::remove_dir_all(&scratch);
    db.close().await.ok();
    let (staff, portal, portal_page, api_memory_idle, api_memory_end) = result?;
    Ok(DashboardReport {
        benchmark: "dashboard",
        started_at: String::new(),
        quick: args.quick,
        release_build: !cfg!(debug_assertions),
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        size,
        rows: seeded.rows,
        seed_seconds: seeded.seconds,
        seconds_per_measure: seconds,
        staff,
        portal,
        portal_page,
        api_memory_idle,
        api_memory_end,
    })
}

type Measured = (
    DashboardFigures,
    DashboardFigures,
    DashboardFigures,
    Option<Memory>,
    Option<Memory>,
);

async fn with_api(
    args: &DashboardArgs,
    seconds: u64,
    db: &DatabaseConnection,
    ceiling_statements: &common::db::StatementCounter,
    seeded: &Seeded,
    api: &WorkerProcess,
) -> anyhow::Result<Measured> {
    let address = api
        .ready_line
        .split(API_READY)
        .nth(1)
        .map(str::trim)
        .context("the api's ready line has no address")?
        .to_owned();
    progress(&format!("api (pid {}) on {address}", api.pid()));
    // Idle: up, migrated, connected, nothing asked yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = api.memory();

    let client = Client::new(&address, args.connections)?;
    let staff = Arc::new(StaffWork::new(seeded, db.clone(), client.clone()));
    let portal = Arc::new(PortalWork::new(seeded, db.clone(), client.clone()));
    let page = Arc::new(PortalPage(PortalWork::new(seeded, db.clone(), client.clone())));
    let staff_sample = staff.verify().await.context("the staff dashboard")?;
    let portal_sample = portal.verify().await.context("the portal dashboard")?;
    page.verify().await.context("the portal web page")?;
    progress("both dashboards answer the ceiling's rows; the portal page renders");

    let run = Run {
        api,
        client: &client,
        ceiling_counter: ceiling_statements,
        connections: args.connections,
        warm: Duration::from_secs(if args.quick { 1 } else { 3 }),
        duration: Duration::from_secs(seconds),
    };
    let staff_figures = dashboard("staff", &staff, &run, Some(staff_sample)).await?;
    let portal_figures = dashboard("portal", &portal, &run, Some(portal_sample)).await?;
    let page_figures = dashboard("portal web page", &page, &run, None).await?;
    Ok((staff_figures, portal_figures, page_figures, idle, api.memory()))
}

/// A dashboard the benchmark can ask over GraphQL and of the database.
trait Work: Send + Sync + 'static {
    /// One GraphQL request; `Ok(body length)` on a clean answer.
    fn graphql(&self, n: u64) -> impl Future<Output = Result<usize, String>> + Send;
    /// One ceiling request.
    fn ceiling(&self, n: u64) -> impl Future<Output = Result<Rows, String>> + Send;
    /// Statements one ceiling request runs.
    fn ceiling_statements(&self) -> usize;
}

/// What every dashboard measure runs against and for how long.
struct Run<'a> {
    api: &'a WorkerProcess,
    client: &'a Client,
    ceiling_counter: &'a common::db::StatementCounter,
    connections: usize,
    warm: Duration,
    duration: Duration,
}

async fn dashboard<W: Work>(
    name: &str,
    work: &Arc<W>,
    run: &Run<'_>,
    sample: Option<Sample>,
) -> anyhow::Result<DashboardFigures> {
    let Run {
        api,
        client,
        ceiling_counter,
        connections,
        warm,
        duration,
    } = *run;
    let bytes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let graphql_load = |duration| {
        let work = work.clone();
        let bytes = bytes.clone();
        load::run(connections, duration, move |c, s| {
            let work = work.clone();
            let bytes = bytes.clone();
            async move {
                let n = s * connections as u64 + c as u64;
                let len = work.graphql(n).await?;
                bytes.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        })
    };
    let ceiling_load = |duration| {
        let work = work.clone();
        load::run(connections, duration, move |c, s| {
            let work = work.clone();
            async move {
                let n = s * connections as u64 + c as u64;
                work.ceiling(n).await.map(drop)
            }
        })
    };
    progress(&format!("{name} dashboard: warming up for {warm:?}"));
    graphql_load(warm).await;
    ceiling_load(warm).await;
    bytes.store(0, std::sync::atomic::Ordering::Relaxed);

    // GraphQL and the ceiling alternate in ROUNDS slices, so that a change
    // in the machine's load during the run weighs on both alike.
    let slice = duration / ROUNDS;
    let mut graphql_parts = Vec::new();
    let mut ceiling_parts = Vec::new();
    let mut graphql_statements = 0;
    let mut ceiling_statements = 0;
    let mut api_cpu = Some(Duration::ZERO);
    for round in 1..=ROUNDS {
        progress(&format!(
            "{name} dashboard, round {round} of {ROUNDS}: GraphQL over HTTP, then the SQL ceiling, {slice:?} each"
        ));
        let before = client.statements().await?;
        let cpu_before = api.cpu_time();
        graphql_parts.push(graphql_load(slice).await);
        api_cpu = api_cpu
            .zip(api.cpu_time().zip(cpu_before))
            .map(|(sum, (now, then))| sum + now.saturating_sub(then));
        graphql_statements += client.statements().await?.saturating_sub(before);
        let before = ceiling_counter.get();
        ceiling_parts.push(ceiling_load(slice).await);
        ceiling_statements += ceiling_counter.get() - before;
    }
    let graphql = LoadResult::merge(&graphql_parts);
    let ceiling = LoadResult::merge(&ceiling_parts);
    let ok = graphql.requests - graphql.errors;
    // Every request sent ran its statements, the late ones too.
    let sent = graphql.requests + graphql.late;
    let statements_per_request = if sent > 0 {
        graphql_statements as f64 / sent as f64
    } else {
        0.0
    };
    let response_bytes = if ok > 0 {
        bytes.load(std::sync::atomic::Ordering::Relaxed) / usize::try_from(ok).unwrap_or(1)
    } else {
        0
    };
    let api_cpu_ms_per_request = api_cpu
        .filter(|_| sent > 0)
        .map(|cpu| cpu.as_secs_f64() * 1000.0 / sent as f64);
    let fields_per_response = sample.and_then(|sample| sample.fields_for(response_bytes));
    let api_cpu_us_per_field = api_cpu_ms_per_request
        .zip(fields_per_response)
        .filter(|(_, fields)| *fields > 0.0)
        .map(|(ms, fields)| ms * 1000.0 / fields);
    progress(&format!(
        "{name} dashboard: {:.1} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, api CPU {} ms/request",
        graphql.per_second,
        graphql.p50_ms,
        graphql.p99_ms,
        graphql.errors,
        api_cpu_ms_per_request.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.2}"))
    ));

    let ceiling_sent = ceiling.requests + ceiling.late;
    let measured_statements = if ceiling_sent > 0 {
        ceiling_statements as f64 / ceiling_sent as f64
    } else {
        0.0
    };
    progress(&format!(
        "{name} ceiling: {:.1} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors ({measured_statements:.2} statements each)",
        ceiling.per_second, ceiling.p50_ms, ceiling.p99_ms, ceiling.errors
    ));
    Ok(DashboardFigures {
        ratio: if ceiling.per_second > 0.0 {
            graphql.per_second / ceiling.per_second
        } else {
            0.0
        },
        graphql,
        ceiling,
        statements_per_request,
        ceiling_statements: work.ceiling_statements(),
        response_bytes,
        api_cpu_ms_per_request,
        fields_per_response,
        api_cpu_us_per_field,
    })
}

/// The HTTP side: a pooled client on the api.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    graphql_url: String,
    portal_url: String,
    metrics_url: String,
}

impl Client {
    fn new(address: &str, connections: usize) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(connections)
                .timeout(Duration::from_secs(60))
                .build()?,
            graphql_url: format!("{address}/graphql"),
            portal_url: format!("{address}/portal"),
            metrics_url: format!("{address}/metrics"),
        })
    }

    /// POSTs a prepared body; the raw response body on HTTP 200.
    async fn post(&self, token: &str, body: &'static [u8]) -> Result<bytes::Bytes, String> {
        let response = self
            .http
            .post(&self.graphql_url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST /graphql: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the response: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }

    /// GETs the portal's dashboard page with `token` as the session
    /// cookie; the HTML on HTTP 200.
    async fn portal_page(&self, token: &str) -> Result<bytes::Bytes, String> {
        let response = self
            .http
            .get(&self.portal_url)
            .header(reqwest::header::COOKIE, format!("portal_session={token}"))
            .send()
            .await
            .map_err(|e| format!("GET /portal: {e}"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("reading the page: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status} (not signed in?)"));
        }
        Ok(body)
    }

    /// The api's `db_statements_total`.
    async fn statements(&self) -> anyhow::Result<u64> {
        let text = self.http.get(&self.metrics_url).send().await?.text().await?;
        text.lines()
            .find_map(|line| line.strip_prefix("portal_db_statements_total "))
            .and_then(|n| n.trim().parse().ok())
            .context("the api's /metrics has no portal_db_statements_total")
    }
}

/// A clean GraphQL answer under load: `data` and no `errors` (checked on
/// the text with std's substring search, so the client, which shares the
/// CPUs with the api, spends little on a 100 KiB answer). Inside a string
/// value the quotes would be escaped, so `"errors":` only matches the key.
fn check_body(body: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the answer is not UTF-8: {e}"))?;
    if text.starts_with("{\"data\":{") && !text.contains("\"errors\":") {
        Ok(body.len())
    } else {
        Err(format!(
            "unexpected answer: {}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

/// What one dashboard answer holds, counted the same way for GraphQL and SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rows {
    accounts: usize,
    locations: usize,
    assets: usize,
    invoices: usize,
    balance_cents: i64,
}

fn rows_of_graphql(data: &Value) -> anyhow::Result<Rows> {
    let accounts = data["accounts"]["nodes"].as_array().context("no accounts.nodes")?;
    let mut rows = Rows {
        accounts: accounts.len(),
        ..Rows::default()
    };
    for account in accounts {
        let formatted = account["balanceDue"]["formatted"].as_str().context("no balanceDue")?;
        rows.balance_cents += parse_money(formatted)?;
        let locations = account["locations"]["nodes"].as_array().context("no locations")?;
        rows.locations += locations.len();
        for location in locations {
            rows.assets += location["assets"]["nodes"].as_array().context("no assets")?.len();
        }
        if let Some(invoices) = account["invoices"]["nodes"].as_array() {
            rows.invoices += invoices.len();
        }
    }
    Ok(rows)
}

/// "$1,234.50" → 123450.
fn parse_money(formatted: &str) -> anyhow::Result<i64> {
    let digits: String = formatted.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .with_context(|| format!("{formatted:?} is not an amount"))
}

/// `$1, $2, …` from `start` for `n` values.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn query(db: &DatabaseConnection, sql: &str, values: Vec<DbValue>) -> Result<Vec<QueryResult>, String> {
    db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .map_err(|e| format!("SQL: {e}"))
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, String> {
    row.try_get::<T>("", column)
        .map_err(|e| format!("column {column}: {e}"))
}

/// Level 2 and 3 of both dashboards: the accounts' locations, and the
/// locations' assets with their type's name. Returns (locations, assets).
async fn locations_and_assets(db: &DatabaseConnection, account_ids: &[Uuid]) -> Result<(usize, usize), String> {
    if account_ids.is_empty() {
        return Ok((0, 0));
    }
    let sql = format!(
        "SELECT id, account_id, name, city FROM locations WHERE account_id IN ({}) ORDER BY id",
        placeholders(1, account_ids.len())
    );
    let locations = query(db, &sql, account_ids.iter().map(|id| DbValue::from(*id)).collect()).await?;
    let mut location_ids = Vec::with_capacity(locations.len());
    for row in &locations {
        location_ids.push(get::<Uuid>(row, "id")?);
        let _: (Uuid, String, String) = (get(row, "account_id")?, get(row, "name")?, get(row, "city")?);
    }
    if location_ids.is_empty() {
        return Ok((0, 0));
    }
    let sql = format!(
        "SELECT s.id, s.location_id, s.tag, s.status, t.name AS type_name FROM assets s \
         JOIN asset_types t ON t.id = s.asset_type_id WHERE s.location_id IN ({}) ORDER BY s.id",
        placeholders(1, location_ids.len())
    );
    let assets = query(db, &sql, location_ids.iter().map(|id| DbValue::from(*id)).collect()).await?;
    for row in &assets {
        let _: (Uuid, Uuid, String, String, String) = (
            get(row, "id")?,
            get(row, "location_id")?,
            get(row, "tag")?,
            get(row, "status")?,
            get(row, "type_name")?,
        );
    }
    Ok((location_ids.len(), assets.len()))
}

/// The account columns both dashboards show, with the balance of OPEN
/// invoices and the portal status computed in the same statement.
const ACCOUNT_COLUMNS: &str = "a.id, a.number, a.name, a.contact_email, \
    COALESCE((SELECT SUM(i.amount_due_cents) FROM invoices i WHERE i.account_id = a.id AND i.status = 'OPEN'), 0)::bigint AS balance, \
    EXISTS (SELECT 1 FROM portal_access p WHERE p.account_id = a.id) AS connected, \
    EXISTS (SELECT 1 FROM invitations v WHERE v.account_id = a.id AND v.status = 'PENDING' AND v.expires_at > now()) AS invited";

fn decode_accounts(rows: &[QueryResult]) -> Result<(Vec<Uuid>, i64), String> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut balance = 0;
    for row in rows {
        ids.push(get::<Uuid>(row, "id")?);
        let _: (String, String, Option<String>, bool, bool) = (
            get(row, "number")?,
            get(row, "name")?,
            get(row, "contact_email")?,
            get(row, "connected")?,
            get(row, "invited")?,
        );
        balance += get::<i64>(row, "balance")?;
    }
    Ok((ids, balance))
}

/// The staff dashboard: page *n* mod pages of the organization's accounts.
struct StaffWork {
    db: DatabaseConnection,
    client: Client,
    token: String,
    organization_id: Uuid,
    /// Per page: the id the page starts after (`None` for the first).
    pages: Vec<Option<Uuid>>,
    /// Per page: the prepared request body.
    bodies: Vec<&'static [u8]>,
}

impl StaffWork {
    fn new(seeded: &Seeded, db: DatabaseConnection, client: Client) -> Self {
        let pages: Vec<Option<Uuid>> = (0..seeded.account_ids.len().div_ceil(PAGE))
            .map(|p| (p > 0).then(|| seeded.account_ids[p * PAGE - 1]))
            .collect();
        let bodies = pages
            .iter()
            .map(|after| {
                let after = after.map(api::graphql::connection::encode_cursor);
                leak(json!({"query": STAFF_QUERY, "variables": {"after": after}}))
            })
            .collect();
        Self {
            db,
            client,
            token: seeded.staff_token.clone(),
            organization_id: seeded.organization_id,
            pages,
            bodies,
        }
    }

    fn page(&self, n: u64) -> usize {
        usize::try_from(n % self.pages.len() as u64).unwrap_or(0)
    }

    /// The first and the last page, read in full, match the ceiling's rows.
    /// Returns what the answers held.
    async fn verify(&self) -> anyhow::Result<Sample> {
        let mut sample = Sample::default();
        for page in [0, self.pages.len() - 1] {
            let body = self
                .client
                .post(&self.token, self.bodies[page])
                .await
                .map_err(anyhow::Error::msg)?;
            let answer: Value = serde_json::from_slice(&body)?;
            if answer.get("errors").is_some() {
                bail!("page {page} answered errors: {}", answer["errors"]);
            }
            sample.add(&answer, body.len());
            let graphql = rows_of_graphql(&answer["data"])?;
            let sql = self.ceiling(page as u64).await.map_err(anyhow::Error::msg)?;
            ensure!(
                graphql == sql,
                "page {page}: GraphQL answered {graphql:?}, the SQL ceiling {sql:?}"
            );
            ensure!(graphql.assets > 0, "page {page} has no assets");
        }
        Ok(sample)
    }
}

impl Work for StaffWork {
    async fn graphql(&self, n: u64) -> Result<usize, String> {
        let body = self.client.post(&self.token, self.bodies[self.page(n)]).await?;
        check_body(&body)
    }

    async fn ceiling(&self, n: u64) -> Result<Rows, String> {
        let after = self.pages[self.page(n)];
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.organization_id = $1{} ORDER BY a.id LIMIT {PAGE}",
            if after.is_some() { " AND a.id > $2" } else { "" }
        );
        let mut values = vec![DbValue::from(self.organization_id)];
        values.extend(after.map(DbValue::from));
        let accounts = query(&self.db, &sql, values).await?;
        let (ids, balance_cents) = decode_accounts(&accounts)?;
        let (locations, assets) = locations_and_assets(&self.db, &ids).await?;
        Ok(Rows {
            accounts: ids.len(),
            locations,
            assets,
            invoices: 0,
            balance_cents,
        })
    }

    fn ceiling_statements(&self) -> usize {
        3
    }
}

/// The portal dashboard: request *n* as portal user *n* mod users.
struct PortalWork {
    db: DatabaseConnection,
    client: Client,
    tokens: Vec<String>,
    body: &'static [u8],
}

impl PortalWork {
    fn new(seeded: &Seeded, db: DatabaseConnection, client: Client) -> Self {
        Self {
            db,
            client,
            tokens: seeded.portal_tokens.clone(),
            body: leak(json!({"query": PORTAL_QUERY})),
        }
    }

    fn token(&self, n: u64) -> &str {
        &self.tokens[usize::try_from(n % self.tokens.len() as u64).unwrap_or(0)]
    }

    /// The first three users (1, 2 and 3 accounts), read in full, match the
    /// ceiling's rows.
    async fn verify(&self) -> anyhow::Result<Sample> {
        ensure!(!self.tokens.is_empty(), "no portal users were seeded");
        let mut sample = Sample::default();
        for user in 0..self.tokens.len().min(3) {
            let body = self
                .client
                .post(self.token(user as u64), self.body)
                .await
                .map_err(anyhow::Error::msg)?;
            let answer: Value = serde_json::from_slice(&body)?;
            if answer.get("errors").is_some() {
                bail!("portal user {user} got errors: {}", answer["errors"]);
            }
            sample.add(&answer, body.len());
            ensure!(
                answer["data"]["viewer"]["email"].is_string(),
                "portal user {user}: viewer is not the portal user: {}",
                answer["data"]["viewer"]
            );
            let graphql = rows_of_graphql(&answer["data"])?;
            let sql = self.ceiling(user as u64).await.map_err(anyhow::Error::msg)?;
            ensure!(
                graphql == sql,
                "portal user {user}: GraphQL answered {graphql:?}, the SQL ceiling {sql:?}"
            );
            ensure!(
                graphql.accounts == user % 3 + 1 && graphql.invoices > 0,
                "portal user {user} sees {graphql:?}"
            );
        }
        Ok(sample)
    }
}

/// The portal's HTML dashboard, request *n* as portal user *n* mod users;
/// its ceiling is the portal dashboard's.
struct PortalPage(PortalWork);

/// What every rendered dashboard page has.
const PAGE_MARKER: &[u8] = b"<h1>Your dashboard</h1>";

impl PortalPage {
    /// The first user's page renders the dashboard with an account.
    async fn verify(&self) -> anyhow::Result<()> {
        let body = self
            .0
            .client
            .portal_page(self.0.token(0))
            .await
            .map_err(anyhow::Error::msg)?;
        let html = String::from_utf8_lossy(&body);
        ensure!(
            html.contains("<h1>Your dashboard</h1>") && html.contains("Balance due"),
            "GET /portal did not render the dashboard: {html}"
        );
        Ok(())
    }
}

impl Work for PortalPage {
    async fn graphql(&self, n: u64) -> Result<usize, String> {
        let body = self.0.client.portal_page(self.0.token(n)).await?;
        if body.windows(PAGE_MARKER.len()).any(|w| w == PAGE_MARKER) {
            Ok(body.len())
        } else {
            Err("GET /portal answered 200 without the dashboard".to_owned())
        }
    }

    async fn ceiling(&self, n: u64) -> Result<Rows, String> {
        self.0.ceiling(n).await
    }

    fn ceiling_statements(&self) -> usize {
        self.0.ceiling_statements()
    }
}

impl Work for PortalWork {
    async fn graphql(&self, n: u64) -> Result<usize, String> {
        let body = self.client.post(self.token(n), self.body).await?;
        check_body(&body)
    }

    async fn ceiling(&self, n: u64) -> Result<Rows, String> {
        let digest = common::token::token_digest(self.token(n));
        let viewer = query(
            &self.db,
            "SELECT u.id, u.name, u.email FROM sessions s JOIN portal_users u ON u.id = s.portal_user_id \
             WHERE s.token_digest = $1 AND s.expires_at > now()",
            vec![DbValue::from(digest)],
        )
        .await?;
        let row = viewer.first().ok_or("the session is unknown")?;
        let user_id: Uuid = get(row, "id")?;
        let _: (String, String) = (get(row, "name")?, get(row, "email")?);
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id IN \
             (SELECT account_id FROM portal_access WHERE portal_user_id = $1) ORDER BY a.id LIMIT {PAGE}"
        );
        let accounts = query(&self.db, &sql, vec![DbValue::from(user_id)]).await?;
        let (ids, balance_cents) = decode_accounts(&accounts)?;
        let (locations, assets) = locations_and_assets(&self.db, &ids).await?;
        let mut invoices = 0;
        if !ids.is_empty() {
            let sql = format!(
                "SELECT id, account_id, number, due_on, amount_due_cents, currency FROM invoices \
                 WHERE account_id IN ({}) AND status = 'OPEN' ORDER BY id",
                placeholders(1, ids.len())
            );
            let rows = query(&self.db, &sql, ids.iter().map(|id| DbValue::from(*id)).collect()).await?;
            for row in &rows {
                let _: (Uuid, Uuid, String, chrono::NaiveDate, i64, String) = (
                    get(row, "id")?,
                    get(row, "account_id")?,
                    get(row, "number")?,
                    get(row, "due_on")?,
                    get(row, "amount_due_cents")?,
                    get(row, "currency")?,
                );
            }
            invoices = rows.len();
        }
        Ok(Rows {
            accounts: ids.len(),
            locations,
            assets,
            invoices,
            balance_cents,
        })
    }

    fn ceiling_statements(&self) -> usize {
        5
    }
}

/// A request body that lives for the rest of the run (a handful per run).
fn leak(body: Value) -> &'static [u8] {
    Box::leak(body.to_string().into_bytes().into_boxed_slice())
}

fn progress(message: &str) {
    eprintln!("bench: {message}");
}

impl DashboardReport {
    /// The table `bench dashboard` prints.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nDashboards: {} accounts × {} locations × {} assets, {} invoices, {} portal users; {} s per measure, {} connections{}",
            self.rows.accounts,
            dataset::LOCATIONS_PER_ACCOUNT,
            dataset::ASSETS_PER_LOCATION,
            self.rows.invoices,
            self.rows.portal_users,
            self.seconds_per_measure,
            self.staff.graphql.connections,
            if self.quick {
                " (quick mode: no figures are meaningful)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>7} {:>9} {:>8} {:>8} {:>10} {:>12}  ratio",
            "measure", "requests", "errors", "req/s", "p50 ms", "p99 ms", "stmts/req", "api CPU ms"
        );
        for (name, served, figures) in [
            ("staff dashboard", "GraphQL/HTTP", &self.staff),
            ("portal dashboard", "GraphQL/HTTP", &self.portal),
            ("portal web page", "HTML/HTTP", &self.portal_page),
        ] {
            let g = &figures.graphql;
            let c = &figures.ceiling;
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>7} {:>9.1} {:>8.1} {:>8.1} {:>10.2} {:>12}  {:.2} of ceiling",
                format!("{name}, {served}"),
                g.requests,
                g.errors,
                g.per_second,
                g.p50_ms,
                g.p99_ms,
                figures.statements_per_request,
                figures
                    .api_cpu_ms_per_request
                    .map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.2}")),
                figures.ratio
            );
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>7} {:>9.1} {:>8.1} {:>8.1} {:>10} {:>12}  = 1",
                format!("{name}, SQL ceiling"),
                c.requests,
                c.errors,
                c.per_second,
                c.p50_ms,
                c.p99_ms,
                figures.ceiling_statements,
                "-"
            );
            if let (Some(fields), Some(us)) = (figures.fields_per_response, figures.api_cpu_us_per_field) {
                let _ = writeln!(
                    out,
                    "  {fields:.0} fields per answer, api CPU {us:.3} µs per field, {} bytes per answer",
                    figures.response_bytes
                );
            }
            if let Some(error) = g.first_error.as_ref().or(c.first_error.as_ref()) {
                let _ = writeln!(out, "  first error: {error}");
            }
        }
        let _ = writeln!(
            out,
            "response size: staff {:.1} KiB, portal {:.1} KiB, portal page {:.1} KiB",
            self.staff.response_bytes as f64 / 1024.0,
            self.portal.response_bytes as f64 / 1024.0,
            self.portal_page.response_bytes as f64 / 1024.0
        );
        let mib = |m: Option<Memory>, peak: bool| {
            m.map_or_else(
                || "n/a".to_owned(),
                |m| format!("{:.1} MiB", if peak { m.peak_mib() } else { m.rss_mib() }),
            )
        };
        let _ = writeln!(
            out,
            "api resident memory: idle {}, peak {} (now {})",
            mib(self.api_memory_idle, false),
            mib(self.api_memory_end, true),
            mib(self.api_memory_end, false)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::check_body;

    #[test]
    fn a_body_is_clean_only_with_data_and_without_errors() {
        assert_eq!(check_body(br#"{"data":{"accounts":{"nodes":[]}}}"#), Ok(34));
        assert!(check_body(br#"{"data":{"a":"say \"errors\": none"}}"#).is_ok());
        assert!(check_body(br#"{"data":{"a":null},"errors":[{"message":"x"}]}"#).is_err());
        assert!(check_body(br#"{"errors":[{"message":"x"}]}"#).is_err());
        assert!(check_body(b"\xff").is_err());
    }
}
