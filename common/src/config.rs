//! Typed settings, read once from the environment at start-up.
//!
//! Every variable of DESIGN.md's configuration table is here with its default,
//! plus the outbox's timings (`OUTBOX_REDELIVER_SECONDS`, `OUTBOX_SWEEP_INTERVAL_MS`).
//! A bad value stops start-up with an error naming the variable. Values that
//! may carry credentials (`DATABASE_URL`, `REDIS_URL`, `SMTP_URL`) are kept as
//! [`SecretString`] so that `Debug` output and logs never print them.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

/// Default database: an SQLite file next to the process, created when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://portal.db?mode=rwc";

/// `INVITATIONS_PER_ORGANIZATION_PER_HOUR`'s default.
pub const DEFAULT_INVITATIONS_PER_ORGANIZATION_PER_HOUR: u32 = 500;
/// `ASSET_REQUESTS_PER_USER_PER_HOUR`'s default.
pub const DEFAULT_ASSET_REQUESTS_PER_USER_PER_HOUR: u32 = 30;
/// `PAYMENT_ATTEMPTS_PER_USER_PER_HOUR`'s default.
pub const DEFAULT_PAYMENT_ATTEMPTS_PER_USER_PER_HOUR: u32 = 10;

/// A configuration value that could not be used; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it (never contains the value of a secret).
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal (development).
    Pretty,
    /// One JSON object per line (production log shippers).
    Json,
}

/// How the api executes lists of rows (`GRAPHQL_EXECUTION`): `Fast` answers
/// a row's plain fields without a future each (the api's `graphql::rows`),
/// `Generic` leaves every list to async-graphql's own executor. Both answer
/// byte for byte the same; `generic` exists for the differential test and
/// to rule the fast path out when chasing a wrong answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphqlExecution {
    /// Plain fields straight from the row (the default).
    #[default]
    Fast,
    /// async-graphql's executor for everything.
    Generic,
}

/// Who may introspect the GraphQL schema (`GRAPHQL_INTROSPECTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Signed-in staff only (the default): GraphiQL's Docs panel and
    /// autocompletion work for staff; anonymous callers and portal users get
    /// neither introspection nor "did you mean" suggestions.
    Staff,
    /// Everybody, signed in or not.
    All,
    /// Nobody (codegen reads the checked-in `schema.graphql`).
    Off,
}

