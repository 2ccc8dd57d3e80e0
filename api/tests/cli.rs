//! The `api` command line: `migrate` and `create-organization` as an
//! operator runs them.

use std::process::{Command, Output};

use uuid::Uuid;

fn api(database_url: &str, args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("REDIS_URL");
    match password {
        Some(password) => command.env("PORTAL_ADMIN_PASSWORD", password),
        None => command.env_remove("PORTAL_ADMIN_PASSWORD"),
    };
    command.output().expect("run api")
}

fn sqlite_url() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join("portal-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("cli-{}.db", Uuid::now_v7().simple()));
    (format!("sqlite://{}?mode=rwc", path.display()), path)
}

#[test]
fn create_organization_prints_its_id_and_refuses_a_taken_slug_or_email() {
    let (url, path) = sqlite_url();
    let args = [
        "create-organization",
        "--name",
        "Acme Rentals",
        "--slug",
        "acme-rentals",
        "--admin-email",
        "ops@acme.example",
    ];
    let first = api(&url, &args, Some("a long enough password"));
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let id = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    assert!(Uuid::parse_str(&id).is_ok(), "prints the organization id, got {id:?}");

    let again = api(&url, &args, Some("a long enough password"));
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("slug") && stderr.contains("already exists"), "{stderr}");

    let other_slug = [
        "create-organization",
        "--name",
        "Acme Two",
        "--slug",
        "acme-two",
        "--admin-email",
        "OPS@acme.example",
    ];
    let taken_email = api(&url, &other_slug, Some("a long enough password"));
    assert!(!taken_email.status.success());
    let stderr = String::from_utf8_lossy(&taken_email.stderr);
    assert!(
        stderr.contains("adminEmail") && stderr.contains("already exists"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn create_organization_validates_the_slug_and_needs_a_password() {
    let (url, path) = sqlite_url();
    let bad_slug = api(
        &url,
        &[
            "create-organization",
            "--name",
            "X",
            "--slug",
            "Not A Slug",
            "--admin-email",
            "a@b.example",
        ],
        Some("a long enough password"),
    );
    assert!(!bad_slug.status.success());
    assert!(String::from_utf8_lossy(&bad_slug.stderr).contains("slug"));

    // No PORTAL_ADMIN_PASSWORD and no terminal (stdin is not a tty here).
    let no_password = api(
        &url,
        &[
            "create-organization",
            "--name",
            "X",
            "--slug",
            "xx",
            "--admin-email",
            "a@b.example",
        ],
        None,
    );
    assert!(!no_password.status.success());
    assert!(String::from_utf8_lossy(&no_password.stderr).contains("PORTAL_ADMIN_PASSWORD"));
    let _ = std::fs::remove_file(path);
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let (url, path) = sqlite_url();
    let output = api(&url, &["migrate"], None);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    let bad = api("mysql://nope", &["migrate"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("DATABASE_URL"));
    let _ = std::fs::remove_file(path);
}
