//! Locations and assets: `createLocation`, `location(s)`, `assetTypes`,
//! `createAsset`, `asset(s)` with their filters, and `moveAsset` deploying
//! an asset and returning it to the yard.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, field, ids};

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("an RFC 3339 timestamp, got {value}"))
}

#[tokio::test]
async fn create_location_stores_the_address_and_lists_it_under_its_account() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let other_account = app.create_account(&staff, "C-2", "Lakeview", None).await;
    let created = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!, $input: LocationInput!) { createLocation(accountId: $a, input: $input) {
                id name account { id number }
                address { line1 line2 city region postalCode country }
                assets { totalCount } } }",
            json!({"a": account, "input": {"name": " Tower site ", "address": {
                "line1": "1200 River Rd", "line2": "Gate 3", "city": "Portland",
                "region": "OR", "postalCode": "97201", "country": "US"}}}),
        )
        .await["createLocation"]
        .clone();
    let location = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created,
        json!({
            "id": location, "name": "Tower site", "account": {"id": account, "number": "C-1"},
            "address": {"line1": "1200 River Rd", "line2": "Gate 3", "city": "Portland",
                        "region": "OR", "postalCode": "97201", "country": "US"},
            "assets": {"totalCount": 0},
        })
    );
    let minimal = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { createLocation(accountId: $a, input: {name: \"Yard\",
                address: {line1: \"2 Dock\", city: \"Astoria\", country: \"US\"}}) {
                id address { line2 region postalCode } } }",
            json!({"a": account}),
        )
        .await["createLocation"]
        .clone();
    assert_eq!(
        minimal["address"],
        json!({"line2": null, "region": null, "postalCode": null})
    );
    let minimal = minimal["id"].as_str().expect("id").to_owned();
    let elsewhere = app.create_location(&staff, &other_account, "Amphitheater").await;

    let data = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!, $a: ID!) {
                location(id: $id) { id name account { id } }
                mine: locations(accountId: $a) { totalCount nodes { id } }
                all: locations { totalCount nodes { id } }
                account(id: $a) { locations { totalCount nodes { id name } } } }",
            json!({"id": location, "a": account}),
        )
        .await;
    assert_eq!(
        data["location"],
        json!({"id": location, "name": "Tower site", "account": {"id": account}})
    );
    assert_eq!(ids(&data["mine"]), vec![location.clone(), minimal.clone()]);
    assert_eq!(data["mine"]["totalCount"], 2);
    assert_eq!(ids(&data["all"]), vec![location.clone(), minimal.clone(), elsewhere]);
    assert_eq!(data["all"]["totalCount"], 3);
    assert_eq!(
        data["account"]["locations"],
        json!({"totalCount": 2, "nodes": [{"id": location, "name": "Tower site"}, {"id": minimal, "name": "Yard"}]})
    );
}

#[tokio::test]
async fn create_location_requires_a_name_and_an_address_and_a_known_account() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let query = "mutation($a: ID!, $input: LocationInput!) { createLocation(accountId: $a, input: $input) { id } }";
    let address = json!({"line1": "1 Main St", "city": "Portland", "country": "US"});
    let cases = [
        (json!({"name": "  ", "address": address}), "input.name"),
        (
            json!({"name": "Site", "address": {"line1": "", "city": "Portland", "country": "US"}}),
            "input.address.line1",
        ),
        (
            json!({"name": "Site", "address": {"line1": "1 Main St", "city": " ", "country": "US"}}),
            "input.address.city",
        ),
        (
            json!({"name": "Site", "address": {"line1": "1 Main St", "city": "Portland", "country": ""}}),
            "input.address.country",
        ),
    ];
    for (input, expected) in cases {
        let (code, error) = app
            .gql_err(staff.auth(), query, json!({"a": account, "input": input}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{expected}");
        assert_eq!(field(&error), expected);
    }
    let (code, _) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"a": Uuid::now_v7().to_string(), "input": {"name": "Site", "address": address}}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let data = app
        .gql_ok(staff.auth(), "{ locations { totalCount } }", json!({}))
        .await;
    assert_eq!(data["locations"]["totalCount"], 0);
}

