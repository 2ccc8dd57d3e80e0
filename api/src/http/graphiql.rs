//! The staff GraphiQL console: the page at `GET /graphql` and the files it loads.
//!
//! Owns the HTML page, its two small first-party scripts, and serving the
//! third-party GraphiQL / React browser bundles that `build.rs` embedded
//! (pinned npm versions from the npm registry, never committed; see
//! `scripts/fetch-graphiql.sh`). Nothing is loaded from a CDN: every URL the
//! page uses is same-origin, and its Content-Security-Policy makes the browser
//! refuse anything else, so the console works on staff networks and offline.
//!
//! When the bundles were not available at build time, the page is a
//! self-contained fallback console (no third-party code) that says how to get
//! GraphiQL and still lets staff sign in and send queries.
//!
//! It must not handle `POST /graphql` nor know the schema beyond the example
//! queries: the caller mounts the page beside the GraphQL handler,
//!
//! ```text
//! Router::new()
//!     .route("/graphql", get(graphiql::graphiql_page).post(graphql_handler))
//!     .merge(graphiql::assets_router())
//! ```

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// What `build.rs` generated: `AVAILABLE`, the pinned versions and the bytes.
mod bundles {
    include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));
}

/// Where GraphQL requests go; the page is served at the same path.
const GRAPHQL_PATH: &str = "/graphql";
/// Every file the page loads lives under this same-origin prefix.
const ASSET_PREFIX: &str = "/graphiql/";

/// Pinned versions are in the URL, so a cached copy can never be stale.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Our own files and the page change with the api: revalidate every time.
const CACHE_REVALIDATE: &str = "no-cache";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// Same-origin only. Styles allow inline because GraphiQL sets style
/// attributes; `data:` covers the fonts and images inlined in its CSS.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The GraphiQL page: serve it for `GET /graphql`.
///
/// With the bundles embedded it is GraphiQL; otherwise a plain fallback
/// console that explains how to get GraphiQL. It posts to `/graphql`.
pub async fn graphiql_page() -> Response {
    html_response(page(bundles_available()))
}

/// `GET /graphiql/…`: the page's scripts and styles, all embedded.
///
/// Third-party bundles carry their pinned version in the path and are
/// cached as immutable; unknown paths (and the bundles, in a build without
/// them) are 404.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .filter(|asset| !asset.body.is_empty())
        .fold(Router::new(), |router, asset: &'static Asset| {
            router.route(&asset.url(), get(move || async move { asset.response() }))
        })
}

/// `GET /graphql` (the page) and `GET /graphiql/…` (its files) in one router.
///
/// Only for a caller that keeps `POST /graphql` on a separate router and
/// merges the two (axum merges the `get` and `post` method routers of the
/// same path); otherwise use [`graphiql_page`] and [`assets_router`].
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(GRAPHQL_PATH, get(graphiql_page))
        .merge(assets_router())
}

/// Whether this build embedded GraphiQL (else `GET /graphql` is the fallback
/// console); worth a warning in the start-up log.
#[must_use]
pub const fn bundles_available() -> bool {
    bundles::AVAILABLE
}

/// One file the page loads.
struct Asset {
    /// Path below [`ASSET_PREFIX`].
    path: String,
    body: &'static [u8],
    content_type: &'static str,
    cache_control: &'static str,
}

impl Asset {
    fn url(&self) -> String {
        format!("{ASSET_PREFIX}{}", self.path)
    }

    fn response(&self) -> Response {
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, self.cache_control),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            self.body,
        )
            .into_response()
    }
}

// Indexes into `ASSETS`, used to build the pages.
const REACT: usize = 0;
const REACT_DOM: usize = 1;
const GRAPHIQL_JS: usize = 2;
const GRAPHIQL_CSS: usize = 3;
const START_GRAPHIQL: usize = 4;
const START_CONSOLE: usize = 5;

