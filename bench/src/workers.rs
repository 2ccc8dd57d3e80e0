//! Real `worker` processes: the release binary built next to `bench`
//! (`cargo build --release -p bench -p worker`), started with exactly the
//! environment the run gives it (nothing inherited), ready when it logs
//! "worker ready", stopped with SIGTERM.

use std::{
    collections::{HashMap, VecDeque},
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

/// Log lines kept per worker, printed when it fails.
const KEPT_LOG_LINES: usize = 200;

/// How long a worker may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `worker` binary next to the running `bench` binary.
///
/// # Errors
/// When it is not there, with the command that builds it.
pub fn locate_worker() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let dir = exe.parent().context("the bench binary has no directory")?;
    let worker = dir.join(format!("worker{}", std::env::consts::EXE_SUFFIX));
    if !worker.is_file() {
        bail!(
            "the worker binary is missing: {} does not exist. Run `cargo build --release -p worker` first \
             (or build both with `cargo build --release -p bench -p worker`).",
            worker.display()
        );
    }
    Ok(worker)
}

/// A running worker process; killed if dropped without [`WorkerProcess::terminate`].
pub struct WorkerProcess {
    child: Child,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
    /// When it logged "worker ready".
    pub ready_at: Instant,
}

/// A started process that has not said "worker ready" yet.
struct Starting {
    child: Child,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
    ready: oneshot::Receiver<Instant>,
}

/// Starts `count` workers at once and waits until every one is ready.
///
/// # Errors
/// When one cannot start, exits, or is not ready within a minute.
pub async fn spawn(binary: &Path, env: &HashMap<String, String>, count: usize) -> anyhow::Result<Vec<WorkerProcess>> {
    let mut starting = Vec::with_capacity(count);
    for _ in 0..count {
        starting.push(start(binary, env)?);
    }
    let mut ready = Vec::with_capacity(count);
    for process in starting {
        ready.push(process.ready().await?);
    }
    Ok(ready)
}

fn start(binary: &Path, env: &HashMap<String, String>) -> anyhow::Result<Starting> {
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().context("the worker has no pid")?;
    let log = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LOG_LINES)));
    let (ready_tx, ready) = oneshot::channel();
    let stdout = child.stdout.take().context("the worker's stdout")?;
    let stderr = child.stderr.take().context("the worker's stderr")?;
    tokio::spawn(read_log(stdout, log.clone(), Some(ready_tx)));
    tokio::spawn(read_log(stderr, log.clone(), None));
    Ok(Starting { child, pid, log, ready })
}

/// Keeps the last lines of a worker's output; signals the first "worker ready".
async fn read_log(
    stream: impl AsyncRead + Unpin,
    log: Arc<Mutex<VecDeque<String>>>,
    mut ready: Option<oneshot::Sender<Instant>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("worker ready")
            && let Some(ready) = ready.take()
        {
            let _ = ready.send(Instant::now());
        }
        if let Ok(mut log) = log.lock() {
            if log.len() == KEPT_LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
    }
}

impl Starting {
    async fn ready(mut self) -> anyhow::Result<WorkerProcess> {
        tokio::select! {
            ready = tokio::time::timeout(READY_TIMEOUT, &mut self.ready) => {
                if let Ok(Ok(ready_at)) = ready {
                    return Ok(WorkerProcess { child: self.child, pid: self.pid, log: self.log, ready_at });
                }
            }
            status = self.child.wait() => {
                // Let the readers take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                bail!(
                    "the worker (pid {}) exited before it was ready ({}):\n{}",
                    self.pid,
                    status.map_or_else(|err| err.to_string(), |s| s.to_string()),
                    tail(&self.log)
                );
            }
        }
        bail!(
            "the worker (pid {}) was not ready within {READY_TIMEOUT:?}:\n{}",
            self.pid,
            tail(&self.log)
        )
    }
}

impl WorkerProcess {
    /// Sends SIGTERM (a graceful stop) and waits up to a minute for the exit.
    ///
    /// # Errors
    /// When the signal cannot be sent or the process does not exit in time.
    pub async fn terminate(mut self) -> anyhow::Result<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .context("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        match tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!(
                "the worker (pid {}) did not exit within 60 s of SIGTERM:\n{}",
                self.pid,
                tail(&self.log)
            ),
        }
    }

    /// Its exit status if it has exited (without waiting).
    ///
    /// # Errors
    /// When the process cannot be inspected.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// CPU time (user + system, all threads) it has used so far; `None`
    /// where `/proc` does not say (other systems than Linux).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name, which is in parentheses: state is
        // field 3, utime 14 and stime 15, in clock ticks (USER_HZ, 100).
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    /// The last lines it logged.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

fn tail(log: &Mutex<VecDeque<String>>) -> String {
    log.lock()
        .map(|log| log.iter().rev().take(30).rev().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}
