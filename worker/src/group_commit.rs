//! Group commit: the email jobs of one process share their database round
//! trips, so that a backlog costs a few statements and less than one commit
//! per email instead of several of each.
//!
//! A job hands its requests to one database task and waits for the answer:
//! a **claim** (its delivery id) before it renders, a **record** (the
//! outcome, with what a sent email makes true) after it has sent. The task
//! takes everything that is waiting (at most [`MAX_BATCH`]) and does it in
//! one transaction: first the records ([`service::email::after_sent_many`]:
//! the invitations' new links stored and made current; then one UPDATE
//! marking all SENT rows whose lease this process still holds, and one
//! UPDATE per other outcome), then the claims (one conditional UPDATE for
//! all ids, [`outbox::claim_many`], and one read per kind of what their
//! emails show, [`service::email::load`]). While a round is in flight new
//! requests queue up for the next one. Before a round starts, it waits (at
//! most [`LINGER`]) for the jobs that hold a claim and have not asked yet,
//! that is, that are still sending: their records then share one round,
//! and the jobs that come next claim together. A job alone never waits
//! (nobody else holds a claim), so an email sent while the queue is quiet
//! is as fast as it was; under load the jobs move in step, and a backlog
//! costs about two rounds for every `WORKER_CONCURRENCY` emails.
//!
//! What each job is told is what it would have learnt alone: its claim
//! succeeded or not (of two jobs for one row in a round, one gets it), its
//! outcome was recorded or its lease was lost. A round with records is
//! tried again a few times when the database fails (a relay that accepted
//! an email must not see it sent again because one COMMIT failed); when
//! records and claims fail together, the records are retried on their own
//! and the claims once more, so a claim's trouble never costs a record.
//!
//! This module is transport too: what the rows mean is `common::outbox`'s
//! and the `service` crate's business.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::outbox::{self, Outcome};
use entity::email_delivery;
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use service::email::{AfterSent, Loaded};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most requests done in one round (a bound on one statement's size).
pub const MAX_BATCH: usize = 64;

/// The longest a round waits for jobs that hold a claim and have not
/// asked yet (see the module docs): about the spread of a few concurrent
/// sends to a fast relay. A slower relay's sends end further apart; then
/// the rounds are smaller, and the database is not what limits the rate.
pub const LINGER: Duration = Duration::from_millis(3);

/// Tries of a round with records before its jobs are told it failed.
const RECORD_TRIES: u32 = 4;

/// A claimed delivery with what its batch read for rendering it.
#[derive(Debug)]
pub struct Claimed {
    /// The row, leased to this process, its attempt counted.
    pub delivery: email_delivery::Model,
    /// What [`service::email::load`] read for the round's claims.
    pub loaded: Arc<Loaded>,
    /// Counts the job as holding a claim until its record is done (hand it
    /// to [`GroupCommit::record`]) or the job ends without one.
    pub ticket: Ticket,
}

/// A job's hold on a claim, as far as the rounds' waiting is concerned;
/// released when dropped.
#[derive(Debug)]
pub struct Ticket {
    holders: Arc<AtomicUsize>,
}

impl Ticket {
    fn new(holders: &Arc<AtomicUsize>) -> Self {
        holders.fetch_add(1, Ordering::SeqCst);
        Self {
            holders: holders.clone(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.holders.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a job asks for.
enum Request {
    Claim {
        id: Uuid,
        reply: oneshot::Sender<Result<Option<Claimed>, DbErr>>,
    },
    Record {
        id: Uuid,
        outcome: Outcome,
        after_sent: Option<AfterSent>,
        reply: oneshot::Sender<Result<bool, DbErr>>,
        /// Released once the record is answered.
        ticket: Ticket,
    },
}

/// The handle jobs send their requests through; cheap to clone. The
/// database task stops once every handle is gone.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    requests: mpsc::UnboundedSender<Request>,
}

impl GroupCommit {
    /// Starts the database task of a process whose leases are held in the
    /// name of `owner` for `lease` (call inside a Tokio runtime).
    #[must_use]
    pub fn start(db: DatabaseConnection, owner: String, lease: Duration) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        let holders = Arc::new(AtomicUsize::new(0));
        tokio::spawn(
            Rounds {
                db,
                owner,
                lease,
                holders,
            }
            .run(receiver),
        );
        Self { requests }
    }

    /// Claims delivery `id` ([`outbox::claim_many`]); `None` when it is not
    /// this process's to send (see [`outbox::claim`]).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn claim(&self, id: Uuid) -> Result<Option<Claimed>, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.ask(Request::Claim { id, reply })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Records `outcome` of this process's attempt at delivery `id` (with
    /// `after_sent` first, for a sent email) and releases the lease;
    /// `false` when the lease was lost (another worker took the row over).
    /// `ticket` is the claim's.
    ///
    /// # Errors
    /// When the database kept failing.
    pub async fn record(
        &self,
        ticket: Ticket,
        id: Uuid,
        outcome: Outcome,
        after_sent: Option<AfterSent>,
    ) -> Result<bool, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.ask(Request::Record {
            id,
            outcome,
            after_sent,
            reply,
            ticket,
        })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    fn ask(&self, request: Request) -> Result<(), DbErr> {
        self.requests.send(request).map_err(|_| stopped())
    }
}

fn stopped() -> DbErr {
    DbErr::Custom("the worker's database task has stopped".to_owned())
}

/// One error for every job of a failed round (`DbErr` is not `Clone`).
fn shared(err: &DbErr) -> DbErr {
    DbErr::Custom(err.to_string())
}

struct ClaimRequest {
    id: Uuid,
    reply: oneshot::Sender<Result<Option<Claimed>, DbErr>>,
}

struct RecordRequest {
    id: Uuid,
    outcome: Outcome,
    after_sent: Option<AfterSent>,
    reply: oneshot::Sender<Result<bool, DbErr>>,
    #[expect(dead_code, reason = "held until the request is answered")]
    ticket: Ticket,
}

/// The database task.
struct Rounds {
    db: DatabaseConnection,
    owner: String,
    lease: Duration,
    /// Jobs holding a claim (their [`Ticket`]s alive).
    holders: Arc<AtomicUsize>,
}

impl Rounds {
    async fn run(self, mut receiver: mpsc::UnboundedReceiver<Request>) {
        let mut waiting = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = receiver.recv().await {
            waiting.push(first);
            // Jobs woken by the same event (a fetch of several jobs, the
            // answer to a round) join this round rather than the next.
            tokio::task::yield_now().await;
            let deadline = tokio::time::Instant::now() + LINGER;
            loop {
                while waiting.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(request) => waiting.push(request),
                        Err(_) => break,
                    }
                }
                let records = waiting
                    .iter()
                    .filter(|request| matches!(request, Request::Record { .. }))
                    .count();
                // Every job holding a claim is asking: nobody to wait for.
                if waiting.len() >= MAX_BATCH || records >= self.holders.load(Ordering::SeqCst) {
                    break;
                }
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(request)) => waiting.push(request),
                    Ok(None) | Err(_) => break,
                }
            }
            self.round(std::mem::take(&mut waiting)).await;
        }
        tracing::debug!("the worker's database task stopped");
    }

    async fn round(&self, requests: Vec<Request>) {
        let mut claims = Vec::new();
        let mut records = Vec::new();
        for request in requests {
            match request {
                Request::Claim { id, reply } => claims.push(ClaimRequest { id, reply }),
                Request::Record {
                    id,
                    outcome,
                    after_sent,
                    reply,
                    ticket,
                } => records.push(RecordRequest {
                    id,
                    outcome,
                    after_sent,
                    reply,
                    ticket,
                }),
            }
        }
        tracing::trace!(claims = claims.len(), records = records.len(), "database round");
        if !claims.is_empty() && !records.is_empty() {
            match self.transaction(&claims, &records).await {
                Ok((claimed, recorded)) => {
                    answer_claims(claims, Ok(claimed));
                    answer_records(records, Ok(recorded));
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "a database round failed; recording and claiming apart");
                }
            }
        }
        if !records.is_empty() {
            let recorded = self.records_with_retries(&records).await;
            answer_records(records, recorded);
        }
        if !claims.is_empty() {
            let claimed = self.transaction(&claims, &[]).await.map(|(claimed, _)| claimed);
            answer_claims(claims, claimed);
        }
    }

    /// Records `records` (alone), trying a few times: once the SMTP server
    /// has accepted a message, failing to mark it SENT would mean sending
    /// it again later.
    async fn records_with_retries(&self, records: &[RecordRequest]) -> Result<Vec<bool>, DbErr> {
        let mut delay = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.transaction(&[], records).await {
                Ok((_, recorded)) => return Ok(recorded),
                Err(err) if tries < RECORD_TRIES => {
                    tracing::warn!(error = %err, "recording the deliveries' outcomes failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 3;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One transaction: the records, then the claims. Returns each claim's
    /// row (`None`: not claimed) and each record's "lease still held", in
    /// the order asked.
    async fn transaction(
        &self,
        claims: &[ClaimRequest],
        records: &[RecordRequest],
    ) -> Result<(Vec<Option<Claimed>>, Vec<bool>), DbErr> {
        let txn = self.db.begin().await?;
        let recorded = self.record(&txn, records).await?;
        let claimed = self.claim(&txn, claims).await?;
        txn.commit().await?;
        Ok((claimed, recorded))
    }

    async fn record(&self, txn: &impl sea_orm::ConnectionTrait, records: &[RecordRequest]) -> Result<Vec<bool>, DbErr> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let afters: Vec<&AfterSent> = records
            .iter()
            .filter(|record| matches!(record.outcome, Outcome::Sent))
            .filter_map(|record| record.after_sent.as_ref())
            .collect();
        service::email::after_sent_many(txn, &afters).await?;
        let mut sent_ids: Vec<Uuid> = records
            .iter()
            .filter(|record| matches!(record.outcome, Outcome::Sent))
            .map(|record| record.id)
            .collect();
        sent_ids.sort_unstable();
        sent_ids.dedup();
        let mut marked: Vec<Uuid> = outbox::finish_sent_many(txn, &sent_ids, &self.owner).await?;
        let mut recorded = Vec::with_capacity(records.len());
        for record in records {
            let held = match &record.outcome {
                // A row is marked once: a second record of it finds it released.
                Outcome::Sent => match marked.iter().position(|id| *id == record.id) {
                    Some(at) => {
                        marked.swap_remove(at);
                        true
                    }
                    None => false,
                },
                other => outbox::finish(txn, record.id, &self.owner, other).await?,
            };
            recorded.push(held);
        }
        Ok(recorded)
    }

    async fn claim(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        claims: &[ClaimRequest],
    ) -> Result<Vec<Option<Claimed>>, DbErr> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<Uuid> = claims.iter().map(|claim| claim.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let rows = outbox::claim_many(txn, &ids, &self.owner, self.lease).await?;
        let loaded = Arc::new(service::email::load(txn, &rows).await?);
        let mut rows: HashMap<Uuid, email_delivery::Model> = rows.into_iter().map(|row| (row.id, row)).collect();
        // Of several jobs for one row, the first gets it; the others skip.
        Ok(claims
            .iter()
            .map(|claim| {
                rows.remove(&claim.id).map(|delivery| Claimed {
                    delivery,
                    loaded: loaded.clone(),
                    ticket: Ticket::new(&self.holders),
                })
            })
            .collect())
    }
}

fn answer_claims(claims: Vec<ClaimRequest>, claimed: Result<Vec<Option<Claimed>>, DbErr>) {
    match claimed {
        Ok(claimed) => {
            for (claim, claimed) in claims.into_iter().zip(claimed) {
                // A job that stopped waiting leaves its claim to lapse.
                let _ = claim.reply.send(Ok(claimed));
            }
        }
        Err(err) => {
            for claim in claims {
                let _ = claim.reply.send(Err(shared(&err)));
            }
        }
    }
}

fn answer_records(records: Vec<RecordRequest>, recorded: Result<Vec<bool>, DbErr>) {
    match recorded {
        Ok(recorded) => {
            for (record, held) in records.into_iter().zip(recorded) {
                let _ = record.reply.send(Ok(held));
            }
        }
        Err(err) => {
            for record in records {
                let _ = record.reply.send(Err(shared(&err)));
            }
        }
    }
}
