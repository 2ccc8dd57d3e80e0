//! Who may use the staff Customer Center: anonymous callers are asked to sign
//! in, portal users (customers) are forbidden its mutations and see only the
//! requestable asset types.

use entity::asset_type;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use testkit::builders::PortalUserBuilder;
use uuid::Uuid;

use crate::helpers::{Staff, TestApp};

/// Every staff mutation of the Customer Center, with variables naming real rows.
fn staff_mutations(ids: &serde_json::Value) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "mutation { createAccount(input: {number: \"X-1\", name: \"X\"}) { id } }",
            json!({}),
        ),
        (
            "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {name: \"X\"}) { id } }",
            json!({"a": ids["account"]}),
        ),
        (
            "mutation($a: ID!) { createLocation(accountId: $a, input: {name: \"X\",
                address: {line1: \"1 Main\", city: \"X\", country: \"US\"}}) { id } }",
            json!({"a": ids["account"]}),
        ),
        (
            "mutation($t: ID!) { createAsset(input: {assetTypeId: $t, tag: \"X-1\"}) { id } }",
            json!({"t": ids["assetType"]}),
        ),
        (
            "mutation($s: ID!, $l: ID) { moveAsset(assetId: $s, locationId: $l) { id } }",
            json!({"s": ids["asset"], "l": ids["location"]}),
        ),
        (
            "mutation($a: ID!) { createInvoice(input: {accountId: $a, number: \"X-1\", issuedOn: \"2026-11-01\",
                dueOn: \"2026-11-30\", currency: \"USD\", lines: [{description: \"x\", quantity: 1, unitPriceCents: 1}]}) { id } }",
            json!({"a": ids["account"]}),
        ),
        (
            "mutation { setOnlinePayments(enabled: true) { id } }",
            json!({}),
        ),
    ]
}

async fn some_rows(app: &TestApp, staff: &Staff) -> serde_json::Value {
    let account = app
        .create_account(staff, "C-1", "Riverside", Some("ops@example.com"))
        .await;
    let location = app.create_location(staff, &account, "Tower").await;
    let asset = app.create_asset(staff, "PT-1").await;
    let asset_type = app.asset_type_id(staff).await;
    json!({"account": account, "location": location, "asset": asset, "assetType": asset_type})
}

/// What the staff view of the organization looks like, to show nothing changed.
async fn snapshot(app: &TestApp, staff: &Staff) -> serde_json::Value {
    app.gql_ok(
        staff.auth(),
        "{ organization { onlinePaymentsEnabled }
           accounts { totalCount nodes { contact { name } } }
           locations { totalCount } assets { nodes { status } } invoices { totalCount } }",
        json!({}),
    )
    .await
}

#[tokio::test]
async fn anonymous_callers_are_asked_to_sign_in_for_every_staff_query_and_mutation() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let ids = some_rows(&app, &staff).await;
    let before = snapshot(&app, &staff).await;

    let anonymous = app
        .gql_ok(None, "{ viewer { __typename } organization { id } }", json!({}))
        .await;
    assert_eq!(anonymous, json!({"viewer": null, "organization": null}));

    let queries = [
        ("{ accounts { totalCount } }", json!({})),
        (
            "query($id: ID!) { account(id: $id) { id } }",
            json!({"id": ids["account"]}),
        ),
        ("{ locations { totalCount } }", json!({})),
        (
            "query($id: ID!) { location(id: $id) { id } }",
            json!({"id": ids["location"]}),
        ),
        ("{ assets { totalCount } }", json!({})),
        ("query($id: ID!) { asset(id: $id) { id } }", json!({"id": ids["asset"]})),
        ("{ invoices { totalCount } }", json!({})),
        (
            "query($id: ID!) { invoice(id: $id) { id } }",
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        ("{ assetTypes { id } }", json!({})),
    ];
    for (query, variables) in queries.into_iter().chain(staff_mutations(&ids)) {
        let (code, _) = app.gql_err(None, query, variables.clone()).await;
        assert_eq!(code, "UNAUTHENTICATED", "{query}");
        let (code, _) = app.gql_err(Some("not-a-session-token"), query, variables).await;
        assert_eq!(code, "UNAUTHENTICATED", "{query} with a made-up token");
    }
    assert_eq!(snapshot(&app, &staff).await, before);
}

#[tokio::test]
async fn a_portal_user_is_forbidden_every_staff_mutation_and_sees_only_requestable_asset_types() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let ids = some_rows(&app, &staff).await;
    let user = PortalUserBuilder::new(staff.organization_id)
        .email("maria@example.com")
        .name("Maria Lopez")
        .insert(&app.db)
        .await
        .expect("insert portal user");
    let session = service::sessions::start(&app.db, staff.organization_id, None, Some(user.id), 1)
        .await
        .expect("portal session");
    let customer = Some(session.token.as_str());
    // Staff keep one type off the portal's request form.
    asset_type::Entity::update_many()
        .col_expr(asset_type::Column::Requestable, Expr::value(false))
        .filter(asset_type::Column::OrganizationId.eq(staff.organization_id))
        .filter(asset_type::Column::Name.eq("20-yard roll-off dumpster"))
        .exec(&app.db)
        .await
        .expect("update asset type");
    let before = snapshot(&app, &staff).await;

    let me = app
        .gql_ok(
            customer,
            "{ viewer { __typename ... on PortalUser { email name organization { slug } } }
               organization { slug } assetTypes { name requestable } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["viewer"],
        json!({"__typename": "PortalUser", "email": "maria@example.com", "name": "Maria Lopez",
               "organization": {"slug": "acme"}})
    );
    assert_eq!(me["organization"], json!({"slug": "acme"}));
    assert_eq!(
        me["assetTypes"],
        json!([
            {"name": "ADA portable toilet", "requestable": true},
            {"name": "Hand-wash station", "requestable": true},
            {"name": "Standard portable toilet", "requestable": true},
        ])
    );
    let staff_types = app.gql_ok(staff.auth(), "{ assetTypes { name } }", json!({})).await;
    assert_eq!(
        staff_types["assetTypes"].as_array().map(Vec::len),
        Some(4),
        "staff see every type"
    );

    for (mutation, variables) in staff_mutations(&ids) {
        let (code, _) = app.gql_err(customer, mutation, variables).await;
        assert_eq!(code, "FORBIDDEN", "{mutation}");
    }
    assert_eq!(snapshot(&app, &staff).await, before);
}
