//! Rate limits for the public sign-in operations (`staffLogin`,
//! `portalLogin`, `acceptInvitation`, `requestNewInvitation`) and the
//! password ones (`requestPasswordReset`, `resetPassword`,
//! `changePassword`), in a fixed [`WINDOW`], on three buckets at once:
//!
//! - the subject (an email, a link) *from one client address*:
//!   [`MAX_FAILURES`]; this is what stops a guesser, and it cannot lock out
//!   the subject's owner signing in from elsewhere;
//! - the subject from anywhere: [`MAX_PER_SUBJECT`], far higher, a ceiling
//!   for guessing spread over many addresses;
//! - the client address, whatever the subject: [`MAX_PER_ADDRESS`] (many
//!   people can share one address behind a NAT). IPv6 counts per /64.
//!
//! `invitationPreview` (and the accept page that shows it) has looser
//! limits of the same shape ([`PREVIEW_LIMITS`]): opening a link is not a
//! guess, but thousands of tokens tried from one address are.
//!
//! The same counters hold the **quotas**, one bucket per subject in an
//! hour: invitation emails per organization, asset requests per portal
//! user, payment attempts per user ([`Quotas`], from the settings
//! `INVITATIONS_PER_ORGANIZATION_PER_HOUR`, `ASSET_REQUESTS_PER_USER_PER_HOUR`
//! and `PAYMENT_ATTEMPTS_PER_USER_PER_HOUR`): they bound how many emails and
//! card charges one tenant's staff or one customer can cause.
//!
//! [`RateLimiter::acquire`] checks all three and counts the attempt in one
//! atomic step (a Lua script on Redis, one lock in memory) *before* the
//! password is hashed, so parallel attempts cannot slip past the limit
//! between a check and a count. An attempt that turns out not to be a
//! guess (a success, a malformed input) is handed back with
//! [`Attempt::refund`]; one that is dropped stays counted.
//!
//! With Redis configured the counters live there, so every api process
//! shares them; each call is bounded by [`REDIS_TIMEOUT`] and fails open (a
//! warning, and `/readyz` shows the outage) rather than stalling sign-in.
//! Without Redis (the embedded mode, one process) they live in memory.
//! Subjects are hashed before they become keys: no email address or token
//! is stored in Redis in the clear.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

use crate::{auth::token_digest, error::ApiError};

/// Counted attempts per subject from one client address within [`WINDOW`].
pub const MAX_FAILURES: u64 = 10;
/// Counted attempts per subject from all addresses within [`WINDOW`].
pub const MAX_PER_SUBJECT: u64 = 100;
/// Counted attempts per client address within [`WINDOW`] (many people can
/// share one address behind a NAT).
pub const MAX_PER_ADDRESS: u64 = 50;
/// The counting window of the sign-in limits.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The window of the quotas.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(60 * 60);

/// `invitationPreview`'s limits: per token from one address, per token,
/// per address, in [`WINDOW`].
pub const PREVIEW_LIMITS: Limits = Limits {
    pair: 60,
    subject: 600,
    address: 300,
};

/// The limits of one guessable action's three buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per subject from one address.
    pub pair: u64,
    /// Per subject from all addresses.
    pub subject: u64,
    /// Per address, all subjects.
    pub address: u64,
}

/// The sign-in actions' limits.
pub const SIGN_IN_LIMITS: Limits = Limits {
    pair: MAX_FAILURES,
    subject: MAX_PER_SUBJECT,
    address: MAX_PER_ADDRESS,
};

/// The hourly quotas (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Invitation emails (invite, resend) per organization per hour.
    pub invitations_per_organization: u64,
    /// Asset requests per portal user per hour.
    pub asset_requests_per_user: u64,
    /// Payment attempts per user per hour.
    pub payment_attempts_per_user: u64,
}

impl Quotas {
    /// The settings' defaults.
    pub const DEFAULT: Self = Self {
        invitations_per_organization: common::config::DEFAULT_INVITATIONS_PER_ORGANIZATION_PER_HOUR as u64,
        asset_requests_per_user: common::config::DEFAULT_ASSET_REQUESTS_PER_USER_PER_HOUR as u64,
        payment_attempts_per_user: common::config::DEFAULT_PAYMENT_ATTEMPTS_PER_USER_PER_HOUR as u64,
    };

