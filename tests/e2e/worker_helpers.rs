//! Real `worker` processes for end-to-end tests, and the Redis side of a
//! test's queue namespace.
//!
//! [`WorkerProcess`] runs the `e2e-worker` binary (the same entry point as
//! `worker`) with the test app's settings, waits until it logs "worker
//! ready", and kills it when dropped. Its log lines are kept and printed
//! when the test fails (all of them as they come with `TEST_LOG=1`).

use std::{
    collections::VecDeque,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::AsyncCommands;
use secrecy::ExposeSecret;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::TestApp;

/// The Redis the tests use (`TEST_REDIS_URL`, default the local one).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Log lines kept per worker (the oldest are dropped beyond it).
const KEPT_LOG_LINES: usize = 20_000;
/// Log lines printed when a test fails.
const DUMPED_LOG_LINES: usize = 300;

/// A running worker process; killed when dropped.
pub struct WorkerProcess {
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl WorkerProcess {
    /// Starts a worker with `app`'s settings (database, Redis, namespace,
    /// SMTP or outbox directory, public URL, retry and outbox timings) and
    /// `overrides` on top; returns once it is ready.
    pub async fn spawn(app: &TestApp, overrides: &[(&str, &str)]) -> Self {
        let s = &app.settings;
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), s.database_url.expose_secret().to_owned()),
            (
                "REDIS_URL".into(),
                s.redis_url
                    .as_ref()
                    .map_or_else(redis_url, |u| u.expose_secret().to_owned()),
            ),
            ("QUEUE_NAMESPACE".into(), s.queue_namespace.clone()),
            ("MAIL_OUTBOX_DIR".into(), s.mail_outbox_dir.display().to_string()),
            ("MAIL_FROM".into(), s.mail_from.clone()),
            ("PUBLIC_URL".into(), s.public_url.clone()),
            ("WORKER_CONCURRENCY".into(), s.worker_concurrency.to_string()),
            ("EMAIL_MAX_ATTEMPTS".into(), s.email_max_attempts.to_string()),
            ("EMAIL_RETRY_BASE_MS".into(), s.email_retry_base_ms.to_string()),
            (
                "OUTBOX_REDELIVER_SECONDS".into(),
                s.outbox_redeliver_seconds.to_string(),
            ),
            (
                "OUTBOX_SWEEP_INTERVAL_MS".into(),
                s.outbox_sweep_interval_ms.to_string(),
            ),
            ("LOG_FORMAT".into(), "json".into()),
            (
                "RUST_LOG".into(),
                std::env::var("TEST_WORKER_LOG").unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into()),
            ),
        ];
        if let Some(smtp) = &s.smtp_url {
            env.push(("SMTP_URL".into(), smtp.expose_secret().to_owned()));
        }
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_e2e-worker"));
        command
            .env_remove("SMTP_URL")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn the e2e-worker binary");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let echo = std::env::var_os("TEST_LOG").is_some();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let pid = child.id().unwrap_or_default();
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut ready_tx = Some(ready_tx);
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("worker ready")
                        && let Some(tx) = ready_tx.take()
                    {
                        let _ = tx.send(());
                    }
                    keep(&log, pid, line, echo);
                }
            });
        }
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    keep(&log, pid, line, echo);
                }
            });
        }
        let mut worker = Self { child, log };
        if tokio::time::timeout(Duration::from_secs(60), ready_rx).await.is_err() {
            worker.dump_log();
            panic!("the worker did not become ready within 60 s");
        }
        worker.check_running();
        worker
    }

    fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.dump_log();
            panic!("the worker exited early: {status}");
        }
    }

    /// How many of its log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Sends SIGTERM and waits (up to 60 s) for the process to exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("worker still running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        match tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await {
            Ok(status) => status.expect("wait for the worker"),
            Err(_) => {
                self.dump_log();
                panic!("the worker did not exit within 60 s of SIGTERM");
            }
        }
    }

    fn dump_log(&self) {
        let log = self.log.lock().expect("log lock");
        let skip = log.len().saturating_sub(DUMPED_LOG_LINES);
        eprintln!("---- last {} log lines of the worker ----", log.len() - skip);
        for line in log.iter().skip(skip) {
            eprintln!("{line}");
        }
    }
}

