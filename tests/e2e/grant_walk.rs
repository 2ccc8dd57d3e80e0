//! The grant walk: a portal user granted one location of a two-location
//! account never sees the other location's rows, nor another account's,
//! through any path of the schema — nested fields included.
//!
//! The test lists no fields and does not know how grants are applied
//! (resolver filters today, SQL tomorrow). It introspects the schema as staff
//! and walks it as the portal user, breadth first over the answers:
//!
//! - Each round takes every path that answered with an object and selects
//!   all of that object's fields: scalars and enums as leaves, object fields
//!   with `__typename` (the next round walks into them). Every sensible
//!   argument is tried: each arranged id of the right type (so `location(id:)`
//!   is asked for both locations and the other account's), each enum value.
//! - A path that answers null, `[]` or an error is not walked further:
//!   nothing can leak beneath it. A path that answers objects already walked
//!   (the same ids through the same field, e.g. the account reached from
//!   `Location.account` a second time) is not walked again either: a field's
//!   answer depends on its object, its arguments and the viewer, not on the
//!   path. So `location → account → locations { id }` goes up to the account
//!   and back down once, and the walk ends in a few rounds instead of
//!   enumerating every path. A field is also followed at most once per path,
//!   within the api's depth limit ([`MAX_DEPTH`]); selections are packed
//!   into documents under its complexity limit ([`MAX_COMPLEXITY`]).
//! - A field that answers an error (FORBIDDEN) is cut out of its document
//!   and the document asked again, so that a staff-only non-null field
//!   cannot null out its siblings' answers.
//!
//! Then: no answer carries an id, tag, number, name or email of the other
//! location's rows or of the other account; the granted location's rows did
//! appear; every `balanceDue` is exactly the granted location's open
//! invoices; every connection's `totalCount` is the rows it shows; and every
//! object type reachable from `Query` answered with data at least once, sits
//! behind a field that answered only errors, or is listed in [`NO_DATA`] with
//! the reason — so a new type or nested field is walked automatically, or
//! fails this test by name.

use std::collections::{BTreeMap, BTreeSet};

use api::graphql::schema::{MAX_COMPLEXITY, MAX_DEPTH};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Staff, TestApp};

/// Object types a location-only portal user never gets an object of, with
/// no error to show for it either, and why that is fine.
const NO_DATA: &[(&str, &str)] = &[
    (
        "StaffUser",
        "the viewer union's other member: a portal user is never a staff user",
    ),
    (
        "InvitationPreview",
        "answers only for a live invitation token, which the walk does not hold; it shows no rows",
    ),
];

/// `(what, value)`: a string an answer must (or must never) contain.
type Marks = Vec<(String, String)>;

/// The arranged organization, and who may see what.
struct World {
    app: TestApp,
    staff: Staff,
    /// The session of the portal user granted only the north location.
    portal: String,
    /// Every arranged row's id, by GraphQL type, with a label for aliases.
    ids: BTreeMap<String, Vec<(String, String)>>,
    /// What the portal user must see (the walk did reach it).
    visible: Marks,
    /// What the portal user must never see.
    hidden: Marks,
    /// The north location's open invoices, all the portal user may owe.
    balance_cents: i64,
}

/// `createInvoice` billed to `location` (or the whole account) with
/// `(description, quantity, unit price in cents)` lines.
async fn invoice(
    app: &TestApp,
    staff: &Staff,
    account: &str,
    location: Option<&str>,
    number: &str,
    lines: &[(&str, i32, i32)],
) -> String {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(d, q, c)| json!({"description": d, "quantity": q, "unitPriceCents": c}))
        .collect();
    app.gql_string(
        staff.auth(),
        "mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }",
        json!({"input": {
            "accountId": account, "locationId": location, "number": number,
            "issuedOn": "2026-11-01", "dueOn": "2026-12-01", "currency": "USD", "lines": lines
        }}),
        &["createInvoice", "id"],
    )
    .await
}

/// Pays `invoice` in full as `portal`; returns the payment's id and gateway reference.
async fn pay(app: &TestApp, portal: &str, invoice: &str) -> (String, String) {
    let paid = app
        .gql_ok(
            Some(portal),
            "mutation($i: ID!, $k: String!) { payInvoice(invoiceId: $i, paymentMethodToken: \"tok_visa\", idempotencyKey: $k) { id status gatewayReference } }",
            json!({"i": invoice, "k": Uuid::new_v4().to_string()}),
        )
        .await;
    let payment = &paid["payInvoice"];
    assert_eq!(payment["status"], "SUCCEEDED", "{paid:#}");
    (
        payment["id"].as_str().expect("payment id").to_owned(),
        payment["gatewayReference"]
            .as_str()
            .expect("gateway reference")
            .to_owned(),
    )
}

async fn deployed_asset(app: &TestApp, staff: &Staff, tag: &str, location: &str) -> String {
    let asset = app.create_asset(staff, tag).await;
    app.deploy(staff, &asset, Some(location)).await;
    asset
}

async fn viewer_id(app: &TestApp, portal: &str) -> String {
    app.gql_string(
        Some(portal),
        "{ viewer { ... on PortalUser { id } } }",
        json!({}),
        &["viewer", "id"],
    )
    .await
}

