//! Throwaway databases for tests and benchmarks: [`TestDatabase`].
//!
//! Every test gets a database of its own, created in milliseconds by copying
//! a migrated template instead of running the migrations again (the idea of
//! crates.io's `crates_io_test_db`):
//!
//! - **PostgreSQL**: `CREATE DATABASE … TEMPLATE portal_tpl_<digest>`. The
//!   template is created once and kept for later runs; its name is a digest of
//!   the migration crate's sources (see `build.rs`), so a changed or added
//!   migration gets a new template and an old one is never used by mistake.
//!   Many threads and processes may start at once: the first takes a
//!   PostgreSQL advisory lock, builds the template under a flag that marks it
//!   incomplete (`datistemplate = false`), and only then marks it a template
//!   that refuses connections; the others wait for the lock and reuse it. A
//!   template left incomplete by a crashed build is dropped and rebuilt.
//!   The test's database is dropped (`WITH (FORCE)`) when the value is.
//! - **SQLite**: a file in the temp directory, copied from a migrated
//!   template file (also kept, also named by the digest, and renamed into
//!   place once complete so that a reader never sees half of it); removed
//!   with its `-wal`/`-shm` files.
//!
//! [`TestDatabase::empty`] gives an unmigrated database for tests of the
//! migrations themselves. This module creates and removes databases only;
//! what goes into them is the tests' business (see [`crate::builders`]).

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::LazyLock,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// The environment variable that selects the database server of the tests.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Key of the advisory lock held while a template is checked or built. Any
/// constant works; this one differs from the migration lock of `common::db`.
const TEMPLATE_LOCK: i64 = 7_422_100_813;

/// Where throwaway databases are created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// SQLite files in the temp directory.
    Sqlite,
    /// A PostgreSQL server, reached through the database in this URL (which
    /// must exist; the throwaway databases are created beside it).
    Postgres(String),
}

impl Server {
    /// The server a URL names: unset/empty or `sqlite:…` → SQLite,
    /// `postgres://…` or `postgresql://…` → that PostgreSQL server; anything
    /// else → `None`.
    #[must_use]
    pub fn from_url(url: &str) -> Option<Self> {
        if url.is_empty() || url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres(url.to_owned()))
        } else {
            None
        }
    }

    /// The server [`TEST_DATABASE_URL`] names (unset: SQLite).
    ///
    /// # Panics
    /// When the variable is set to something that is neither SQLite nor
    /// PostgreSQL: a typo must not silently run the suite on SQLite.
    #[must_use]
    pub fn from_env() -> Self {
        let url = std::env::var(TEST_DATABASE_URL).unwrap_or_default();
        Self::from_url(&url)
            .unwrap_or_else(|| panic!("{TEST_DATABASE_URL} must be unset, sqlite:… or postgres://…, not {url:?}"))
    }

    /// The PostgreSQL server of [`TEST_DATABASE_URL`], if it names one (for
    /// tests that only mean something on PostgreSQL).
    #[must_use]
    pub fn postgres_from_env() -> Option<Self> {
        match Self::from_env() {
            postgres @ Self::Postgres(_) => Some(postgres),
            Self::Sqlite => None,
        }
    }
}

/// A database that exists for one test (or one benchmark run), removed when
/// this value is dropped or by [`TestDatabase::remove`].
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    name: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    Sqlite(PathBuf),
    Postgres {
        admin_url: String,
    },
    /// Removed already (by [`TestDatabase::remove`]).
    Gone,
}

impl TestDatabase {
    /// A new database on `server` with every migration applied.
    ///
    /// # Errors
    /// When the server refuses, or the template cannot be built.
    pub async fn migrated(server: &Server) -> Result<Self, DbErr> {
        Self::create(server, true).await
    }

