//! The invitation accept page (`/portal/accept`): server-rendered HTML that
//! works without JavaScript. The tests read the forms out of the page and
//! post what a browser would post (`application/x-www-form-urlencoded`, to
//! the form's action resolved against the page's URL).
//!
//! These apps run without Redis, so the api's in-process worker sends each
//! invitation email into the outbox directory and mints a link as it does;
//! the tests wait for that, then mint their own link with
//! [`mint_link`], which becomes the current one.

use entity::{DeliveryStatus, EmailKind, email_delivery, invitation, portal_user};
use reqwest::{StatusCode, Url, header::HeaderMap};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp, mint_link, sent_link};

const PASSWORD: &str = "a long enough password";
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const NEUTRAL: &str = "If this invitation can be renewed, a new link is on its way to the email address on file.";

/// An answer of the api, as a browser would see it.
struct Page {
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    /// The `portal_csrf` cookie (`name=value`) the api set with this page,
    /// or the one the request carried: what its forms' tokens are bound to.
    cookie: Option<String>,
}

/// A `<form>` of a page: where it posts and the fields it sends.
#[derive(Debug, Clone)]
struct HtmlForm {
    action: Url,
    fields: Vec<(String, String)>,
    /// The browser's `portal_csrf` cookie the form's token is bound to.
    cookie: Option<String>,
}

impl Page {
    async fn from(response: reqwest::Response, sent: Option<String>) -> Self {
        let url = response.url().clone();
        let status = response.status();
        let headers = response.headers().clone();
        let set = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("portal_csrf="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned());
        let body = response.text().await.expect("body");
        let page = Self {
            url,
            status,
            headers,
            body,
            cookie: set.or(sent),
        };
        if !status.is_redirection() {
            page.assert_self_contained();
        }
        page
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// Every accept page loads nothing, links nowhere else, and keeps the
    /// token (in its URL) out of caches and referrers.
    fn assert_self_contained(&self) {
        assert_eq!(self.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(self.header("content-security-policy"), CSP);
        assert_eq!(self.header("referrer-policy"), "no-referrer");
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        for outside in ["http://", "https://", "//", "<script", "<link", "src=", "url("] {
            assert!(
                !self.body.contains(outside),
                "the page contains {outside:?}:\n{}",
                self.body
            );
        }
        assert!(
            self.body.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{}",
            self.body
        );
        assert!(self.body.contains("name=\"viewport\""));
    }

    fn forms(&self) -> Vec<HtmlForm> {
        let mut forms = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("<form") {
            let end = rest[start..].find("</form>").expect("a closed form") + start;
            let html = &rest[start..end];
            let tag = &html[..html.find('>').expect("form tag")];
            assert_eq!(attribute(tag, "method").as_deref(), Some("post"), "{tag}");
            let action = self
                .url
                .join(&attribute(tag, "action").expect("action"))
                .expect("action URL");
            let fields = html
                .split("<input")
                .skip(1)
                .map(|input| {
                    let tag = &input[..input.find('>').expect("input tag")];
                    let name = attribute(tag, "name").expect("every input has a name");
                    (name, attribute(tag, "value").unwrap_or_default())
                })
                .collect();
            forms.push(HtmlForm {
                action,
                fields,
                cookie: self.cookie.clone(),
            });
            rest = &rest[end..];
        }
        forms
    }

    /// The one form that posts to `path`.
    fn form(&self, path: &str) -> HtmlForm {
        let mut found: Vec<HtmlForm> = self.forms().into_iter().filter(|f| f.action.path() == path).collect();
        assert_eq!(found.len(), 1, "one form posting to {path}:\n{}", self.body);
        found.remove(0)
    }

    fn has_form(&self, path: &str) -> bool {
        self.forms().iter().any(|f| f.action.path() == path)
    }

    /// Signed in: a 303 to the portal setting the session cookie; its token.
    fn session_token(&self) -> String {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert_eq!(self.headers.get("location").expect("location"), "/portal");
        let cookie = self
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("portal_session="))
            .expect("the session cookie")
            .to_owned();
        assert!(cookie.contains("; HttpOnly; SameSite=Lax"), "{cookie}");
        cookie["portal_session=".len()..cookie.find(';').expect("attributes")].to_owned()
    }
}

impl HtmlForm {
    fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// Types `value` into the field `name`, which the form must have.
    fn fill(mut self, name: &str, value: &str) -> Self {
        let field = self
            .fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("the form has no field {name}"));
        field.1 = value.to_owned();
        self
    }