/// One organization: the two-site account (north granted, south not), and
/// an account the portal user has no grant on; assets deployed at each
/// location and one in the yard; invoices billed to each location (open,
/// and paid through the portal) and one to the two-site account as a whole;
/// asset requests at each location.
async fn arrange() -> World {
    let app = TestApp::spawn().await;
    let staff = app.staff("walk").await;
    let two_sites = app
        .create_account(
            &staff,
            "TWO-SITES-1",
            "Two Sites Walk Co",
            Some("owner@twosites.example"),
        )
        .await;
    let north = app.create_location(&staff, &two_sites, "North Walk Site").await;
    let south = app.create_location(&staff, &two_sites, "South Walk Site").await;
    let ungranted = app
        .create_account(
            &staff,
            "UNGRANTED-1",
            "Ungranted Walk Co",
            Some("owner@ungranted.example"),
        )
        .await;
    let ungranted_site = app.create_location(&staff, &ungranted, "Ungranted Walk Site").await;
    let asset_type = app.asset_type_id(&staff).await;

    let north_asset = deployed_asset(&app, &staff, "GW-NORTH-ASSET", &north).await;
    let south_asset = deployed_asset(&app, &staff, "GW-SOUTH-ASSET", &south).await;
    let ungranted_asset = deployed_asset(&app, &staff, "GW-UNGRANTED-ASSET", &ungranted_site).await;
    let yard_asset = app.create_asset(&staff, "GW-YARD-ASSET").await;

    let north_open = invoice(
        &app,
        &staff,
        &two_sites,
        Some(&north),
        "GW-NORTH-OPEN",
        &[("Rental", 1, 10_000), ("Service", 1, 2_345)],
    )
    .await;
    let north_paid = invoice(
        &app,
        &staff,
        &two_sites,
        Some(&north),
        "GW-NORTH-PAID",
        &[("Rental", 2, 500)],
    )
    .await;
    // Amounts differ from the north site's, so a leaked balance shows.
    let south_open = invoice(
        &app,
        &staff,
        &two_sites,
        Some(&south),
        "GW-SOUTH-OPEN",
        &[("Rental", 1, 60_000), ("Service", 3, 2_600)],
    )
    .await;
    let south_paid = invoice(
        &app,
        &staff,
        &two_sites,
        Some(&south),
        "GW-SOUTH-PAID",
        &[("Rental", 1, 2_000)],
    )
    .await;
    // Billed to no location: a location grant does not cover it.
    let whole_open = invoice(
        &app,
        &staff,
        &two_sites,
        None,
        "GW-WHOLE-OPEN",
        &[("Yard fee", 1, 500_000)],
    )
    .await;
    let ungranted_open = invoice(
        &app,
        &staff,
        &ungranted,
        Some(&ungranted_site),
        "GW-UNGRANTED-OPEN",
        &[("Rental", 1, 7_700)],
    )
    .await;
    let ungranted_paid = invoice(
        &app,
        &staff,
        &ungranted,
        Some(&ungranted_site),
        "GW-UNGRANTED-PAID",
        &[("Rental", 1, 3_300)],
    )
    .await;
    app.gql_ok(
        staff.auth(),
        "mutation { setOnlinePayments(enabled: true) { onlinePaymentsEnabled } }",
        json!({}),
    )
    .await;

    // The account's owner (whole account) and the other account's owner
    // arrange what the north manager must not see; then the contact on file
    // becomes the north manager, who is granted the north site only.
    let owner = app.invite_and_accept(&staff, &two_sites, None, "Two Sites Owner").await;
    let ungranted_owner = app.invite_and_accept(&staff, &ungranted, None, "Ungranted Owner").await;
    app.gql_ok(
        staff.auth(),
        "mutation($a: ID!) { updateAccountContact(accountId: $a, input: {email: \"north.manager@twosites.example\"}) { id } }",
        json!({"a": two_sites}),
    )
    .await;
    let portal = app
        .invite_and_accept(&staff, &two_sites, Some(vec![&north]), "North Manager")
        .await;

    let (north_payment, north_reference) = pay(&app, &portal, &north_paid).await;
    let (south_payment, south_reference) = pay(&app, &owner, &south_paid).await;
    let (ungranted_payment, ungranted_reference) = pay(&app, &ungranted_owner, &ungranted_paid).await;
    let north_request = app.request_asset(&portal, &north, &asset_type).await;
    // At the granted site, by someone else: visible, its requester not.
    let owners_north_request = app.request_asset(&owner, &north, &asset_type).await;
    let south_request = app.request_asset(&owner, &south, &asset_type).await;
    let ungranted_request = app.request_asset(&ungranted_owner, &ungranted_site, &asset_type).await;
    let portal_user = viewer_id(&app, &portal).await;
    let owner_user = viewer_id(&app, &owner).await;
    let ungranted_user = viewer_id(&app, &ungranted_owner).await;

    let labelled = |rows: &[(&str, &String)]| -> Vec<(String, String)> {
        rows.iter().map(|(l, v)| ((*l).to_owned(), (*v).clone())).collect()
    };
    let ids = BTreeMap::from([
        (
            "Account".to_owned(),
            labelled(&[("twoSites", &two_sites), ("ungranted", &ungranted)]),
        ),
        (
            "Location".to_owned(),
            labelled(&[("north", &north), ("south", &south), ("ungranted", &ungranted_site)]),
        ),
        (
            "Asset".to_owned(),
            labelled(&[
                ("north", &north_asset),
                ("south", &south_asset),
                ("ungranted", &ungranted_asset),
                ("yard", &yard_asset),
            ]),
        ),
        (
            "Invoice".to_owned(),
            labelled(&[
                ("northOpen", &north_open),
                ("northPaid", &north_paid),
                ("southOpen", &south_open),
                ("southPaid", &south_paid),
                ("wholeOpen", &whole_open),
                ("ungrantedOpen", &ungranted_open),
                ("ungrantedPaid", &ungranted_paid),
            ]),
        ),
        (
            "Payment".to_owned(),
            labelled(&[
                ("north", &north_payment),
                ("south", &south_payment),
                ("ungranted", &ungranted_payment),
            ]),
        ),
        (
            "AssetRequest".to_owned(),
            labelled(&[
                ("north", &north_request),
                ("ownersNorth", &owners_north_request),
                ("south", &south_request),
                ("ungranted", &ungranted_request),
            ]),
        ),
        ("AssetType".to_owned(), labelled(&[("first", &asset_type)])),
        (
            "PortalUser".to_owned(),
            labelled(&[
                ("portal", &portal_user),
                ("owner", &owner_user),
                ("ungranted", &ungranted_user),
            ]),
        ),
    ]);
    let marks = |rows: &[(&str, &str)]| -> Marks {
        rows.iter()
            .map(|(what, value)| ((*what).to_owned(), (*value).to_owned()))
            .collect()
    };
    let visible = marks(&[
        ("the two-site account's id", &two_sites),
        ("the north location's id", &north),
        ("the north location's name", "North Walk Site"),
        ("the north asset's id", &north_asset),
        ("the north asset's tag", "GW-NORTH-ASSET"),
        ("the north open invoice's id", &north_open),
        ("the north open invoice's number", "GW-NORTH-OPEN"),
        ("the north paid invoice's id", &north_paid),
        ("the north paid invoice's number", "GW-NORTH-PAID"),
        ("the north payment's id", &north_payment),
        ("the north payment's reference", &north_reference),
        ("the north manager's request", &north_request),
        ("the owner's request at the north site", &owners_north_request),
        ("the portal user's own id", &portal_user),
    ]);
    let hidden = marks(&[
        ("the south location's id", &south),
        ("the south location's name", "South Walk Site"),
        ("the south asset's id", &south_asset),
        ("the south asset's tag", "GW-SOUTH-ASSET"),
        ("the yard asset's id", &yard_asset),
        ("the yard asset's tag", "GW-YARD-ASSET"),
        ("the south open invoice's id", &south_open),
        ("the south open invoice's number", "GW-SOUTH-OPEN"),
        ("the south paid invoice's id", &south_paid),
        ("the south paid invoice's number", "GW-SOUTH-PAID"),
        ("the whole-account invoice's id", &whole_open),
        ("the whole-account invoice's number", "GW-WHOLE-OPEN"),
        ("the south payment's id", &south_payment),
        ("the south payment's reference", &south_reference),
        ("the south request's id", &south_request),
        ("the account owner's id", &owner_user),
        ("the account owner's email", "owner@twosites.example"),
        ("the account owner's name", "Two Sites Owner"),
        ("the ungranted account's id", &ungranted),
        ("the ungranted account's number", "UNGRANTED-1"),
        ("the ungranted account's name", "Ungranted Walk Co"),
        ("the ungranted account's contact email", "owner@ungranted.example"),
        ("the ungranted location's id", &ungranted_site),
        ("the ungranted location's name", "Ungranted Walk Site"),
        ("the ungranted asset's id", &ungranted_asset),
        ("the ungranted asset's tag", "GW-UNGRANTED-ASSET"),
        ("the ungranted open invoice's id", &ungranted_open),
        ("the ungranted open invoice's number", "GW-UNGRANTED-OPEN"),
        ("the ungranted paid invoice's id", &ungranted_paid),
        ("the ungranted paid invoice's number", "GW-UNGRANTED-PAID"),
        ("the ungranted payment's id", &ungranted_payment),
        ("the ungranted payment's reference", &ungranted_reference),
        ("the ungranted request's id", &ungranted_request),
        ("the ungranted owner's id", &ungranted_user),
        ("the ungranted owner's name", "Ungranted Owner"),
    ]);
    World {
        app,
        staff,
        portal,
        ids,
        visible,
        hidden,
        balance_cents: 12_345,
    }
}

