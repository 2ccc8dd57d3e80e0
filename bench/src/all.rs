//! `bench all`: the whole suite in one run — the dashboards against their
//! SQL ceiling with the api's memory ([`crate::dashboard`]), then the email
//! queue with the workers' memory ([`crate::queue`]) — and a last table of
//! the targets, each a ratio or a size from this run.

use std::path::PathBuf;

use anyhow::bail;
use serde::Serialize;

use crate::{
    dashboard::{self, DashboardArgs, DashboardReport},
    queue,
    report::QueueReport,
};

/// `bench all` options.
#[derive(Debug, clap::Args)]
pub struct AllArgs {
    /// The CI mode: small data, short measures; checks that everything
    /// answers correctly and asserts no speed
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report [default: <cargo target dir>/bench/all.json]
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// One target of the issue and how this run did.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is measured.
    pub name: &'static str,
    /// The figure, printed.
    pub figure: String,
    /// The target, printed.
    pub target: &'static str,
    /// Whether this run met it (`None`: nothing to compare).
    pub met: Option<bool>,
}

/// The combined report.
#[derive(Debug, Clone, Serialize)]
pub struct AllReport {
    /// The dashboards and the api's memory.
    pub dashboard: DashboardReport,
    /// The queue and the workers' memory.
    pub queue: QueueReport,
    /// The targets.
    pub targets: Vec<Target>,
}

/// Runs everything; prints the three tables; writes one JSON file.
///
/// # Errors
/// When a part fails, or an email did not arrive exactly once. Targets that
/// are missed are reported, not errors.
pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let json_path = match &args.json {
        Some(path) => path.clone(),
        None => crate::report::default_json_path("all.json")?,
    };
    let dashboard = dashboard::measure(&DashboardArgs::for_all(args.quick)).await?;
    println!("{}", dashboard.table());
    let queue = queue::measure_all(queue::args_for_all(args.quick)).await?;
    println!("{}", queue.table());
    let targets = targets(&dashboard, &queue);
    println!("{}", targets_table(&targets, args.quick));
    let exactly_once = queue.exactly_once;
    let report = AllReport {
        dashboard,
        queue,
        targets,
    };
    crate::report::write_json(&report, &json_path)?;
    println!("JSON: {}", json_path.display());
    if !exactly_once {
        bail!("not every email arrived exactly once (see above)");
    }
    Ok(())
}

/// The targets, from this run's figures.
pub fn targets(dashboard: &DashboardReport, queue: &QueueReport) -> Vec<Target> {
    let mut targets = Vec::new();
    for (name, figures) in [
        ("staff dashboard ÷ SQL ceiling (req/s)", &dashboard.staff),
        ("portal dashboard ÷ SQL ceiling (req/s)", &dashboard.portal),
    ] {
        targets.push(Target {
            name,
            figure: format!("{:.2}", figures.ratio),
            target: "≥ 0.5",
            met: Some(figures.ratio >= 0.5),
        });
    }
    let staff_cpu = dashboard.staff.api_cpu_ms_per_request;
    targets.push(Target {
        name: "staff dashboard, api CPU per page",
        figure: staff_cpu.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.2} ms")),
        target: "≤ 3 ms",
        met: staff_cpu.map(|ms| ms <= 3.0),
    });
    let page_cpu = dashboard.portal_page.api_cpu_ms_per_request;
    targets.push(Target {
        name: "portal web page (GET /portal), api CPU per page",
        figure: page_cpu.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.2} ms")),
        target: "≤ 5 ms",
        met: page_cpu.map(|ms| ms <= 5.0),
    });
    let errors =
        dashboard.staff.graphql.errors + dashboard.portal.graphql.errors + dashboard.portal_page.graphql.errors;
    targets.push(Target {
        name: "errors under load (both dashboards and the portal page)",
        figure: errors.to_string(),
        target: "0",
        met: Some(errors == 0),
    });
    let mib = |kib: u64| kib as f64 / 1024.0;
    targets.push(match dashboard.api_memory_idle {
        Some(m) => Target {
            name: "api resident memory, idle",
            figure: format!("{:.1} MiB", mib(m.rss_kib)),
            target: "< 40 MiB",
            met: Some(mib(m.rss_kib) < 40.0),
        },
        None => unmeasured("api resident memory, idle", "< 40 MiB"),
    });
    targets.push(match dashboard.api_memory_end {
        Some(m) => Target {
            name: "api resident memory, peak",
            figure: format!("{:.1} MiB", mib(m.peak_rss_kib)),
            target: "< 150 MiB",
            met: Some(mib(m.peak_rss_kib) < 150.0),
        },
        None => unmeasured("api resident memory, peak", "< 150 MiB"),
    });
    if let Some(one) = queue.drain.first() {
        let fmt = |value: Option<f64>, unit: &str| value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}{unit}"));
        targets.push(Target {
            name: "1 worker: SQL statements per email",
            figure: fmt(one.worker_statements_per_email, ""),
            target: "≤ 3",
            met: one.worker_statements_per_email.map(|n| n <= 3.0),
        });
        targets.push(Target {
            name: "1 worker: commits per email",
            figure: fmt(one.commits_per_email, ""),
            target: "≤ 1",
            met: one.commits_per_email.map(|n| n <= 1.0),
        });
        let total = one
            .worker_cpu_ms_per_email
            .zip(one.postgres_cpu_ms_per_email)
            .map(|(worker, postgres)| worker + postgres);
        targets.push(Target {
            name: "1 worker: worker + PostgreSQL CPU per email",
            figure: fmt(total, " ms"),
            target: "≤ 0.8 ms",
            met: total.map(|ms| ms <= 0.8),
        });
    }
    if let Some(one) = queue.drain.first() {
        targets.push(Target {
            name: "1 worker's drain ÷ bare SMTP client",
            figure: format!("{:.3}", one.ratio_to_bare),
            target: "≥ 0.5",
            met: Some(one.ratio_to_bare >= 0.5),
        });
    }
    targets.push(Target {
        name: "worker resident memory, idle / peak",
        figure: format!(
            "{} / {}",
            queue
                .worker_memory_idle
                .map_or_else(|| "n/a".to_owned(), |m| format!("{:.1} MiB", mib(m.rss_kib))),
            queue
                .drain
                .iter()
                .filter_map(|d| d.worker_memory)
                .map(|m| m.peak_rss_kib)
                .max()
                .map_or_else(|| "n/a".to_owned(), |kib| format!("{:.1} MiB", mib(kib)))
        ),
        target: "(reported)",
        met: None,
    });
    targets
}

fn unmeasured(name: &'static str, target: &'static str) -> Target {
    Target {
        name,
        figure: "n/a (no /proc)".to_owned(),
        target,
        met: None,
    }
}

/// The targets as a table.
pub fn targets_table(targets: &[Target], quick: bool) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "\nTargets{}\n{:<42} {:>22} {:>10}  met\n",
        if quick {
            " (quick mode: figures are not meaningful)"
        } else {
            ""
        },
        "target",
        "this run",
        "target"
    );
    for t in targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(out, "{:<42} {:>22} {:>10}  {met}", t.name, t.figure, t.target);
    }
    out
}
