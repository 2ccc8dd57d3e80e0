//! What one benchmark run stands on, created fresh and removed afterwards:
//!
//! - a migrated PostgreSQL database of its own ([`testkit::TestDatabase`],
//!   cloned from the migrated template) on the server of `BENCH_DATABASE_URL`
//!   (default `postgres://postgres@127.0.0.1:5432/test`), dropped at the end;
//! - a Redis queue namespace `bench-<uuid>` on `BENCH_REDIS_URL` (default
//!   `redis://127.0.0.1:6379`), whose keys are deleted at the end;
//! - the SMTP sink ([`testkit::smtp_sink::SmtpSink`]) on a loopback port;
//! - the real api, in process ([`api::Application`]) on `127.0.0.1:0`, with
//!   that database, Redis namespace and sink;
//! - a staff session for GraphQL requests over HTTP ([`Api`]).

use std::{collections::HashMap, path::PathBuf, time::Duration};

use anyhow::{Context as _, bail};
use common::Settings;
use redis::AsyncCommands;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use service::organizations::NewOrganization;
use testkit::{Server, TestDatabase, smtp_sink::SmtpSink};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// The default PostgreSQL server (a database on it to connect to first).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The default Redis.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Email of the run's staff admin.
pub const STAFF_EMAIL: &str = "admin@bench.example";
/// Password of the run's staff admin.
pub const STAFF_PASSWORD: &str = "bench staff password";
/// The run's organization.
pub const ORGANIZATION: &str = "Bench Sanitation & Roll-off";

/// The run's organization and its staff admin, as both benchmarks create it.
pub fn organization() -> NewOrganization {
    NewOrganization {
        name: ORGANIZATION.to_owned(),
        slug: "bench".to_owned(),
        admin_email: STAFF_EMAIL.to_owned(),
        admin_name: "Bench Admin".to_owned(),
        admin_password: STAFF_PASSWORD.to_owned(),
    }
}

/// A migrated database of its own on the server of `BENCH_DATABASE_URL`.
///
/// # Errors
/// When the URL is not PostgreSQL or the database cannot be created.
pub async fn database() -> anyhow::Result<TestDatabase> {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let Some(server @ Server::Postgres(_)) = Server::from_url(&url) else {
        bail!("BENCH_DATABASE_URL must be a postgres:// URL (the benchmark runs on PostgreSQL)");
    };
    TestDatabase::migrated(&server)
        .await
        .context("creating the bench database on BENCH_DATABASE_URL (is PostgreSQL running?)")
}

/// A queue namespace of its own in the benchmark's Redis.
pub struct BenchRedis {
    /// The Redis URL.
    pub url: String,
    /// `QUEUE_NAMESPACE`.
    pub namespace: String,
}

impl BenchRedis {
    /// A fresh namespace `bench-<uuid>` on `BENCH_REDIS_URL`; checks Redis answers.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn create() -> anyhow::Result<Self> {
        let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned());
        let mut conn = connect_redis(&url).await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .context("Redis did not answer PING")?;
        Ok(Self {
            url,
            namespace: format!("bench-{}", Uuid::now_v7().simple()),
        })
    }

    /// Deletes every key of the namespace and its entry in apalis's list of
    /// queues; returns how many keys were deleted.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn delete_keys(&self) -> anyhow::Result<usize> {
        let mut conn = connect_redis(&self.url).await?;
        let keys = scan(&mut conn, &format!("{}:*", self.namespace)).await?;
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            deleted += conn.del::<_, usize>(chunk).await?;
        }
        let queues: Vec<String> = conn.zrange("core:apalis:queues:list", 0, -1).await?;
        let prefix = format!("{}:", self.namespace);
        let ours: Vec<&String> = queues.iter().filter(|q| q.starts_with(&prefix)).collect();
        if !ours.is_empty() {
            conn.zrem::<_, _, usize>("core:apalis:queues:list", ours).await?;
        }
        Ok(deleted)
    }
}