    async fn submit(&self, _app: &TestApp) -> Page {
        // Not following redirects: a sign-up answers 303 to the portal.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut request = client.post(self.action.clone());
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.form(&self.fields).send().await.expect("POST the form");
        Page::from(response, self.cookie.clone()).await
    }
}

/// The value of `name="…"` in a tag, unescaped (named or numeric
/// character references; askama writes the numeric ones).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&#60;", "<")
            .replace("&gt;", ">")
            .replace("&#62;", ">")
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
}

/// `GET /portal/accept?token=…`, as opening the link does.
async fn open(app: &TestApp, token: &str) -> Page {
    let mut url = Url::parse(&format!("{}/portal/accept", app.address)).expect("URL");
    url.query_pairs_mut().append_pair("token", token);
    Page::from(app.client.get(url).send().await.expect("GET the accept page"), None).await
}

/// POSTs fields to a path of the api, as a (hand-made) form would: with a
/// CSRF cookie from the accept page and the token bound to it.
async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Page {
    let cookie = Page::from(app.get("/portal/accept").await, None)
        .await
        .cookie
        .expect("the accept page sets a CSRF cookie");
    let secret = cookie.trim_start_matches("portal_csrf=");
    let csrf = service::auth::token_digest(&format!("portal-csrf:{secret}"));
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header("cookie", &cookie)
        .form(&all)
        .send()
        .await
        .expect("POST");
    Page::from(response, Some(cookie)).await
}

/// An invited account and the link of its invitation.
struct Invited {
    staff: Staff,
    account_id: String,
    invitation_id: Uuid,
    token: String,
}

async fn invited(app: &TestApp, slug: &str, account_name: &str, email: &str) -> Invited {
    let staff = app.staff(slug).await;
    let account_id = app.create_account(&staff, "A-100", account_name, Some(email)).await;
    let invitation_id = invite(app, &staff, &account_id).await;
    let token = sent_link(app, invitation_id).await;
    Invited {
        staff,
        account_id,
        invitation_id,
        token,
    }
}

/// `inviteToPortal`; returns the invitation's id.
async fn invite(app: &TestApp, staff: &Staff, account_id: &str) -> Uuid {
    let data = app
        .gql_ok(
            staff.auth(),
            "mutation($a: ID!) { inviteToPortal(accountId: $a) { id } }",
            json!({"a": account_id}),
        )
        .await;
    Uuid::parse_str(data["inviteToPortal"]["id"].as_str().expect("invitation id")).expect("a UUID")
}

async fn deliveries_of(app: &TestApp, invitation_id: Uuid) -> Vec<email_delivery::Model> {
    email_delivery::Entity::find()
        .filter(email_delivery::Column::InvitationId.eq(invitation_id))
        .order_by_asc(email_delivery::Column::Id)
        .all(&app.db)
        .await
        .expect("deliveries")
}

/// The account as staff sees it: `portalStatus` and `invitations { status acceptedAt }`.
async fn account_state(app: &TestApp, staff: &Staff, account_id: &str) -> Value {
    let data = app
        .gql_ok(
            staff.auth(),
            "query($id: ID!) { account(id: $id) { portalStatus invitations { status acceptedAt } } }",
            json!({"id": account_id}),
        )
        .await;
    data["account"].clone()
}

