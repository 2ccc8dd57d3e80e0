//! Rate limits for the public sign-in operations (`staffLogin`,
//! `portalLogin`, `acceptInvitation`, `requestNewInvitation`) and the
//! password ones (`requestPasswordReset`, `resetPassword`,
//! `changePassword`): at most
//! [`MAX_FAILURES`] counted attempts per subject (an email, a link) and a
//! looser limit per client address, in a fixed [`WINDOW`].
//!
//! With Redis configured the counters live there (`INCR` + `EXPIRE`), so
//! every api process shares them; without Redis (the embedded mode, one
//! process) they live in memory. Subjects are hashed before they become keys:
//! no email address or token is stored in Redis in the clear.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

use crate::{auth::token_digest, error::ApiError};

/// Counted attempts per subject within [`WINDOW`].
pub const MAX_FAILURES: u64 = 10;
/// Counted attempts per client address within [`WINDOW`] (many people can
/// share one address behind a NAT).
pub const MAX_PER_ADDRESS: u64 = 50;
/// The counting window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// What is being limited.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// `staffLogin`.
    StaffLogin,
    /// `portalLogin`.
    PortalLogin,
    /// `acceptInvitation`.
    AcceptInvitation,
    /// `requestNewInvitation`.
    RequestNewInvitation,
    /// `requestPasswordReset` (every request counts: each sends an email).
    RequestPasswordReset,
    /// `resetPassword` (a wrong token counts).
    ResetPassword,
    /// `changePassword` (a wrong current password counts).
    ChangePassword,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::StaffLogin => "staff-login",
            Self::PortalLogin => "portal-login",
            Self::AcceptInvitation => "accept",
            Self::RequestNewInvitation => "new-link",
            Self::RequestPasswordReset => "reset-request",
            Self::ResetPassword => "reset",
            Self::ChangePassword => "change-password",
        }
    }
}

enum Store {
    Redis { conn: ConnectionManager, prefix: String },
    Memory(Mutex<HashMap<String, (u64, Instant)>>),
}

/// The limiter of one api process.
pub struct RateLimiter {
    store: Store,
}

impl RateLimiter {
    /// Counters in Redis under `{namespace}:ratelimit:`, shared by all api processes.
    #[must_use]
    pub fn redis(conn: ConnectionManager, namespace: &str) -> Self {
        Self {
            store: Store::Redis {
                conn,
                prefix: format!("{namespace}:ratelimit"),
            },
        }
    }

    /// Counters in this process's memory.
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            store: Store::Memory(Mutex::new(HashMap::new())),
        }
    }

    fn keys(&self, action: Action, subject: &str, address: Option<IpAddr>) -> Vec<(String, u64)> {
        let prefix = match &self.store {
            Store::Redis { prefix, .. } => prefix.as_str(),
            Store::Memory(_) => "ratelimit",
        };
        let mut keys = vec![(
            format!(
                "{prefix}:{}:s:{}",
                action.name(),
                token_digest(&subject.trim().to_lowercase())
            ),
            MAX_FAILURES,
        )];
        if let Some(address) = address {
            keys.push((
                format!("{prefix}:{}:a:{}", action.name(), address_key(address)),
                MAX_PER_ADDRESS,
            ));
        }
        keys
    }

    /// Refuses when the subject or the address used up its attempts.
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds until the window ends.
    pub async fn check(&self, action: Action, subject: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        for (key, limit) in self.keys(action, subject, address) {
            let (count, ttl) = self.read(&key).await;
            if count >= limit {
                return Err(ApiError::RateLimited {
                    retry_after_seconds: ttl.as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    /// Counts one attempt against the subject and the address.
    pub async fn count(&self, action: Action, subject: &str, address: Option<IpAddr>) {
        for (key, _) in self.keys(action, subject, address) {
            self.increment(&key).await;
        }
    }

    async fn read(&self, key: &str) -> (u64, Duration) {
        match &self.store {
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let result: redis::RedisResult<(Option<u64>, i64)> =
                    redis::pipe().get(key).ttl(key).query_async(&mut conn).await;
                match result {
                    Ok((count, ttl)) => (count.unwrap_or(0), Duration::from_secs(ttl.max(0).unsigned_abs())),
                    Err(err) => {
                        // Failing open keeps sign-in working through a Redis
                        // outage; the outage itself shows on /readyz.
                        tracing::warn!(error = %err, "rate limit lookup failed");
                        (0, Duration::ZERO)
                    }
                }
            }
            Store::Memory(map) => {
                let Ok(map) = map.lock() else {
                    return (0, Duration::ZERO);
                };
                match map.get(key) {
                    Some((count, started)) if started.elapsed() < WINDOW => {
                        (*count, WINDOW.saturating_sub(started.elapsed()))
                    }
                    _ => (0, Duration::ZERO),
                }
            }
        }
    }

    async fn increment(&self, key: &str) {
        match &self.store {
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let window = i64::try_from(WINDOW.as_secs()).unwrap_or(900);
                // NX: the window starts at the first counted attempt.
                let result: redis::RedisResult<()> = redis::pipe()
                    .incr(key, 1)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(window)
                    .arg("NX")
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                if let Err(err) = result {
                    tracing::warn!(error = %err, "rate limit count failed");
                }
            }
            Store::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    if map.len() > 100_000 {
                        map.retain(|_, (_, started)| started.elapsed() < WINDOW);
                    }
                    let entry = map.entry(key.to_owned()).or_insert((0, Instant::now()));
                    if entry.1.elapsed() >= WINDOW {
                        *entry = (0, Instant::now());
                    }
                    entry.0 += 1;
                }
            }
        }
    }
}

/// The part of a client address its limits count against: the whole IPv4
/// address, and for IPv6 the /64 network (one subscriber's prefix: its
/// hosts pick the lower 64 bits freely, so counting per /128 would give each
/// client 2^64 buckets). An IPv4-mapped IPv6 address counts as the IPv4 one.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let same_network: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("ip");
        let other_network: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(one), "2001:db8:1:2::/64");
        assert_eq!(address_key(one), address_key(same_network));
        assert_ne!(address_key(one), address_key(other_network));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(address_key(mapped), "192.0.2.7");
        assert_eq!(address_key(IpAddr::from([192, 0, 2, 7])), "192.0.2.7");
    }

    #[tokio::test]
    async fn the_eleventh_attempt_in_the_window_is_refused_with_a_retry_time() {
        let limiter = RateLimiter::in_memory();
        let address = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..MAX_FAILURES {
            limiter
                .check(Action::StaffLogin, "a@b.example", address)
                .await
                .expect("allowed");
            limiter.count(Action::StaffLogin, "A@b.example", address).await;
        }
        let err = limiter
            .check(Action::StaffLogin, "a@b.example", address)
            .await
            .expect_err("limited");
        match err {
            ApiError::RateLimited { retry_after_seconds } => assert!(retry_after_seconds > 800),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        // Another subject and another action are not affected.
        limiter
            .check(Action::StaffLogin, "c@b.example", address)
            .await
            .expect("other email");
        limiter
            .check(Action::PortalLogin, "a@b.example", address)
            .await
            .expect("other action");
    }
}
