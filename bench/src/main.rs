//! `bench`: the Customer Portal's benchmarks, run against the real api, real
//! `worker` processes, PostgreSQL and Redis on this machine.
//!
//! ```sh
//! cargo build --release -p bench -p worker -p api
//! cargo run --release -p bench -- all [--quick] [--json PATH]
//! cargo run --release -p bench -- dashboard [--seconds S] [--connections N] [--quick]
//! cargo run --release -p bench -- queue [--emails N] [--latency M] [--quick]
//! ```
//!
//! - [`all`]: everything below in one run, and the table of targets.
//! - [`dashboard`]: the staff and portal dashboards over HTTP against the
//!   minimal SQL for the same rows, and the api's resident memory, on the
//!   fixed data set of [`dataset`]; [`load`] is the load generator.
//! - [`queue`]: the email queue — what the SMTP sink accepts from a bare
//!   client, what one and two workers drain into it, and the time from
//!   `inviteToPortal` returning to the email arriving.
//! - [`harness`]: the throw-away PostgreSQL database, Redis namespace, SMTP
//!   sink and in-process api a run uses, and a small GraphQL client.
//! - [`workers`]: the `worker` and `api` processes, their CPU and memory.
//! - [`report`]: statistics, the printed table and the JSON file.
//!
//! Timings on a shared machine are noisy, so the figures that matter are the
//! ratios between measures taken in the same run.

mod all;
mod dashboard;
mod dataset;
mod harness;
mod load;
mod queue;
mod report;
mod soak;
mod workers;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Customer Portal benchmarks (PostgreSQL and Redis on this machine)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything: the dashboards, the queue, memory, and the targets table.
    All(all::AllArgs),
    /// The staff and portal dashboards at 32 connections against the raw-SQL
    /// ceiling, on the fixed data set, and the api's resident memory.
    Dashboard(dashboard::DashboardArgs),
    /// The email queue: bare SMTP client vs. 1 and 2 workers draining a
    /// backlog into a loopback SMTP sink, and invite-to-email latency.
    Queue(queue::QueueArgs),
    /// 2 apis and 3 workers under worker kills, a Redis restart and a
    /// failing then stalling relay: every invitation must arrive.
    Soak(soak::SoakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("BENCH_LOG").is_some() {
        common::telemetry::init(common::LogFormat::Pretty);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bench: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::All(args) => all::run(args).await,
            Command::Dashboard(args) => dashboard::run(args).await,
            Command::Queue(args) => queue::run(args).await,
            Command::Soak(args) => soak::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}
