//! Staff sign-in, sessions and logout.

use serde_json::json;

use crate::helpers::{STAFF_PASSWORD, TestApp};

const LOGIN: &str = "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token expiresAt viewer { ... on StaffUser { email name organization { slug } } } } }";

#[tokio::test]
async fn staff_login_returns_a_session_that_identifies_the_viewer() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let data = app
        .gql_ok(None, LOGIN, json!({"e": "ADMIN@acme.example ", "p": STAFF_PASSWORD}))
        .await;
    let session = &data["staffLogin"];
    assert_eq!(session["viewer"]["email"], "admin@acme.example");
    assert_eq!(session["viewer"]["organization"]["slug"], "acme");
    assert_eq!(session["token"].as_str().map(str::len), Some(43));
    assert!(session["expiresAt"].as_str().is_some_and(|t| t.contains('T')));

    let viewer = app
        .gql_ok(
            Some(&staff.token),
            "{ viewer { __typename ... on StaffUser { email } } organization { slug onlinePaymentsEnabled } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["__typename"], "StaffUser");
    assert_eq!(viewer["organization"]["slug"], "acme");
    assert_eq!(viewer["organization"]["onlinePaymentsEnabled"], false);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same() {
    let app = TestApp::spawn().await;
    app.staff("acme").await;
    let (code_wrong, err_wrong) = app
        .gql_err(None, LOGIN, json!({"e": "admin@acme.example", "p": "not the password"}))
        .await;
    let (code_unknown, err_unknown) = app
        .gql_err(
            None,
            LOGIN,
            json!({"e": "nobody@acme.example", "p": "not the password"}),
        )
        .await;
    assert_eq!(code_wrong, "INVALID_CREDENTIALS");
    assert_eq!(code_unknown, "INVALID_CREDENTIALS");
    assert_eq!(err_wrong["message"], err_unknown["message"]);
}

#[tokio::test]
async fn the_session_token_is_stored_only_as_a_digest_and_logout_ends_it() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let digest = api::auth::token_digest(&staff.token);
    let stored: Vec<String> = {
        use entity::session;
        use sea_orm::EntityTrait;
        session::Entity::find()
            .all(&app.db)
            .await
            .expect("sessions")
            .into_iter()
            .map(|s| s.token_digest)
            .collect()
    };
    assert!(stored.contains(&digest));
    assert!(!stored.contains(&staff.token));

    let data = app.gql_ok(Some(&staff.token), "mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], true);
    let (code, _) = app
        .gql_err(Some(&staff.token), "{ accounts { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    let viewer = app
        .gql_ok(Some(&staff.token), "{ viewer { __typename } }", json!({}))
        .await;
    assert!(viewer["viewer"].is_null());
}

#[tokio::test]
async fn anonymous_callers_get_unauthenticated_for_staff_operations() {
    let app = TestApp::spawn().await;
    let (code, _) = app.gql_err(None, "{ accounts { totalCount } }", json!({})).await;
    assert_eq!(code, "UNAUTHENTICATED");
    let (code, _) = app
        .gql_err(
            None,
            "mutation { createAccount(input: {number: \"1\", name: \"x\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    let (code, _) = app
        .gql_err(Some("made-up-token"), "mutation { logout }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
}