/// Makes the invitation one sent eight days ago that expired yesterday.
async fn expire(app: &TestApp, invitation_id: Uuid) {
    let now = chrono::Utc::now();
    let row = invitation::Entity::find_by_id(invitation_id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the invitation");
    let mut expired: invitation::ActiveModel = row.into();
    expired.last_sent_at = Set(now - chrono::Duration::days(8));
    expired.expires_at = Set(now - chrono::Duration::days(1));
    expired.update(&app.db).await.expect("expire the invitation");
}

async fn portal_users(app: &TestApp) -> u64 {
    portal_user::Entity::find()
        .count(&app.db)
        .await
        .expect("count portal users")
}

/// The sign-up form of an open link, filled in.
async fn sign_up_form(app: &TestApp, token: &str, name: &str, password: &str, again: &str) -> HtmlForm {
    let page = open(app, token).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.form("/portal/accept")
        .fill("name", name)
        .fill("password", password)
        .fill("password_confirmation", again)
}

#[tokio::test]
async fn opening_the_link_shows_the_invitation_and_a_sign_up_form_without_using_the_token() {
    let app = TestApp::spawn().await;
    let invited = invited(
        &app,
        "acc-open",
        "Harbor Café & <Bistro>",
        "jordan.lee@customer.example",
    )
    .await;

    let first = open(&app, &invited.token).await;
    let second = open(&app, &invited.token).await;
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Org acc-open"), "{}", page.body);
        assert!(
            page.body.contains("Harbor Café &#38; &#60;Bistro&#62;"),
            "escaped: {}",
            page.body
        );
        assert!(!page.body.contains("<Bistro>"));
        assert!(
            page.body.contains("j***@customer.example"),
            "masked email: {}",
            page.body
        );
        assert!(!page.body.contains("jordan.lee"), "the full email is never shown");
        assert!(page.body.contains("Link valid until"), "expiry: {}", page.body);
        let form = page.form("/portal/accept");
        assert_eq!(
            form.names(),
            ["csrf", "token", "name", "password", "password_confirmation"]
        );
        assert_eq!(form.fields[1].1, invited.token, "the token rides in a hidden field");
        assert!(page.body.contains("type=\"hidden\" name=\"token\""));
        assert!(page.body.contains("minlength=\"10\" maxlength=\"256\""));
        assert!(page.body.contains("<label for=\"password_confirmation\">"));
        assert!(!page.has_form("/portal/accept/new-link"));
    }
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["portalStatus"], "INVITED", "opening the page changes nothing");
    assert_eq!(state["invitations"][0]["status"], "PENDING");

    let form = second
        .form("/portal/accept")
        .fill("name", "Jordan Lee")
        .fill("password", PASSWORD)
        .fill("password_confirmation", PASSWORD);
    let welcome = form.submit(&app).await;
    assert_eq!(
        welcome.status,
        StatusCode::SEE_OTHER,
        "the token still works: {}",
        welcome.body
    );
}

#[tokio::test]
async fn posting_the_sign_up_form_connects_the_account_and_signs_the_customer_in() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-post", "Harbor Cafe", "jordan.lee@customer.example").await;

    let form = sign_up_form(&app, &invited.token, "Jordan <b>Lee</b>", PASSWORD, PASSWORD).await;
    let welcome = form.submit(&app).await;
    let session = welcome.session_token();

    assert_eq!(portal_users(&app).await, 1);
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["portalStatus"], "CONNECTED");
    assert_eq!(state["invitations"][0]["status"], "ACCEPTED");
    assert!(state["invitations"][0]["acceptedAt"].is_string(), "{state}");

    let viewer = app
        .gql_ok(
            Some(&session),
            "{ viewer { ... on PortalUser { email name } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["email"], "jordan.lee@customer.example");
    assert_eq!(viewer["viewer"]["name"], "Jordan <b>Lee</b>");

    // The same form again (a reload, a second click): the link is used up.
    let again = form.submit(&app).await;
    assert_eq!(again.status, StatusCode::GONE, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(!again.has_form("/portal/accept"), "no form for a used link");
    assert!(!again.body.contains("session-token"));
    assert_eq!(portal_users(&app).await, 1);

    // Opening the used link says so too, without a form.
    let reopened = open(&app, &invited.token).await;
    assert_eq!(reopened.status, StatusCode::OK);
    assert!(reopened.body.contains("already used"), "{}", reopened.body);
    assert!(reopened.forms().is_empty());
}

#[tokio::test]
async fn a_mismatched_confirmation_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-mismatch", "Harbor Cafe", "jordan.lee@customer.example").await;

    let form = sign_up_form(
        &app,
        &invited.token,
        "Jordan Lee",
        PASSWORD,
        "a different long password",
    )
    .await;
    let page = form.submit(&app).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.body);
    assert!(page.body.contains("do not match"), "{}", page.body);
    assert!(page.body.contains("role=\"alert\""));
    let again = page.form("/portal/accept");
    assert_eq!(again.fields[0].0, "csrf");
    assert_eq!(again.fields[1], ("token".to_owned(), invited.token.clone()));
    assert_eq!(
        again.fields[2],
        ("name".to_owned(), "Jordan Lee".to_owned()),
        "the name is kept"
    );
    assert!(
        again.fields[3..].iter().all(|(_, value)| value.is_empty()),
        "passwords are never echoed"
    );

    assert_eq!(portal_users(&app).await, 0);
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["portalStatus"], "INVITED");
    assert_eq!(state["invitations"][0]["status"], "PENDING");

    let fixed = again.fill("password", PASSWORD).fill("password_confirmation", PASSWORD);
    assert_eq!(fixed.submit(&app).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_short_password_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-short", "Harbor Cafe", "jordan.lee@customer.example").await;

    let form = sign_up_form(&app, &invited.token, "Jordan Lee", "too short", "too short").await;
    let page = form.submit(&app).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.body);
    assert!(page.body.contains("at least 10 characters"), "{}", page.body);
    assert!(page.body.contains("id=\"password\" name=\"password\""));
    assert!(
        page.body.contains("aria-invalid=\"true\""),
        "the password field is marked"
    );
    assert!(page.has_form("/portal/accept"));

    assert_eq!(portal_users(&app).await, 0);
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["invitations"][0]["status"], "PENDING");
}