    /// A new database on `server` with nothing in it, not even the
    /// migrations' bookkeeping table.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn empty(server: &Server) -> Result<Self, DbErr> {
        Self::create(server, false).await
    }

    async fn create(server: &Server, migrated: bool) -> Result<Self, DbErr> {
        let name = format!("portal_test_{}", Uuid::now_v7().simple());
        match server {
            Server::Sqlite => {
                let path = scratch_dir()?.join(format!("{name}.db"));
                if migrated {
                    let template = sqlite_template().await?;
                    std::fs::copy(&template, &path).map_err(|err| {
                        io_err(&format!("copying {} to {}", template.display(), path.display()), &err)
                    })?;
                }
                Ok(Self {
                    url: sqlite_url(&path),
                    name,
                    place: Place::Sqlite(path),
                })
            }
            Server::Postgres(admin_url) => {
                let admin = connect_one(admin_url).await?;
                let create = if migrated {
                    let template = postgres_template(admin_url).await?;
                    format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")
                } else {
                    format!("CREATE DATABASE \"{name}\"")
                };
                let created = admin.execute_unprepared(&create).await;
                admin.close().await?;
                created?;
                Ok(Self {
                    url: with_database(admin_url, &name),
                    name,
                    place: Place::Postgres {
                        admin_url: admin_url.clone(),
                    },
                })
            }
        }
    }

    /// The database's URL, for `DATABASE_URL` or [`Database::connect`].
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`portal_test_<uuid>`; on SQLite, the file's stem).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects to the database.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn connect(&self) -> Result<DatabaseConnection, DbErr> {
        Database::connect(quiet(self.url.as_str())).await
    }

    /// Removes the database now, reporting failure (dropping the value does
    /// the same but can only ignore errors). Open connections are closed by
    /// the server.
    ///
    /// # Errors
    /// When the server refuses to drop the database.
    pub async fn remove(mut self) -> Result<(), DbErr> {
        match std::mem::replace(&mut self.place, Place::Gone) {
            Place::Sqlite(path) => {
                remove_sqlite_files(&path);
                Ok(())
            }
            Place::Postgres { admin_url } => drop_postgres(&admin_url, &self.name).await,
            Place::Gone => Ok(()),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.place, Place::Gone) {
            Place::Sqlite(path) => remove_sqlite_files(&path),
            Place::Postgres { admin_url } => {
                let name = self.name.clone();
                // Drop may run inside a runtime, where block_on panics:
                // use a thread with a runtime of its own.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime
                        .block_on(drop_postgres(&admin_url, &name))
                        .map_err(std::io::Error::other)
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("testkit: could not drop the test database {}: {dropped:?}", self.name);
                }
            }
            Place::Gone => {}
        }
    }
}

async fn drop_postgres(admin_url: &str, name: &str) -> Result<(), DbErr> {
    let admin = connect_one(admin_url).await?;
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    admin.close().await?;
    dropped.map(drop)
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The template's name: a digest of the migration crate's sources and of
/// the migrations' names (the list itself lives in those sources too).
fn template_name() -> String {
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in env!("TESTKIT_MIGRATION_SOURCES").bytes().chain(names.join(",").bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("portal_tpl_{hash:016x}")
}

/// Servers (admin URLs) whose template this process has seen complete.
static POSTGRES_TEMPLATES: LazyLock<tokio::sync::Mutex<HashSet<String>>> =
    LazyLock::new(|| tokio::sync::Mutex::new(HashSet::new()));

/// The name of the server's migrated template, built first if need be.
async fn postgres_template(admin_url: &str) -> Result<String, DbErr> {
    let name = template_name();
    // In process, one test checks while the others wait; across processes,
    // the advisory lock does the same.
    let mut ready = POSTGRES_TEMPLATES.lock().await;
    if ready.contains(admin_url) {
        return Ok(name);
    }
    // One connection, so that the session-level lock and its unlock run in
    // the same session (CREATE DATABASE cannot run in a transaction, so a
    // transaction-level lock is no use here).
    let admin = connect_one(admin_url).await?;
    let built = async {
        admin
            .execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
            .await?;
        let built = build_postgres_template(&admin, admin_url, &name).await;
        admin
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
            .await?;
        built
    }
    .await;
    admin.close().await?;
    built?;
    ready.insert(admin_url.to_owned());
    Ok(name)
}

/// Under the advisory lock: makes sure a complete template `name` exists.
async fn build_postgres_template(admin: &DatabaseConnection, admin_url: &str, name: &str) -> Result<(), DbErr> {
    let existing = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT datistemplate FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?;
    match existing {
        Some(row) if row.try_get::<bool>("", "datistemplate")? => return Ok(()),
        Some(_) => {
            // A build that did not finish (its process died): start again.
            admin
                .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .await?;
        }
        None => {}
    }
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    let template = Database::connect(quiet(with_database(admin_url, name))).await?;
    let migrated = Migrator::up(&template, None).await;
    template.close().await?;
    migrated?;
    // Complete: mark it a template, and refuse connections to it, because
    // CREATE DATABASE … TEMPLATE fails while anyone is connected.
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        ))
        .await?;
    Ok(())
}

