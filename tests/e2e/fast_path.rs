//! The differential test of the api's execution path for lists of rows
//! (`api::graphql::rows`): a corpus of documents — the README's, the
//! portal web app's, the bench's, and generated ones that combine aliases,
//! fragments and inline fragments, `__typename`, `@skip`/`@include`, the
//! same field twice, nested pages, nulls and errors inside lists — is sent
//! to two api processes on one database, one with the fast path (the
//! default) and one with `GRAPHQL_EXECUTION=generic` (async-graphql's own
//! executor for every list). Their HTTP bodies must be byte for byte the
//! same, for a staff user and for a portal user.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Documents of the README (its `query` blocks).
fn readme_documents() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut documents = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```graphql") => block = Some(String::new()),
            (Some(text), "```") => {
                let text = std::mem::take(text);
                block = None;
                let body = text.trim_start();
                if !(text.contains("mutation") || text.contains("subscription"))
                    && (body.starts_with("query") || body.starts_with('{'))
                {
                    documents.push(text);
                }
            }
            (Some(text), _) => {
                // Comments in the README's blocks are GraphQL comments too.
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    documents
}

/// The portal web app's queries.
fn portal_documents() -> Vec<String> {
    [
        include_str!("../../api/src/http/portal/documents/AssetRequests.graphql"),
        include_str!("../../api/src/http/portal/documents/Dashboard.graphql"),
        include_str!("../../api/src/http/portal/documents/DashboardAccount.graphql"),
        include_str!("../../api/src/http/portal/documents/Invoice.graphql"),
        include_str!("../../api/src/http/portal/documents/Invoices.graphql"),
        include_str!("../../api/src/http/portal/documents/Me.graphql"),
        include_str!("../../api/src/http/portal/documents/NewAssetRequest.graphql"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The bench's dashboards.
fn bench_documents() -> Vec<String> {
    [
        include_str!("../../bench/queries/staff-dashboard.graphql"),
        include_str!("../../bench/queries/portal-dashboard.graphql"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Hand-written documents aimed at the rules one by one.
fn rule_documents() -> Vec<String> {
    [
        // Aliases, the same field twice, a key merged from two selections.
        "{ accounts(first: 3) { nodes { n: name name n2: name id id contact { email } contact { name phone } } } }",
        // Fragments, inline fragments with and without a type, __typename.
        "query { accounts(first: 3) { nodes { ...A ... on Account { number } ... { __typename t: __typename } } } }
         fragment A on Account { name locations(first: 2) { nodes { ...L } } }
         fragment L on Location { __typename name address { city ...Ad } }
         fragment Ad on Address { country postalCode }",
        // @skip and @include, literal and through variables.
        "query($yes: Boolean! = true, $no: Boolean! = false) { accounts(first: 4) { nodes {
           name @skip(if: $yes) number @include(if: $yes) id @include(if: $no)
           contact @skip(if: false) { email }
           ... on Account @include(if: $no) { portalStatus }
           ... @skip(if: $no) { balanceDue { formatted amountCents currency } } } } }",
        // Nulls: assets in the yard have neither location nor deployedAt.
        "{ assets(first: 50) { nodes { tag status deployedAt location { id name } assetType { id name description requestable } } } }",
        // Errors inside lists: a bad page argument per item.
        "{ accounts(first: 3) { nodes { name locations(first: -1) { nodes { name } } } } }",
        "{ accounts(first: 3) { nodes { name assets(after: \"not-a-cursor\") { nodes { tag } } } } }",
        // Staff-only fields: errors with paths for portal users.
        "{ accounts(first: 5) { nodes { name portalUsers { id email } invitations { id status } } } }",
        // Cursors and page info of nested pages; edges beside nodes.
        "{ accounts(first: 2) { pageInfo { hasNextPage endCursor } edges { cursor node { name locations(first: 1) {
           totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } nodes { name assets(first: 2) {
           totalCount nodes { tag location { name account { name } } } } } } } } } }",
        // Invoices with their money, lines and payments.
        "{ invoices(first: 10) { nodes { id number issuedOn dueOn status payable total { formatted } amountDue { amountCents currency }
           lines { description quantity unitPrice { formatted } amount { formatted } } payments { id } account { number } location { name } } } }",
        // Locations at the root, their account and assets by status.
        "{ locations(first: 6) { nodes { id name address { line1 line2 city region postalCode country } account { id contact { email } }
           deployed: assets(status: DEPLOYED) { totalCount nodes { tag } } yard: assets(status: AVAILABLE) { totalCount } } } }",
        // Accounts' assets and invoices by status.
        "{ accounts(first: 6) { nodes { assets(first: 3, status: DEPLOYED) { nodes { tag assetType { name } location { name } } }
           open: invoices(status: OPEN) { nodes { number } } paid: invoices(status: PAID) { totalCount } } } }",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A small deterministic generator (xorshift), so a failing document is the