#[tokio::test]
async fn asset_types_lists_the_organization_s_types_by_name() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let data = app
        .gql_ok(
            staff.auth(),
            "{ assetTypes { id name description requestable } }",
            json!({}),
        )
        .await;
    let types = data["assetTypes"].as_array().expect("list");
    let names: Vec<&str> = types.iter().map(|t| t["name"].as_str().expect("name")).collect();
    assert_eq!(
        names,
        vec![
            "20-yard roll-off dumpster",
            "ADA portable toilet",
            "Hand-wash station",
            "Standard portable toilet"
        ]
    );
    assert!(types.iter().all(|t| t["requestable"] == true));
    assert_eq!(types[1]["description"], "Wheelchair-accessible portable restroom");
}

#[tokio::test]
async fn create_asset_puts_a_unit_in_the_yard_available_with_its_type() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let asset_type = app.asset_type_id(&staff).await;
    let query = "mutation($input: CreateAssetInput!) { createAsset(input: $input) {
        id tag status location { id } deployedAt assetType { id name } } }";
    let created = app
        .gql_ok(
            staff.auth(),
            query,
            json!({"input": {"assetTypeId": asset_type, "tag": " PT-101 "}}),
        )
        .await["createAsset"]
        .clone();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created,
        json!({"id": id, "tag": "PT-101", "status": "AVAILABLE", "location": null, "deployedAt": null,
               "assetType": {"id": asset_type, "name": "20-yard roll-off dumpster"}})
    );
    let shop = app
        .gql_ok(
            staff.auth(),
            query,
            json!({"input": {"assetTypeId": asset_type, "tag": "PT-102", "status": "MAINTENANCE"}}),
        )
        .await;
    assert_eq!(shop["createAsset"]["status"], "MAINTENANCE");

    let (code, error) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"input": {"assetTypeId": asset_type, "tag": "PT-103", "status": "DEPLOYED"}}),
        )
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "input.status"));
    let (code, error) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"input": {"assetTypeId": asset_type, "tag": "  "}}),
        )
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "input.tag"));
    let (code, _) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"input": {"assetTypeId": Uuid::now_v7().to_string(), "tag": "PT-104"}}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");

    let data = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { asset(id: $id) { id tag status } assets { totalCount nodes { tag } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["asset"], json!({"id": id, "tag": "PT-101", "status": "AVAILABLE"}));
    assert_eq!(
        data["assets"],
        json!({"totalCount": 2, "nodes": [{"tag": "PT-101"}, {"tag": "PT-102"}]})
    );
}

