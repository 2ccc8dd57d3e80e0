//! The `graphql-http` package's GraphQL-over-HTTP audits (`serverAudits`),
//! run with Node against the real api: no error, at most two warnings.

use crate::helpers::{TestApp, node_json};

/// Warnings the audits may report (the target: at most 2).
const MAX_WARNINGS: usize = 2;

#[tokio::test]
async fn the_graphql_http_audits_find_no_error_and_at_most_two_warnings() {
    let app = TestApp::spawn().await;
    // As staff: a few audits introspect (`__type`), which anonymous callers may not.
    let staff = app.staff("acme").await;
    let url = format!("{}/graphql", app.address);
    let results = node_json("graphql-http-audit.mjs", vec![url, staff.token], false).await;
    let results = results.as_array().expect("the audits' JSON array");
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
