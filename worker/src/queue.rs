//! Where email jobs go after the business transaction commits: the Redis
//! queue that `worker` processes drain, or the api's in-process channel when
//! `REDIS_URL` is unset.
//!
//! A job is only a delivery id ([`EmailJob`]); the `email_deliveries` row is
//! the truth. So a push may fail or be lost (a full channel, Redis down, a
//! wiped queue) without losing an email: the sweeper pushes the row again
//! once `OUTBOX_REDELIVER_SECONDS` have passed. Callers log a failed push and
//! carry on; they never roll back the business change because of it.
//!
//! This module knows nothing of how a job is processed.

use std::{fmt, sync::LazyLock, time::Duration};

use apalis::prelude::{TaskSink, TaskSinkError};
use apalis_redis::{Config, RedisStorage};
use common::outbox::{EmailJob, queue_name};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use uuid::Uuid;

/// How often a worker tells Redis it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Heartbeats a worker may miss before a live worker re-queues its fetched
/// jobs (so a crashed worker's jobs come back after about 6 s, not apalis's
/// default 5 minutes).
pub const MISSED_HEARTBEATS: usize = 3;

/// Capacity of the in-process channel; a push beyond it fails with
/// [`QueueError::Full`] and the sweeper delivers the row later.
pub const IN_PROCESS_CAPACITY: usize = 1024;

/// Most jobs [`JobQueue::promote_due`] moves per step. apalis-redis's fetch
/// script moves *all* due scheduled jobs with one `RPUSH key unpack(ids)`,
/// and Lua's `unpack` fails ("too many results to unpack") beyond about
/// 8000 values: a fetch facing that many fails, and the worker with it.
pub const PROMOTE_CHUNK: usize = 1000;

/// What apalis-redis's fetch does first (move due jobs from the scheduled
/// set to the ready list, then raise the signal), in steps of at most
/// `ARGV[2]` jobs. KEYS: scheduled set, ready list, signal list. ARGV: now
/// (Unix seconds), step size. Returns the number moved.
static PROMOTE_DUE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local moved = 0
while true do
    local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
    if #ids == 0 then break end
    redis.call('RPUSH', KEYS[2], unpack(ids))
    redis.call('ZREM', KEYS[1], unpack(ids))
    moved = moved + #ids
end
if moved > 0 then
    redis.call('DEL', KEYS[3])
    redis.call('LPUSH', KEYS[3], 1)
end
return moved
",
    )
});

/// A push that did not reach the queue. The delivery row is still QUEUED, so
/// the sweeper pushes it again later: log it and carry on.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis refused or did not answer.
    #[error("pushing the job to Redis failed: {0}")]
    Redis(#[source] TaskSinkError<apalis_redis::Error>),
    /// The in-process channel is full (a burst beyond its capacity).
    #[error("the in-process email queue is full")]
    Full,
    /// The in-process consumers have stopped (the api is shutting down).
    #[error("the in-process email queue is closed")]
    Closed,
}

/// The Redis side of a [`JobQueue`]: the apalis storage of the namespace's
/// `email` queue and a connection to read its depth.
#[derive(Clone)]
pub struct RedisQueue {
    storage: RedisStorage<EmailJob>,
    conn: ConnectionManager,
}

/// Where to push email jobs; cheap to clone (share one per process).
#[derive(Clone)]
pub enum JobQueue {
    /// The Redis queue `{QUEUE_NAMESPACE}:email`, drained by `worker` processes.
    Redis(Box<RedisQueue>),
    /// The api's own consumers (see [`crate::embedded`]).
    InProcess(mpsc::Sender<EmailJob>),
}

impl fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(redis) => f
                .debug_tuple("JobQueue::Redis")
                .field(&redis.storage.get_config().queue.as_ref())
                .finish(),
            Self::InProcess(_) => f.write_str("JobQueue::InProcess"),
        }
    }
}

