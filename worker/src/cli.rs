//! The `worker` command line, shared by every binary that runs a worker
//! (`worker`, and the end-to-end tests' `e2e-worker`): settings from the
//! environment, logging, a runtime, [`crate::run`] until SIGTERM/SIGINT.
//!
//! Exit codes: 0 after a graceful stop; 1 on a bad setting, a failed start
//! or a queue worker that stopped by itself; [`crate::EXIT_NO_REDIS`] (2)
//! without `REDIS_URL`.

use std::{process::ExitCode, time::Duration};

use common::Settings;

/// Runs the worker process; returns its exit code.
#[must_use]
pub fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    common::telemetry::init(settings.log_format);
    if settings.redis_url.is_none() {
        eprintln!(
            "REDIS_URL is not set. Without Redis there is no queue for a worker: the api sends emails itself \
             (in-process). Set REDIS_URL to run separate workers."
        );
        return ExitCode::from(crate::EXIT_NO_REDIS);
    }
    // One thread: a worker's jobs wait on the relay, Redis and the
    // database, and a backlog drains at a fraction of one core (see
    // `bench queue`); on one thread they wake each other without crossing
    // threads. More throughput is more processes (or WORKER_CONCURRENCY).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("worker failed: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(crate::run(settings, common::shutdown::signal()));
    // Tasks still running (an abandoned job) must not hold the exit up.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "worker failed");
            eprintln!("worker failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}