/// All settings of the api and worker processes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…` (see
    /// [`crate::db::connect`] for TLS on loopback).
    pub database_url: SecretString,
    /// `REDIS_URL`: the job queue's Redis; `None` runs jobs in the api process.
    pub redis_url: Option<SecretString>,
    /// `QUEUE_NAMESPACE`: prefix of the queue's Redis keys.
    pub queue_namespace: String,
    /// `SMTP_URL`: `None` writes each email as an `.eml` file instead.
    pub smtp_url: Option<SecretString>,
    /// `MAIL_OUTBOX_DIR`: where `.eml` files go without SMTP.
    pub mail_outbox_dir: PathBuf,
    /// `MAIL_FROM`: the sender of every email.
    pub mail_from: String,
    /// `LISTEN_ADDR`: the api's bind address; port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// `PUBLIC_URL`: base of links in emails, without a trailing slash.
    pub public_url: String,
    /// `INVITATION_TTL_HOURS`: how long an invitation link stays valid.
    pub invitation_ttl_hours: u32,
    /// `SESSION_TTL_HOURS`: how long a sign-in lasts.
    pub session_ttl_hours: u32,
    /// `WORKER_CONCURRENCY`: jobs in flight per worker process.
    pub worker_concurrency: u32,
    /// `SMTP_TIMEOUT_SECONDS`: how long one whole send may take (connect,
    /// TLS, greeting, every command and the data) before the attempt counts
    /// as a transient failure.
    pub smtp_timeout_seconds: u32,
    /// `HTTP_REQUEST_TIMEOUT_SECONDS`: how long the api may take over one
    /// HTTP request, reading its body included, before it answers 408 (a
    /// client that trickles its body cannot hold a connection and a
    /// handler for ever). Websocket connections are bounded only while they
    /// are set up.
    pub http_request_timeout_seconds: u32,
    /// `HTTP_HEADER_TIMEOUT_SECONDS`: how long a client may take to send a
    /// request's head (request line and headers) before its connection is
    /// closed, on a new connection and between kept-alive requests.
    pub http_header_timeout_seconds: u32,
    /// `EMAIL_MAX_ATTEMPTS`: attempts before a delivery is FAILED.
    pub email_max_attempts: u32,
    /// `EMAIL_RETRY_BASE_MS`: the first retry's backoff; it doubles each attempt.
    pub email_retry_base_ms: u64,
    /// `OUTBOX_REDELIVER_SECONDS`: how long a QUEUED delivery may wait for a
    /// worker before the sweeper pushes its job again (a lost push, a
    /// restarted or wiped Redis). Shorter means faster recovery but more
    /// duplicate jobs under a backlog (harmless: the claim skips them).
    pub outbox_redeliver_seconds: u32,
    /// `OUTBOX_SWEEP_INTERVAL_MS`: how often each process's sweeper looks for
    /// deliveries due to be pushed again (redeliveries and due retries).
    pub outbox_sweep_interval_ms: u64,
    /// `GRAPHQL_MAX_CONCURRENCY`: GraphQL requests the api executes at once;
    /// more wait their turn. Default: four per CPU.
    pub graphql_max_concurrency: u32,
    /// `GRAPHQL_MAX_WAITING`: GraphQL requests that may wait for a permit;
    /// beyond them a request is refused at once (503, `Retry-After`).
    /// Default: four times `GRAPHQL_MAX_CONCURRENCY`.
    pub graphql_max_waiting: u32,
    /// `LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `GRAPHQL_INTROSPECTION`: `staff` (default), `all` or `off`.
    pub graphql_introspection: Introspection,
    /// `GRAPHQL_EXECUTION`: `fast` (default) or `generic`.
    pub graphql_execution: GraphqlExecution,
    /// `CORS_ALLOWED_ORIGINS`: browser origins (`scheme://host[:port]`,
    /// exactly) allowed to call the API from their pages; empty (the
    /// default) allows none but the api's own.
    pub cors_allowed_origins: Vec<String>,
    /// `MIGRATE_ON_START` (default `true`): whether the api applies pending
    /// migrations when it starts. With `false` (rolling deploys, where a
    /// migration Job or `api migrate` runs first) a process refuses a
    /// database whose schema is older than its own; a newer one (migrated
    /// by a newer release) is always accepted.
    pub migrate_on_start: bool,
    /// `TRUSTED_PROXIES`: networks of the load balancers and proxies in
    /// front of the api. A request from one of them has its client address
    /// read from `Forwarded` / `X-Forwarded-For` (the rightmost hop that is
    /// not itself trusted); from anywhere else the peer address is the
    /// client. Default: none (headers are ignored).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `METRICS_ADDR`: where a separate listener serves `/metrics` (the api
    /// then no longer serves it on `LISTEN_ADDR`; a worker serves its own
    /// metrics only there). Default: unset.
    pub metrics_addr: Option<SocketAddr>,
    /// `INVITATIONS_PER_ORGANIZATION_PER_HOUR`: invitation emails (invites
    /// and resends) one organization's staff may send in an hour.
    pub invitations_per_organization_per_hour: u32,
    /// `ASSET_REQUESTS_PER_USER_PER_HOUR`: asset requests one portal user
    /// may make in an hour (each emails every staff member).
    pub asset_requests_per_user_per_hour: u32,
    /// `PAYMENT_ATTEMPTS_PER_USER_PER_HOUR`: `payInvoice` attempts one user
    /// may make in an hour (card testing).
    pub payment_attempts_per_user_per_hour: u32,
}

/// The default of `GRAPHQL_MAX_CONCURRENCY`: four per CPU. Past that, a
/// CPU-bound request (a large page is thousands of fields) only waits longer
/// for the CPU while its memory is held; the database's round trips are
/// covered by a few requests per CPU.
#[must_use]
pub fn default_graphql_concurrency() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    u32::try_from(cpus.saturating_mul(4)).unwrap_or(u32::MAX)
}