fn keep(log: &Mutex<VecDeque<String>>, pid: u32, line: String, echo: bool) {
    if echo {
        eprintln!("[worker {pid}] {line}");
    }
    let mut log = log.lock().expect("log lock");
    if log.len() == KEPT_LOG_LINES {
        log.pop_front();
    }
    log.push_back(line);
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_log();
        }
        let _ = self.child.start_kill();
    }
}

/// A test's queue namespace in Redis; deletes all its keys when dropped.
pub struct RedisNamespace {
    /// `QUEUE_NAMESPACE`.
    pub namespace: String,
    /// A connection for the test's own inspection.
    pub conn: redis::aio::MultiplexedConnection,
}

impl RedisNamespace {
    /// Connects to the test Redis for `namespace`.
    pub async fn new(namespace: &str) -> Self {
        let client = redis::Client::open(redis_url()).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test Redis");
        Self {
            namespace: namespace.to_owned(),
            conn,
        }
    }

    /// The namespace's keys matching `{namespace}{suffix}` (a SCAN pattern).
    pub async fn keys(&self, suffix: &str) -> Vec<String> {
        scan(&mut self.conn.clone(), &format!("{}{suffix}", self.namespace)).await
    }

    /// Every value stored under the namespace's keys, as text (to look for secrets).
    pub async fn all_values(&self) -> Vec<String> {
        let mut conn = self.conn.clone();
        let mut values = Vec::new();
        for key in self.keys("*").await {
            values.push(key.clone());
            let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.expect("TYPE");
            let mut more: Vec<String> = match kind.as_str() {
                "string" => vec![
                    conn.get::<_, Option<String>>(&key)
                        .await
                        .expect("GET")
                        .unwrap_or_default(),
                ],
                "list" => conn.lrange(&key, 0, -1).await.expect("LRANGE"),
                "set" => conn.smembers(&key).await.expect("SMEMBERS"),
                "zset" => conn.zrange(&key, 0, -1).await.expect("ZRANGE"),
                "hash" => {
                    let map: Vec<(String, String)> = conn.hgetall(&key).await.expect("HGETALL");
                    map.into_iter().flat_map(|(k, v)| [k, v]).collect()
                }
                _ => Vec::new(),
            };
            values.append(&mut more);
        }
        values
    }

    /// Deletes what "a wiped queue" loses: the ready list, the scheduled
    /// set, job data, results, the signal list and per-job metadata. Worker
    /// registrations and in-flight sets stay (deleting them kills live workers).
    pub async fn wipe_queue(&self) -> usize {
        let queue = format!("{}:email", self.namespace);
        let mut keys: Vec<String> = ["active", "scheduled", "data", "done", "dead", "signal", "failed"]
            .iter()
            .map(|suffix| format!("{queue}:{suffix}"))
            .collect();
        keys.extend(scan(&mut self.conn.clone(), &format!("{queue}:meta:*")).await);
        let mut conn = self.conn.clone();
        conn.del::<_, usize>(keys).await.expect("DEL")
    }

    /// Jobs waiting in the queue: the ready list plus due scheduled jobs.
    pub async fn depth(&self) -> u64 {
        let queue = format!("{}:email", self.namespace);
        let mut conn = self.conn.clone();
        let ready: u64 = conn.llen(format!("{queue}:active")).await.expect("LLEN");
        let due: u64 = conn
            .zcount(format!("{queue}:scheduled"), "-inf", chrono::Utc::now().timestamp())
            .await
            .expect("ZCOUNT");
        ready + due
    }
}

async fn scan(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    testkit::redis_keys::scan(conn, pattern).await.expect("SCAN")
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        let namespace = self.namespace.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = redis::Client::open(redis_url()).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let keys = scan(&mut conn, &format!("{namespace}:*")).await;
                for chunk in keys.chunks(500) {
                    let _: Result<usize, _> = conn.del(chunk).await;
                }
                // apalis also lists every queue in a global set.
                let queues: Vec<String> = conn.zrange("core:apalis:queues:list", 0, -1).await.ok()?;
                let ours: Vec<&String> = queues
                    .iter()
                    .filter(|q| q.starts_with(&format!("{namespace}:")))
                    .collect();
                if !ours.is_empty() {
                    let _: Result<usize, _> = conn.zrem("core:apalis:queues:list", ours).await;
                }
                Some(())
            })
        })
        .join();
    }
}