// ---------------------------------------------------------------------------
// The schema, as introspection tells it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    /// A union or an interface: walked through its possible types.
    Abstract,
    /// A scalar or an enum.
    Leaf,
    Input,
}

struct Shape {
    named: String,
    required: bool,
    list: bool,
}

struct Arg {
    name: String,
    shape: Shape,
}

struct Field {
    name: String,
    args: Vec<Arg>,
    ty: String,
}

struct Type {
    kind: Kind,
    fields: Vec<Field>,
    possible: Vec<String>,
    values: Vec<String>,
}

struct Schema {
    query: String,
    types: BTreeMap<String, Type>,
}

const INTROSPECTION: &str = "query GrantWalkSchema { __schema { queryType { name } types { kind name \
    fields(includeDeprecated: true) { name args { name type { ...Ref } } type { ...Ref } } \
    possibleTypes { name } enumValues(includeDeprecated: true) { name } } } } \
    fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

fn shape(ty: &Value) -> Shape {
    let required = ty["kind"] == "NON_NULL";
    let mut list = false;
    let mut ty = ty;
    while matches!(ty["kind"].as_str(), Some("NON_NULL" | "LIST")) {
        list |= ty["kind"] == "LIST";
        ty = &ty["ofType"];
    }
    let named = ty["name"]
        .as_str()
        .unwrap_or_else(|| panic!("a type wrapped deeper than the grant walk's introspection reads: {ty}"));
    Shape {
        named: named.to_owned(),
        required,
        list,
    }
}