async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).context("BENCH_REDIS_URL is not a Redis URL")?;
    client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to BENCH_REDIS_URL (is Redis running?)")
}

async fn scan(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> anyhow::Result<Vec<String>> {
    Ok(testkit::redis_keys::scan(conn, pattern).await?)
}

/// The environment both the api and the workers run with: everything the
/// run sets, the rest left to the product's defaults.
pub fn process_env(
    database: &TestDatabase,
    redis: &BenchRedis,
    sink: &SmtpSink,
    outbox_dir: &std::path::Path,
    overrides: &[(&str, String)],
) -> HashMap<String, String> {
    let mut env = HashMap::from([
        ("DATABASE_URL".to_owned(), database.url().to_owned()),
        ("REDIS_URL".to_owned(), redis.url.clone()),
        ("QUEUE_NAMESPACE".to_owned(), redis.namespace.clone()),
        ("SMTP_URL".to_owned(), sink.url()),
        ("MAIL_OUTBOX_DIR".to_owned(), outbox_dir.display().to_string()),
        // A backlog of thousands of invitations is the point here, not the
        // product's hourly quota of them.
        ("INVITATIONS_PER_ORGANIZATION_PER_HOUR".to_owned(), "1000000".to_owned()),
    ]);
    for (key, value) in overrides {
        env.insert((*key).to_owned(), value.clone());
    }
    env
}

/// The api running in this process, and a staff session on it.
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The api's database pool (to check delivery states).
    pub db: DatabaseConnection,
    client: reqwest::Client,
    token: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Api {
    /// Builds the api from `env` on `127.0.0.1:0`, serves it, creates the
    /// organization with `service::organizations::create` and signs
    /// its admin in with `staffLogin`.
    ///
    /// # Errors
    /// When the settings are unusable or the api cannot start.
    pub async fn start(env: &HashMap<String, String>) -> anyhow::Result<Self> {
        let mut env = env.clone();
        env.insert("LISTEN_ADDR".to_owned(), "127.0.0.1:0".to_owned());
        let settings = Settings::from_lookup(|key| env.get(key).cloned()).context("the api's settings")?;
        let app = api::Application::build(settings).await.context("building the api")?;
        let address = format!("http://{}", app.local_addr()?);
        let db = app.db().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        service::organizations::create(&db, organization())
            .await
            .map_err(|err| anyhow::anyhow!("creating the organization: {err:?}"))?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut api = Self {
            address,
            db,
            client,
            token: String::new(),
            stop: Some(stop),
            server: Some(server),
        };
        let data = api
            .graphql(
                "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
                json!({"e": STAFF_EMAIL, "p": STAFF_PASSWORD}),
            )
            .await
            .context("staffLogin")?;
        api.token = data["staffLogin"]["token"]
            .as_str()
            .context("staffLogin returned no token")?
            .to_owned();
        Ok(api)
    }

    /// POSTs a GraphQL request as the staff admin; returns `data`, or an
    /// error carrying the response's errors.
    ///
    /// # Errors
    /// On an HTTP failure or a response with errors.
    pub async fn graphql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let response = request.send().await.context("POST /graphql")?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the GraphQL response")?;
        if !status.is_success() {
            bail!("POST /graphql answered HTTP {status}: {body}");
        }
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// Stops serving and waits for the api (and its sweeper) to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(Duration::from_secs(30), server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => eprintln!("bench: the api stopped with an error: {err}"),
                Ok(Err(err)) => eprintln!("bench: the api task failed: {err}"),
                Err(_) => eprintln!("bench: the api did not stop within 30 s"),
            }
        }
    }
}

/// A scratch directory for the run (the api's `MAIL_OUTBOX_DIR`, unused
/// with SMTP but named explicitly so nothing lands in the working directory).
pub fn scratch_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("portal-bench-{id}"))
}