    /// The quotas the settings name.
    #[must_use]
    pub fn from_settings(settings: &common::Settings) -> Self {
        Self {
            invitations_per_organization: u64::from(settings.invitations_per_organization_per_hour),
            asset_requests_per_user: u64::from(settings.asset_requests_per_user_per_hour),
            payment_attempts_per_user: u64::from(settings.payment_attempts_per_user_per_hour),
        }
    }
}
/// The longest one Redis call of the limiter may take before it gives up
/// (and lets the attempt through).
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

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
    /// `invitationPreview` and the accept page (every opening counts).
    InvitationPreview,
    /// Quota: an invitation email sent by staff (subject: the organization).
    InvitationQuota,
    /// Quota: `requestAsset` (subject: the portal user).
    AssetRequestQuota,
    /// Quota: `payInvoice` (subject: the user).
    PaymentQuota,
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
            Self::InvitationPreview => "preview",
            Self::InvitationQuota => "quota-invitations",
            Self::AssetRequestQuota => "quota-asset-requests",
            Self::PaymentQuota => "quota-payments",
        }
    }

    fn window(self) -> Duration {
        match self {
            Self::InvitationQuota | Self::AssetRequestQuota | Self::PaymentQuota => QUOTA_WINDOW,
            _ => WINDOW,
        }
    }
}

enum Store {
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
    /// Count, window start, window length.
    Memory(Mutex<HashMap<String, (u64, Instant, Duration)>>),
}

/// Checks every bucket (`KEYS`, with their limits in `ARGV[2..]`) and, when
/// none is full, counts the attempt in all of them; the window
/// (`ARGV[1]` seconds) starts at a bucket's first attempt. Answers
/// `{1, 0}` when counted, `{0, ttl}` when a bucket is full. A script runs
/// atomically: nothing can count between its check and its count.
const ACQUIRE_SCRIPT: &str = r"
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    return {0, redis.call('TTL', key)}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return {1, 0}
";

/// Takes back one counted attempt from each bucket that still exists (an
/// expired bucket stays gone).
const REFUND_SCRIPT: &str = r"
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and tonumber(redis.call('GET', key)) > 0 then
    redis.call('DECR', key)
  end
end
return 0
";

/// The limiter of one api process.
pub struct RateLimiter {
    store: Store,
    acquire: redis::Script,
    refund: redis::Script,
    quotas: Quotas,
}

/// An attempt counted by [`RateLimiter::acquire`]. Dropping it keeps it
/// counted; [`Attempt::refund`] takes it back.
#[must_use = "an attempt stays counted unless it is refunded"]
pub struct Attempt<'a> {
    limiter: &'a RateLimiter,
    keys: Vec<String>,
}

impl Attempt<'_> {
    /// Takes the attempt back: it was not a guess (a success, or an input
    /// refused before anything was checked).
    pub async fn refund(self) {
        self.limiter.release(&self.keys).await;
    }
}

impl RateLimiter {
    /// Counters in Redis under `{namespace}:ratelimit:`, shared by all api processes.
    #[must_use]
    pub fn redis(conn: ConnectionManager, namespace: &str) -> Self {
        Self::with_store(Store::Redis {
            conn,
            prefix: format!("{namespace}:ratelimit"),
        })
    }

