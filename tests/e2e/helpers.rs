//! The test harness: a real api on a free loopback port against a fresh
//! database of its own, and typed helpers to talk to it over HTTP.
//!
//! `TEST_DATABASE_URL` selects the database server: unset (or `sqlite:`) →
//! a new SQLite file per test; `postgres://…/db` → a new database per test
//! on that server, dropped when the test ends (both from
//! [`testkit::TestDatabase`], already migrated).

use std::{collections::HashMap, sync::LazyLock, time::Duration};

use api::Application;
use common::{Settings, db::StatementCounter};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use service::organizations::NewOrganization;
use testkit::{Server, TestDatabase, eventually};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Password of every staff user the harness creates.
pub const STAFF_PASSWORD: &str = "correct horse battery staple";
/// The password customers sign up with in tests.
pub const CUSTOMER_PASSWORD: &str = "a customer password";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        common::telemetry::init(common::LogFormat::Pretty);
    }
});

/// The workspace's `api` binary, next to this package's binaries (`cargo
/// test --workspace` builds it; a filtered run may need `cargo build -p api`).
pub fn api_binary() -> std::path::PathBuf {
    let api = std::path::PathBuf::from(env!("CARGO_BIN_EXE_e2e-worker"))
        .with_file_name("api")
        .with_extension(std::env::consts::EXE_EXTENSION);
    assert!(
        api.is_file(),
        "the api binary is not at {}: build it first (cargo build -p api; cargo test --workspace builds it)",
        api.display()
    );
    api
}

/// A running api with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `http://127.0.0.1:PORT` of the `METRICS_ADDR` listener, when set.
    pub metrics_address: Option<String>,
    /// The app's database pool, to arrange data directly.
    pub db: DatabaseConnection,
    /// Statements the app's pool has run.
    pub statements: StatementCounter,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The settings the app runs with.
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Removed when the app is dropped (after the server has stopped);
    /// `None` for a second process on another app's database.
    _database: Option<TestDatabase>,
}

/// A staff user signed in.
pub struct Staff {
    /// The organization's id.
    pub organization_id: Uuid,
    /// The staff user's email.
    pub email: String,
    /// Bearer token.
    pub token: String,
}

