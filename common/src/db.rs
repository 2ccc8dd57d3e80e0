//! The database connection shared by the api and the worker.
//!
//! One pool per process. Every statement is counted (see [`StatementCounter`]),
//! which feeds `/metrics` and lets tests prove that a request costs a fixed
//! number of statements. Migrations run under a lock so that several api
//! processes starting at once on PostgreSQL do not race; [`prepare_schema`]
//! decides at start whether to migrate, run as it is, or refuse.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use prometheus_client::metrics::counter::Counter;
use sea_orm::sqlx::{postgres::PgSslMode, sqlite::SqliteJournalMode};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};

/// Counts the SQL statements a connection pool has run since start; a
/// Prometheus counter, so `/metrics` can expose it as it is.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(pub Counter);

impl StatementCounter {
    /// Statements run so far.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Opens the pool for `url` and installs the statement counter.
///
/// A PostgreSQL server on loopback is reached without TLS unless the URL
/// (`sslmode=`) or `PGSSLMODE` asks otherwise.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(
    url: &SecretString,
    max_connections: u32,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let raw = url.expose_secret();
    let sqlite = raw.starts_with("sqlite:");
    let mut options = ConnectOptions::new(raw.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(if sqlite { 1 } else { 2 })
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // WAL lets readers proceed while one writer commits; the busy timeout
        // makes concurrent writers wait instead of failing with "locked".
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    if !chooses_ssl_mode(raw) {
        // sqlx's default `prefer` negotiates TLS whenever the server offers
        // it, also over loopback, where it protects nothing and costs both
        // sides CPU on every statement.
        options.map_sqlx_postgres_opts(|o| {
            if is_loopback(o.get_host()) {
                o.ssl_mode(PgSslMode::Disable)
            } else {
                o
            }
        });
    }
    let mut db = Database::connect(options).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |_info| {
        inner.inc();
    });
    Ok((db, counter))
}

/// Whether the database URL or the environment sets the TLS mode.
fn chooses_ssl_mode(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    query
        .split('&')
        .any(|pair| pair.starts_with("sslmode=") || pair.starts_with("ssl-mode="))
        || std::env::var_os("PGSSLMODE").is_some()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Applies pending migrations (see [`prepare_schema`], which decides
/// whether to).
///
/// On PostgreSQL a transaction-scoped advisory lock is held on one pooled
/// connection while the migrator runs on others, so concurrent starts apply
/// each migration once. SQLite serialises writers by itself.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let lock = db.begin().await?;
        lock.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(7422100812)",
        ))
        .await?;
        let result = Migrator::up(db, None).await;
        lock.commit().await?;
        result
    } else {
        Migrator::up(db, None).await
    }
}

/// How the database's applied migrations compare with this binary's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaStatus {
    /// This binary's migrations that the database has not applied.
    pub missing: Vec<String>,
    /// Migrations the database has applied that this binary does not know:
    /// a newer release migrated it.
    pub unknown: Vec<String>,
}

/// Reads which migrations the database has applied (without creating
/// anything: a database nobody migrated lacks all of them).
///
/// # Errors
/// On database failure.
pub async fn schema_status(db: &DatabaseConnection) -> Result<SchemaStatus, DbErr> {
    let manager = migration::SchemaManager::new(db);
    let applied: std::collections::BTreeSet<String> = if manager.has_table("seaql_migrations").await? {
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect::<Result<_, _>>()?
    } else {
        std::collections::BTreeSet::new()
    };
    let known: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    Ok(SchemaStatus {
        missing: known.iter().filter(|name| !applied.contains(*name)).cloned().collect(),
        unknown: applied.into_iter().filter(|name| !known.contains(name)).collect(),
    })
}

/// Why a process will not run against its database.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The database could not be read or a migration failed.
    #[error(transparent)]
    Database(#[from] DbErr),
    /// The schema is older than this binary and it may not migrate.
    #[error(
        "the database schema is older than this binary: {} migration(s) not applied ({}). Run `api migrate` (or the migration Job) first, or start with MIGRATE_ON_START=true",
        .missing.len(), .missing.join(", ")
    )]
    Behind {
        /// The migrations not applied.
        missing: Vec<String>,
    },
    /// The database was migrated by another line of releases: it lacks
    /// migrations of this binary and has others this binary does not know.
    #[error(
        "the database schema has diverged from this binary: it lacks {} and has {} that this binary does not know",
        .missing.join(", "), .unknown.join(", ")
    )]
    Diverged {
        /// This binary's migrations not applied.
        missing: Vec<String>,
        /// Applied migrations this binary does not know.
        unknown: Vec<String>,
    },
}

/// What [`prepare_schema`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Every migration of this binary was applied already.
    Current,
    /// It applied this many migrations.
    Migrated(usize),
    /// The schema is newer than this binary (a newer release migrated it):
    /// it runs against it, as a rolling deploy needs.
    Newer(Vec<String>),
}

/// Makes sure this binary may run against the database: applies pending
/// migrations when `migrate` is set (`MIGRATE_ON_START`, `api migrate`),
/// else refuses a schema older than the binary's. A newer schema is
/// accepted either way (additive migrations keep older binaries working
/// during a rolling deploy), and logged.
///
/// # Errors
/// [`SchemaError::Behind`] when the schema is older and `migrate` is off,
/// [`SchemaError::Diverged`] when it is neither older nor newer, and
/// database failures.
pub async fn prepare_schema(db: &DatabaseConnection, migrate: bool) -> Result<Prepared, SchemaError> {
    let status = schema_status(db).await?;
    match (status.missing.is_empty(), status.unknown.is_empty()) {
        (true, true) => Ok(Prepared::Current),
        (true, false) => {
            tracing::info!(
                unknown = %status.unknown.join(", "),
                "the database schema is newer than this binary; running against it"
            );
            Ok(Prepared::Newer(status.unknown))
        }
        (false, true) if migrate => {
            self::migrate(db).await?;
            // Another process may have applied some of them meanwhile.
            let after = schema_status(db).await?;
            let applied = status.missing.len() - after.missing.len().min(status.missing.len());
            tracing::info!(applied, "migrations applied");
            Ok(Prepared::Migrated(applied))
        }
        (false, true) => Err(SchemaError::Behind {
            missing: status.missing,
        }),
        (false, false) => Err(SchemaError::Diverged {
            missing: status.missing,
            unknown: status.unknown,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{chooses_ssl_mode, is_loopback};

    #[test]
    fn only_an_unset_tls_mode_on_loopback_is_turned_off() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("db.internal"));
        assert!(!is_loopback("10.0.0.5"));
        if std::env::var_os("PGSSLMODE").is_none() {
            assert!(!chooses_ssl_mode("postgres://u@127.0.0.1/portal"));
            assert!(!chooses_ssl_mode("postgres://u@127.0.0.1/portal?application_name=x"));
        }
        assert!(chooses_ssl_mode("postgres://u@127.0.0.1/portal?sslmode=require"));
        assert!(chooses_ssl_mode(
            "postgres://u@127.0.0.1/portal?x=1&sslmode=verify-full"
        ));
    }
}