/// Reads the schema by introspection over HTTP, as staff (portal users may
/// lose introspection; staff keep it).
async fn introspect(app: &TestApp, staff: &Staff) -> Schema {
    let data = app.gql_ok(staff.auth(), INTROSPECTION, json!({})).await;
    let schema = &data["__schema"];
    let mut types = BTreeMap::new();
    for ty in schema["types"].as_array().expect("types") {
        let name = ty["name"].as_str().expect("type name");
        if name.starts_with("__") {
            continue;
        }
        let kind = match ty["kind"].as_str().expect("kind") {
            "OBJECT" => Kind::Object,
            "UNION" | "INTERFACE" => Kind::Abstract,
            "SCALAR" | "ENUM" => Kind::Leaf,
            "INPUT_OBJECT" => Kind::Input,
            other => panic!("the grant walk does not know the type kind {other} (of {name})"),
        };
        let fields = ty["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| Field {
                        name: f["name"].as_str().expect("field name").to_owned(),
                        args: f["args"]
                            .as_array()
                            .expect("args")
                            .iter()
                            .map(|a| Arg {
                                name: a["name"].as_str().expect("arg name").to_owned(),
                                shape: shape(&a["type"]),
                            })
                            .collect(),
                        ty: shape(&f["type"]).named,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let names = |key: &str| -> Vec<String> {
            ty[key].as_array().map_or_else(Vec::new, |xs| {
                xs.iter()
                    .map(|x| x["name"].as_str().expect("name").to_owned())
                    .collect()
            })
        };
        types.insert(
            name.to_owned(),
            Type {
                kind,
                fields,
                possible: names("possibleTypes"),
                values: names("enumValues"),
            },
        );
    }
    Schema {
        query: schema["queryType"]["name"].as_str().expect("query type").to_owned(),
        types,
    }
}

impl Schema {
    fn ty(&self, name: &str) -> &Type {
        self.types
            .get(name)
            .unwrap_or_else(|| panic!("introspection names the type {name} but does not describe it"))
    }

    /// The object types reachable from `Query` through fields `open` lets through.
    fn reachable(&self, open: impl Fn(&str, &str) -> bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::from([self.query.clone()]);
        let mut todo = vec![self.query.clone()];
        while let Some(name) = todo.pop() {
            let ty = self.ty(&name);
            let next: Vec<String> = match ty.kind {
                Kind::Object => ty
                    .fields
                    .iter()
                    .filter(|f| matches!(self.ty(&f.ty).kind, Kind::Object | Kind::Abstract))
                    .filter(|f| open(&name, &f.name))
                    .map(|f| f.ty.clone())
                    .collect(),
                Kind::Abstract => ty.possible.clone(),
                Kind::Leaf | Kind::Input => Vec::new(),
            };
            for n in next {
                if seen.insert(n.clone()) {
                    todo.push(n);
                }
            }
        }
        seen.retain(|n| self.ty(n).kind == Kind::Object);
        seen
    }
}

// ---------------------------------------------------------------------------
// Selections.

/// One step of a path into an answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A field under its response key (an alias when it takes arguments).
    Field { key: String, name: String, args: String },
    /// An inline fragment on one of an abstract type's possible types.
    On(String),
}

impl Step {
    fn field(name: &str) -> Self {
        Self::Field {
            key: name.to_owned(),
            name: name.to_owned(),
            args: String::new(),
        }
    }
}

/// A selection set: paths merged into one tree.
#[derive(Debug, Default, Clone)]
struct Tree(BTreeMap<Step, Tree>);

impl Tree {
    fn insert(&mut self, path: &[Step]) {
        if let Some((first, rest)) = path.split_first() {
            self.0.entry(first.clone()).or_default().insert(rest);
        }
    }

    fn merge(&mut self, other: &Self) {
        for (step, tree) in &other.0 {
            self.0.entry(step.clone()).or_default().merge(tree);
        }
    }

    /// What the api's complexity limit counts: 1 per field, and a list's
    /// selection times its page size (`first`) or, for the short lists
    /// without pages, their bound (see `api::graphql::connection`).
    fn complexity(&self) -> usize {
        self.0
            .iter()
            .map(|(step, tree)| match step {
                Step::Field { name, args, .. } => 1 + rows_counted(name, args) * tree.complexity(),
                Step::On(_) => tree.complexity(),
            })
            .sum()
    }