impl Settings {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable with an unusable value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable with an unusable value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
            || database_url.starts_with("sqlite:"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }

        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::new("REDIS_URL", "must start with redis:// or rediss://"));
        }

        let queue_namespace = get("QUEUE_NAMESPACE").unwrap_or_else(|| "portal".to_owned());
        if !queue_namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(ConfigError::new(
                "QUEUE_NAMESPACE",
                "may contain only letters, digits, '-', '_', '.' and ':'",
            ));
        }

        let smtp_url = get("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::new("SMTP_URL", "must start with smtp:// or smtps://"));
        }

        let mail_from = get("MAIL_FROM").unwrap_or_else(|| "Customer Portal <no-reply@localhost>".to_owned());
        if !mail_from.contains('@') {
            return Err(ConfigError::new(
                "MAIL_FROM",
                "must be an email address, e.g. Name <user@host>",
            ));
        }

        let public_url = get("PUBLIC_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) || public_url.len() < 10 {
            return Err(ConfigError::new("PUBLIC_URL", "must be an http:// or https:// URL"));
        }

        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be `pretty` or `json`")),
        };

        let graphql_introspection = match get("GRAPHQL_INTROSPECTION").as_deref() {
            None | Some("staff") => Introspection::Staff,
            Some("all") => Introspection::All,
            Some("off") => Introspection::Off,
            Some(_) => {
                return Err(ConfigError::new(
                    "GRAPHQL_INTROSPECTION",
                    "must be `staff`, `all` or `off`",
                ));
            }
        };

        let graphql_execution = match get("GRAPHQL_EXECUTION").as_deref() {
            None | Some("fast") => GraphqlExecution::Fast,
            Some("generic") => GraphqlExecution::Generic,
            Some(_) => return Err(ConfigError::new("GRAPHQL_EXECUTION", "must be `fast` or `generic`")),
        };

        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .map(|list| parse_origins(&list))
            .transpose()?
            .unwrap_or_default();

        let graphql_max_concurrency = parse_positive(&get, "GRAPHQL_MAX_CONCURRENCY", default_graphql_concurrency())?;

        let migrate_on_start = match get("MIGRATE_ON_START").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(_) => return Err(ConfigError::new("MIGRATE_ON_START", "must be `true` or `false`")),
        };

        let trusted_proxies = get("TRUSTED_PROXIES")
            .map(|list| parse_networks(&list))
            .transpose()?
            .unwrap_or_default();

        let metrics_addr = get("METRICS_ADDR")
            .map(|raw| {
                raw.parse::<SocketAddr>().map_err(|_| {
                    ConfigError::new(
                        "METRICS_ADDR",
                        format!("expected a socket address such as 127.0.0.1:9100, got {raw:?}"),
                    )
                })
            })
            .transpose()?;

        Ok(Self {
            database_url: SecretString::from(database_url),
            redis_url: redis_url.map(SecretString::from),
            queue_namespace,
            smtp_url: smtp_url.map(SecretString::from),
            mail_outbox_dir: PathBuf::from(get("MAIL_OUTBOX_DIR").unwrap_or_else(|| "mail-outbox".to_owned())),
            mail_from,
            listen_addr: parse(
                &get,
                "LISTEN_ADDR",
                "127.0.0.1:8000",
                "a socket address such as 127.0.0.1:8000",
            )?,
            public_url,
            invitation_ttl_hours: parse_positive(&get, "INVITATION_TTL_HOURS", 168)?,
            session_ttl_hours: parse_positive(&get, "SESSION_TTL_HOURS", 720)?,
            worker_concurrency: parse_positive(&get, "WORKER_CONCURRENCY", 4)?,
            smtp_timeout_seconds: parse_positive(&get, "SMTP_TIMEOUT_SECONDS", 30)?,
            http_request_timeout_seconds: parse_positive(&get, "HTTP_REQUEST_TIMEOUT_SECONDS", 30)?,
            http_header_timeout_seconds: parse_positive(&get, "HTTP_HEADER_TIMEOUT_SECONDS", 10)?,
            email_max_attempts: parse_positive(&get, "EMAIL_MAX_ATTEMPTS", 5)?,
            email_retry_base_ms: parse_positive(&get, "EMAIL_RETRY_BASE_MS", 2000)?,
            outbox_redeliver_seconds: parse_positive(&get, "OUTBOX_REDELIVER_SECONDS", 15)?,
            outbox_sweep_interval_ms: parse_positive(&get, "OUTBOX_SWEEP_INTERVAL_MS", 1000)?,
            graphql_max_concurrency,
            graphql_max_waiting: parse_positive(
                &get,
                "GRAPHQL_MAX_WAITING",
                graphql_max_concurrency.saturating_mul(4),
            )?,
            log_format,
            graphql_introspection,
            graphql_execution,
            cors_allowed_origins,
            migrate_on_start,
            trusted_proxies,
            metrics_addr,
            invitations_per_organization_per_hour: parse_positive(
                &get,
                "INVITATIONS_PER_ORGANIZATION_PER_HOUR",
                DEFAULT_INVITATIONS_PER_ORGANIZATION_PER_HOUR,
            )?,
            asset_requests_per_user_per_hour: parse_positive(
                &get,
                "ASSET_REQUESTS_PER_USER_PER_HOUR",
                DEFAULT_ASSET_REQUESTS_PER_USER_PER_HOUR,
            )?,
            payment_attempts_per_user_per_hour: parse_positive(
                &get,
                "PAYMENT_ATTEMPTS_PER_USER_PER_HOUR",
                DEFAULT_PAYMENT_ATTEMPTS_PER_USER_PER_HOUR,
            )?,
        })
    }

    /// `OUTBOX_REDELIVER_SECONDS` as a duration.
    #[must_use]
    pub fn outbox_redeliver_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.outbox_redeliver_seconds))
    }

    /// `HTTP_REQUEST_TIMEOUT_SECONDS` as a duration.
    #[must_use]
    pub fn http_request_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.http_request_timeout_seconds))
    }

    /// `HTTP_HEADER_TIMEOUT_SECONDS` as a duration.
    #[must_use]
    pub fn http_header_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.http_header_timeout_seconds))
    }

    /// `SMTP_TIMEOUT_SECONDS` as a duration.
    #[must_use]
    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.smtp_timeout_seconds))
    }

    /// How long a worker's claim on a delivery protects it from other
    /// workers: the longest send ([`Settings::smtp_timeout`]) and a margin
    /// for rendering and recording the outcome, so that a slow relay is
    /// never handed the same email twice; only a crashed worker's row
    /// outlives it.
    #[must_use]
    pub fn delivery_lease(&self) -> Duration {
        self.smtp_timeout() + crate::outbox::LEASE_MARGIN
    }

    /// `OUTBOX_SWEEP_INTERVAL_MS` as a duration.
    #[must_use]
    pub fn outbox_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.outbox_sweep_interval_ms)
    }

    /// Whether the database is PostgreSQL (else SQLite).
    #[must_use]
    pub fn is_postgres(&self) -> bool {
        self.database_url.expose_secret().starts_with("postgres")
    }
}

