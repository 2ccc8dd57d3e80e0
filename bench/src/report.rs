//! The queue benchmark's results: the one table it prints and the same
//! figures as JSON, so that runs can be compared.

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;
use serde::Serialize;

/// A number of emails over a time.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// Emails (or mutations) counted.
    pub count: usize,
    /// Seconds they took.
    pub seconds: f64,
    /// `count / seconds`.
    pub per_second: f64,
}

impl Rate {
    /// `count` over `seconds`.
    pub fn new(count: usize, seconds: f64) -> Self {
        let per_second = if seconds > 0.0 { count as f64 / seconds } else { 0.0 };
        Self {
            count,
            seconds,
            per_second,
        }
    }
}

/// What the sink accepted from a bare lettre client.
#[derive(Debug, Clone, Serialize)]
pub struct BareClient {
    /// Messages in flight (the pool's size), as many as the workers compared with.
    pub concurrency: usize,
    /// The rate.
    #[serde(flatten)]
    pub rate: Rate,
}

/// A backlog drained by worker processes.
#[derive(Debug, Clone, Serialize)]
pub struct Drain {
    /// Worker processes.
    pub workers: usize,
    /// Jobs in flight in total (`workers × WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// From the first worker's "worker ready" to the last email's arrival.
    #[serde(flatten)]
    pub rate: Rate,
    /// `per_second` ÷ the bare client's rate at the same concurrency.
    pub ratio_to_bare: f64,
    /// CPU time the worker processes used per email while draining
    /// (Linux only; 10 ms resolution).
    pub worker_cpu_ms_per_email: Option<f64>,
    /// The busiest worker's resident memory at the end of the drain, with
    /// its peak (Linux only).
    pub worker_memory: Option<crate::workers::Memory>,
    /// SQL statements the worker processes ran per email, from their ready
    /// line until every delivery of the backlog was SENT (their
    /// `portal_db_statements_total`, the outbox sweeper's included).
    pub worker_statements_per_email: Option<f64>,
    /// Transactions PostgreSQL committed in the run's database per email,
    /// from before the workers started until they had disconnected
    /// (`pg_stat_database.xact_commit`: every process's, read-only ones
    /// too, the workers' start-up included); `None` on SQLite.
    pub commits_per_email: Option<f64>,
    /// CPU time of all `postgres` processes per email over the drain
    /// (Linux only; 10 ms resolution); `None` on SQLite.
    pub postgres_cpu_ms_per_email: Option<f64>,
}

/// `value` with `decimals` decimals, or `n/a`.
pub fn or_na(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_owned(), |value| format!("{value:.decimals$}"))
}

/// Times from `inviteToPortal` returning to the email's arrival.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples taken.
    pub samples: usize,
    /// Median, milliseconds.
    pub median_ms: f64,
    /// 90th percentile (nearest rank), milliseconds.
    pub p90_ms: f64,
    /// Fastest, milliseconds.
    pub min_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
    /// Every sample in order, milliseconds.
    pub all_ms: Vec<f64>,
}

impl Latency {
    /// Statistics of `samples` (milliseconds); `None` without samples.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])
        };
        // Nearest rank: the smallest value with at least 90 % at or below it.
        let rank = (n * 9).div_ceil(10).max(1);
        Some(Self {
            samples: n,
            median_ms: median,
            p90_ms: sorted[rank - 1],
            min_ms: sorted[0],
            max_ms: sorted[n - 1],
            all_ms: samples.to_vec(),
        })
    }
}

/// One run of `bench queue`.
#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    /// `"queue"`.
    pub benchmark: &'static str,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// `--quick` (the CI mode).
    pub quick: bool,
    /// Whether `bench` was built with optimisations (figures from a debug build mean little).
    pub release_build: bool,
    /// CPUs this process may use.
    pub cpus: usize,
    /// Emails per throughput measure.
    pub emails: usize,
    /// `WORKER_CONCURRENCY` of every worker (the product's default).
    pub worker_concurrency: usize,
    /// `OUTBOX_REDELIVER_SECONDS` of the api and workers.
    pub outbox_redeliver_seconds: u32,
    /// The sink fed by a bare lettre client, at one and at two workers' concurrency.
    pub sink_bare_client: Vec<BareClient>,
    /// `inviteToPortal` over HTTP while queueing the 1-worker backlog.
    pub invite_mutations: Rate,
    /// HTTP clients used to queue the backlog.
    pub invite_clients: usize,
    /// One and two workers draining a backlog.
    pub drain: Vec<Drain>,
    /// Two workers' rate ÷ one worker's.
    pub two_workers_speedup: f64,
    /// `inviteToPortal` → arrival with one idle worker.
    pub latency: Option<Latency>,
    /// Every email of every measure arrived exactly once (and its delivery is SENT).
    pub exactly_once: bool,
    /// Messages the sink accepted in the whole run.
    pub sink_messages: usize,
    /// One worker's resident memory once ready and idle (Linux only).
    pub worker_memory_idle: Option<crate::workers::Memory>,
}