    /// Cuts the fields at response keys `keys` (fragments are looked through),
    /// and any selection left empty by it; whether anything was cut.
    fn cut(&mut self, keys: &[String]) -> bool {
        let Some((first, rest)) = keys.split_first() else {
            return false;
        };
        let mut cut = false;
        let mut emptied = Vec::new();
        for (step, tree) in &mut self.0 {
            let here = match step {
                Step::On(_) => tree.cut(keys),
                Step::Field { key, .. } if key == first => {
                    if rest.is_empty() {
                        emptied.push(step.clone());
                        cut = true;
                        continue;
                    }
                    tree.cut(rest)
                }
                Step::Field { .. } => false,
            };
            if here && tree.0.is_empty() {
                emptied.push(step.clone());
            }
            cut |= here;
        }
        for step in emptied {
            self.0.remove(&step);
        }
        cut
    }

    fn render(&self, out: &mut String) {
        for (step, tree) in &self.0 {
            match step {
                Step::Field { key, name, args } => {
                    if key != name {
                        out.push_str(key);
                        out.push_str(": ");
                    }
                    out.push_str(name);
                    out.push_str(args);
                }
                Step::On(ty) => {
                    out.push_str("... on ");
                    out.push_str(ty);
                }
            }
            if !tree.0.is_empty() {
                out.push_str(" { ");
                tree.render(out);
                out.push('}');
            }
            out.push(' ');
        }
    }

    fn document(&self) -> String {
        let mut out = String::from("query GrantWalk { ");
        self.render(&mut out);
        out.push('}');
        out
    }
}

/// The answers at `path`: objects (or leaves), lists flattened, nulls dropped.
fn values_at<'v>(data: &'v Value, path: &[Step]) -> Vec<&'v Value> {
    fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
        match value {
            Value::Null => {}
            Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
            _ => out.push(value),
        }
    }
    let mut here = vec![data];
    for step in path {
        let mut next = Vec::new();
        for value in here {
            match step {
                Step::Field { key, .. } => flatten(&value[key.as_str()], &mut next),
                Step::On(ty) if value["__typename"] == ty.as_str() => next.push(value),
                Step::On(_) => {}
            }
        }
        here = next;
    }
    here
}

