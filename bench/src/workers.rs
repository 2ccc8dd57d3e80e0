//! The product's own processes: the release `worker` and `api` binaries built
//! next to `bench` (`cargo build --release -p bench -p worker -p api`),
//! started with exactly the environment the run gives them (nothing
//! inherited), ready when they print their ready line ("worker ready", "api
//! listening on"), stopped with SIGTERM; their CPU time and resident memory
//! read from `/proc`.

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

/// What a `worker` prints when it is ready.
pub const WORKER_READY: &str = "worker ready";
/// What the `api` prints when it serves (followed by its address).
pub const API_READY: &str = "api listening on ";

/// The `worker` binary next to the running `bench` binary.
///
/// # Errors
/// When it is not there, with the command that builds it.
pub fn locate_worker() -> anyhow::Result<PathBuf> {
    locate("worker")
}

/// The `api` binary next to the running `bench` binary.
///
/// # Errors
/// When it is not there, with the command that builds it.
pub fn locate_api() -> anyhow::Result<PathBuf> {
    locate("api")
}

fn locate(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let dir = exe.parent().context("the bench binary has no directory")?;
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!(
            "the {name} binary is missing: {} does not exist. Run `cargo build --release -p {name}` first \
             (or build everything with `cargo build --release -p bench -p worker -p api`).",
            binary.display()
        );
    }
    Ok(binary)
}

/// A running process; killed if dropped without [`WorkerProcess::terminate`].
pub struct WorkerProcess {
    child: Child,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
    /// When it printed its ready line.
    pub ready_at: Instant,
    /// Its ready line.
    pub ready_line: String,
}

/// A started process that has not printed its ready line yet.
struct Starting {
    child: Child,
    pid: u32,
    log: Arc<Mutex<VecDeque<String>>>,
    ready: oneshot::Receiver<(Instant, String)>,
}

/// Starts `count` workers at once and waits until every one is ready.
///
/// # Errors
/// When one cannot start, exits, or is not ready within a minute.
pub async fn spawn(binary: &Path, env: &HashMap<String, String>, count: usize) -> anyhow::Result<Vec<WorkerProcess>> {
    let mut starting = Vec::with_capacity(count);
    for _ in 0..count {
        starting.push(start(binary, &[], env, WORKER_READY)?);
    }
    let mut ready = Vec::with_capacity(count);
    for process in starting {
        ready.push(process.ready().await?);
    }
    Ok(ready)
}

/// Starts `binary args…` (e.g. the api) and waits until it prints a line
/// containing `marker`.
///
/// # Errors
/// When it cannot start, exits, or is not ready within a minute.
pub async fn spawn_one(
    binary: &Path,
    args: &[&str],
    env: &HashMap<String, String>,
    marker: &'static str,
) -> anyhow::Result<WorkerProcess> {
    start(binary, args, env, marker)?.ready().await
}

fn start(
    binary: &Path,
    args: &[&str],
    env: &HashMap<String, String>,
    marker: &'static str,
) -> anyhow::Result<Starting> {
    let mut child = Command::new(binary)
        .args(args)
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
    tokio::spawn(read_log(stdout, log.clone(), Some((marker, ready_tx))));
    tokio::spawn(read_log(stderr, log.clone(), None));
    Ok(Starting { child, pid, log, ready })
}

/// Keeps the last lines of a process's output; signals the first line
/// containing the marker.
async fn read_log(
    stream: impl AsyncRead + Unpin,
    log: Arc<Mutex<VecDeque<String>>>,
    mut ready: Option<(&'static str, oneshot::Sender<(Instant, String)>)>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some((marker, _)) = &ready
            && line.contains(marker)
            && let Some((_, ready)) = ready.take()
        {
            let _ = ready.send((Instant::now(), line.clone()));
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
                if let Ok(Ok((ready_at, ready_line))) = ready {
                    return Ok(WorkerProcess { child: self.child, pid: self.pid, log: self.log, ready_at, ready_line });
                }
            }
            status = self.child.wait() => {
                // Let the readers take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                bail!(
                    "the process (pid {}) exited before it was ready ({}):\n{}",
                    self.pid,
                    status.map_or_else(|err| err.to_string(), |s| s.to_string()),
                    tail(&self.log)
                );
            }
        }
        bail!(
            "the process (pid {}) was not ready within {READY_TIMEOUT:?}:\n{}",
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
                "the process (pid {}) did not exit within 60 s of SIGTERM:\n{}",
                self.pid,
                tail(&self.log)
            ),
        }
    }

    /// Kills it with SIGKILL (no drain, as a crash or an OOM kill would) and
    /// waits for it to be gone.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
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

    /// Its resident memory now and at its peak so far (`VmRSS`, `VmHWM`);
    /// `None` where `/proc` does not say (other systems than Linux).
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        Some(Memory {
            rss_kib: kib("VmRSS:")?,
            peak_rss_kib: kib("VmHWM:")?,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
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

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now, KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the most it has been resident, KiB.
    pub peak_rss_kib: u64,
}

impl Memory {
    /// `rss_kib` in MiB.
    pub fn rss_mib(self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    /// `peak_rss_kib` in MiB.
    pub fn peak_mib(self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }
}