static ASSETS: LazyLock<[Asset; 6]> = LazyLock::new(|| {
    let bundle = |path: String, body: &'static [u8], content_type| Asset {
        path,
        body,
        content_type,
        cache_control: CACHE_IMMUTABLE,
    };
    let own = |path: &str, body: &'static str| Asset {
        path: path.to_owned(),
        body: body.as_bytes(),
        content_type: JAVASCRIPT,
        cache_control: CACHE_REVALIDATE,
    };
    [
        bundle(
            format!("react-{}/react.production.min.js", bundles::REACT_VERSION),
            bundles::REACT_JS,
            JAVASCRIPT,
        ),
        bundle(
            format!("react-dom-{}/react-dom.production.min.js", bundles::REACT_DOM_VERSION),
            bundles::REACT_DOM_JS,
            JAVASCRIPT,
        ),
        bundle(
            format!("graphiql-{}/graphiql.min.js", bundles::GRAPHIQL_VERSION),
            bundles::GRAPHIQL_JS,
            JAVASCRIPT,
        ),
        bundle(
            format!("graphiql-{}/graphiql.min.css", bundles::GRAPHIQL_VERSION),
            bundles::GRAPHIQL_CSS,
            CSS,
        ),
        own("portal/start-graphiql.js", START_GRAPHIQL_JS),
        own("portal/start-console.js", START_CONSOLE_JS),
    ]
});

fn html_response(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CACHE_CONTROL, CACHE_REVALIDATE),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (HeaderName::from_static("x-frame-options"), "DENY"),
        ],
        body,
    )
        .into_response()
}

fn page(with_graphiql: bool) -> &'static str {
    static GRAPHIQL: LazyLock<String> = LazyLock::new(graphiql_html);
    static FALLBACK: LazyLock<String> = LazyLock::new(fallback_html);
    if with_graphiql { &GRAPHIQL } else { &FALLBACK }
}

// --- What the console starts with -------------------------------------------

/// One tab the console opens with: the worked operations of README.md's
/// "A first session in GraphiQL", word for word (a test checks README still
/// shows each one). GraphiQL names a tab after its operation, so `title` is
/// the operation's name.
struct Tab {
    title: &'static str,
    query: &'static str,
    variables: &'static str,
}

const SIGN_IN_QUERY: &str = r"# Sign in: put your email and password in Variables
# (below), then run it (Ctrl+Enter). From then on this
# page sends the session's token with every request, on
# every tab (kept in this page only: reload to sign out).
mutation StaffLogin($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) {
    token
    expiresAt
  }
}
";