fn keys(path: &[Step]) -> Vec<String> {
    path.iter()
        .filter_map(|step| match step {
            Step::Field { key, .. } => Some(key.clone()),
            Step::On(_) => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The walk.

/// A path that answered with an object of type `ty`, to select all of its fields.
#[derive(Debug, Clone)]
struct Item {
    path: Vec<Step>,
    ty: String,
    /// The `(type, field)`s already followed on the way here.
    followed: BTreeSet<(String, String)>,
    /// What the answer here is: for a type with ids, the field it came
    /// through and the ids it answered; else the parent's identity and the
    /// response key. An identity is walked once.
    identity: String,
}

impl Item {
    fn depth(&self) -> usize {
        keys(&self.path).len()
    }
}

/// An object field selected (with `__typename`) under an item.
struct Child {
    /// `(parent type, field)`.
    edge: (String, String),
    at: Vec<Step>,
    abstract_type: bool,
    followed: BTreeSet<(String, String)>,
    /// The parent item's identity.
    parent: String,
}

/// One request: its selections, and the object fields it tries.
#[derive(Default)]
struct Doc {
    tree: Tree,
    children: Vec<Child>,
}

/// What became of one object field, over the whole walk.
#[derive(Debug, Default)]
struct EdgeStat {
    selected: bool,
    data: bool,
    errors: BTreeSet<String>,
}

#[derive(Default)]
struct Walk {
    rounds: usize,
    requests: usize,
    fields: usize,
    /// Every object type an answer carried (`__typename`).
    with_data: BTreeSet<String>,
    /// The identities of the items walked (see [`Item::identity`]).
    walked: BTreeSet<String>,
    edges: BTreeMap<(String, String), EdgeStat>,
    /// `what at path`, for each hidden mark an answer carried.
    leaks: BTreeSet<String>,
    seen: BTreeSet<String>,
    /// Balances and counts that disagree with the grant.
    broken: BTreeSet<String>,
    /// Paths not walked because the api's complexity limit refuses them.
    too_costly: Vec<Vec<String>>,
}

/// A GraphQL name from a label: letters, digits and `_`.
fn name_part(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The ways to call `parent.field`: `(response key, rendered arguments)`.
/// Required arguments take every candidate; each optional one is tried
/// alone (each id of its type, each enum value), besides none at all.
fn calls(schema: &Schema, world: &World, parent: &str, field: &Field) -> Vec<(String, String)> {
    let candidates = |arg: &Arg| -> Vec<(String, String)> {
        let target = schema.ty(&arg.shape.named);
        let wrap = |literal: String| {
            if arg.shape.list {
                format!("[{literal}]")
            } else {
                literal
            }
        };
        let values: Vec<(String, String)> = match (arg.shape.named.as_str(), target.kind) {
            ("ID", _) => {
                let of = if arg.name == "id" {
                    field.ty.clone()
                } else if let Some(stem) = arg.name.strip_suffix("Id").or_else(|| arg.name.strip_suffix("Ids")) {
                    let mut chars = stem.chars();
                    chars
                        .next()
                        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                } else {
                    panic!(
                        "the grant walk cannot tell what `{}` of `{parent}.{}` identifies: teach `calls` its type",
                        arg.name, field.name
                    )
                };
                let ids = world.ids.get(&of).unwrap_or_else(|| {
                    panic!(
                        "`{parent}.{}` takes `{}: ID` of `{of}`, and the grant walk arranged no `{of}` rows: add them to `arrange`",
                        field.name, arg.name
                    )
                });
                ids.iter()
                    .map(|(label, id)| (label.clone(), json!(id).to_string()))
                    .collect()
            }
            (_, Kind::Leaf) if !target.values.is_empty() => {
                target.values.iter().map(|v| (v.clone(), v.clone())).collect()
            }
            ("Boolean", _) => vec![
                ("true".to_owned(), "true".to_owned()),
                ("false".to_owned(), "false".to_owned()),
            ],
            ("String", _) if arg.shape.required => vec![("x".to_owned(), "\"grant-walk\"".to_owned())],
            ("Int", _) if arg.shape.required => vec![("1".to_owned(), "1".to_owned())],
            _ if arg.shape.required => panic!(
                "the grant walk cannot fill the required argument `{}: {}` of `{parent}.{}`: teach `calls` a value",
                arg.name, arg.shape.named, field.name
            ),
            // Paging, search text, input objects: left out.
            _ => Vec::new(),
        };
        values
            .into_iter()
            .map(|(label, literal)| {
                (
                    format!("{}_{}", arg.name, name_part(&label)),
                    format!("{}: {}", arg.name, wrap(literal)),
                )
            })
            .collect()
    };
    // Every combination of the required arguments' candidates.
    let mut bases: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for arg in field.args.iter().filter(|a| a.shape.required) {
        let options = candidates(arg);
        bases = bases
            .into_iter()
            .flat_map(|base| {
                options.iter().map(move |option| {
                    let mut call = base.clone();
                    call.push(option.clone());
                    call
                })
            })
            .collect();
    }
    let optional: Vec<(String, String)> = field
        .args
        .iter()
        .filter(|a| !a.shape.required)
        .flat_map(candidates)
        .collect();
    // Lists take small pages: the complexity limit multiplies a list's
    // selection by its page size, and the arranged rows are few.
    let page = field
        .args
        .iter()
        .any(|a| a.name == "first")
        .then(|| format!("first: {WALK_PAGE}"));
    let mut calls = Vec::new();
    for base in bases {
        let variants = std::iter::once(None).chain(optional.iter().map(Some));
        for extra in variants {
            let call: Vec<&(String, String)> = base.iter().chain(extra).collect();
            let mut args: Vec<&str> = call.iter().map(|(_, a)| a.as_str()).collect();
            args.extend(page.as_deref());
            let key = std::iter::once(field.name.clone())
                .chain(call.iter().map(|(label, _)| label.clone()))
                .collect::<Vec<_>>()
                .join("__");
            if args.is_empty() {
                calls.push((key, String::new()));
            } else {
                calls.push((key, format!("({})", args.join(", "))));
            }
        }
    }
    calls
}

/// The page size of the walk's lists.
const WALK_PAGE: usize = 3;

/// The rows the api's complexity counts for a field called so: a page's
/// `first`, a short list's bound, else one.
fn rows_counted(name: &str, args: &str) -> usize {
    if args.contains("first: ") {
        WALK_PAGE
    } else {
        match name {
            "lines" => service::invoices::MAX_LINES,
            "payments" => service::invoices::MAX_PAYMENTS_SHOWN,
            "portalUsers" | "invitations" | "locations" | "assetTypes" => 20,
            _ => 1,
        }
    }
}

/// Whether objects of `ty` say who they are (an `id` without arguments).
fn has_id(ty: &Type) -> bool {
    ty.kind == Kind::Object && ty.fields.iter().any(|f| f.name == "id" && f.args.is_empty())
}

/// All of an item's fields: its leaves, and each object field (not yet
/// followed on its path, and within the depth limit) with `__typename`.
fn expand(schema: &Schema, world: &World, item: &Item) -> (Tree, Vec<Child>) {
    let mut tree = Tree::default();
    let mut children = Vec::new();
    let with = |path: &[Step], step: Step| {
        let mut path = path.to_vec();
        path.push(step);
        path
    };
    tree.insert(&with(&item.path, Step::field("__typename")));
    for field in &schema.ty(&item.ty).fields {
        let target = schema.ty(&field.ty);
        let object = match target.kind {
            Kind::Leaf => false,
            Kind::Object | Kind::Abstract => true,
            Kind::Input => panic!("`{}.{}` answers an input type", item.ty, field.name),
        };
        let edge = (item.ty.clone(), field.name.clone());
        if object && (item.followed.contains(&edge) || item.depth() + 2 > MAX_DEPTH) {
            continue;
        }
        for (key, args) in calls(schema, world, &item.ty, field) {
            let at = with(
                &item.path,
                Step::Field {
                    key,
                    name: field.name.clone(),
                    args,
                },
            );
            if !object {
                tree.insert(&at);
                continue;
            }
            tree.insert(&with(&at, Step::field("__typename")));
            if has_id(target) {
                tree.insert(&with(&at, Step::field("id")));
            }
            let mut followed = item.followed.clone();
            followed.insert(edge.clone());
            children.push(Child {
                edge: edge.clone(),
                at,
                abstract_type: target.kind == Kind::Abstract,
                followed,
                parent: item.identity.clone(),
            });
        }
    }
    (tree, children)
}

/// Every string in `value` containing `needle`, by JSON path.
fn paths_containing(value: &Value, needle: &str, at: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains(needle) => out.push(at.to_owned()),
        Value::Object(map) => {
            for (k, v) in map {
                paths_containing(v, needle, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                paths_containing(v, needle, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every object in `value`, with its JSON path.
fn objects<'v>(value: &'v Value, at: &str, out: &mut Vec<(String, &'v serde_json::Map<String, Value>)>) {
    match value {
        Value::Object(map) => {
            out.push((at.to_owned(), map));
            for (k, v) in map {
                objects(v, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                objects(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Asks `tree` as the portal user; a field that answers an error is cut out
/// and the rest asked again. Returns every answer and the errors' paths and codes.
async fn ask(app: &TestApp, token: &str, mut tree: Tree) -> (Vec<Value>, Vec<(Vec<String>, String)>, usize) {
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    let mut fields = 0;
    for _ in 0..8 {
        if tree.0.is_empty() {
            return (answers, errors, fields);
        }
        let document = tree.document();
        fields += tree.complexity();
        let answer = app.gql(Some(token), &document, json!({})).await;
        let failed = answer["errors"].as_array().cloned().unwrap_or_default();
        answers.push(answer);
        if failed.is_empty() {
            return (answers, errors, fields);
        }
        let mut cut = BTreeSet::new();
        for error in failed {
            let path: Vec<String> = error["path"]
                .as_array()
                .map(|p| p.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            assert!(
                !path.is_empty(),
                "the api rejected a grant-walk document ({} fields): {error}\n{document}",
                tree.complexity()
            );
            let code = error["extensions"]["code"].as_str().unwrap_or("<no code>").to_owned();
            // One error per list element: the first cuts the field for all.
            if cut.insert(path.clone()) {
                assert!(
                    tree.cut(&path),
                    "an error at {path:?} that the document does not select: {error}"
                );
                errors.push((path, code));
            }
        }
    }
    panic!("a grant-walk document kept answering errors after 8 cuts");
}

impl Walk {
    async fn run(world: &World, schema: &Schema) -> Self {
        let mut walk = Self::default();
        let mut frontier = vec![Item {
            path: Vec::new(),
            ty: schema.query.clone(),
            followed: BTreeSet::new(),
            identity: schema.query.clone(),
        }];
        while !frontier.is_empty() {
            walk.rounds += 1;
            let mut docs: Vec<Doc> = Vec::new();
            let mut current = Doc::default();
            for item in &frontier {
                let (tree, children) = expand(schema, world, item);
                if tree.complexity() > MAX_COMPLEXITY {
                    // The api refuses such a document before anything runs
                    // (e.g. invoice → payments → invoice → lines: 100 × 500
                    // rows counted), so nothing can leak through this path;
                    // its types are reached by shorter ones.
                    walk.too_costly.push(keys(&item.path));
                    continue;
                }
                let mut merged = current.tree.clone();
                merged.merge(&tree);
                if merged.complexity() > MAX_COMPLEXITY && !current.tree.0.is_empty() {
                    docs.push(std::mem::take(&mut current));
                    merged = tree;
                }
                current.tree = merged;
                for child in &children {
                    walk.edges.entry(child.edge.clone()).or_default().selected = true;
                }
                current.children.extend(children);
            }
            docs.push(current);
            let answers =
                futures::future::join_all(docs.iter().map(|doc| ask(&world.app, &world.portal, doc.tree.clone())))
                    .await;
            let mut next = Vec::new();
            for (doc, (answers, errors, fields)) in docs.iter().zip(answers) {
                walk.requests += answers.len();
                walk.fields += fields;
                for answer in &answers {
                    walk.check(world, answer);
                }
                let data = answers.last().map_or(Value::Null, |a| a["data"].clone());
                for child in &doc.children {
                    let at_keys = keys(&child.at);
                    let stat = walk.edges.entry(child.edge.clone()).or_default();
                    for (path, code) in &errors {
                        if *path == at_keys {
                            stat.errors.insert(code.clone());
                        }
                    }
                    let found = values_at(&data, &child.at);
                    stat.data |= !found.is_empty();
                    let types: BTreeSet<&str> = found.iter().filter_map(|v| v["__typename"].as_str()).collect();
                    for ty in types {
                        let mut path = child.at.clone();
                        if child.abstract_type {
                            path.push(Step::On(ty.to_owned()));
                        }
                        let identity = if child.abstract_type || !has_id(schema.ty(ty)) {
                            format!("{}/{}", child.parent, keys(&path).last().cloned().unwrap_or_default())
                        } else {
                            let ids: BTreeSet<&str> = found.iter().filter_map(|v| v["id"].as_str()).collect();
                            let ids: Vec<&str> = ids.into_iter().collect();
                            format!("{}.{} -> {ty} {}", child.edge.0, child.edge.1, ids.join(","))
                        };
                        if walk.walked.insert(identity.clone()) {
                            next.push(Item {
                                path,
                                ty: ty.to_owned(),
                                followed: child.followed.clone(),
                                identity,
                            });
                        }
                    }
                }
            }
            frontier = next;
        }
        walk
    }

    /// The per-answer checks: leaks, what was seen, balances and counts.
    fn check(&mut self, world: &World, answer: &Value) {
        let text = answer.to_string();
        for (what, value) in &world.hidden {
            if text.contains(value.as_str()) {
                let mut at = Vec::new();
                paths_containing(answer, value, "", &mut at);
                self.leaks.extend(at.into_iter().map(|at| format!("{what} at {at}")));
            }
        }
        for (what, value) in &world.visible {
            if text.contains(value.as_str()) {
                self.seen.insert(what.clone());
            }
        }
        let mut all = Vec::new();
        objects(answer, "", &mut all);
        for (at, object) in all {
            if let Some(ty) = object.get("__typename").and_then(Value::as_str) {
                self.with_data.insert(ty.to_owned());
            }
            if let Some(cents) = object
                .get("balanceDue")
                .and_then(|b| b.get("amountCents"))
                .and_then(Value::as_i64)
                && cents != world.balance_cents
            {
                self.broken.insert(format!(
                    "{at}.balanceDue is {cents} cents, not the north site's open invoices' {}",
                    world.balance_cents
                ));
            }
            if let Some(total) = object.get("totalCount").and_then(Value::as_u64) {
                for rows in ["nodes", "edges"] {
                    if let Some(shown) = object.get(rows).and_then(Value::as_array)
                        && shown.len() as u64 != total
                    {
                        self.broken.insert(format!(
                            "{at}: totalCount {total} but {} {rows} (a count that ignores the grant?)",
                            shown.len()
                        ));
                    }
                }
            }
        }
    }

    /// Object types reachable from `Query` that the walk could not show
    /// anything of, with what to do about each.
    fn uncovered(&self, schema: &Schema) -> (Vec<String>, BTreeSet<String>) {
        let error_only = |ty: &str, field: &str| {
            self.edges
                .get(&(ty.to_owned(), field.to_owned()))
                .is_some_and(|s| !s.data && !s.errors.is_empty())
        };
        let all = schema.reachable(|_, _| true);
        let open = schema.reachable(|ty, field| !error_only(ty, field));
        let behind_errors: BTreeSet<String> = all.difference(&open).cloned().collect();
        let mut problems = Vec::new();
        for ty in &open {
            if *ty == schema.query || self.with_data.contains(ty) || NO_DATA.iter().any(|(t, _)| t == ty) {
                continue;
            }
            let into: Vec<String> = schema
                .types
                .iter()
                .flat_map(|(parent, t)| t.fields.iter().map(move |f| (parent, f)))
                .filter(|(_, f)| f.ty == *ty || schema.ty(&f.ty).possible.contains(ty))
                .map(|(parent, f)| {
                    let how = match self.edges.get(&(parent.clone(), f.name.clone())) {
                        None if self.with_data.contains(parent) => {
                            "never selected: the depth limit or the follow-once rule"
                        }
                        None => "never selected: its type had no data",
                        Some(s) if s.data => "answered, but never with this type",
                        Some(s) if s.errors.is_empty() => "answered only null or []",
                        Some(_) => "answered only errors",
                    };
                    format!("{parent}.{} ({how})", f.name)
                })
                .collect();
            problems.push(format!(
                "`{ty}` is reachable from Query but never answered the location-only portal user with data, so a leak \
                 beneath it could not show. Fields leading to it: {}. Arrange rows of it at both locations in \
                 `arrange`, or, if such a user can never get one, list it in NO_DATA with the reason.",
                into.join(", ")
            ));
        }
        for (ty, _) in NO_DATA {
            if !schema.types.contains_key(*ty) {
                problems.push(format!("NO_DATA names `{ty}`, which the schema no longer has"));
            }
        }
        (problems, behind_errors)
    }
}

#[tokio::test]
async fn a_location_only_portal_user_sees_nothing_of_the_other_location_through_any_path() {
    let world = arrange().await;
    let schema = introspect(&world.app, &world.staff).await;
    let started = std::time::Instant::now();
    let walk = Walk::run(&world, &schema).await;
    let (uncovered, behind_errors) = walk.uncovered(&schema);
    eprintln!(
        "grant walk: {} rounds, {} requests, {} fields in {:?}; object types with data: {:?}; behind errors only: {:?}; \
         {} paths over the complexity limit not walked (first: {:?})",
        walk.rounds,
        walk.requests,
        walk.fields,
        started.elapsed(),
        walk.with_data,
        behind_errors,
        walk.too_costly.len(),
        walk.too_costly.first()
    );

    let leaks: Vec<&str> = walk.leaks.iter().take(20).map(String::as_str).collect();
    assert!(
        leaks.is_empty(),
        "the north-only portal user saw what its grant does not cover ({} places; first {}):\n{}",
        walk.leaks.len(),
        leaks.len(),
        leaks.join("\n")
    );
    assert!(
        walk.broken.is_empty(),
        "answers inconsistent with the grant:\n{}",
        walk.broken.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    );
    let missed: Vec<&str> = world
        .visible
        .iter()
        .map(|(what, _)| what.as_str())
        .filter(|what| !walk.seen.contains(*what))
        .collect();
    assert!(missed.is_empty(), "the walk never showed the granted rows: {missed:?}");
    assert!(uncovered.is_empty(), "{}", uncovered.join("\n"));
}
