//! The `worker` binary as an operator runs it: it refuses to start without
//! Redis, and with Redis (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) it reports ready and exits 0 on SIGTERM or SIGINT.

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
    let mut child = Command::new(worker_binary())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url())
        .env("QUEUE_NAMESPACE", format!("test-{}", uuid::Uuid::now_v7().simple()))
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
