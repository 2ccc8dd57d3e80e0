//! The deploy files (README, "Deploy"), without a Docker engine or a
//! cluster: the offline validator (`deploy/validate`, Node, pinned by its
//! `package-lock.json`) passes on them and rejects broken ones; the KEDA
//! trigger watches the Redis list apalis really fills; and the image's
//! entrypoint (`deploy/docker-entrypoint.sh`), run here directly, migrates,
//! serves and stops the real `api` binary as a container would.
//!
//! The `api` binary is the one Cargo builds next to this package's
//! `e2e-worker` (`target/<profile>/api`): `cargo test --workspace` builds it;
//! after a narrower build, `cargo build -p api` first.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use uuid::Uuid;

/// The entrypoint's exit status when a role lacks DATABASE_URL (EX_USAGE).
const EX_USAGE: i32 = 64;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

fn entrypoint() -> PathBuf {
    repo().join("deploy/docker-entrypoint.sh")
}

/// A fresh folder under the temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir()
            .join("portal-tests")
            .join(format!("{what}-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// --- the validator -----------------------------------------------------------

/// `deploy/validate` with its npm packages installed (`npm ci`, pinned by
/// its package-lock.json, when `node_modules` is missing or stale).
fn validator() -> PathBuf {
    testkit::node::ensure_packages_in(repo().join("deploy/validate"), "the deploy validator's")
}

/// `node deploy/validate/validate.mjs ARGS`.
fn validate(args: &[&str]) -> Output {
    let dir = validator();
    Command::new("node")
        .arg(dir.join("validate.mjs"))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running node (install Node.js 20): {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_deploy_files_pass_the_offline_validator() {
    let output = validate(&[]);
    assert!(
        output.status.success(),
        "deploy/validate found problems ({}):\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    eprint!("{}", text(&output.stdout));
}

#[test]
fn the_validator_rejects_broken_files() {
    // Its self-test: every deliberate mistake (a misspelled field, a wrong
    // type, a wrong Redis key, a unit that is not restarted, …) is reported.
    let output = validate(&["--self-test"]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "the validator's self-test failed ({}):\n{stdout}{}",
        output.status,
        text(&output.stderr)
    );
    assert!(stdout.contains("broken variants are rejected"), "{stdout}");

    // And on disk: a copy of the files with a misspelled Deployment field
    // makes the validator exit 1 and name it.
    let fixture = TempDir::new("deploy-fixture");
    for file in [
        "README.md",
        "compose.yaml",
        "Dockerfile",
        ".dockerignore",
        "scripts/fetch-graphiql.sh",
        "deploy/docker-entrypoint.sh",
    ] {
        copy(&repo().join(file), &fixture.0.join(file));
    }
    for dir in ["deploy/kubernetes", "deploy/systemd"] {
        for entry in std::fs::read_dir(repo().join(dir)).expect("read the deploy folder") {
            let entry = entry.expect("a deploy file");
            copy(&entry.path(), &fixture.0.join(dir).join(entry.file_name()));
        }
    }
    let root = fixture.0.to_str().expect("a UTF-8 path");
    let clean = validate(&["--root", root]);
    assert!(
        clean.status.success(),
        "the copy as it is: {}{}",
        text(&clean.stdout),
        text(&clean.stderr)
    );

    let manifest = fixture.0.join("deploy/kubernetes/api-deployment.yaml");
    let original = std::fs::read_to_string(&manifest).expect("read the api Deployment");
    let broken = original.replacen("\n  replicas: 2\n", "\n  replicaz: 2\n", 1);
    assert_ne!(broken, original, "the api Deployment has `replicas: 2` to misspell");
    std::fs::write(&manifest, broken).expect("write the broken Deployment");
    let rejected = validate(&["--root", root]);
    let stderr = text(&rejected.stderr);
    assert_eq!(
        rejected.status.code(),
        Some(1),
        "a misspelled field must fail: {stderr}"
    );
    assert!(
        stderr.contains(
            "deploy/kubernetes/api-deployment.yaml: Deployment customer-portal-api: /spec/replicaz: unknown field"
        ),
        "{stderr}"
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().expect("a parent folder")).expect("create the fixture's folders");
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

#[test]
fn the_keda_trigger_watches_the_list_apalis_pushes_the_email_queue_to() {
    // The list's name as apalis-redis itself makes it for the queue the
    // worker and the api use, under the ConfigMap's QUEUE_NAMESPACE.
    let configmap = std::fs::read_to_string(repo().join("deploy/kubernetes/configmap.yaml")).expect("the ConfigMap");
    assert!(
        configmap.contains("\n  QUEUE_NAMESPACE: \"portal\"\n"),
        "the ConfigMap sets QUEUE_NAMESPACE=portal:\n{configmap}"
    );
    let list = worker::queue::storage_config("portal", 1).active_jobs_list();
    assert_eq!(list, "portal:email:active");
    let scaled =
        std::fs::read_to_string(repo().join("deploy/kubernetes/worker-scaledobject.yaml")).expect("the ScaledObject");
    assert!(
        scaled.lines().any(|line| line.trim() == format!("listName: {list}")),
        "the ScaledObject's redis trigger must watch listName: {list}:\n{scaled}"
    );
}

// --- the entrypoint ----------------------------------------------------------

/// A folder for PORTAL_BIN_DIR with `api` (the workspace's binary) and
/// `worker` (this package's `e2e-worker`, the same entry point).
fn bin_dir() -> TempDir {
    let worker = PathBuf::from(env!("CARGO_BIN_EXE_e2e-worker"));
    let api = crate::helpers::api_binary();
    let dir = TempDir::new("entrypoint-bin");
    std::os::unix::fs::symlink(&api, dir.0.join("api")).expect("link api");
    std::os::unix::fs::symlink(&worker, dir.0.join("worker")).expect("link worker");
    dir
}

/// `sh deploy/docker-entrypoint.sh ARGS` with only `env` (and PATH) set.
fn entrypoint_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg(entrypoint())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

fn sqlite_url(dir: &TempDir) -> (String, PathBuf) {
    let path = dir.0.join("portal.db");
    (format!("sqlite://{}?mode=rwc", path.display()), path)
}

#[tokio::test]
async fn the_migrate_role_migrates_a_fresh_database() {
    let bin = bin_dir();
    let data = TempDir::new("entrypoint-migrate");
    let (url, path) = sqlite_url(&data);
    let bin_path = bin.0.to_str().expect("a UTF-8 path");
    let output = entrypoint_command(
        &["migrate"],
        &[
            ("DATABASE_URL", &url),
            ("PORTAL_BIN_DIR", bin_path),
            ("LOG_FORMAT", "json"),
        ],
    )
    .output()
    .expect("run the entrypoint");
    assert!(
        output.status.success(),
        "migrate: {}\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(path.is_file(), "the database file {} exists", path.display());

    let db = Database::connect(&url).await.expect("open the migrated database");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        ))
        .await
        .expect("list the tables");
    let tables: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a table name"))
        .collect();
    for table in migration::TABLES.iter().chain(&["seaql_migrations"]) {
        assert!(
            tables.iter().any(|t| t == table),
            "table {table} after migrate; the database has {tables:?}"
        );
    }
    db.close().await.expect("close the database");
}

#[test]
fn the_roles_refuse_to_start_without_a_database_url() {
    let bin = bin_dir();
    let bin_path = bin.0.to_str().expect("a UTF-8 path");
    let roles: [&[&str]; 5] = [&["migrate"], &["api"], &[], &["api", "--seed-demo"], &["worker"]];
    for role in roles {
        let output = entrypoint_command(role, &[("PORTAL_BIN_DIR", bin_path)])
            .output()
            .expect("run the entrypoint");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(EX_USAGE), "role {role:?}: {stderr}");
        assert!(
            stderr.contains("DATABASE_URL is not set"),
            "role {role:?} names the missing variable: {stderr}"
        );
        assert!(text(&output.stdout).is_empty(), "role {role:?} started nothing");
    }
    // An empty one is no better.
    let output = entrypoint_command(&["migrate"], &[("PORTAL_BIN_DIR", bin_path), ("DATABASE_URL", "")])
        .output()
        .expect("run the entrypoint");
    assert_eq!(output.status.code(), Some(EX_USAGE), "{}", text(&output.stderr));

    // The worker role reaches the real worker: without REDIS_URL it exits 2.
    let data = TempDir::new("entrypoint-worker");
    let (url, _) = sqlite_url(&data);
    let output = entrypoint_command(&["worker"], &[("PORTAL_BIN_DIR", bin_path), ("DATABASE_URL", &url)])
        .output()
        .expect("run the entrypoint");
    assert_eq!(
        output.status.code(),
        Some(2),
        "the worker without REDIS_URL: {}",
        text(&output.stderr)
    );
}

#[test]
fn the_entrypoint_maps_roles_to_commands_and_defaults_listen_addr() {
    // Stand-ins that print how they were started, and their pid: the same
    // pid as the entrypoint's shows that it exec'd them.
    let bin = TempDir::new("entrypoint-stubs");
    for program in ["api", "worker"] {
        let path = bin.0.join(program);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$$ {program} $* LISTEN_ADDR=$LISTEN_ADDR\"\n"),
        )
        .expect("write a stand-in");
        let mut permissions = std::fs::metadata(&path).expect("stand-in").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("make the stand-in executable");
    }
    let bin_path = bin.0.to_str().expect("a UTF-8 path");
    let cases: [(&[&str], Option<&str>, &str); 8] = [
        (&[], None, "api serve LISTEN_ADDR=0.0.0.0:8000"),
        (&["api"], None, "api serve LISTEN_ADDR=0.0.0.0:8000"),
        (
            &["api", "--seed-demo"],
            None,
            "api serve --seed-demo LISTEN_ADDR=0.0.0.0:8000",
        ),
        (
            &["api", "create-organization", "--slug", "acme"],
            None,
            "api create-organization --slug acme LISTEN_ADDR=0.0.0.0:8000",
        ),
        (&["migrate"], None, "api migrate LISTEN_ADDR=0.0.0.0:8000"),
        (&["worker"], None, "worker  LISTEN_ADDR=0.0.0.0:8000"),
        (&["api"], Some("127.0.0.1:9999"), "api serve LISTEN_ADDR=127.0.0.1:9999"),
        (&["worker"], Some("[::1]:8001"), "worker  LISTEN_ADDR=[::1]:8001"),
    ];
    for (args, listen, expected) in cases {
        let mut env = vec![("PORTAL_BIN_DIR", bin_path), ("DATABASE_URL", "postgres://db/portal")];
        if let Some(listen) = listen {
            env.push(("LISTEN_ADDR", listen));
        }
        let child = entrypoint_command(args, &env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the entrypoint");
        let pid = child.id();
        let output = child.wait_with_output().expect("wait for the entrypoint");
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert_eq!(stdout.trim_end(), format!("{pid} {expected}"), "{args:?}");
    }
    // Anything else runs as given, without a database.
    let output = entrypoint_command(&["echo", "hello"], &[])
        .output()
        .expect("run the entrypoint");
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), "hello\n");
}

/// Kills the process group `pid` leads when dropped: if the entrypoint did
/// not exec, a failing test leaves no api behind.
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn the_api_role_serves_on_listen_addr_and_stops_cleanly_on_sigterm() {
    let bin = bin_dir();
    let data = TempDir::new("entrypoint-api");
    let (url, _) = sqlite_url(&data);
    let listen = format!("127.0.0.1:{}", free_port());
    let outbox = data.0.join("mail-outbox");
    let std_command = entrypoint_command(
        &["api"],
        &[
            ("DATABASE_URL", &url),
            ("LISTEN_ADDR", &listen),
            ("PORTAL_BIN_DIR", bin.0.to_str().expect("a UTF-8 path")),
            ("MAIL_OUTBOX_DIR", outbox.to_str().expect("a UTF-8 path")),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "warn"),
        ],
    );
    let mut child = tokio::process::Command::from(std_command)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("start the entrypoint");
    let pid = child.id().expect("the entrypoint's pid");
    let _group = ProcessGroup(pid);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(format!("http://{listen}/healthz")).send().await {
            Ok(response) if response.status().is_success() => break,
            _ if Instant::now() > deadline => {
                let _ = child.start_kill();
                let output = child.wait_with_output().await.expect("the api's output");
                panic!(
                    "GET /healthz on {listen} never answered 200:\n{}{}",
                    text(&output.stdout),
                    text(&output.stderr)
                );
            }
            _ => {
                if let Ok(Some(status)) = child.try_wait() {
                    let output = child.wait_with_output().await.expect("the api's output");
                    panic!(
                        "the api exited ({status}) before serving:\n{}{}",
                        text(&output.stdout),
                        text(&output.stderr)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let ready = client
        .get(format!("http://{listen}/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), reqwest::StatusCode::OK, "readyz: the database answers");

    // compose.yaml's healthcheck of the api (bash's /dev/tcp, no curl in
    // the image) against this api.
    let healthcheck = validate(&["--compose-healthcheck", "api"]);
    assert!(healthcheck.status.success(), "{}", text(&healthcheck.stderr));
    let test: Vec<String> = serde_json::from_slice(&healthcheck.stdout).expect("the healthcheck's JSON");
    assert_eq!(test.first().map(String::as_str), Some("CMD"), "{test:?}");
    let port = listen.rsplit(':').next().expect("a port");
    let args: Vec<String> = test[2..]
        .iter()
        .map(|arg| arg.replace("127.0.0.1/8000", &format!("127.0.0.1/{port}")))
        .collect();
    let probe = Command::new(&test[1])
        .args(&args)
        .output()
        .expect("run the healthcheck");
    assert!(
        probe.status.success(),
        "compose.yaml's api healthcheck fails against a ready api: {}",
        text(&probe.stderr)
    );

    // SIGTERM to the entrypoint's pid reaches the api itself (exec): it
    // stops and exits 0.
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM {pid}");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the api stops within 30 s of SIGTERM")
        .expect("the api's output");
    assert!(
        output.status.success(),
        "the api exits 0 on SIGTERM, got {}:\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}