impl TestApp {
    /// Starts the api on `127.0.0.1:0` against a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Like [`TestApp::spawn`], with extra environment settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::migrated(&Server::from_env())
            .await
            .expect("a test database");
        Self::spawn_on(database, extra).await
    }

    /// Like [`TestApp::spawn_with`], on a database the test prepared (a
    /// schema of another version, say); it is removed with the app.
    pub async fn spawn_on(database: TestDatabase, extra: &[(&str, &str)]) -> Self {
        let env = Self::environment(&database, extra);
        Self::start(env, Some(database)).await
    }

    /// The settings [`TestApp::spawn_on`] starts an api with on `database`.
    pub fn settings_for(database: &TestDatabase, extra: &[(&str, &str)]) -> Settings {
        let env = Self::environment(database, extra);
        Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings")
    }

    fn environment(database: &TestDatabase, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let outbox = std::env::temp_dir()
            .join("portal-tests")
            .join(format!("outbox-{}", Uuid::now_v7().simple()));
        let mut env: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), database.url().to_owned()),
            ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
            ("QUEUE_NAMESPACE".into(), format!("test-{}", Uuid::now_v7().simple())),
            ("MAIL_OUTBOX_DIR".into(), outbox.display().to_string()),
        ]);
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        env
    }

    /// A second api process beside `first`, as behind a load balancer: the
    /// same database, Redis, queue namespace and outbox directory, its own
    /// port.
    pub async fn spawn_beside(first: &TestApp) -> Self {
        Self::spawn_beside_with(first, &[]).await
    }

    /// Like [`TestApp::spawn_beside`], with extra environment settings.
    pub async fn spawn_beside_with(first: &TestApp, extra: &[(&str, &str)]) -> Self {
        use secrecy::ExposeSecret as _;
        let s = &first.settings;
        let mut env: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), s.database_url.expose_secret().to_owned()),
            ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
            ("QUEUE_NAMESPACE".into(), s.queue_namespace.clone()),
            ("MAIL_OUTBOX_DIR".into(), s.mail_outbox_dir.display().to_string()),
        ]);
        if let Some(redis) = &s.redis_url {
            env.insert("REDIS_URL".into(), redis.expose_secret().to_owned());
        }
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Self::start(env, None).await
    }

    async fn start(env: HashMap<String, String>, database: Option<TestDatabase>) -> Self {
        LazyLock::force(&TRACING);
        let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings");
        let app = Application::build(settings.clone()).await.expect("build the api");
        let port = app.local_addr().expect("bound").port();
        let metrics_address = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let db = app.db().clone();
        let statements = app.statements();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Self {
            address: format!("http://127.0.0.1:{port}"),
            metrics_address,
            db,
            statements,
            client: reqwest::Client::new(),
            settings,
            shutdown: Some(tx),
            server: Some(server),
            _database: database,
        }
    }

    /// Creates an organization with a staff admin and signs the admin in.
    pub async fn staff(&self, slug: &str) -> Staff {
        let email = format!("admin@{slug}.example");
        let (org, _) = service::organizations::create(
            &self.db,
            NewOrganization {
                name: format!("Org {slug}"),
                slug: slug.to_owned(),
                admin_email: email.clone(),
                admin_name: format!("Admin of {slug}"),
                admin_password: STAFF_PASSWORD.to_owned(),
            },
        )
        .await
        .expect("create organization");
        let data = self
            .gql_ok(
                None,
                "mutation($e: String!, $p: String!) { staffLogin(email: $e, password: $p) { token } }",
                json!({"e": email, "p": STAFF_PASSWORD}),
            )
            .await;
        Staff {
            organization_id: org.id,
            email,
            token: data["staffLogin"]["token"].as_str().expect("token").to_owned(),
        }
    }

    /// POSTs a GraphQL request; returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.expect("JSON response")
    }

    /// Like [`TestApp::gql`], asserting there are no errors; returns `data`.
    pub async fn gql_ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let response = self.gql(token, query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }

    /// Runs a request expected to fail; returns its first error's code.
    /// Runs `query` and returns the string at `path` of its data (an id, a
    /// token).
    pub async fn gql_string(&self, token: Option<&str>, query: &str, vars: Value, path: &[&str]) -> String {
        let mut value = self.gql_ok(token, query, vars).await;
        for key in path {
            value = value[*key].take();
        }
        value.as_str().expect("a string at the path").to_owned()
    }

    /// Invites `account`'s contact (for `locations`, or the whole account)
    /// and signs up with the emailed link; returns the portal session.
    pub async fn invite_and_accept(
        &self,
        staff: &Staff,
        account: &str,
        locations: Option<Vec<&str>>,
        name: &str,
    ) -> String {
        let invitation = self
            .gql_string(
                staff.auth(),
                "mutation($a: ID!, $l: [ID!]) { inviteToPortal(accountId: $a, locationIds: $l) { id } }",
                json!({"a": account, "l": locations}),
                &["inviteToPortal", "id"],
            )
            .await;
        let link = sent_link(self, Uuid::parse_str(&invitation).expect("uuid")).await;
        self.accept(&link, name).await
    }

    /// Signs up with invitation link token `link` as `name`; returns the
    /// portal session's token.
    pub async fn accept(&self, link: &str, name: &str) -> String {
        self.gql_string(
            None,
            "mutation($t: String!, $n: String!, $p: String!) { acceptInvitation(token: $t, name: $n, password: $p) { token } }",
            json!({"t": link, "n": name, "p": CUSTOMER_PASSWORD}),
            &["acceptInvitation", "token"],
        )
        .await
    }

    /// A portal user's request for one asset; returns its id.
    pub async fn request_asset(&self, portal: &str, location: &str, asset_type: &str) -> String {
        self.gql_string(
            Some(portal),
            "mutation($l: ID!, $t: ID!) { requestAsset(input: {locationId: $l, assetTypeId: $t, quantity: 1}) { id } }",
            json!({"l": location, "t": asset_type}),
            &["requestAsset", "id"],
        )
        .await
    }

    pub async fn gql_err(&self, token: Option<&str>, query: &str, variables: Value) -> (String, Value) {
        let response = self.gql(token, query, variables).await;
        let error = response["errors"][0].clone();
        assert!(!error.is_null(), "expected an error, got {response:#}");
        let code = error["extensions"]["code"].as_str().unwrap_or("<none>").to_owned();
        (code, error)
    }

    /// GETs a path of the api.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("GET")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

