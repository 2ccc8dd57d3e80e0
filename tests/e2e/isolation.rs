//! The tenant boundary: another organization's staff sees nothing of the
//! first organization — lookups by id answer null, lists leave its rows out,
//! and every mutation given one of its ids answers NOT_FOUND exactly like a
//! missing id, and changes nothing.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, ids};

/// One row of each kind, in one organization.
struct Rows {
    account: String,
    location: String,
    asset: String,
    invoice: String,
    asset_type: String,
}

async fn rows_of(app: &TestApp, staff: &Staff, prefix: &str) -> Rows {
    let account = app
        .create_account(
            staff,
            &format!("{prefix}-1"),
            &format!("{prefix} account"),
            Some("ops@example.com"),
        )
        .await;
    let location = app.create_location(staff, &account, &format!("{prefix} site")).await;
    let asset = app.create_asset(staff, &format!("{prefix}-TAG")).await;
    app.deploy(staff, &asset, Some(&location)).await;
    let invoice = app
        .create_invoice(staff, &account, &format!("{prefix}-INV"), &[("Rental", 1, 100)])
        .await;
    let asset_type = app.asset_type_id(staff).await;
    Rows {
        account,
        location,
        asset,
        invoice,
        asset_type,
    }
}

#[tokio::test]
async fn each_organization_s_staff_sees_itself_as_viewer_and_its_own_organization() {
    let app = TestApp::spawn().await;
    let alpha = app.staff("alpha").await;
    let beta = app.staff("beta").await;
    let query = "{ viewer { ... on StaffUser { email name organization { id slug } } } organization { id slug name } }";
    for (staff, slug) in [(&alpha, "alpha"), (&beta, "beta")] {
        let data = app.gql_ok(staff.auth(), query, json!({})).await;
        let organization = json!({"id": staff.organization_id.to_string(), "slug": slug});
        assert_eq!(
            data["viewer"],
            json!({"email": staff.email, "name": format!("Admin of {slug}"), "organization": organization})
        );
        assert_eq!(
            data["organization"],
            json!({"id": staff.organization_id.to_string(), "slug": slug, "name": format!("Org {slug}")})
        );
    }
}

#[tokio::test]
async fn another_organization_s_staff_gets_null_for_every_id_of_the_first() {
    let app = TestApp::spawn().await;
    let alpha = app.staff("alpha").await;
    let beta = app.staff("beta").await;
    let a = rows_of(&app, &alpha, "A").await;
    let query = "query($account: ID!, $location: ID!, $asset: ID!, $invoice: ID!) {
        account(id: $account) { id } location(id: $location) { id }
        asset(id: $asset) { id } invoice(id: $invoice) { id } }";
    let vars = json!({"account": a.account, "location": a.location, "asset": a.asset, "invoice": a.invoice});

    let own = app.gql_ok(alpha.auth(), query, vars.clone()).await;
    assert_eq!(
        own["account"]["id"],
        a.account.as_str(),
        "the rows exist for their own staff"
    );
    assert_eq!(own["invoice"]["id"], a.invoice.as_str());

    let foreign = app.gql_ok(beta.auth(), query, vars).await;
    assert_eq!(
        foreign,
        json!({"account": null, "location": null, "asset": null, "invoice": null})
    );
}

#[tokio::test]
async fn another_organization_s_staff_lists_none_of_the_first_organization_s_rows() {
    let app = TestApp::spawn().await;
    let alpha = app.staff("alpha").await;
    let beta = app.staff("beta").await;
    let a = rows_of(&app, &alpha, "A").await;
    let b = rows_of(&app, &beta, "B").await;
    let query = "query($account: ID!, $location: ID!) {
        organization { slug }
        accounts { totalCount nodes { id } }
        searched: accounts(search: \"A-1\") { totalCount nodes { id } }
        connected: accounts(portalStatus: NOT_CONNECTED) { totalCount nodes { id } }
        locations { totalCount nodes { id } }
        locationsOfAccount: locations(accountId: $account) { totalCount nodes { id } }
        assets { totalCount nodes { id } }
        assetsOfAccount: assets(accountId: $account) { totalCount nodes { id } }
        assetsAtLocation: assets(locationId: $location) { totalCount nodes { id } }
        invoices { totalCount nodes { id } }
        invoicesOfAccount: invoices(accountId: $account) { totalCount nodes { id } }
        assetTypes { id } }";

    let seen_by_beta = app
        .gql_ok(
            beta.auth(),
            query,
            json!({"account": a.account, "location": a.location}),
        )
        .await;
    assert_eq!(seen_by_beta["organization"]["slug"], "beta");
    assert_eq!(ids(&seen_by_beta["accounts"]), vec![b.account.clone()]);
    assert_eq!(seen_by_beta["accounts"]["totalCount"], 1);
    assert_eq!(ids(&seen_by_beta["connected"]), vec![b.account.clone()]);
    assert_eq!(ids(&seen_by_beta["locations"]), vec![b.location.clone()]);
    assert_eq!(ids(&seen_by_beta["assets"]), vec![b.asset.clone()]);
    assert_eq!(ids(&seen_by_beta["invoices"]), vec![b.invoice.clone()]);
    for filtered in [
        "searched",
        "locationsOfAccount",
        "assetsOfAccount",
        "assetsAtLocation",
        "invoicesOfAccount",
    ] {
        assert_eq!(
            seen_by_beta[filtered],
            json!({"totalCount": 0, "nodes": []}),
            "{filtered} with alpha's ids"
        );
    }
    let beta_types: Vec<&Value> = seen_by_beta["assetTypes"].as_array().expect("types").iter().collect();
    assert_eq!(beta_types.len(), 4);
    assert!(beta_types.iter().all(|t| t["id"] != a.asset_type.as_str()));

    // And the other way round, with the same query.
    let seen_by_alpha = app
        .gql_ok(
            alpha.auth(),
            query,
            json!({"account": b.account, "location": b.location}),
        )
        .await;
    assert_eq!(ids(&seen_by_alpha["accounts"]), vec![a.account]);
    assert_eq!(ids(&seen_by_alpha["searched"]), ids(&seen_by_alpha["accounts"]));
    assert_eq!(ids(&seen_by_alpha["locations"]), vec![a.location]);
    assert_eq!(ids(&seen_by_alpha["assets"]), vec![a.asset]);
    assert_eq!(ids(&seen_by_alpha["invoices"]), vec![a.invoice]);
    assert_eq!(seen_by_alpha["invoicesOfAccount"]["totalCount"], 0);
}

