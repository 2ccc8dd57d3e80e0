//! Introspection: the standard documents that GraphiQL and graphql-js send
//! work for staff (so GraphiQL's Docs panel, codegen and API clients can
//! load the schema), and are refused for anonymous callers and portal users
//! unless `GRAPHQL_INTROSPECTION=all`. Data queries keep their limits.

use serde_json::{Value, json};
use testkit::builders::PortalUserBuilder;

use crate::helpers::TestApp;

/// graphql-js 16's `getIntrospectionQuery({ descriptions: true,
/// specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription:
/// true, inputValueDeprecation: true })`, as graphql-codegen, Apollo tooling,
/// Postman and Insomnia send it (GraphiQL 4 sends the same shape).
const STANDARD_INTROSPECTION: &str = r"
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}
fragment TypeRef on __Type {
  kind
  name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name
      ofType { kind name ofType { kind name } } } } } } } } } }
}
";

fn type_names(data: &Value) -> Vec<String> {
    data["__schema"]["types"]
        .as_array()
        .map(|types| {
            types
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn portal_token(app: &TestApp, organization_id: uuid::Uuid) -> String {
    let user = PortalUserBuilder::new(organization_id)
        .email("maria@example.com")
        .insert(&app.db)
        .await
        .expect("insert portal user");
    service::sessions::start(&app.db, organization_id, None, Some(user.id), 1)
        .await
        .expect("portal session")
        .token
}

#[tokio::test]
async fn staff_run_the_standard_introspection_query_and_see_every_type() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let data = app.gql_ok(Some(&staff.token), STANDARD_INTROSPECTION, json!({})).await;
    let names = type_names(&data);
    for expected in [
        "Query",
        "Mutation",
        "Account",
        "Location",
        "Asset",
        "Invoice",
        "PortalStatus",
        "__Schema",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let directives = data["__schema"]["directives"].as_array().expect("directives");
    assert!(
        directives
            .iter()
            .any(|d| d["name"] == "include" && d["isRepeatable"] == false)
    );

    // A single type, as GraphiQL's Docs panel asks when following a link.
    let account = app
        .gql_ok(
            Some(&staff.token),
            "{ __type(name: \"Account\") { name fields { name type { ...T } } } }
             fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    let fields = account["__type"]["fields"].as_array().expect("fields");
    assert!(fields.iter().any(|f| f["name"] == "balanceDue"));
}

#[tokio::test]
async fn anonymous_callers_and_portal_users_may_not_introspect_by_default() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let portal = portal_token(&app, staff.organization_id).await;
    for token in [None, Some(portal.as_str())] {
        let (code, error) = app.gql_err(token, STANDARD_INTROSPECTION, json!({})).await;
        assert_eq!(code, "FORBIDDEN", "{error}");
        assert!(error["message"].as_str().is_some_and(|m| m.contains("schema.graphql")));
        let (code, _) = app
            .gql_err(token, "{ __type(name: \"Account\") { name } }", json!({}))
            .await;
        assert_eq!(code, "FORBIDDEN");
        // Hidden inside a data query too.
        let (code, _) = app
            .gql_err(
                token,
                "{ organization { slug } __schema { types { name } } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");
    }
    // `__typename` is not introspection: clients rely on it.
    let data = app.gql_ok(Some(&portal), "{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

#[tokio::test]
async fn callers_who_may_not_introspect_get_no_did_you_mean_hints() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let (_, anonymous) = app.gql_err(None, "{ acounts { totalCount } }", json!({})).await;
    let message = anonymous["message"].as_str().expect("message");
    assert!(message.contains("acounts"), "{message}");
    assert!(!message.contains("Did you mean"), "{message}");
    let (_, for_staff) = app
        .gql_err(Some(&staff.token), "{ acounts { totalCount } }", json!({}))
        .await;
    assert!(
        for_staff["message"]
            .as_str()
            .is_some_and(|m| m.contains("Did you mean")),
        "{for_staff}"
    );
}

#[tokio::test]
async fn introspection_all_lets_anonymous_callers_in_and_off_keeps_staff_out() {
    let open = TestApp::spawn_with(&[("GRAPHQL_INTROSPECTION", "all")]).await;
    let data = open.gql_ok(None, STANDARD_INTROSPECTION, json!({})).await;
    assert!(type_names(&data).iter().any(|n| n == "Account"));

    let closed = TestApp::spawn_with(&[("GRAPHQL_INTROSPECTION", "off")]).await;
    let staff = closed.staff("acme").await;
    let (code, _) = closed
        .gql_err(Some(&staff.token), STANDARD_INTROSPECTION, json!({}))
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn a_deep_data_query_is_still_too_complex_for_staff() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    // 14 levels: deeper than the data limit of 12, shallower than introspection's.
    let deep = "{ locations { nodes { account { locations { nodes { account { locations { nodes { account { locations { nodes { account { locations { totalCount } } } } } } } } } } } } } }";
    let (code, _) = app.gql_err(Some(&staff.token), deep, json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX");
}