#[tokio::test]
async fn move_asset_deploys_it_with_deployed_at_and_null_returns_it_to_the_yard_available() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let tower = app.create_location(&staff, &account, "Tower").await;
    let bridge = app.create_location(&staff, &account, "Bridge").await;
    let asset = app.create_asset(&staff, "PT-1").await;

    let before = Utc::now();
    let deployed = app.deploy(&staff, &asset, Some(&tower)).await;
    let after = Utc::now();
    assert_eq!(deployed["status"], "DEPLOYED");
    assert_eq!(deployed["location"]["id"], tower.as_str());
    let deployed_at = timestamp(&deployed["deployedAt"]);
    assert!(
        before <= deployed_at && deployed_at <= after,
        "{deployed_at} not in [{before}, {after}]"
    );

    let seen = app
        .gql_ok(
            staff.auth(),
            "query($l: ID!, $a: ID!, $asset: ID!) {
                asset(id: $asset) { status location { id name account { id } } deployedAt }
                location(id: $l) { assets { totalCount nodes { id } } }
                account(id: $a) { assets { totalCount nodes { id } } }
                atLocation: assets(locationId: $l) { nodes { id } }
                ofAccount: assets(accountId: $a) { nodes { id } }
                deployed: assets(status: DEPLOYED) { nodes { id } }
                available: assets(status: AVAILABLE) { nodes { id } } }",
            json!({"l": tower, "a": account, "asset": asset}),
        )
        .await;
    assert_eq!(
        seen["asset"],
        json!({"status": "DEPLOYED", "location": {"id": tower, "name": "Tower", "account": {"id": account}},
               "deployedAt": deployed["deployedAt"]})
    );
    assert_eq!(seen["location"]["assets"]["totalCount"], 1);
    assert_eq!(ids(&seen["location"]["assets"]), vec![asset.clone()]);
    assert_eq!(ids(&seen["account"]["assets"]), vec![asset.clone()]);
    assert_eq!(ids(&seen["atLocation"]), vec![asset.clone()]);
    assert_eq!(ids(&seen["ofAccount"]), vec![asset.clone()]);
    assert_eq!(ids(&seen["deployed"]), vec![asset.clone()]);
    assert!(ids(&seen["available"]).is_empty());

    // Deploying again where it is keeps the time; moving restarts it.
    let again = app.deploy(&staff, &asset, Some(&tower)).await;
    assert_eq!(again["deployedAt"], deployed["deployedAt"]);
    let moved = app.deploy(&staff, &asset, Some(&bridge)).await;
    assert_eq!(moved["location"]["id"], bridge.as_str());
    assert_eq!(moved["status"], "DEPLOYED");
    assert!(timestamp(&moved["deployedAt"]) > deployed_at);

    let returned = app.deploy(&staff, &asset, None).await;
    assert_eq!(
        returned,
        json!({"id": asset, "status": "AVAILABLE", "location": null, "deployedAt": null})
    );
    let seen = app
        .gql_ok(
            staff.auth(),
            "query($l: ID!, $a: ID!) {
                location(id: $l) { assets { totalCount } }
                account(id: $a) { assets { totalCount } }
                available: assets(status: AVAILABLE) { nodes { id } } }",
            json!({"l": bridge, "a": account}),
        )
        .await;
    assert_eq!(seen["location"]["assets"]["totalCount"], 0);
    assert_eq!(seen["account"]["assets"]["totalCount"], 0);
    assert_eq!(ids(&seen["available"]), vec![asset]);
}

#[tokio::test]
async fn a_retired_asset_cannot_be_deployed_and_unknown_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let location = app.create_location(&staff, &account, "Tower").await;
    let asset_type = app.asset_type_id(&staff).await;
    let retired = app
        .gql_ok(
            staff.auth(),
            "mutation($t: ID!) { createAsset(input: {assetTypeId: $t, tag: \"OLD-1\", status: RETIRED}) { id } }",
            json!({"t": asset_type}),
        )
        .await["createAsset"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let query = "mutation($a: ID!, $l: ID) { moveAsset(assetId: $a, locationId: $l) { status } }";
    let (code, error) = app
        .gql_err(staff.auth(), query, json!({"a": retired, "l": location}))
        .await;
    assert_eq!((code.as_str(), field(&error)), ("BAD_USER_INPUT", "assetId"));

    let asset = app.create_asset(&staff, "PT-1").await;
    let (code, error) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"a": asset, "l": Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(error["message"], "location not found");
    let (code, error) = app
        .gql_err(
            staff.auth(),
            query,
            json!({"a": Uuid::now_v7().to_string(), "l": location}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(error["message"], "asset not found");

    let data = app
        .gql_ok(
            staff.auth(),
            "{ assets { nodes { tag status location { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["assets"]["nodes"],
        json!([{"tag": "OLD-1", "status": "RETIRED", "location": null},
               {"tag": "PT-1", "status": "AVAILABLE", "location": null}])
    );
}
