//! Bad input is refused with the contract's codes and the field at fault,
//! never a 500: invalid emails, duplicate numbers and tags, page sizes over
//! the limit, bad cursors, malformed JSON, queries too deep or too complex,
//! and bodies over 1 MiB.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, field};

const CREATE_ACCOUNT: &str = "mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }";

#[tokio::test]
async fn an_invalid_contact_email_is_rejected_naming_the_field_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    for bad in [
        "maria",
        "maria@",
        "@example.com",
        "maria@example",
        "ma ria@example.com",
        "maria@exa_mple.com",
    ] {
        let (code, error) = app
            .gql_err(
                staff.auth(),
                CREATE_ACCOUNT,
                json!({"input": {"number": "C-1", "name": "Riverside", "contact": {"email": bad}}}),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{bad}");
        assert_eq!(field(&error), "input.contact.email", "{bad}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("not a valid email")),
            "{error}"
        );
    }
    let data = app.gql_ok(staff.auth(), "{ accounts { totalCount } }", json!({})).await;
    assert_eq!(data["accounts"]["totalCount"], 0);
}

#[tokio::test]
async fn a_duplicate_account_number_is_rejected_on_input_number_within_one_organization_only() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let other = app.staff("other").await;
    app.create_account(&staff, "C-1001", "Riverside", None).await;
    let (code, error) = app
        .gql_err(
            staff.auth(),
            CREATE_ACCOUNT,
            json!({"input": {"number": " C-1001 ", "name": "Someone else"}}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(field(&error), "input.number");
    assert_eq!(error["message"], "an account with this number already exists");
    let data = app.gql_ok(staff.auth(), "{ accounts { totalCount } }", json!({})).await;
    assert_eq!(data["accounts"]["totalCount"], 1);

    // Numbers are unique per organization: another business may use it.
    app.create_account(&other, "C-1001", "Their customer", None).await;
}

#[tokio::test]
async fn a_duplicate_asset_tag_is_rejected_on_input_tag_within_one_organization_only() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let other = app.staff("other").await;
    app.create_asset(&staff, "PT-101").await;
    let asset_type = app.asset_type_id(&staff).await;
    let (code, error) = app
        .gql_err(
            staff.auth(),
            "mutation($t: ID!) { createAsset(input: {assetTypeId: $t, tag: \"PT-101\"}) { id } }",
            json!({"t": asset_type}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(field(&error), "input.tag");
    assert_eq!(error["message"], "an asset with this tag already exists");
    let data = app.gql_ok(staff.auth(), "{ assets { totalCount } }", json!({})).await;
    assert_eq!(data["assets"]["totalCount"], 1);

    app.create_asset(&other, "PT-101").await;
}

#[tokio::test]
async fn a_page_size_over_100_or_negative_is_rejected_on_first_in_every_list() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let account = app.create_account(&staff, "C-1", "Riverside", None).await;
    let location = app.create_location(&staff, &account, "Tower").await;
    let lists = [
        "query($n: Int) { accounts(first: $n) { totalCount } }",
        "query($n: Int) { locations(first: $n) { totalCount } }",
        "query($n: Int) { assets(first: $n) { totalCount } }",
        "query($n: Int) { invoices(first: $n) { totalCount } }",
        "query($n: Int, $a: ID!) { account(id: $a) { locations(first: $n) { totalCount } } }",
        "query($n: Int, $a: ID!) { account(id: $a) { assets(first: $n) { totalCount } } }",
        "query($n: Int, $a: ID!) { account(id: $a) { invoices(first: $n) { totalCount } } }",
        "query($n: Int, $l: ID!) { location(id: $l) { assets(first: $n) { totalCount } } }",
    ];
    for query in lists {
        for first in [1000, 101, -1] {
            let (code, error) = app
                .gql_err(staff.auth(), query, json!({"n": first, "a": account, "l": location}))
                .await;
            assert_eq!(code, "BAD_USER_INPUT", "first: {first} in {query}");
            assert_eq!(field(&error), "first", "first: {first} in {query}");
        }
        app.gql_ok(staff.auth(), query, json!({"n": 100, "a": account, "l": location}))
            .await;
    }
}

#[tokio::test]
async fn an_after_that_is_not_one_of_our_cursors_is_rejected_on_after() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    for after in ["not a cursor", "AAAA", "%%%"] {
        let (code, error) = app
            .gql_err(
                staff.auth(),
                "query($after: String) { accounts(after: $after) { totalCount } }",
                json!({"after": after}),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{after}");
        assert_eq!(field(&error), "after", "{after}");
    }
}

#[tokio::test]
async fn arguments_of_the_wrong_type_are_bad_user_input() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let (code, _) = app
        .gql_err(
            staff.auth(),
            "query($n: Int) { accounts(first: $n) { totalCount } }",
            json!({"n": "ten"}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = app
        .gql_err(
            staff.auth(),
            "{ accounts(portalStatus: SOMETIMES) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = app
        .gql_err(staff.auth(), "{ accounts { noSuchField } }", json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = app.gql_err(staff.auth(), "{ accounts { ", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_malformed_json_body_is_a_400_not_a_500() {
    let app = TestApp::spawn().await;
    for body in ["{\"query\": ", "not json at all", "[1, 2", "{\"query\": 42}"] {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /graphql");
        assert_eq!(response.status().as_u16(), 400, "{body}");
    }
}

/// A valid query whose selections nest `depth` levels deep.
fn nested_query(depth: usize) -> String {
    let mut fields = vec!["accounts", "nodes"];
    let cycle = ["locations", "nodes", "account"];
    while fields.len() < depth - 1 {
        fields.push(cycle[(fields.len() - 2) % cycle.len()]);
    }
    let leaf = match fields.last() {
        Some(&("accounts" | "locations")) => "totalCount",
        _ => "id",
    };
    let mut query = String::new();
    for name in &fields {
        query.push_str(name);
        // Pages of one: this is about depth, not about page sizes.
        if matches!(*name, "accounts" | "locations") {
            query.push_str("(first: 1)");
        }
        query.push_str(" { ");
    }
    query.push_str(leaf);
    query.push_str(&" }".repeat(fields.len()));
    format!("{{ {query} }}")
}

#[tokio::test]
async fn a_query_nested_16_deep_is_refused_as_too_complex_and_12_deep_is_answered() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let twelve = app.gql(staff.auth(), &nested_query(12), json!({})).await;
    assert!(twelve.get("errors").is_none(), "{twelve}");
    assert_eq!(twelve["data"]["accounts"]["nodes"], json!([]));

    for depth in [13, 16] {
        let response = app.gql(staff.auth(), &nested_query(depth), json!({})).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
            "{depth}: {response}"
        );
        assert!(response["data"].is_null(), "nothing ran: {response}");
    }
}

#[tokio::test]
async fn a_query_over_the_complexity_limit_is_refused_as_too_complex() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    // 100 accounts × 100 locations × 100 assets: a million rows asked for.
    let selections =
        "accounts(first: 100) { nodes { locations(first: 100) { nodes { assets(first: 100) { nodes { tag } } } } } }";
    let response = app.gql(staff.auth(), &format!("{{ {selections} }}"), json!({})).await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{response:.300}"
    );
    assert!(response["data"].is_null());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let staff = app.staff("acme").await;
    let padding = "x".repeat(api::MAX_BODY_BYTES);
    let body = json!({"query": "{ viewer { __typename } }", "variables": {"padding": padding}}).to_string();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&staff.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(response.status().as_u16(), 413);
    assert!(response.headers().contains_key("x-request-id"));

    // Just under the limit is fine.
    let padding = "x".repeat(api::MAX_BODY_BYTES - 1024);
    let body = json!({"query": "{ viewer { __typename } }", "variables": {"padding": padding}}).to_string();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&staff.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(response.status().as_u16(), 200);
}

/// Sends a chunked POST (no Content-Length, so the size is only known while
/// reading) over a raw connection; returns the response's status code.
async fn post_chunked(address: &str, total: usize) -> u16 {
    let host = address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let prefix = b"{\"query\": \"{ viewer { __typename } }\", \"variables\": {\"p\": \"";
        writer.write_all(format!("{:x}\r\n", prefix.len()).as_bytes()).await?;
        writer.write_all(prefix).await?;
        writer.write_all(b"\r\n").await?;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = prefix.len();
        while sent < total {
            writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        let suffix = b"\"}}";
        writer.write_all(format!("{:x}\r\n", suffix.len()).as_bytes()).await?;
        writer.write_all(suffix).await?;
        writer.write_all(b"\r\n0\r\n\r\n").await?;
        writer.flush().await
    });
    let mut response = Vec::new();
    // The server may answer and close before the whole body is sent: a
    // reset then is expected, as long as a status line arrived first.
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), reader.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "no answer within 30 s");
    writing.abort();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:.200}"))
}

#[tokio::test]
async fn a_chunked_body_over_one_mebibyte_is_refused_with_413_too() {
    let app = TestApp::spawn().await;
    assert_eq!(post_chunked(&app.address, api::MAX_BODY_BYTES + 64 * 1024).await, 413);
    assert_eq!(post_chunked(&app.address, 64 * 1024).await, 200);
}
