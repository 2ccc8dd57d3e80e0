//! Embeds GraphiQL's third-party browser bundles into the api binary.
//!
//! `GET /graphql` serves GraphiQL without any CDN, so its JavaScript and CSS
//! (npm packages `graphiql`, `react`, `react-dom`, pinned below and in
//! `scripts/fetch-graphiql.sh`) must be embedded at build time. They are
//! third-party code and never committed; this script finds them in order:
//!
//! 1. `api/vendor/graphiql/` (git-ignored), filled by `scripts/fetch-graphiql.sh`;
//! 2. `$OUT_DIR/graphiql/`, a cache in the target dir filled by an earlier run;
//! 3. running `scripts/fetch-graphiql.sh "$OUT_DIR/graphiql"` (npm and the npm
//!    registry), unless `PORTAL_GRAPHIQL_OFFLINE=1`.
//!
//! If none works the build still succeeds: it prints a `cargo:warning` and
//! `src/http/graphiql.rs` serves a self-contained fallback console instead.
//! It writes `$OUT_DIR/graphiql_assets.rs` (`include!`d by that module), only
//! when its content changes, so an unchanged result recompiles nothing.
//!
//! std only: no build-dependencies.

use std::env;
use std::error::Error;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Pins; keep in step with `scripts/fetch-graphiql.sh`, which writes them to
/// the folder's `VERSIONS` file. A folder for other versions is not used.
const GRAPHIQL_VERSION: &str = "4.1.2";
const REACT_VERSION: &str = "18.3.1";
const REACT_DOM_VERSION: &str = "18.3.1";

/// The four bundles, as the fetch script names them, with the name of the
/// constant each becomes in the generated file.
const BUNDLES: [(&str, &str); 4] = [
    ("graphiql.min.js", "GRAPHIQL_JS"),
    ("graphiql.min.css", "GRAPHIQL_CSS"),
    ("react.production.min.js", "REACT_JS"),
    ("react-dom.production.min.js", "REACT_DOM_JS"),
];

/// Set to 1 to never run npm from the build (air-gapped or hermetic builds).
const OFFLINE_ENV: &str = "PORTAL_GRAPHIQL_OFFLINE";
/// Safety net over npm's own timeouts (set in the script).
const FETCH_DEADLINE: Duration = Duration::from_mins(5);

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR not set")?);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    let vendor_dir = manifest_dir.join("vendor").join("graphiql");
    let cache_dir = out_dir.join("graphiql");
    let script = manifest_dir.join("..").join("scripts").join("fetch-graphiql.sh");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={OFFLINE_ENV}");
    println!("cargo:rerun-if-env-changed=CARGO_NET_OFFLINE");
    if script.is_file() {
        println!("cargo:rerun-if-changed=../scripts/fetch-graphiql.sh");
    }
    // Re-run when the vendor folder appears, changes or goes away. A path that
    // does not exist would make cargo re-run this script on every build, so
    // watch the nearest folder that exists: the vendor folder itself, else
    // `vendor/`, else the crate (whose files would trigger a rebuild anyway).
    let watched = [&vendor_dir, &manifest_dir.join("vendor")]
        .into_iter()
        .find(|dir| dir.is_dir())
        .map_or_else(|| ".".to_owned(), |dir| relative_to(dir, &manifest_dir));
    println!("cargo:rerun-if-changed={watched}");

    let expected_versions = versions_text();
    let source = if is_complete(&vendor_dir, &expected_versions) {
        Some((vendor_dir, "api/vendor/graphiql"))
    } else {
        if vendor_dir.exists() {
            warn(&format!(
                "{} is incomplete or holds other versions than graphiql@{GRAPHIQL_VERSION}, \
                 react@{REACT_VERSION}, react-dom@{REACT_DOM_VERSION}; ignoring it \
                 (run scripts/fetch-graphiql.sh to refresh it)",
                vendor_dir.display()
            ));
        }
        if is_complete(&cache_dir, &expected_versions) {
            Some((cache_dir, "npm registry, cached in the target dir"))
        } else if let Some(reason) = offline_reason() {
            warn_unavailable(&format!("{reason} and api/vendor/graphiql/ has no bundles"));
            None
        } else {
            match fetch(&script, &cache_dir, &out_dir.join("graphiql-fetch.log")) {
                Ok(()) if is_complete(&cache_dir, &expected_versions) => {
                    Some((cache_dir, "npm registry, cached in the target dir"))
                }
                Ok(()) => {
                    warn_unavailable(&format!(
                        "scripts/fetch-graphiql.sh ran but {} does not hold the versions api/build.rs \
                         expects: update the pins in both files together",
                        cache_dir.display()
                    ));
                    None
                }
                Err(reason) => {
                    warn_unavailable(&reason);
                    None
                }
            }
        }
    };

    let generated = generate(source.as_ref().map(|(dir, label)| (dir.as_path(), *label)))?;
    write_if_changed(&out_dir.join("graphiql_assets.rs"), &generated)?;
    Ok(())
}

/// The `VERSIONS` file content the fetch script writes for these pins.
fn versions_text() -> String {
    format!("graphiql@{GRAPHIQL_VERSION}\nreact@{REACT_VERSION}\nreact-dom@{REACT_DOM_VERSION}")
}

