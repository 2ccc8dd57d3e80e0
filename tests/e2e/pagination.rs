//! Relay pagination: walking every page of each list (top-level and nested)
//! with `first`/`after` returns every row exactly once, in creation order,
//! with consistent cursors, `pageInfo` and `totalCount`.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Staff, TestApp};

const PAGE_FIELDS: &str = "totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor }";

/// Walks a connection page by page. `query` takes `$first: Int, $after:
/// String` (and `vars`); `pointer` is the JSON pointer to the connection in
/// `data`. Checks each page's shape; returns every id in the order seen.
async fn walk(app: &TestApp, staff: &Staff, query: &str, pointer: &str, vars: Value, first: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for page_number in 0.. {
        assert!(page_number < 100, "the walk does not end");
        let mut variables = vars.clone();
        variables["first"] = json!(first);
        variables["after"] = json!(after);
        let data = app.gql_ok(staff.auth(), query, variables).await;
        let page = data.pointer(pointer).unwrap_or_else(|| panic!("{pointer} in {data}"));
        let nodes: Vec<String> = page["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").to_owned())
            .collect();
        let edges = page["edges"].as_array().expect("edges");
        let edge_ids: Vec<&str> = edges.iter().map(|e| e["node"]["id"].as_str().expect("id")).collect();
        assert_eq!(edge_ids, nodes, "edges and nodes agree");
        let page_total = page["totalCount"].as_u64().expect("totalCount");
        assert_eq!(
            *total.get_or_insert(page_total),
            page_total,
            "totalCount is the same on every page"
        );
        let has_next = page["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage");
        let end_cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        assert_eq!(
            end_cursor.as_deref(),
            edges.last().and_then(|e| e["cursor"].as_str()),
            "endCursor is the last edge's cursor"
        );
        seen.extend(nodes.iter().cloned());
        if has_next {
            assert_eq!(nodes.len(), first, "only the last page is short");
            after = end_cursor;
        } else {
            assert!(nodes.len() <= first);
            assert_eq!(seen.len() as u64, page_total, "the walk saw totalCount rows");
            // After the last row: an empty page.
            if let Some(last) = end_cursor {
                let mut variables = vars.clone();
                variables["first"] = json!(first);
                variables["after"] = json!(last);
                let data = app.gql_ok(staff.auth(), query, variables).await;
                let empty = data.pointer(pointer).expect("connection");
                assert_eq!(empty["nodes"], json!([]));
                assert_eq!(empty["pageInfo"], json!({"hasNextPage": false, "endCursor": null}));
            }
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
    seen
}

#[tokio::test]
async fn walking_every_page_of_each_top_level_list_returns_each_row_once_in_creation_order() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let mut accounts = Vec::new();
    for n in 0..7 {
        accounts.push(
            app.create_account(&staff, &format!("C-{n}"), &format!("Account {n}"), None)
                .await,
        );
    }
    let mut locations = Vec::new();
    for (n, account) in accounts.iter().enumerate() {
        locations.push(app.create_location(&staff, account, &format!("Site {n}")).await);
    }
    let mut assets = Vec::new();
    for n in 0..8 {
        let asset = app.create_asset(&staff, &format!("PT-{n}")).await;
        app.deploy(&staff, &asset, Some(&locations[n % 2])).await;
        assets.push(asset);
    }
    let mut invoices = Vec::new();
    for n in 0..5 {
        invoices.push(
            app.create_invoice(&staff, &accounts[n % 2], &format!("INV-{n}"), &[("Rental", 1, 100)])
                .await,
        );
    }

    let list = |name: &str, args: &str| {
        format!(
            "query($first: Int, $after: String{args}) {{ list: {name}(first: $first, after: $after{}) {{ {PAGE_FIELDS} }} }}",
            if args.is_empty() { "" } else { ", accountId: $account" }
        )
    };
    let account_pages = walk(&app, &staff, &list("accounts", ""), "/list", json!({}), 3).await;
    assert_eq!(account_pages, accounts);
    let location_pages = walk(&app, &staff, &list("locations", ""), "/list", json!({}), 2).await;
    assert_eq!(location_pages, locations);
    let asset_pages = walk(&app, &staff, &list("assets", ""), "/list", json!({}), 3).await;
    assert_eq!(asset_pages, assets);
    let invoice_pages = walk(&app, &staff, &list("invoices", ""), "/list", json!({}), 2).await;
    assert_eq!(invoice_pages, invoices);
    // A page size that divides the rows exactly still ends cleanly.
    assert_eq!(
        walk(&app, &staff, &list("assets", ""), "/list", json!({}), 4).await,
        assets
    );
    assert_eq!(
        walk(&app, &staff, &list("accounts", ""), "/list", json!({}), 100).await,
        accounts
    );

    // Filtered lists page the same way.
    let vars = json!({"account": accounts[0]});
    let filtered_assets = walk(
        &app,
        &staff,
        &list("assets", ", $account: ID"),
        "/list",
        vars.clone(),
        2,
    )
    .await;
    let expected: Vec<String> = assets.iter().step_by(2).cloned().collect();
    assert_eq!(filtered_assets, expected);
    let filtered_invoices = walk(&app, &staff, &list("invoices", ", $account: ID"), "/list", vars, 1).await;
    let expected: Vec<String> = invoices.iter().step_by(2).cloned().collect();
    assert_eq!(filtered_invoices, expected);
}