#[tokio::test]
async fn an_expired_link_offers_a_new_one_sent_only_to_the_email_on_file() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-expired", "Harbor Cafe", "jordan.lee@customer.example").await;
    expire(&app, invited.invitation_id).await;

    let page = open(&app, &invited.token).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("This invitation has expired"), "{}", page.body);
    assert!(page.body.contains("Harbor Cafe"));
    assert!(!page.has_form("/portal/accept"), "no sign-up form");
    let new_link = page.form("/portal/accept/new-link");
    assert_eq!(new_link.names(), ["csrf", "token"], "the token, never an address");
    assert_eq!(new_link.fields[1].1, invited.token);

    // What the sign-up form would have sent: refused, with the same offer.
    let refused = post(
        &app,
        "/portal/accept",
        &[
            ("token", invited.token.as_str()),
            ("name", "Jordan Lee"),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::GONE, "{}", refused.body);
    assert!(refused.body.contains("expired"), "{}", refused.body);
    assert!(refused.has_form("/portal/accept/new-link"));
    assert_eq!(portal_users(&app).await, 0);

    let before = deliveries_of(&app, invited.invitation_id).await;
    let all_before = email_delivery::Entity::find().count(&app.db).await.expect("count");
    let answered = new_link.submit(&app).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert!(answered.body.contains(NEUTRAL), "{}", answered.body);
    assert!(answered.forms().is_empty());

    let after = deliveries_of(&app, invited.invitation_id).await;
    assert_eq!(after.len(), before.len() + 1, "one new email");
    let queued = after.last().expect("the new delivery");
    assert_eq!(queued.kind, EmailKind::Invitation);
    assert_eq!(queued.recipient, "jordan.lee@customer.example", "the email on file");
    // Written QUEUED; the in-process worker may already have sent it.
    assert!(
        matches!(queued.status, DeliveryStatus::Queued | DeliveryStatus::Sent),
        "{queued:?}"
    );
    assert_eq!(
        email_delivery::Entity::find().count(&app.db).await.expect("count"),
        all_before + 1
    );
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["invitations"][0]["status"], "PENDING", "renewed");

    // An unknown token gets the very same page, and nothing is queued.
    let unknown = post(&app, "/portal/accept/new-link", &[("token", "no-such-token")]).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.body, answered.body, "reveals nothing");
    assert_eq!(
        email_delivery::Entity::find().count(&app.db).await.expect("count"),
        all_before + 1
    );
}