    /// Counters in this process's memory.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::with_store(Store::Memory(Mutex::new(HashMap::new())))
    }

    fn with_store(store: Store) -> Self {
        Self {
            store,
            acquire: redis::Script::new(ACQUIRE_SCRIPT),
            refund: redis::Script::new(REFUND_SCRIPT),
            quotas: Quotas::DEFAULT,
        }
    }

    /// The same limiter with these quotas.
    #[must_use]
    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The buckets of an attempt, with their limits.
    fn buckets(&self, action: Action, subject: &str, address: Option<IpAddr>) -> Vec<(String, u64)> {
        let prefix = match &self.store {
            Store::Redis { prefix, .. } => prefix.as_str(),
            Store::Memory(_) => "ratelimit",
        };
        let quota = match action {
            Action::InvitationQuota => Some(self.quotas.invitations_per_organization),
            Action::AssetRequestQuota => Some(self.quotas.asset_requests_per_user),
            Action::PaymentQuota => Some(self.quotas.payment_attempts_per_user),
            _ => None,
        };
        let limits = if matches!(action, Action::InvitationPreview) {
            PREVIEW_LIMITS
        } else {
            SIGN_IN_LIMITS
        };
        let action = action.name();
        let subject = token_digest(&subject.trim().to_lowercase());
        if let Some(quota) = quota {
            return vec![(format!("{prefix}:{action}:q:{subject}"), quota)];
        }
        let mut buckets = vec![(format!("{prefix}:{action}:s:{subject}"), limits.subject)];
        match address.map(address_key) {
            Some(address) => {
                buckets.push((format!("{prefix}:{action}:sa:{subject}:{address}"), limits.pair));
                buckets.push((format!("{prefix}:{action}:a:{address}"), limits.address));
            }
            // In-process callers without an address: the subject alone
            // gets the per-address limit.
            None => buckets.push((format!("{prefix}:{action}:sa:{subject}:-"), limits.pair)),
        }
        buckets
    }

    /// Counts an attempt at `action` on `subject` from `address`, unless
    /// one of its buckets is full; one atomic step.
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds until the full bucket's window ends.
    pub async fn acquire(
        &self,
        action: Action,
        subject: &str,
        address: Option<IpAddr>,
    ) -> Result<Attempt<'_>, ApiError> {
        let buckets = self.buckets(action, subject, address);
        let window = action.window();
        let refused = match &self.store {
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let mut invocation = self.acquire.prepare_invoke();
                for (key, _) in &buckets {
                    invocation.key(key);
                }
                invocation.arg(window.as_secs());
                for (_, limit) in &buckets {
                    invocation.arg(*limit);
                }
                let answer: Result<redis::RedisResult<(u8, i64)>, _> =
                    tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut conn)).await;
                match answer {
                    Ok(Ok((1, _))) => None,
                    Ok(Ok((_, ttl))) => Some(Duration::from_secs(ttl.max(1).unsigned_abs())),
                    Ok(Err(err)) => {
                        // Failing open keeps sign-in working through a Redis
                        // outage; the outage itself shows on /readyz.
                        tracing::warn!(error = %err, "rate limit check failed; letting the attempt through");
                        None
                    }
                    Err(_) => {
                        tracing::warn!(
                            timeout_ms = REDIS_TIMEOUT.as_millis(),
                            "rate limit check timed out; letting the attempt through"
                        );
                        None
                    }
                }
            }
            Store::Memory(map) => {
                let Ok(mut map) = map.lock() else {
                    return Ok(Attempt {
                        limiter: self,
                        keys: Vec::new(),
                    });
                };
                if map.len() > 100_000 {
                    map.retain(|_, (_, started, window)| started.elapsed() < *window);
                }
                let full = buckets.iter().find_map(|(key, limit)| match map.get(key) {
                    Some((count, started, window)) if started.elapsed() < *window && count >= limit => {
                        Some(window.saturating_sub(started.elapsed()))
                    }
                    _ => None,
                });
                if full.is_none() {
                    for (key, _) in &buckets {
                        let entry = map.entry(key.clone()).or_insert((0, Instant::now(), window));
                        if entry.1.elapsed() >= entry.2 {
                            *entry = (0, Instant::now(), window);
                        }
                        entry.0 += 1;
                    }
                }
                full
            }
        };
        match refused {
            Some(wait) => Err(ApiError::RateLimited {
                retry_after_seconds: wait.as_secs().max(1),
            }),
            None => Ok(Attempt {
                limiter: self,
                keys: buckets.into_iter().map(|(key, _)| key).collect(),
            }),
        }
    }

    /// Counts one use of an hourly quota (`InvitationQuota`,
    /// `AssetRequestQuota`, `PaymentQuota`) by `subject` (an organization
    /// or user id), unless it is used up; hand it back with
    /// [`Attempt::refund`] when nothing was done after all.
    ///
    /// # Errors
    /// `RATE_LIMITED` ([`ApiError::QuotaExceeded`]) naming the quota and its
    /// setting, with the seconds until the hour's window ends.
    pub async fn quota(&self, action: Action, subject: uuid::Uuid) -> Result<Attempt<'_>, ApiError> {
        let (what, setting, limit) = match action {
            Action::InvitationQuota => (
                "invitation emails of this organization",
                "INVITATIONS_PER_ORGANIZATION_PER_HOUR",
                self.quotas.invitations_per_organization,
            ),
            Action::AssetRequestQuota => (
                "asset requests of this portal user",
                "ASSET_REQUESTS_PER_USER_PER_HOUR",
                self.quotas.asset_requests_per_user,
            ),
            Action::PaymentQuota => (
                "payment attempts of this user",
                "PAYMENT_ATTEMPTS_PER_USER_PER_HOUR",
                self.quotas.payment_attempts_per_user,
            ),
            _ => return self.acquire(action, &subject.to_string(), None).await,
        };
        self.acquire(action, &subject.to_string(), None)
            .await
            .map_err(|err| match err {
                ApiError::RateLimited { retry_after_seconds } => ApiError::QuotaExceeded {
                    what,
                    setting,
                    limit,
                    retry_after_seconds,
                },
                other => other,
            })
    }

    async fn release(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        match &self.store {
            Store::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let mut invocation = self.refund.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                let answer: Result<redis::RedisResult<i64>, _> =
                    tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut conn)).await;
                if !matches!(answer, Ok(Ok(_))) {
                    tracing::warn!("handing back a rate-limited attempt failed or timed out");
                }
            }
            Store::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    for key in keys {
                        if let Some(entry) = map.get_mut(key) {
                            entry.0 = entry.0.saturating_sub(1);
                        }
                    }
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
    async fn the_eleventh_attempt_from_one_address_is_refused_and_a_refund_gives_it_back() {
        let limiter = RateLimiter::in_memory();
        let address = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..MAX_FAILURES {
            let _counted = limiter
                .acquire(Action::StaffLogin, "a@b.example", address)
                .await
                .expect("allowed");
        }
        let err = limiter
            .acquire(Action::StaffLogin, " A@b.example", address)
            .await
            .err()
            .expect("limited");
        match err {
            ApiError::RateLimited { retry_after_seconds } => assert!(retry_after_seconds > 800),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        // The same subject from another address, another subject and
        // another action are not affected.
        let elsewhere = Some(IpAddr::from([198, 51, 100, 7]));
        let other = limiter.acquire(Action::StaffLogin, "a@b.example", elsewhere).await;
        other.expect("the owner elsewhere").refund().await;
        let _ = limiter
            .acquire(Action::StaffLogin, "c@b.example", address)
            .await
            .expect("other email");
        let _ = limiter
            .acquire(Action::PortalLogin, "a@b.example", address)
            .await
            .expect("other action");
    }

    #[tokio::test]
    async fn refunded_attempts_do_not_count() {
        let limiter = RateLimiter::in_memory();
        let address = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..MAX_FAILURES * 3 {
            limiter
                .acquire(Action::StaffLogin, "a@b.example", address)
                .await
                .expect("allowed")
                .refund()
                .await;
        }
    }

    #[tokio::test]
    async fn the_subject_has_a_ceiling_over_all_addresses_and_the_address_one_over_all_subjects() {
        let limiter = RateLimiter::in_memory();
        for n in 0..MAX_PER_SUBJECT {
            let address = Some(IpAddr::from([10, 0, (n / 250) as u8, (n % 250) as u8]));
            let _ = limiter
                .acquire(Action::StaffLogin, "a@b.example", address)
                .await
                .expect("under the ceiling");
        }
        let fresh = Some(IpAddr::from([203, 0, 113, 1]));
        assert!(limiter.acquire(Action::StaffLogin, "a@b.example", fresh).await.is_err());

        let address = Some(IpAddr::from([203, 0, 113, 2]));
        for n in 0..MAX_PER_ADDRESS {
            let _ = limiter
                .acquire(Action::PortalLogin, &format!("user{n}@b.example"), address)
                .await
                .expect("under the address limit");
        }
        assert!(
            limiter
                .acquire(Action::PortalLogin, "someone@b.example", address)
                .await
                .is_err()
        );
    }
}
