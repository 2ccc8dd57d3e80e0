//! The database connection shared by the api and the worker.
//!
//! One pool per process. Every statement is counted (see [`StatementCounter`]),
//! which feeds `/metrics` and lets tests prove that a request costs a fixed
//! number of statements. Migrations run under a lock so that several api
//! processes starting at once on PostgreSQL do not race.

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

/// Applies pending migrations.
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