#[tokio::test]
async fn every_mutation_given_another_organization_s_id_answers_not_found_like_a_missing_id_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alpha = app.staff("alpha").await;
    let beta = app.staff("beta").await;
    let a = rows_of(&app, &alpha, "A").await;
    let b = rows_of(&app, &beta, "B").await;
    let missing = Uuid::now_v7().to_string();

    let update_contact =
        "mutation($id: ID!) { updateAccountContact(accountId: $id, input: {email: \"thief@example.com\"}) { id } }";
    let create_location = "mutation($id: ID!) { createLocation(accountId: $id, input: {name: \"Mine now\",
        address: {line1: \"1 Main\", city: \"X\", country: \"US\"}}) { id } }";
    let create_asset = "mutation($id: ID!) { createAsset(input: {assetTypeId: $id, tag: \"STOLEN\"}) { id } }";
    let move_foreign_asset = "mutation($id: ID!, $mine: ID!) { moveAsset(assetId: $id, locationId: $mine) { id } }";
    let return_foreign_asset = "mutation($id: ID!) { moveAsset(assetId: $id, locationId: null) { id } }";
    let move_to_foreign_location =
        "mutation($id: ID!, $mine: ID!) { moveAsset(assetId: $mine, locationId: $id) { id } }";
    let invoice_foreign_account = "mutation($id: ID!) { createInvoice(input: {accountId: $id, number: \"X-1\",
        issuedOn: \"2026-11-01\", dueOn: \"2026-11-30\", currency: \"USD\",
        lines: [{description: \"x\", quantity: 1, unitPriceCents: 1}]}) { id } }";
    let invoice_foreign_location = "mutation($id: ID!, $mine: ID!) { createInvoice(input: {accountId: $mine,
        locationId: $id, number: \"X-2\", issuedOn: \"2026-11-01\", dueOn: \"2026-11-30\", currency: \"USD\",
        lines: [{description: \"x\", quantity: 1, unitPriceCents: 1}]}) { id } }";

    let cases: [(&str, &str, &str, &str); 8] = [
        ("updateAccountContact", update_contact, &a.account, ""),
        ("createLocation", create_location, &a.account, ""),
        ("createAsset", create_asset, &a.asset_type, ""),
        ("moveAsset (asset)", move_foreign_asset, &a.asset, &b.location),
        ("moveAsset (to the yard)", return_foreign_asset, &a.asset, ""),
        ("moveAsset (location)", move_to_foreign_location, &a.location, &b.asset),
        ("createInvoice (account)", invoice_foreign_account, &a.account, ""),
        (
            "createInvoice (location)",
            invoice_foreign_location,
            &a.location,
            &b.account,
        ),
    ];
    for (name, mutation, foreign_id, mine) in cases {
        let (code, foreign) = app
            .gql_err(beta.auth(), mutation, json!({"id": foreign_id, "mine": mine}))
            .await;
        assert_eq!(code, "NOT_FOUND", "{name}: {foreign}");
        let (code, absent) = app
            .gql_err(beta.auth(), mutation, json!({"id": missing, "mine": mine}))
            .await;
        assert_eq!(code, "NOT_FOUND", "{name} with a missing id: {absent}");
        assert_eq!(
            foreign["message"], absent["message"],
            "{name}: a foreign id reads like a missing one"
        );
        assert!(foreign.get("extensions").and_then(|e| e.get("field")).is_none());
    }

    // Alpha's rows are as they were; beta got nothing new.
    let alpha_view = app
        .gql_ok(
            alpha.auth(),
            "query($a: ID!, $asset: ID!) {
                account(id: $a) { contact { email } locations { totalCount } invoices { totalCount } }
                asset(id: $asset) { status location { id } }
                assets { totalCount } }",
            json!({"a": a.account, "asset": a.asset}),
        )
        .await;
    assert_eq!(
        alpha_view,
        json!({
            "account": {"contact": {"email": "ops@example.com"}, "locations": {"totalCount": 1}, "invoices": {"totalCount": 1}},
            "asset": {"status": "DEPLOYED", "location": {"id": a.location}},
            "assets": {"totalCount": 1},
        })
    );
    let beta_view = app
        .gql_ok(
            beta.auth(),
            "query($asset: ID!) { asset(id: $asset) { status location { id } }
                locations { totalCount } assets { totalCount } invoices { totalCount } }",
            json!({"asset": b.asset}),
        )
        .await;
    assert_eq!(
        beta_view,
        json!({
            "asset": {"status": "DEPLOYED", "location": {"id": b.location}},
            "locations": {"totalCount": 1}, "assets": {"totalCount": 1}, "invoices": {"totalCount": 1},
        })
    );
}
