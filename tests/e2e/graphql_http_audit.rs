//! The `graphql-http` package's GraphQL-over-HTTP audits (`serverAudits`),
//! run with Node against the real api: no error, at most two warnings.

use std::process::Command;

use serde_json::Value;

use crate::helpers::TestApp;

/// Warnings the audits may report (the target: at most 2).
const MAX_WARNINGS: usize = 2;

#[tokio::test]
async fn the_graphql_http_audits_find_no_error_and_at_most_two_warnings() {
    let app = TestApp::spawn().await;
    // As staff: a few audits introspect (`__type`), which anonymous callers may not.
    let staff = app.staff("acme").await;
    let dir = testkit::node::ensure_packages();
    let url = format!("{}/graphql", app.address);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(dir.join("graphql-http-audit.mjs"))
            .arg(url)
            .arg(staff.token)
            .output()
    })
    .await
    .expect("join")
    .expect("run node (install Node.js 20)");
    assert!(
        output.status.success(),
        "the audit script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the audits' JSON");
    assert!(results.len() > 40, "the audits ran: {} results", results.len());
    let with = |status: &str| -> Vec<String> {
        results
            .iter()
            .filter(|r| r["status"] == status)
            .map(|r| format!("{} {}: {}", r["id"], r["name"], r["reason"]))
            .collect()
    };
    let (errors, warnings) = (with("error"), with("warn"));
    assert!(errors.is_empty(), "audit errors:\n{}", errors.join("\n"));
    assert!(
        warnings.len() <= MAX_WARNINGS,
        "{} audit warnings (at most {MAX_WARNINGS}):\n{}",
        warnings.len(),
        warnings.join("\n")
    );
    eprintln!(
        "graphql-http audits: {} ok, {} warnings{}",
        with("ok").len(),
        warnings.len(),
        if warnings.is_empty() {
            String::new()
        } else {
            format!(":\n{}", warnings.join("\n"))
        }
    );
}