impl Staff {
    /// The bearer token, as [`TestApp::gql`] takes it.
    pub fn auth(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// The ids of a data set inserted directly (see [`TestApp::insert_accounts`]).
pub struct Inserted {
    /// Accounts, in id (creation) order.
    pub accounts: Vec<Uuid>,
    /// Locations, in id order.
    pub locations: Vec<Uuid>,
    /// Assets (all deployed), in id order.
    pub assets: Vec<Uuid>,
}

/// Builders: test data created through the public API, the way staff would.
impl TestApp {
    /// `createAccount`; returns the new account's id.
    pub async fn create_account(&self, staff: &Staff, number: &str, name: &str, email: Option<&str>) -> String {
        let data = self
            .gql_ok(
                staff.auth(),
                "mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }",
                json!({"input": {"number": number, "name": name, "contact": {"email": email}}}),
            )
            .await;
        data["createAccount"]["id"].as_str().expect("account id").to_owned()
    }

    /// `createLocation` with a US address; returns the new location's id.
    pub async fn create_location(&self, staff: &Staff, account_id: &str, name: &str) -> String {
        let data = self
            .gql_ok(
                staff.auth(),
                "mutation($a: ID!, $input: LocationInput!) { createLocation(accountId: $a, input: $input) { id } }",
                json!({"a": account_id, "input": {
                    "name": name,
                    "address": {"line1": "1 Main St", "city": "Portland", "region": "OR", "postalCode": "97201", "country": "US"}
                }}),
            )
            .await;
        data["createLocation"]["id"].as_str().expect("location id").to_owned()
    }

    /// The id of the organization's first asset type (by name).
    pub async fn asset_type_id(&self, staff: &Staff) -> String {
        let data = self.gql_ok(staff.auth(), "{ assetTypes { id } }", json!({})).await;
        data["assetTypes"][0]["id"].as_str().expect("an asset type").to_owned()
    }

    /// `createAsset` of the first asset type, in the yard; returns its id.
    pub async fn create_asset(&self, staff: &Staff, tag: &str) -> String {
        let asset_type = self.asset_type_id(staff).await;
        let data = self
            .gql_ok(
                staff.auth(),
                "mutation($input: CreateAssetInput!) { createAsset(input: $input) { id } }",
                json!({"input": {"assetTypeId": asset_type, "tag": tag}}),
            )
            .await;
        data["createAsset"]["id"].as_str().expect("asset id").to_owned()
    }

    /// `moveAsset`: deploys at `location_id`, or with `None` returns the
    /// asset to the yard. Returns the asset's `status`, `location { id }`
    /// and `deployedAt`.
    pub async fn deploy(&self, staff: &Staff, asset_id: &str, location_id: Option<&str>) -> Value {
        let data = self
            .gql_ok(
                staff.auth(),
                "mutation($a: ID!, $l: ID) { moveAsset(assetId: $a, locationId: $l) { id status location { id } deployedAt } }",
                json!({"a": asset_id, "l": location_id}),
            )
            .await;
        data["moveAsset"].clone()
    }

    /// `createInvoice` in USD, issued 2026-11-01 and due 2026-12-01, with
    /// `(description, quantity, unit price in cents)` lines; returns its id.
    pub async fn create_invoice(
        &self,
        staff: &Staff,
        account_id: &str,
        number: &str,
        lines: &[(&str, i32, i32)],
    ) -> String {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(description, quantity, cents)| {
                json!({"description": description, "quantity": quantity, "unitPriceCents": cents})
            })
            .collect();
        let data = self
            .gql_ok(
                staff.auth(),
                "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }",
                json!({"input": {
                    "accountId": account_id, "number": number, "issuedOn": "2026-11-01",
                    "dueOn": "2026-12-01", "currency": "USD", "lines": lines
                }}),
            )
            .await;
        data["createInvoice"]["id"].as_str().expect("invoice id").to_owned()
    }

    /// Inserts `accounts` accounts, each with `locations_per_account`
    /// locations, each with `assets_per_location` deployed assets, straight
    /// into the database in one transaction (thousands of rows in well under
    /// a second, where the API would take one request per row).
    pub async fn insert_accounts(
        &self,
        organization_id: Uuid,
        accounts: usize,
        locations_per_account: usize,
        assets_per_location: usize,
    ) -> Inserted {
        use entity::{account, asset, asset_type, location};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
        use testkit::builders::{AccountBuilder, AssetBuilder, LocationBuilder};

        let asset_type = asset_type::Entity::find()
            .filter(asset_type::Column::OrganizationId.eq(organization_id))
            .one(&self.db)
            .await
            .expect("asset types")
            .expect("the organization has an asset type");
        let now = chrono::Utc::now();
        let mut inserted = Inserted {
            accounts: Vec::new(),
            locations: Vec::new(),
            assets: Vec::new(),
        };
        let (mut account_rows, mut location_rows, mut asset_rows) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..accounts {
            let account = AccountBuilder::new(organization_id)
                .number(format!("B-{a:05}"))
                .name(format!("Bulk account {a}"))
                .contact_email(format!("bulk{a}@example.com"))
                .created_at(now)
                .updated_at(now)
                .build();
            inserted.accounts.push(account.id);
            for l in 0..locations_per_account {
                let location = LocationBuilder::new(organization_id, account.id)
                    .name(format!("Site {a}-{l}"))
                    .line1(format!("{l} Bulk Rd"))
                    .created_at(now)
                    .build();
                inserted.locations.push(location.id);
                for n in 0..assets_per_location {
                    let asset = AssetBuilder::new(organization_id, asset_type.id)
                        .tag(format!("BULK-{a}-{l}-{n}"))
                        .deployed(location.id, now)
                        .created_at(now)
                        .build();
                    inserted.assets.push(asset.id);
                    asset_rows.push(asset::ActiveModel::from(asset));
                }
                location_rows.push(location::ActiveModel::from(location));
            }
            account_rows.push(account::ActiveModel::from(account));
        }
        let txn = self.db.begin().await.expect("begin");
        // Chunks stay under every backend's bind-parameter limit.
        for chunk in account_rows.chunks(500) {
            account::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await
                .expect("insert accounts");
        }
        for chunk in location_rows.chunks(500) {
            location::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await
                .expect("insert locations");
        }
        for chunk in asset_rows.chunks(500) {
            asset::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await
                .expect("insert assets");
        }
        txn.commit().await.expect("commit");
        inserted
    }
}

/// The `nodes[].id` of a connection, in order.
pub fn ids(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("a connection with nodes")
        .iter()
        .map(|node| node["id"].as_str().expect("node id").to_owned())
        .collect()
}

/// `extensions.field` of an error.
pub fn field(error: &Value) -> &str {
    error["extensions"]["field"].as_str().unwrap_or("<none>")
}

/// Mints a new link for a pending invitation with the worker's own mint
/// and activates it as a sent email would ([`service::invitation_links`]):
/// the new digest supersedes earlier links. Returns the raw token, which
/// only the email would carry.
///
/// It stands in for the worker's minting in tests that are not about email,
/// so they get a working link without an SMTP server; tests of the email
/// itself read the link out of the message instead.
pub async fn mint_link(app: &TestApp, invitation_id: Uuid) -> String {
    use entity::invitation;
    use sea_orm::EntityTrait;
    use service::invitation_links::{self, Mint};

    let invitation = invitation::Entity::find_by_id(invitation_id)
        .one(&app.db)
        .await
        .expect("read the invitation")
        .unwrap_or_else(|| panic!("no invitation {invitation_id}"));
    match invitation_links::mint(&app.db, invitation.organization_id, invitation_id)
        .await
        .expect("mint a link")
    {
        Mint::Minted(link) => {
            invitation_links::activate(&app.db, invitation_id, &link.digest)
                .await
                .expect("activate the link");
            link.token
        }
        other => panic!("invitation {invitation_id} cannot get a link: {other:?}"),
    }
}

/// Waits (polling, with a deadline) until every email of the invitation is
/// SENT — the in-process worker mints a link as it sends — then mints the
/// test's own link with [`mint_link`], which is then the current one.
pub async fn sent_link(app: &TestApp, invitation_id: Uuid) -> String {
    use entity::{DeliveryStatus, email_delivery};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    eventually(Duration::from_secs(20), async || {
        let deliveries = email_delivery::Entity::find()
            .filter(email_delivery::Column::InvitationId.eq(invitation_id))
            .all(&app.db)
            .await
            .expect("deliveries");
        if !deliveries.is_empty() && deliveries.iter().all(|d| d.status == DeliveryStatus::Sent) {
            Ok(())
        } else {
            Err(format!("the invitation email was not sent: {deliveries:?}"))
        }
    })
    .await;
    mint_link(app, invitation_id).await
}

/// Runs `tests/js/<script>` with Node (installing the pinned npm packages
/// first, and Chromium when `browser`), with `args`; its JSON output.
/// Panics, with the script's stderr, when it fails.
pub async fn node_json(script: &str, args: Vec<String>, browser: bool) -> Value {
    let chromium = browser.then(testkit::node::ensure_chromium);
    let dir = testkit::node::ensure_packages();
    let script = dir.join(script);
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("node");
        command.arg(script).args(args);
        if let Some(chromium) = chromium {
            command.env("CHROMIUM", chromium);
        }
        command.output()
    })
    .await
    .expect("join")
    .expect("run node (install Node.js 20)");
    assert!(
        output.status.success(),
        "the Node script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the script's JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// A browser for the portal's pages without a browser: keeps the cookies the
/// api sets (it has no cookie store of its own) and follows redirects
/// itself, sending them along, so a test sees the page a person would.
pub struct WebClient {
    client: reqwest::Client,
    base: String,
    /// Cookie name → value, as the api set them.
    pub cookies: std::collections::BTreeMap<String, String>,
}

/// A page the [`WebClient`] ended on.
#[derive(Debug)]
pub struct WebPage {
    /// Where it ended (the path, after redirects).
    pub path: String,
    /// Its status.
    pub status: reqwest::StatusCode,
    /// Its headers.
    pub headers: reqwest::header::HeaderMap,
    /// Its HTML.
    pub body: String,
}

impl WebPage {
    /// The value of the hidden or text input `name` in the form posting to
    /// `action` (the first such form), unescaped as a browser would.
    pub fn field(&self, action: &str, name: &str) -> Option<String> {
        let form_start = self.body.find(&format!("action=\"{action}\""))?;
        let form = &self.body[form_start..];
        let form = &form[..form.find("</form>")?];
        let marker = format!("name=\"{name}\"");
        let at = form.find(&marker)?;
        let tag_start = form[..at].rfind('<')?;
        let tag = &form[tag_start..tag_start + form[tag_start..].find('>')?];
        let value = tag.split(" value=\"").nth(1)?;
        Some(
            value[..value.find('"')?]
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&#60;", "<")
                .replace("&#62;", ">")
                .replace("&#38;", "&"),
        )
    }
}

impl WebClient {
    /// A fresh browser for `app`, with no cookies.
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.address.clone(),
            cookies: std::collections::BTreeMap::new(),
        }
    }

    /// GETs `path` (following redirects).
    pub async fn get(&mut self, path: &str) -> WebPage {
        self.follow(self.client.get(format!("{}{path}", self.base)), path).await
    }

    /// POSTs the form `fields` to `path` (following redirects).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> WebPage {
        self.follow(self.client.post(format!("{}{path}", self.base)).form(fields), path)
            .await
    }

    /// POSTs `fields` plus the `csrf` field of the form posting to `path` on `page`.
    pub async fn submit(&mut self, page: &WebPage, path: &str, fields: &[(&str, &str)]) -> WebPage {
        let csrf = page
            .field(path, "csrf")
            .unwrap_or_else(|| panic!("no form posting to {path} with a csrf field:\n{}", page.body));
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn follow(&mut self, mut request: reqwest::RequestBuilder, path: &str) -> WebPage {
        let mut path = path.to_owned();
        for _ in 0..6 {
            let response = request
                .header(reqwest::header::COOKIE, self.cookie_header())
                .send()
                .await
                .expect("request");
            for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
                let set = set.to_str().expect("ascii cookie");
                let pair = set.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() || set.contains("Max-Age=0") {
                        self.cookies.remove(name);
                    } else {
                        self.cookies.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .expect("a redirect has a location")
                    .to_owned();
                path = location;
                request = self.client.get(format!("{}{path}", self.base));
                continue;
            }
            return WebPage {
                path,
                status: response.status(),
                headers: response.headers().clone(),
                body: response.text().await.expect("body"),
            };
        }
        panic!("too many redirects from {path}");
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