impl QueueReport {
    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let build = if self.release_build {
            "release build"
        } else {
            "DEBUG build: figures mean little"
        };
        let _ = writeln!(
            out,
            "\nQueue benchmark{}: {} emails per measure, WORKER_CONCURRENCY={} (the default), \
             OUTBOX_REDELIVER_SECONDS={}, {} CPUs, {build}",
            if self.quick {
                " (--quick: checks delivery, not speed)"
            } else {
                ""
            },
            self.emails,
            self.worker_concurrency,
            self.outbox_redeliver_seconds,
            self.cpus,
        );
        let _ = writeln!(
            out,
            "{:<46} {:>7} {:>9} {:>11}  ratio",
            "measure", "emails", "seconds", "per second"
        );
        let _ = writeln!(out, "{}", "-".repeat(110));
        for bare in &self.sink_bare_client {
            row(
                &mut out,
                &format!("sink, bare lettre client, {} connections", bare.concurrency),
                &bare.rate,
                "= 1 (reference)".to_owned(),
            );
        }
        row(
            &mut out,
            &format!("inviteToPortal over HTTP, {} clients", self.invite_clients),
            &self.invite_mutations,
            "(mutations; no worker running)".to_owned(),
        );
        for drain in &self.drain {
            let mut ratio = format!("{:.3} of bare ×{}", drain.ratio_to_bare, drain.concurrency);
            if drain.workers == 2 {
                let _ = write!(ratio, "; {:.2} × 1 worker", self.two_workers_speedup);
            }
            if let Some(cpu) = drain.worker_cpu_ms_per_email {
                let _ = write!(ratio, "; worker CPU {cpu:.2} ms/email");
            }
            let label = format!(
                "drain, {} worker{} ({} in flight)",
                drain.workers,
                if drain.workers == 1 { "" } else { "s" },
                drain.concurrency
            );
            row(&mut out, &label, &drain.rate, ratio);
            let cpu_total = drain
                .worker_cpu_ms_per_email
                .zip(drain.postgres_cpu_ms_per_email)
                .map(|(worker, postgres)| worker + postgres);
            let _ = writeln!(
                out,
                "{:<46} per email: {} statements (workers), {} commits, CPU ms worker {} + PostgreSQL {} = {}",
                "",
                or_na(drain.worker_statements_per_email, 2),
                or_na(drain.commits_per_email, 2),
                or_na(drain.worker_cpu_ms_per_email, 3),
                or_na(drain.postgres_cpu_ms_per_email, 3),
                or_na(cpu_total, 3),
            );
        }
        match &self.latency {
            Some(latency) => {
                let _ = writeln!(
                    out,
                    "{:<46} {:>7}   median {:.1} ms, p90 {:.1} ms (min {:.1}, max {:.1})",
                    "latency, inviteToPortal → sink, 1 idle worker",
                    latency.samples,
                    latency.median_ms,
                    latency.p90_ms,
                    latency.min_ms,
                    latency.max_ms
                );
            }
            None => {
                let _ = writeln!(out, "latency: not measured (--latency 0)");
            }
        }
        let mib = |kib: u64| kib as f64 / 1024.0;
        let idle = self
            .worker_memory_idle
            .map_or_else(|| "n/a".to_owned(), |m| format!("{:.1} MiB", mib(m.rss_kib)));
        let peak = self
            .drain
            .iter()
            .filter_map(|d| d.worker_memory)
            .map(|m| m.peak_rss_kib)
            .max()
            .map_or_else(|| "n/a".to_owned(), |kib| format!("{:.1} MiB", mib(kib)));
        let _ = writeln!(out, "worker resident memory: idle {idle}, peak while draining {peak}");
        let _ = writeln!(out, "{}", "-".repeat(110));
        let _ = writeln!(
            out,
            "every email arrived exactly once: {} ({} messages accepted by the sink)",
            if self.exactly_once { "yes" } else { "NO" },
            self.sink_messages
        );
        out
    }

    /// Writes the report as pretty JSON to `path` (creating its directory).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        write_json(self, path)
    }
}

/// Writes `value` as pretty JSON to `path`, creating its directory.
///
/// # Errors
/// When the file cannot be written.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(value)?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

/// `<cargo target dir>/bench/<file>`: the bench binary lives in
/// `<target>/release/` (or `<target>/debug/`).
///
/// # Errors
/// When the binary is not inside a cargo target directory.
pub fn default_json_path(file: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("the bench binary is not inside a cargo target directory; pass --json PATH")?;
    Ok(target.join("bench").join(file))
}

fn row(out: &mut String, label: &str, rate: &Rate, ratio: String) {
    let _ = writeln!(
        out,
        "{label:<46} {:>7} {:>9.3} {:>11.1}  {ratio}",
        rate.count, rate.seconds, rate.per_second
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_p90() {
        let samples: Vec<f64> = (1..=30).map(f64::from).collect();
        let latency = Latency::of(&samples).expect("samples");
        assert!((latency.median_ms - 15.5).abs() < 1e-9);
        assert!((latency.p90_ms - 27.0).abs() < 1e-9);
        let odd = Latency::of(&[5.0, 1.0, 3.0]).expect("samples");
        assert!((odd.median_ms - 3.0).abs() < 1e-9);
        assert!((odd.p90_ms - 5.0).abs() < 1e-9);
        assert!(Latency::of(&[]).is_none());
    }

    #[test]
    fn a_rate_is_count_over_seconds() {
        let rate = Rate::new(100, 4.0);
        assert!((rate.per_second - 25.0).abs() < 1e-9);
        assert!(Rate::new(5, 0.0).per_second.abs() < 1e-9);
    }
}