/// same on every run.
struct Generator {
    state: u64,
    fragments: Vec<String>,
    aliases: usize,
}

impl Generator {
    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A document: one or two root fields over the list types.
    fn document(&mut self, index: usize) -> String {
        self.fragments.clear();
        let roots = [
            ("accounts", "Account"),
            ("locations", "Location"),
            ("assets", "Asset"),
            ("invoices", "Invoice"),
        ];
        let mut body = String::new();
        for _ in 0..=self.below(2) {
            let (root, node) = roots[self.below(roots.len())];
            let first = 1 + self.below(6);
            self.aliases += 1;
            let alias = format!("r{}: ", self.aliases);
            let connection = self.connection(node, 0);
            let _ = write!(body, "{alias}{root}(first: {first}) {connection} ");
        }
        // Only the fragments and variables the operation uses: GraphQL
        // refuses a document that defines one it does not.
        let mut used: Vec<&String> = Vec::new();
        let mut changed = true;
        while changed {
            changed = false;
            for (i, fragment) in self.fragments.iter().enumerate() {
                let spread = format!("...F{i}");
                let spread_in = |text: &str| {
                    text.match_indices(&spread)
                        .any(|(at, _)| !text[at + spread.len()..].starts_with(|c: char| c.is_ascii_digit()))
                };
                if !used.contains(&fragment) && (spread_in(&body) || used.iter().any(|f| spread_in(f))) {
                    used.push(fragment);
                    changed = true;
                }
            }
        }
        let everything = format!(
            "{body} {}",
            used.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" ")
        );
        let variables: Vec<&str> = [("$yes", "$yes: Boolean! = true"), ("$no", "$no: Boolean! = false")]
            .into_iter()
            .filter(|(name, _)| everything.contains(name))
            .map(|(_, definition)| definition)
            .collect();
        let variables = if variables.is_empty() {
            String::new()
        } else {
            format!("({})", variables.join(", "))
        };
        let mut document = format!("query G{index}{variables} {{ {body}}}\n");
        for fragment in used {
            document.push_str(fragment);
            document.push('\n');
        }
        document
    }

    fn connection(&mut self, node: &str, depth: usize) -> String {
        let mut parts = Vec::new();
        let nodes = self.selection(node, depth);
        parts.push(format!("nodes {nodes}"));
        if self.chance(30) {
            parts.push("pageInfo { hasNextPage endCursor }".to_owned());
        }
        if self.chance(30) {
            parts.push("totalCount".to_owned());
        }
        if self.chance(20) {
            let node_selection = self.selection(node, depth);
            parts.push(format!("edges {{ cursor node {node_selection} }}"));
        }
        if self.chance(15) {
            parts.push("__typename".to_owned());
        }
        self.shuffle(&mut parts);
        format!("{{ {} }}", parts.join(" "))
    }

    fn shuffle(&mut self, parts: &mut [String]) {
        for i in (1..parts.len()).rev() {
            let j = self.below(i + 1);
            parts.swap(i, j);
        }
    }

    /// Plain fields, objects and pages of `ty`, as `(field, selection)`.
    fn fields(&mut self, ty: &str, depth: usize) -> Vec<String> {
        let deeper = depth < 2;
        let mut fields: Vec<String> = Vec::new();
        let plain: &[&str] = match ty {
            "Account" => &["id", "number", "name", "portalStatus", "__typename"],
            "Location" => &["id", "name", "__typename"],
            "Asset" => &["id", "tag", "status", "deployedAt", "__typename"],
            "AssetType" => &["id", "name", "description", "requestable"],
            "Invoice" => &["id", "number", "issuedOn", "dueOn", "status", "payable"],
            "ContactInfo" => &["name", "email", "phone"],
            "Money" => &["amountCents", "currency", "formatted"],
            "Address" => &["line1", "line2", "city", "region", "postalCode", "country"],
            _ => &["__typename"],
        };
        fields.extend(plain.iter().map(|f| (*f).to_owned()));
        let objects: &[(&str, &str)] = match ty {
            "Account" => &[("contact", "ContactInfo"), ("balanceDue", "Money")],
            "Location" => &[("address", "Address"), ("account", "Account")],
            "Asset" => &[("assetType", "AssetType"), ("location", "Location")],
            "Invoice" => &[
                ("total", "Money"),
                ("amountDue", "Money"),
                ("account", "Account"),
                ("location", "Location"),
            ],
            _ => &[],
        };
        for (field, object) in objects {
            let leaf = matches!(*object, "ContactInfo" | "Money" | "Address" | "AssetType");
            if leaf || deeper {
                let selection = self.selection(object, depth + 1);
                fields.push(format!("{field} {selection}"));
            }
        }
        let pages: &[(&str, &str, &[&str])] = match ty {
            "Account" => &[
                ("locations", "Location", &[]),
                ("assets", "Asset", &["DEPLOYED", "AVAILABLE"]),
                ("invoices", "Invoice", &["OPEN", "PAID"]),
            ],
            "Location" => &[("assets", "Asset", &["DEPLOYED", "MAINTENANCE"])],
            _ => &[],
        };
        if deeper {
            for (field, node, statuses) in pages {
                let mut arguments = Vec::new();
                if self.chance(4) {
                    arguments.push("first: -1".to_owned());
                } else if self.chance(60) {
                    arguments.push(format!("first: {}", 1 + self.below(4)));
                }
                if !statuses.is_empty() && self.chance(40) {
                    arguments.push(format!("status: {}", statuses[self.below(statuses.len())]));
                }
                let arguments = if arguments.is_empty() {
                    String::new()
                } else {
                    format!("({})", arguments.join(", "))
                };
                let connection = self.connection(node, depth + 1);
                fields.push(format!("{field}{arguments} {connection}"));
            }
        }
        if ty == "Account" && self.chance(10) {
            fields.push("portalUsers { id }".to_owned());
        }
        if ty == "Invoice" && self.chance(20) {
            fields.push("lines { description quantity amount { formatted } }".to_owned());
        }
        fields
    }

    /// A selection set on `ty` using the features at random.
    fn selection(&mut self, ty: &str, depth: usize) -> String {
        let available = self.fields(ty, depth);
        let mut chosen: Vec<String> = Vec::new();
        let count = 1 + self.below(available.len().min(6));
        for _ in 0..count {
            let field = available[self.below(available.len())].clone();
            let mut text = field.clone();
            if self.chance(20) {
                self.aliases += 1;
                text = format!("a{}: {text}", self.aliases);
            }
            if self.chance(12) {
                let directive = [
                    "@skip(if: $yes)",
                    "@skip(if: $no)",
                    "@include(if: $yes)",
                    "@include(if: $no)",
                ][self.below(4)];
                text = insert_directive(&text, directive);
            }
            chosen.push(text);
            if self.chance(10) {
                // The same field again: its answer is merged with the first.
                chosen.push(field);
            }
        }
        if self.chance(15) {
            let inner = self.selection_flat(&available);
            chosen.push(match self.below(3) {
                0 => format!("... on {ty} {{ {inner} }}"),
                1 => format!("... {{ {inner} }}"),
                _ => format!("... @include(if: $yes) {{ {inner} }}"),
            });
        }
        if self.chance(12) {
            let inner = self.selection_flat(&available);
            let name = format!("F{}", self.fragments.len());
            self.fragments.push(format!("fragment {name} on {ty} {{ {inner} }}"));
            chosen.push(format!("...{name}"));
        }
        self.shuffle(&mut chosen);
        format!("{{ {} }}", chosen.join(" "))
    }

    fn selection_flat(&mut self, available: &[String]) -> String {
        let count = 1 + self.below(3);
        (0..count)
            .map(|_| available[self.below(available.len())].clone())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `field(args) { … }` with `directive` after its name and arguments.
fn insert_directive(field: &str, directive: &str) -> String {
    let mut end = field.find('{').unwrap_or(field.len());
    if let Some(open) = field[..end].find('(') {
        end = field[open..].find(')').map_or(end, |close| open + close + 1);
    }
    format!("{} {directive} {}", field[..end].trim_end(), &field[end..])
}

/// Where two bodies first differ, with some context.
fn first_difference(a: &str, b: &str) -> String {
    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(120);
    let context = |s: &str| s.get(from..(at + 120).min(s.len())).unwrap_or("").to_owned();
    format!(
        "at byte {at}:\n  fast:    …{}…\n  generic: …{}…",
        context(a),
        context(b)
    )
}

async fn raw(app: &TestApp, token: &str, query: &str, variables: &Value) -> String {
    app.client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("POST /graphql")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn the_fast_path_answers_every_document_byte_for_byte_as_the_generic_executor() {
    let fast = TestApp::spawn().await;
    let generic = TestApp::spawn_beside_with(&fast, &[("GRAPHQL_EXECUTION", "generic")]).await;
    let staff = fast.staff("differential").await;
    let inserted = fast.insert_accounts(staff.organization_id, 8, 3, 3).await;

    // Through the API: an account with a contact, invoices, assets in the
    // yard and in maintenance, and a portal user.
    let account = fast
        .create_account(&staff, "D-1", "Differential Diggers", Some("pat@diggers.example"))
        .await;
    let site = fast.create_location(&staff, &account, "Main yard").await;
    let open = fast
        .create_invoice(
            &staff,
            &account,
            "INV-D1",
            &[("Weekly service", 4, 2500), ("Delivery", 1, 7500)],
        )
        .await;
    fast.create_invoice(&staff, &account, "INV-D2", &[("Rental", 2, 9900)])
        .await;
    for tag in ["YARD-1", "YARD-2", "SITE-1"] {
        let asset = fast.create_asset(&staff, tag).await;
        if tag.starts_with("SITE") {
            fast.deploy(&staff, &asset, Some(&site)).await;
        }
    }
    let portal = fast.invite_and_accept(&staff, &account, None, "Pat Digger").await;

    let variables = json!({
        "account": account,
        "accountId": inserted.accounts[0].to_string(),
        "id": open,
    });

    let mut generator = Generator {
        state: 0x9e37_79b9_7f4a_7c15,
        fragments: Vec::new(),
        aliases: 0,
    };
    let mut corpus: Vec<(String, String)> = Vec::new();
    corpus.extend(readme_documents().into_iter().map(|d| ("README".to_owned(), d)));
    corpus.extend(portal_documents().into_iter().map(|d| ("portal".to_owned(), d)));
    corpus.extend(bench_documents().into_iter().map(|d| ("bench".to_owned(), d)));
    corpus.extend(rule_documents().into_iter().map(|d| ("rule".to_owned(), d)));
    for index in 0..120 {
        corpus.push((format!("generated #{index}"), generator.document(index)));
    }
    assert!(corpus.iter().filter(|(from, _)| from == "README").count() >= 3);

    let mut compared = 0;
    let mut with_errors = 0;
    let mut mismatches = Vec::new();
    let mut messages = std::collections::BTreeMap::<String, usize>::new();
    for (from, document) in &corpus {
        for (who, token) in [("staff", staff.token.as_str()), ("portal user", portal.as_str())] {
            let a = raw(&fast, token, document, &variables).await;
            let b = raw(&generic, token, document, &variables).await;
            let parsed: Value = serde_json::from_str(&a).expect("a JSON answer");
            assert!(
                parsed.get("data").is_some_and(|d| !d.is_null()) || parsed.get("errors").is_some(),
                "{from} as {who}: no data and no errors: {a}"
            );
            if let Some(errors) = parsed.get("errors") {
                with_errors += 1;
                let message = errors[0]["message"].as_str().unwrap_or("").to_owned();
                *messages.entry(message).or_insert(0) += 1;
            }
            compared += 1;
            if a != b {
                mismatches.push(format!("{from} as {who}:\n{document}\n{}", first_difference(&a, &b)));
            }
        }
    }
    println!(
        "{compared} answers compared ({with_errors} with errors), {} differ",
        mismatches.len()
    );
    for (message, count) in &messages {
        println!("  {count} × {message}");
    }
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches.iter().take(6).cloned().collect::<Vec<_>>().join("\n\n")
    );
    // The corpus reaches errors inside lists, not only clean answers.
    assert!(with_errors >= 5, "only {with_errors} answers had errors");
}