#[tokio::test]
async fn walking_the_nested_lists_of_an_account_and_a_location_returns_each_row_once() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let mut locations = Vec::new();
    for n in 0..5 {
        locations.push(app.create_location(&staff, &account, &format!("Site {n}")).await);
    }
    let mut assets = Vec::new();
    for n in 0..5 {
        let asset = app.create_asset(&staff, &format!("PT-{n}")).await;
        app.deploy(&staff, &asset, Some(&locations[0])).await;
        assets.push(asset);
    }
    let mut invoices = Vec::new();
    for n in 0..3 {
        invoices.push(
            app.create_invoice(&staff, &account, &format!("INV-{n}"), &[("Rental", 1, 100)])
                .await,
        );
    }
    let vars = json!({"account": account, "location": locations[0]});
    let nested = |field: &str| {
        format!(
            "query($first: Int, $after: String, $account: ID!) {{ account(id: $account) {{
                {field}(first: $first, after: $after) {{ {PAGE_FIELDS} }} }} }}"
        )
    };
    let walked = walk(
        &app,
        &staff,
        &nested("locations"),
        "/account/locations",
        vars.clone(),
        2,
    )
    .await;
    assert_eq!(walked, locations);
    let walked = walk(&app, &staff, &nested("assets"), "/account/assets", vars.clone(), 2).await;
    assert_eq!(walked, assets);
    let walked = walk(&app, &staff, &nested("invoices"), "/account/invoices", vars.clone(), 2).await;
    assert_eq!(walked, invoices);
    let at_location = format!(
        "query($first: Int, $after: String, $location: ID!) {{ location(id: $location) {{
            assets(first: $first, after: $after) {{ {PAGE_FIELDS} }} }} }}"
    );
    let walked = walk(&app, &staff, &at_location, "/location/assets", vars, 3).await;
    assert_eq!(walked, assets);
}

#[tokio::test]
async fn first_zero_returns_no_rows_but_tells_whether_rows_exist() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let empty = app
        .gql_ok(
            staff.auth(),
            "{ accounts(first: 0) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        empty["accounts"],
        json!({"totalCount": 0, "nodes": [], "pageInfo": {"hasNextPage": false, "endCursor": null}})
    );
    app.create_account(&staff, "C-1", "Riverside", None).await;
    let one = app
        .gql_ok(
            staff.auth(),
            "{ accounts(first: 0) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        one["accounts"],
        json!({"totalCount": 1, "nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": null}})
    );
}