/// All four bundles present and non-empty, and `VERSIONS` matching the pins.
fn is_complete(dir: &Path, expected_versions: &str) -> bool {
    let bundles_present = BUNDLES
        .iter()
        .all(|(file, _)| fs::metadata(dir.join(file)).is_ok_and(|meta| meta.is_file() && meta.len() > 0));
    bundles_present && fs::read_to_string(dir.join("VERSIONS")).is_ok_and(|text| text.trim_end() == expected_versions)
}

/// Why the build must not use the network, if it must not.
fn offline_reason() -> Option<String> {
    let set = |name: &str| {
        env::var(name).is_ok_and(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    };
    if set(OFFLINE_ENV) {
        Some(format!("{OFFLINE_ENV} is set"))
    } else if set("CARGO_NET_OFFLINE") {
        Some("CARGO_NET_OFFLINE is set".to_owned())
    } else {
        None
    }
}

/// Runs the fetch script into `dest`, its output going to `log`.
fn fetch(script: &Path, dest: &Path, log: &Path) -> Result<(), String> {
    if !script.is_file() {
        return Err(format!("{} not found", script.display()));
    }
    let log_file = File::create(log).map_err(|err| format!("cannot create {}: {err}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|err| format!("cannot open {}: {err}", log.display()))?;
    let mut command = Command::new("bash");
    command
        .arg(script)
        .arg(dest)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    #[cfg(unix)]
    {
        // Own process group, so a timeout can stop npm too, not only bash.
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run bash {}: {err}", script.display()))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < FETCH_DEADLINE => {
                thread::sleep(Duration::from_millis(100));
            }
            Ok(None) => {
                stop(&mut child);
                return Err(format!(
                    "scripts/fetch-graphiql.sh did not finish within {} s",
                    FETCH_DEADLINE.as_secs()
                ));
            }
            Err(err) => return Err(format!("waiting for scripts/fetch-graphiql.sh: {err}")),
        }
    };
    if status.success() {
        // Informational only (cargo shows it with -vv); not a warning.
        eprintln!(
            "GraphiQL bundles fetched from the npm registry in {:.1} s (cached in the target dir)",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    // The script's last lines name the cause (no npm, registry unreachable, …).
    let output = fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = output.lines().filter(|line| !line.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(5)..].join(" | ");
    Err(format!(
        "scripts/fetch-graphiql.sh failed ({status}): {tail} (full output: {})",
        log.display()
    ))
}

/// Stops the fetch and everything it started.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // Negative pid: the whole process group set up in `fetch`.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", child.id())])
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn warn(message: &str) {
    println!("cargo:warning={message}");
}

fn warn_unavailable(reason: &str) {
    warn(&format!("GraphiQL bundles not embedded: {reason}."));
    let fix = if offline_reason().is_some() {
        "run scripts/fetch-graphiql.sh where npm reaches the npm registry (or copy its api/vendor/graphiql/ \
         folder here), or unset the variable, then rebuild"
    } else {
        "run scripts/fetch-graphiql.sh (needs npm and access to the npm registry), then rebuild"
    };
    warn(&format!(
        "GET /graphql will serve a plain fallback query console instead of GraphiQL. To get GraphiQL: {fix}."
    ));
}

/// The Rust source `src/http/graphiql.rs` includes.
fn generate(source: Option<(&Path, &str)>) -> Result<String, Box<dyn Error>> {
    let mut out = String::from("// @generated by api/build.rs; do not edit.\n\n");
    writeln!(
        out,
        "/// Whether the GraphiQL bundles were embedded at build time.\npub const AVAILABLE: bool = {};",
        source.is_some()
    )?;
    if let Some((_, label)) = source {
        writeln!(out, "// Bundles from: {label}.")?;
    }
    for (name, version) in [
        ("GRAPHIQL_VERSION", GRAPHIQL_VERSION),
        ("REACT_VERSION", REACT_VERSION),
        ("REACT_DOM_VERSION", REACT_DOM_VERSION),
    ] {
        writeln!(
            out,
            "/// Pinned npm version, part of the asset URLs.\npub const {name}: &str = {version:?};"
        )?;
    }
    for (file, constant) in BUNDLES {
        match source {
            Some((dir, _)) => {
                let path = fs::canonicalize(dir.join(file))?;
                let path = path
                    .to_str()
                    .ok_or_else(|| format!("non-UTF-8 path {}", path.display()))?;
                writeln!(
                    out,
                    "/// `{file}` from npm.\npub static {constant}: &[u8] = include_bytes!({path:?});"
                )?;
            }
            None => writeln!(
                out,
                "/// `{file}`: not available in this build.\npub static {constant}: &[u8] = &[];"
            )?,
        }
    }
    Ok(out)
}

/// Writes only on change, keeping the file's mtime (and so the crate) fresh.
fn write_if_changed(path: &Path, content: &str) -> io::Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    fs::write(path, content)
}

/// `dir` relative to the crate root, for `rerun-if-changed`.
fn relative_to(dir: &Path, base: &Path) -> String {
    dir.strip_prefix(base).unwrap_or(dir).display().to_string()
}