/// This process's knowledge that the SQLite template file is in place.
static SQLITE_TEMPLATE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();

/// The migrated SQLite template file, written first if need be.
async fn sqlite_template() -> Result<PathBuf, DbErr> {
    SQLITE_TEMPLATE
        .get_or_try_init(|| async {
            let path = scratch_dir()?.join(format!("{}.db", template_name()));
            if path.exists() {
                return Ok(path);
            }
            // Migrate a file of its own and rename it into place: another
            // process doing the same at once only replaces one complete file
            // with an identical one. (`VACUUM INTO` from an in-memory
            // database would be neater, but sqlx's in-memory databases write
            // their copy to memory too.)
            let partial = path.with_extension(format!("{}.partial", Uuid::now_v7().simple()));
            let db = Database::connect(quiet(sqlite_url(&partial)).max_connections(1).to_owned()).await?;
            let migrated = async {
                Migrator::up(&db, None).await?;
                // Fold the write-ahead log into the file, so that the file
                // alone is the whole database.
                db.execute_unprepared("PRAGMA journal_mode = DELETE").await
            }
            .await;
            db.close().await?;
            if let Err(err) = migrated {
                remove_sqlite_files(&partial);
                return Err(err);
            }
            std::fs::rename(&partial, &path).map_err(|err| io_err("placing the SQLite template", &err))?;
            Ok(path)
        })
        .await
        .cloned()
}

/// `<temp>/portal-tests`, created if missing.
fn scratch_dir() -> Result<PathBuf, DbErr> {
    let dir = std::env::temp_dir().join("portal-tests");
    std::fs::create_dir_all(&dir).map_err(|err| io_err(&format!("creating {}", dir.display()), &err))?;
    Ok(dir)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn io_err(what: &str, err: &std::io::Error) -> DbErr {
    DbErr::Custom(format!("{what}: {err}"))
}

/// Connection options without sqlx's per-statement log lines.
fn quiet(url: impl Into<String>) -> ConnectOptions {
    ConnectOptions::new(url).sqlx_logging(false).to_owned()
}

/// One connection to the server's admin database.
async fn connect_one(admin_url: &str) -> Result<DatabaseConnection, DbErr> {
    Database::connect(quiet(admin_url).max_connections(1).min_connections(0).to_owned()).await
}

/// `url` with its database name replaced by `name` (the query string kept).
#[must_use]
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432/app?sslmode=disable", "x"),
            "postgres://u:p@db:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db:5432", "x"), "postgres://db:5432/x");
    }

    #[test]
    fn the_server_is_chosen_by_the_url_scheme() {
        assert_eq!(Server::from_url(""), Some(Server::Sqlite));
        assert_eq!(Server::from_url("sqlite://x.db"), Some(Server::Sqlite));
        assert_eq!(
            Server::from_url("postgresql://h/db"),
            Some(Server::Postgres("postgresql://h/db".to_owned()))
        );
        assert_eq!(Server::from_url("mysql://h/db"), None);
    }

    #[test]
    fn the_template_name_is_a_valid_stable_identifier() {
        let name = template_name();
        assert_eq!(name, template_name());
        assert!(name.len() <= 63, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
}