fn parse<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    let raw = get(variable).unwrap_or_else(|| default.to_owned());
    raw.parse()
        .map_err(|_| ConfigError::new(variable, format!("expected {expected}, got {raw:?}")))
}

fn parse_positive<T>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Default + ToString,
{
    let value: T = parse(get, variable, &default.to_string(), "a positive whole number")?;
    if value <= T::default() {
        return Err(ConfigError::new(variable, "must be greater than zero"));
    }
    Ok(value)
}

/// Parses `TRUSTED_PROXIES`: comma-separated networks (`10.0.0.0/8`,
/// `fd00::/8`) or single addresses (`192.0.2.10`, taken as /32 or /128).
fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!("expected networks such as 10.0.0.0/8 or addresses, got {item:?}"),
                    )
                })
        })
        .collect()
}

/// Parses `CORS_ALLOWED_ORIGINS`: comma-separated origins, each
/// `http(s)://host[:port]` with no path, matched exactly (no wildcards: a
/// browser origin allowed by mistake could read a signed-in user's data).
fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = rest.is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !valid {
            return Err(ConfigError::new(
                "CORS_ALLOWED_ORIGINS",
                format!(
                    "`{origin}` is not an origin: give comma-separated origins such as https://app.example.com or http://localhost:3000 (scheme, host and port only, no path, no wildcard)"
                ),
            ));
        }
        origins.push(origin.to_owned());
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        assert!(settings(&[]).expect("valid").cors_allowed_origins.is_empty());
        let s = settings(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000,",
        )])
        .expect("valid");
        assert_eq!(
            s.cors_allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        for bad in ["*", "app.example.com", "https://app.example.com/path", "https://"] {
            let err = settings(&[("CORS_ALLOWED_ORIGINS", bad)]).expect_err(bad);
            assert!(err.to_string().contains("CORS_ALLOWED_ORIGINS"), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_are_networks_or_addresses_and_metrics_addr_a_socket_address() {
        let s = settings(&[]).expect("valid");
        assert!(s.trusted_proxies.is_empty() && s.metrics_addr.is_none() && s.migrate_on_start);
        let s = settings(&[
            ("TRUSTED_PROXIES", "10.1.2.3/8, 192.0.2.10 ,fd00::/8"),
            ("METRICS_ADDR", "127.0.0.1:9100"),
            ("MIGRATE_ON_START", "false"),
        ])
        .expect("valid");
        let shown: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.10/32", "fd00::/8"]);
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9100".parse().expect("addr")));
        assert!(!s.migrate_on_start);
        for (variable, bad) in [
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "lb.internal"),
            ("METRICS_ADDR", "9100"),
            ("MIGRATE_ON_START", "sometimes"),
        ] {
            let err = settings(&[(variable, bad)]).expect_err(bad);
            assert!(err.to_string().contains(variable), "{err}");
        }
    }

    #[test]
    fn introspection_defaults_to_staff_and_rejects_unknown_values() {
        assert_eq!(
            settings(&[]).expect("valid").graphql_introspection,
            Introspection::Staff
        );
        assert_eq!(
            settings(&[("GRAPHQL_INTROSPECTION", "all")])
                .expect("valid")
                .graphql_introspection,
            Introspection::All
        );
        assert_eq!(
            settings(&[("GRAPHQL_INTROSPECTION", "off")])
                .expect("valid")
                .graphql_introspection,
            Introspection::Off
        );
        let err = settings(&[("GRAPHQL_INTROSPECTION", "yes")]).expect_err("invalid");
        assert!(err.to_string().contains("GRAPHQL_INTROSPECTION"));
    }

    #[test]
    fn defaults_match_the_design_table() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert!(s.redis_url.is_none() && s.smtp_url.is_none());
        assert_eq!(s.queue_namespace, "portal");
        assert_eq!(s.mail_outbox_dir, PathBuf::from("mail-outbox"));
        assert_eq!(s.mail_from, "Customer Portal <no-reply@localhost>");
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(s.public_url, "http://127.0.0.1:8000");
        assert_eq!(
            (
                s.invitation_ttl_hours,
                s.session_ttl_hours,
                s.worker_concurrency,
                s.email_max_attempts
            ),
            (168, 720, 4, 5)
        );
        assert_eq!(s.email_retry_base_ms, 2000);
        assert_eq!(s.outbox_redeliver_after(), Duration::from_secs(15));
        assert_eq!(s.outbox_sweep_interval(), Duration::from_millis(1000));
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.graphql_max_concurrency, default_graphql_concurrency());
        assert!(s.graphql_max_concurrency >= 4);
        let s = settings(&[("GRAPHQL_MAX_CONCURRENCY", "3")]).expect("valid");
        assert_eq!(s.graphql_max_concurrency, 3);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("LISTEN_ADDR", "localhost"),
            ("INVITATION_TTL_HOURS", "0"),
            ("SESSION_TTL_HOURS", "-3"),
            ("WORKER_CONCURRENCY", "many"),
            ("LOG_FORMAT", "xml"),
            ("PUBLIC_URL", "ftp://x"),
            ("QUEUE_NAMESPACE", "has space"),
            ("OUTBOX_REDELIVER_SECONDS", "0"),
            ("OUTBOX_REDELIVER_SECONDS", "soon"),
            ("OUTBOX_SWEEP_INTERVAL_MS", "-1"),
            ("OUTBOX_SWEEP_INTERVAL_MS", "0"),
            ("GRAPHQL_MAX_CONCURRENCY", "0"),
        ] {
            let err = settings(&[(var, value)]).expect_err(var);
            assert_eq!(err.variable, var);
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn outbox_timings_can_be_shortened() {
        let s = settings(&[("OUTBOX_REDELIVER_SECONDS", "1"), ("OUTBOX_SWEEP_INTERVAL_MS", "200")]).expect("valid");
        assert_eq!(s.outbox_redeliver_after(), Duration::from_secs(1));
        assert_eq!(s.outbox_sweep_interval(), Duration::from_millis(200));
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://u:hunter22@db/x"),
            ("SMTP_URL", "smtp://u:pw77@mail:25"),
        ])
        .expect("valid");
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter22") && !printed.contains("pw77"), "{printed}");
    }
}
