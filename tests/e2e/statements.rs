//! No N+1 queries: the SQL statements one request costs do not grow with the
//! number of rows it returns, because every parent→child field loads through
//! a per-request DataLoader.

use serde_json::json;

use crate::helpers::TestApp;

/// Accounts with everything under them that the staff Customer Center shows.
const DASHBOARD: &str = "query($first: Int!) {
  accounts(first: $first) {
    totalCount
    pageInfo { hasNextPage }
    nodes {
      id number portalStatus
      balanceDue { amountCents }
      invoices { totalCount nodes { id } }
      locations {
        totalCount
        nodes {
          id name
          account { id }
          assets { totalCount nodes { id tag status assetType { name } location { id } } }
        }
      }
      assets { totalCount nodes { id tag location { name } } }
    }
  }
}";

#[tokio::test]
async fn a_page_of_50_accounts_with_their_locations_and_assets_costs_as_many_statements_as_a_page_of_5() {
    // The pool's counter also counts the outbox sweeper's statements: keep it
    // asleep (it sweeps once at start) so only the request is measured.
    let app = TestApp::spawn_with(&[("OUTBOX_SWEEP_INTERVAL_MS", "3600000")]).await;
    let staff = app.staff("acme").await;
    let inserted = app.insert_accounts(staff.organization_id, 50, 5, 4).await;
    assert_eq!(
        (inserted.accounts.len(), inserted.locations.len(), inserted.assets.len()),
        (50, 250, 1000)
    );

    let mut costs = Vec::new();
    for first in [5_usize, 50] {
        let before = app.statements.get();
        let data = app.gql_ok(staff.auth(), DASHBOARD, json!({"first": first})).await;
        costs.push(app.statements.get() - before);

        let page = &data["accounts"];
        assert_eq!(page["totalCount"], 50);
        let accounts = page["nodes"].as_array().expect("nodes");
        assert_eq!(accounts.len(), first);
        for (account, expected_id) in accounts.iter().zip(&inserted.accounts) {
            assert_eq!(account["id"], expected_id.to_string());
            assert_eq!(account["locations"]["totalCount"], 5);
            assert_eq!(account["assets"]["totalCount"], 20);
            for location in account["locations"]["nodes"].as_array().expect("locations") {
                assert_eq!(location["account"]["id"], account["id"]);
                assert_eq!(location["assets"]["totalCount"], 4);
                for asset in location["assets"]["nodes"].as_array().expect("assets") {
                    assert_eq!(asset["location"]["id"], location["id"]);
                    assert_eq!(asset["status"], "DEPLOYED");
                }
            }
        }
    }
    let (five, fifty) = (costs[0], costs[1]);
    println!("SQL statements for one request: a page of 5 accounts = {five}, a page of 50 accounts = {fifty}");
    assert_eq!(five, fifty, "a page of 50 accounts must cost what a page of 5 costs");
}
