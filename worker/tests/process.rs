//! The `worker` binary as an operator runs it: it refuses to start without
//! Redis, and with Redis (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) it reports ready and exits 0 on SIGTERM or SIGINT;
//! when Redis goes away under it, it exits non-zero so that its supervisor restarts it.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

fn worker_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_worker"))
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[test]
fn worker_without_redis_exits_2_and_says_the_api_sends_emails_itself() {
    let output = Command::new(worker_binary())
        .env_remove("REDIS_URL")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .expect("run worker");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDIS_URL is not set"), "{stderr}");
    assert!(stderr.contains("the api sends emails itself"), "{stderr}");
}

#[test]
fn worker_with_a_bad_setting_names_the_variable_and_fails() {
    let output = Command::new(worker_binary())
        .env("REDIS_URL", redis_url())
        .env("WORKER_CONCURRENCY", "lots")
        .output()
        .expect("run worker");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("WORKER_CONCURRENCY"));
}

async fn ready_worker_exits_cleanly_on(signal: &str) {
    // A migrated database of its own, as the api would leave it.
    let dir = std::env::temp_dir().join("portal-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("worker-{}.db", uuid::Uuid::now_v7().simple()));
    let database_url = format!("sqlite://{}?mode=rwc", path.display());
    let (db, _) = common::db::connect(&database_url.clone().into(), 2)
        .await
        .expect("database");
    common::db::migrate(&db).await.expect("migrate");
    db.close().await.expect("close");
    let namespace = format!("test-{}", uuid::Uuid::now_v7().simple());
    let mut child = Command::new(worker_binary())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url())
        .env("QUEUE_NAMESPACE", &namespace)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn worker");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("worker ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("worker logged ready");
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker did not stop after {signal}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "worker exit after {signal}");
    clean_namespace(&namespace).await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn ready_worker_exits_0_on_sigterm() {
    ready_worker_exits_cleanly_on("-TERM").await;
}

#[tokio::test]
async fn ready_worker_exits_0_on_sigint() {
    ready_worker_exits_cleanly_on("-INT").await;
}

/// A TCP proxy to Redis that the test can cut, as if Redis went away.
struct RedisProxy {
    port: u16,
    accept: tokio::task::JoinHandle<()>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl RedisProxy {
    async fn start() -> Self {
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let copy = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().expect("lock").push(copy);
            }
        });
        Self {
            port,
            accept,
            connections,
        }
    }

    /// Stops listening and drops every proxied connection.
    fn cut(&self) {
        self.accept.abort();
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_redis_goes_away_exits_non_zero_for_its_supervisor_to_restart_it() {
    let dir = std::env::temp_dir().join("portal-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("worker-{}.db", uuid::Uuid::now_v7().simple()));
    let database_url = format!("sqlite://{}?mode=rwc", path.display());
    let (db, _) = common::db::connect(&database_url.clone().into(), 2)
        .await
        .expect("database");
    common::db::migrate(&db).await.expect("migrate");
    db.close().await.expect("close");
    let proxy = RedisProxy::start().await;
    let namespace = format!("test-{}", uuid::Uuid::now_v7().simple());
    let mut child = tokio::process::Command::new(worker_binary())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", format!("redis://127.0.0.1:{}", proxy.port))
        .env("QUEUE_NAMESPACE", &namespace)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn worker");
    let stdout = child.stdout.take().expect("stdout");
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut ready_tx = Some(ready_tx);
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("worker ready")
                && let Some(tx) = ready_tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    tokio::time::timeout(Duration::from_secs(30), ready_rx)
        .await
        .expect("worker logged ready")
        .expect("ready");

    proxy.cut();
    let exit = tokio::time::timeout(Duration::from_secs(90), child.wait())
        .await
        .expect("the worker exits once Redis is gone")
        .expect("wait");
    let stderr = stderr.await.expect("stderr");
    assert_eq!(
        exit.code(),
        Some(1),
        "a worker that lost its queue exits 1: {exit}\n{stderr}"
    );
    assert!(stderr.contains("worker failed"), "{stderr}");

    clean_namespace(&namespace).await;
    let _ = std::fs::remove_file(path);
}

/// Deletes a test namespace's keys (a worker registers itself in Redis).
async fn clean_namespace(namespace: &str) {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.expect("DEL");
    }
    let _: () = redis::cmd("ZREM")
        .arg("core:apalis:queues:list")
        .arg(format!("{namespace}:email:workers"))
        .query_async(&mut conn)
        .await
        .expect("ZREM");
}