/// The apalis configuration of the namespace's email queue, shared by the
/// pushing side and the worker: an explicit queue name (the default would be
/// the Rust type's path), short heartbeats, and a fetch batch of at most
/// `concurrency` jobs so one worker does not hoard a backlog.
#[must_use]
pub fn storage_config(namespace: &str, concurrency: usize) -> Config {
    Config::default()
        .queue(queue_name(namespace))
        .heartbeat_interval(HEARTBEAT_INTERVAL)
        .missed_heartbeats(MISSED_HEARTBEATS)
        .batch_size(concurrency.max(1))
}

/// The apalis storage of the namespace's email queue on `conn`.
#[must_use]
pub fn storage(conn: ConnectionManager, namespace: &str, concurrency: usize) -> RedisStorage<EmailJob> {
    RedisStorage::new(conn).with_config(storage_config(namespace, concurrency))
}

impl JobQueue {
    /// The Redis queue of `namespace` (`{namespace}:email`). `conn` should
    /// come from [`common::redis_conn::connect`] (its long response timeout).
    #[must_use]
    pub fn redis(conn: ConnectionManager, namespace: &str, concurrency: usize) -> Self {
        Self::Redis(Box::new(RedisQueue {
            storage: storage(conn.clone(), namespace, concurrency),
            conn,
        }))
    }

    /// Pushes the job for `delivery_id`. Call it after the transaction that
    /// wrote the row has committed (a worker must be able to see the row).
    ///
    /// # Errors
    /// When the job did not reach the queue; the sweeper will push it again.
    pub async fn push(&self, delivery_id: Uuid) -> Result<(), QueueError> {
        let job = EmailJob { delivery_id };
        match self {
            Self::Redis(redis) => {
                // `push` needs `&mut`: a clone shares the connection.
                let mut storage = redis.storage.clone();
                storage.push(job).await.map_err(QueueError::Redis)
            }
            Self::InProcess(sender) => sender.try_send(job).map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            }),
        }
    }

    /// Moves the jobs that are due from apalis's scheduled set to its ready
    /// list, in steps of [`PROMOTE_CHUNK`], as apalis's fetch would in one
    /// step. Every push lands in the scheduled set, so a backlog built while
    /// no worker fetched (workers down, or all busy on slow SMTP) sits there;
    /// past about 8000 jobs the fetch script cannot promote it and fails on
    /// every poll. The worker calls this before it starts fetching and the
    /// sweeper on every round, so the fetch only ever promotes what was
    /// pushed since. Returns the number moved; `Ok(0)` for the in-process
    /// queue.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn promote_due(&self) -> Result<u64, redis::RedisError> {
        match self {
            Self::Redis(redis) => {
                let config = redis.storage.get_config();
                let mut conn = redis.conn.clone();
                PROMOTE_DUE
                    .key(config.scheduled_jobs_set())
                    .key(config.active_jobs_list())
                    .key(config.signal_list())
                    .arg(chrono::Utc::now().timestamp())
                    .arg(PROMOTE_CHUNK)
                    .invoke_async(&mut conn)
                    .await
            }
            Self::InProcess(_) => Ok(0),
        }
    }

    /// Jobs waiting to be picked up (for metrics): in Redis the ready list
    /// plus the scheduled jobs already due (every push lands in the scheduled
    /// set first). `None` when Redis did not answer.
    pub async fn depth(&self) -> Option<u64> {
        match self {
            Self::Redis(redis) => {
                let config = redis.storage.get_config();
                let now = chrono::Utc::now().timestamp();
                let mut conn = redis.conn.clone();
                let (ready, due): (u64, u64) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCOUNT")
                    .arg(config.scheduled_jobs_set())
                    .arg("-inf")
                    .arg(now)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                Some(ready + due)
            }
            Self::InProcess(sender) => Some((sender.max_capacity() - sender.capacity()) as u64),
        }
    }
}