const ACCOUNTS_QUERY: &str = r"query Accounts {
  accounts(first: 10) {
    totalCount
    nodes {
      id
      number
      name
      contact { name email }
      portalStatus
      balanceDue { formatted }
      locations {
        nodes {
          name
          address { line1 city region }
          assets { nodes { tag status assetType { name } deployedAt } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
";

const INVITE_QUERY: &str = r"mutation Invite($accountId: ID!) {
  inviteToPortal(accountId: $accountId) {
    id status email expiresAt
    delivery { status recipient subject }
  }
}
";

const DELIVERIES_QUERY: &str = r"query FailedEmails {
  emailDeliveries(status: FAILED) {
    nodes { id kind recipient status attempts lastError }
  }
}
";

const ACCESS_QUERY: &str = r"query Access($accountId: ID!) {
  account(id: $accountId) {
    portalStatus
    portalUsers { id email lastSignInAt }
    auditLog(first: 20) { nodes { occurredAt action actor detail } }
  }
}
";

const SIGN_IN_VARIABLES: &str = "{\n  \"email\": \"\",\n  \"password\": \"\"\n}";
const ACCOUNT_VARIABLES: &str = "{\n  \"accountId\": \"<an id from Accounts>\"\n}";

/// The tabs, in order; the first is the one a first visit shows.
const TABS: [Tab; 5] = [
    Tab {
        title: "StaffLogin",
        query: SIGN_IN_QUERY,
        variables: SIGN_IN_VARIABLES,
    },
    Tab {
        title: "Accounts",
        query: ACCOUNTS_QUERY,
        variables: "",
    },
    Tab {
        title: "Invite",
        query: INVITE_QUERY,
        variables: ACCOUNT_VARIABLES,
    },
    Tab {
        title: "FailedEmails",
        query: DELIVERIES_QUERY,
        variables: "",
    },
    Tab {
        title: "Access",
        query: ACCESS_QUERY,
        variables: ACCOUNT_VARIABLES,
    },
];

/// The start-up settings both pages read from a JSON data block (inert:
/// the Content-Security-Policy only runs same-origin script files).
fn config_json() -> String {
    let tabs: Vec<String> = TABS
        .iter()
        .map(|tab| {
            format!(
                "{{\"title\":{},\"query\":{},\"variables\":{}}}",
                json_string(tab.title),
                json_string(tab.query),
                json_string(tab.variables)
            )
        })
        .collect();
    format!(
        "{{\"url\":{},\"tabs\":[{}]}}",
        json_string(GRAPHQL_PATH),
        tabs.join(",")
    )
}

/// A JSON string literal that is also safe inside a `<script>` element.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut previous = '\0';
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `</` could close the script element.
            '/' if previous == '<' => out.push_str("\\/"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
        previous = c;
    }
    out.push('"');
    out
}

// --- The pages ----------------------------------------------------------------

fn graphiql_html() -> String {
    let assets = &*ASSETS;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer Portal · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{graphiql_css}">
<style>html, body {{ height: 100%; margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
<script type="application/json" id="graphiql-config">{config}</script>
<script src="{react}"></script>
<script src="{react_dom}"></script>
<script src="{graphiql_js}"></script>
<script src="{start}"></script>
</body>
</html>
"#,
        graphiql_css = assets[GRAPHIQL_CSS].url(),
        react = assets[REACT].url(),
        react_dom = assets[REACT_DOM].url(),
        graphiql_js = assets[GRAPHIQL_JS].url(),
        start = assets[START_GRAPHIQL].url(),
        config = config_json(),
    )
}

fn fallback_html() -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer Portal · GraphQL console</title>
<link rel="icon" href="data:,">
<style>
  body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }}
  main {{ max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }}
  h1 {{ font-size: 1.35rem; margin: .5rem 0 1rem; }}
  .notice {{ background: #fff6db; border: 1px solid #e8cf7a; border-radius: 6px; padding: .75rem 1rem; }}
  code {{ background: #eceef2; padding: 0 .25em; border-radius: 3px; }}
  .grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-top: 1rem; }}
  label {{ display: block; font-weight: 600; margin: .6rem 0 .2rem; }}
  textarea, input, select {{ box-sizing: border-box; width: 100%; font: 13px/1.4 ui-monospace, monospace;
    padding: .4rem; border: 1px solid #c5cad3; border-radius: 4px; background: #fff; }}
  button {{ font: inherit; padding: .45rem 1.2rem; margin-top: .8rem; border: 0; border-radius: 4px;
    background: #2d5be3; color: #fff; cursor: pointer; }}
  button:disabled {{ background: #8fa5e8; }}
  #status {{ margin-left: .8rem; color: #555; }}
  pre {{ margin: 0; min-height: 24rem; max-height: 75vh; overflow: auto; background: #fff;
    border: 1px solid #c5cad3; border-radius: 4px; padding: .6rem; font-size: 13px; white-space: pre-wrap; }}
  @media (max-width: 800px) {{ .grid {{ grid-template-columns: 1fr; }} }}
</style>
</head>
<body>
<main>
<h1>Customer Portal · GraphQL console</h1>
<p class="notice"><strong>GraphiQL is not available in this build.</strong>
Its browser bundles (npm packages graphiql {graphiql}, react {react}, react-dom {react_dom})
were not available when this api was built, so this is a plain fallback console.
To get GraphiQL, run <code>scripts/fetch-graphiql.sh</code> on a machine with npm and access
to the npm registry, then rebuild the api (<code>cargo build -p api</code>); a build with
<code>PORTAL_GRAPHIQL_OFFLINE=1</code> never fetches them.</p>
<div class="grid">
<section>
<label for="example">Example</label>
<select id="example"></select>
<label for="query">Query</label>
<textarea id="query" rows="16" spellcheck="false"></textarea>
<label for="variables">Variables (JSON)</label>
<textarea id="variables" rows="4" spellcheck="false"></textarea>
<label for="operation">Operation name (when the query has several)</label>
<input id="operation" autocomplete="off" spellcheck="false">
<label for="authorization">Authorization header</label>
<input id="authorization" autocomplete="off" spellcheck="false" placeholder="Bearer &lt;token from staffLogin&gt;">
<button id="run" type="button">Run (Ctrl+Enter)</button><span id="status"></span>
</section>
<section>
<label for="result">Response</label>
<pre id="result" tabindex="0"></pre>
</section>
</div>
</main>
<noscript>This console needs JavaScript.</noscript>
<script type="application/json" id="graphiql-config">{config}</script>
<script src="{start}"></script>
</body>
</html>
"#,
        graphiql = bundles::GRAPHIQL_VERSION,
        react = bundles::REACT_VERSION,
        react_dom = bundles::REACT_DOM_VERSION,
        config = config_json(),
        start = ASSETS[START_CONSOLE].url(),
    )
}

/// Starts GraphiQL with the settings from the page's JSON block, with a
/// fetcher that signs the page in: the token a `staffLogin` answers is sent
/// as `Authorization` with every later request (unless the Headers editor
/// names another), and GraphiQL is given a new fetcher so it loads the schema
/// again, now as staff.
const START_GRAPHIQL_JS: &str = r"// Starts GraphiQL for the Customer Portal api (api/src/http/graphiql.rs).
// React, ReactDOM and GraphiQL were loaded from the api itself, not a CDN.
(function () {
  'use strict';
  var container = document.getElementById('graphiql');
  var root = null;
  var config = null;
  // The session a staffLogin on this page started. In memory only: a reload
  // (or closing the tab) forgets it, and it is never written to storage.
  var token = null;

  function isAuthorization(name) { return name.toLowerCase() === 'authorization'; }

  // The headers to send: the editor's, with the session's token unless the
  // editor names a real Authorization of its own (a placeholder is dropped).
  function withSession(headers) {
    var out = {};
    var own = null;
    Object.keys(headers || {}).forEach(function (name) {
      if (isAuthorization(name)) {
        if (String(headers[name]).indexOf('<') === -1) { own = headers[name]; }
      } else {
        out[name] = headers[name];
      }
    });
    if (own !== null) {
      out.Authorization = own;
    } else if (token !== null) {
      out.Authorization = 'Bearer ' + token;
    }
    return out;
  }

  function remember(result) {
    var session = result && result.data && result.data.staffLogin;
    if (session && typeof session.token === 'string' && session.token !== token) {
      token = session.token;
      // A new fetcher makes GraphiQL introspect again: Docs and completion
      // appear now that the page is signed in.
      window.setTimeout(render, 0);
    }
    return result;
  }

  function makeFetcher() {
    // Plain JSON over HTTP (the api has no incremental delivery): each call
    // answers one promise of the result, which `remember` can read.
    var base = GraphiQL.createFetcher({ url: config.url, enableIncrementalDelivery: false });
    return function (params, options) {
      var next = Object.assign({}, options, { headers: withSession(options && options.headers) });
      var result = base(params, next);
      return result && typeof result.then === 'function' ? result.then(remember) : result;
    };
  }

  function render() {
    root.render(
      React.createElement(GraphiQL, {
        fetcher: makeFetcher(),
        defaultQuery: config.tabs[0].query,
        defaultTabs: config.tabs,
        defaultEditorToolsVisibility: true,
        // Tabs, queries and variables (the sign-in password too) live in
        // sessionStorage: they survive a reload but not closing the browser
        // tab, so nothing is left behind on a shared staff machine. Headers
        // are not stored at all.
        storage: window.sessionStorage,
        shouldPersistHeaders: false
      })
    );
  }

  try {
    config = JSON.parse(document.getElementById('graphiql-config').textContent);
    root = ReactDOM.createRoot(container);
    render();
  } catch (error) {
    container.textContent = 'GraphiQL failed to start: ' + error;
  }
})();
";

/// The fallback console: plain DOM and `fetch`, no third-party code.
const START_CONSOLE_JS: &str = r"// Fallback GraphQL console for builds without GraphiQL (api/src/http/graphiql.rs).
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  function byId(id) { return document.getElementById(id); }
  var example = byId('example'), query = byId('query'), variables = byId('variables'),
      operation = byId('operation'), authorization = byId('authorization'),
      run = byId('run'), status = byId('status'), result = byId('result');

  config.tabs.forEach(function (tab, index) {
    var option = document.createElement('option');
    option.value = String(index);
    option.textContent = tab.title;
    example.appendChild(option);
  });
  function load(index) {
    var tab = config.tabs[index];
    query.value = tab.query;
    variables.value = tab.variables || '';
    operation.value = '';
  }
  example.addEventListener('change', function () { load(Number(example.value)); });
  example.value = '0';
  load(0);

  function send() {
    var parsed = null;
    if (variables.value.trim() !== '') {
      try {
        parsed = JSON.parse(variables.value);
      } catch (error) {
        status.textContent = 'Variables are not valid JSON: ' + error.message;
        return;
      }
    }
    var headers = { 'Content-Type': 'application/json', 'Accept': 'application/json' };
    var auth = authorization.value.trim();
    if (auth !== '') {
      headers.Authorization = /^bearer\s/i.test(auth) ? auth : 'Bearer ' + auth;
    }
    var body = { query: query.value, variables: parsed };
    if (operation.value.trim() !== '') { body.operationName = operation.value.trim(); }
    run.disabled = true;
    status.textContent = 'Running…';
    var started = Date.now();
    fetch(config.url, {
      method: 'POST', headers: headers, body: JSON.stringify(body), credentials: 'same-origin'
    }).then(function (response) {
      return response.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (ignored) { json = null; }
        result.textContent = json === null ? text : JSON.stringify(json, null, 2);
        status.textContent = 'HTTP ' + response.status + ' in ' + (Date.now() - started) + ' ms';
        var data = json && json.data;
        var session = data && (data.staffLogin || data.portalLogin);
        if (session && session.token) {
          authorization.value = 'Bearer ' + session.token;
          status.textContent += ' · signed in: the token is now in the Authorization field';
        }
      });
    }).catch(function (error) {
      status.textContent = 'Request failed: ' + error.message;
    }).then(function () {
      run.disabled = false;
    });
  }
  run.addEventListener('click', send);
  document.addEventListener('keydown', function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      event.preventDefault();
      send();
    }
  });
})();
";

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    use super::*;

    async fn get_path(router: Router, path: &str) -> (StatusCode, String, Vec<u8>) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, content_type, body.to_vec())
    }

    /// The `src` and `href` values of a page.
    fn referenced_urls(html: &str) -> Vec<String> {
        ["src=\"", "href=\""]
            .iter()
            .flat_map(|attribute| {
                html.match_indices(attribute).filter_map(|(at, _)| {
                    let rest = &html[at + attribute.len()..];
                    rest.find('"').map(|end| rest[..end].to_owned())
                })
            })
            .collect()
    }

    fn app() -> Router {
        Router::new()
            .route(GRAPHQL_PATH, get(graphiql_page))
            .merge(assets_router())
    }

    #[test]
    fn both_pages_name_no_other_host() {
        for with_graphiql in [true, false] {
            let html = page(with_graphiql);
            assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
            assert!(!html.contains("//unpkg") && !html.contains("cdn"), "{html}");
            for url in referenced_urls(html) {
                assert!(url.starts_with(ASSET_PREFIX) || url == "data:,", "{url}");
            }
        }
    }

    #[test]
    fn config_block_is_valid_json_with_the_tabs() {
        let config: serde_json::Value = serde_json::from_str(&config_json()).expect("valid JSON");
        assert_eq!(config["url"], "/graphql");
        let tabs = config["tabs"].as_array().expect("tabs");
        assert_eq!(tabs.len(), TABS.len());
        assert!(
            tabs[0]["query"]
                .as_str()
                .is_some_and(|text| text.contains("staffLogin("))
        );
        for tab in tabs {
            let variables = tab["variables"].as_str().expect("variables");
            if !variables.is_empty() {
                serde_json::from_str::<serde_json::Value>(variables).expect("variables are JSON");
            }
        }
        assert_eq!(json_string("</script>"), "\"<\\/script>\"");
    }

    /// The tabs' comment lines are the console's own; the rest is README's.
    #[test]
    fn readme_shows_every_tab_word_for_word() {
        let readme = include_str!("../../../README.md");
        for tab in &TABS {
            let document: String = tab
                .query
                .lines()
                .filter(|line| !line.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                readme.contains(document.trim()),
                "README.md does not show the {:?} tab's document:\n{document}",
                tab.title
            );
        }
    }

    #[tokio::test]
    async fn get_graphql_serves_the_page_and_every_file_it_references() {
        let (status, content_type, body) = get_path(app(), "/graphql").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, HTML);
        let html = String::from_utf8(body).expect("utf-8");
        assert!(html.contains(if bundles_available() {
            "graphiql.min.js"
        } else {
            "GraphiQL is not available"
        }));
        for url in referenced_urls(&html).into_iter().filter(|url| url.starts_with('/')) {
            let (status, content_type, body) = get_path(app(), &url).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let expected = if url.rsplit('.').next() == Some("css") {
                CSS
            } else {
                JAVASCRIPT
            };
            assert_eq!(content_type, expected, "{url}");
            assert!(!body.is_empty(), "{url}");
        }
    }

    #[tokio::test]
    async fn unknown_files_are_not_found() {
        let (status, ..) = get_path(app(), "/graphiql/graphiql-0.0.0/graphiql.min.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