#[tokio::test]
async fn a_double_click_on_send_me_a_new_link_sends_one_email() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-double", "Harbor Cafe", "jordan.lee@customer.example").await;
    expire(&app, invited.invitation_id).await;
    let form = open(&app, &invited.token).await.form("/portal/accept/new-link");
    let before = deliveries_of(&app, invited.invitation_id).await.len();

    let (one, two) = tokio::join!(form.submit(&app), form.submit(&app));
    assert_eq!((one.status, two.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(one.body, two.body);
    assert_eq!(
        deliveries_of(&app, invited.invitation_id).await.len(),
        before + 1,
        "one new email"
    );
}

#[tokio::test]
async fn a_superseded_link_offers_a_new_one_and_cannot_be_accepted() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-superseded", "Harbor Cafe", "jordan.lee@customer.example").await;
    let newer = mint_link(&app, invited.invitation_id).await;

    let page = open(&app, &invited.token).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("A newer link was sent"), "{}", page.body);
    assert!(!page.has_form("/portal/accept"));
    assert!(page.has_form("/portal/accept/new-link"));

    let refused = post(
        &app,
        "/portal/accept",
        &[
            ("token", invited.token.as_str()),
            ("name", "Jordan Lee"),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::GONE, "{}", refused.body);
    assert!(refused.body.contains("A newer link was sent"), "{}", refused.body);
    assert!(refused.has_form("/portal/accept/new-link"));
    assert_eq!(portal_users(&app).await, 0);

    // The newer link is the one that works.
    let form = sign_up_form(&app, &newer, "Jordan Lee", PASSWORD, PASSWORD).await;
    assert_eq!(form.submit(&app).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_existing_portal_user_adds_a_second_account_with_their_password() {
    let app = TestApp::spawn().await;
    let email = "pat.doe@customer.example";
    let first = invited(&app, "acc-existing", "First Site", email).await;
    let welcome = sign_up_form(&app, &first.token, "Pat Doe", PASSWORD, PASSWORD)
        .await
        .submit(&app)
        .await;
    assert_eq!(welcome.status, StatusCode::SEE_OTHER, "{}", welcome.body);

    let second_account = app
        .create_account(&first.staff, "A-200", "Second Site", Some(email))
        .await;
    let second_invitation = invite(&app, &first.staff, &second_account).await;
    let token = sent_link(&app, second_invitation).await;

    let page = open(&app, &token).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("You already have a portal login for Org acc-existing; enter its password to add Second Site."),
        "{}",
        page.body
    );
    let form = page.form("/portal/accept");
    assert_eq!(
        form.names(),
        ["csrf", "token", "password"],
        "only the password is asked for"
    );
    assert!(page.body.contains("autocomplete=\"current-password\""));

    let wrong = form
        .clone()
        .fill("password", "not the right password")
        .submit(&app)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert!(wrong.body.contains("not correct"), "{}", wrong.body);
    assert_eq!(wrong.form("/portal/accept").names(), ["csrf", "token", "password"]);
    let state = account_state(&app, &first.staff, &second_account).await;
    assert_eq!(state["invitations"][0]["status"], "PENDING");

    let added = form.fill("password", PASSWORD).submit(&app).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(portal_users(&app).await, 1, "one login for both accounts");
    let state = account_state(&app, &first.staff, &second_account).await;
    assert_eq!(state["portalStatus"], "CONNECTED");
    assert_eq!(state["invitations"][0]["status"], "ACCEPTED");

    let viewer = app
        .gql_ok(
            Some(&added.session_token()),
            "{ viewer { ... on PortalUser { email accounts { nodes { name } } } } }",
            json!({}),
        )
        .await;
    let mut names: Vec<&str> = viewer["viewer"]["accounts"]["nodes"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["First Site", "Second Site"]);
}

#[tokio::test]
async fn a_form_posted_without_the_browsers_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let invited = invited(&app, "acc-csrf", "Harbor Cafe", "jordan.lee@customer.example").await;
    let form = sign_up_form(&app, &invited.token, "Jordan Lee", PASSWORD, PASSWORD).await;
    // Another site's copy of the form: the same fields, not this browser's cookie.
    let forged = HtmlForm {
        cookie: None,
        ..form.clone()
    };
    let refused = forged.submit(&app).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let other_browser = HtmlForm {
        cookie: Some("portal_csrf=someone-elses-secret".to_owned()),
        ..form.clone()
    };
    assert_eq!(other_browser.submit(&app).await.status, StatusCode::FORBIDDEN);
    assert_eq!(portal_users(&app).await, 0);
    let state = account_state(&app, &invited.staff, &invited.account_id).await;
    assert_eq!(state["invitations"][0]["status"], "PENDING");
    assert_eq!(
        form.submit(&app).await.status,
        StatusCode::SEE_OTHER,
        "the real form still works"
    );
}

#[tokio::test]
async fn an_unknown_or_missing_token_is_not_found() {
    let app = TestApp::spawn().await;
    let (unknown_token, _) = api::auth::new_token();
    for page in [
        open(&app, &unknown_token).await,
        open(&app, "").await,
        open(&app, &"x".repeat(500)).await,
        Page::from(app.get("/portal/accept").await, None).await,
    ] {
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
        assert!(page.body.contains("This invitation link is not valid"), "{}", page.body);
        assert!(page.forms().is_empty());
    }
}

#[tokio::test]
async fn the_eleventh_failed_accept_in_the_window_is_rate_limited() {
    let app = TestApp::spawn().await;
    let (token, _) = api::auth::new_token();
    let fields = [
        ("token", token.as_str()),
        ("name", "Guess Work"),
        ("password", PASSWORD),
        ("password_confirmation", PASSWORD),
    ];
    for attempt in 1..=10 {
        let page = post(&app, "/portal/accept", &fields).await;
        assert_eq!(page.status, StatusCode::GONE, "attempt {attempt}: {}", page.body);
        assert!(page.headers.get("retry-after").is_none());
    }
    let limited = post(&app, "/portal/accept", &fields).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    let retry_after: u64 = limited.header("retry-after").parse().expect("seconds");
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
    assert!(limited.body.contains("Too many attempts"), "{}", limited.body);
    assert!(limited.forms().is_empty());
}
