//! Logging set-up shared by the api and the worker.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::LogFormat;

/// Installs the global tracing subscriber, writing to standard output (the
/// servers: `api serve`, `worker`). `RUST_LOG` filters (default `info`).
/// Safe to call more than once (later calls do nothing), which tests rely on.
pub fn init(format: LogFormat) {
    install(format, Output::Stdout);
}

/// The same, writing to standard error: for commands whose standard output
/// is their answer (`api create-organization` prints an id, `api
/// deliveries` a table), so that logs never mix into it.
pub fn init_for_command(format: LogFormat) {
    install(format, Output::Stderr);
}

#[derive(Clone, Copy)]
enum Output {
    Stdout,
    Stderr,
}

fn install(format: LogFormat, output: Output) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let writer = move || -> Box<dyn std::io::Write> {
        match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
        }
    };
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_target(false).with_writer(writer))
            .try_init(),
    };
}
