//! DataLoaders: every parent→child field of the schema loads through here, so
//! a page of N parents costs one statement per level, whatever N is.
//!
//! Batching only: each loader hands its keys to a service function together
//! with the viewer's [`Scope`], and the service applies the organization and
//! the grants in its SQL. Nothing here filters rows.
//!
//! Built per request ([`Loaders::new`]): batching is scoped to one request
//! (and so to one viewer), and nothing is kept between requests that could
//! hand one organization's rows to another. A websocket connection has its
//! own ([`Loaders::spawning`]), for its one viewer, whose scope is read
//! again before each event ([`Loaders::scope_handle`]).
//!
//! A batch goes out only when the request's resolvers are idle (see
//! [`Batches::run`]), not after async-graphql's fixed delay: resolving a
//! large page takes longer than that delay, and the keys that came later
//! then went out in extra batches, so a request's cost grew with its page
//! size and varied from run to run.

use std::{
    collections::HashMap,
    future::{Future, poll_fn},
    hash::Hash,
    pin::pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use async_graphql::{
    dataloader::{DataLoader, Loader},
    futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered},
};
use entity::{
    AssetStatus, InvoiceStatus, PortalStatus, account, asset, asset_type, email_delivery, invitation, invoice,
    invoice_line, location, organization, payment, portal_user, staff_user,
};
use sea_orm::DatabaseConnection;
use service::{Page, Scope, accounts, assets, deliveries, invitations, invoices, locations, organizations, users};
use uuid::Uuid;

use crate::error::ApiError;

/// This request's loaders.
pub struct Loaders {
    batch: DataLoader<Batch>,
    batches: Batches,
    /// Every asset type of the organization, read at the first need.
    asset_types: tokio::sync::OnceCell<HashMap<Uuid, asset_type::Model>>,
    /// What pages of accounts read with their rows (see [`Loaders::prime`]).
    primed: Mutex<Primed>,
}

/// Account values a page read in its own statement
/// ([`service::accounts::Extras`]), handed out before the loader is asked.
#[derive(Default)]
struct Primed {
    balances: HashMap<Uuid, service::money::Money>,
    statuses: HashMap<Uuid, PortalStatus>,
}

impl Loaders {
    /// Loaders for a viewer who reads through `scope` (`None` for anonymous
    /// callers: every lookup then finds nothing). Execute the request with
    /// [`Batches::run`] of [`Loaders::batches`], or no batch ever goes out.
    #[must_use]
    pub fn new(db: DatabaseConnection, scope: Option<Scope>) -> Self {
        let batches = Batches::default();
        let queue = batches.clone();
        Self {
            batch: DataLoader::new(Batch::new(db, scope), move |load| queue.push(load)),
            batches,
            asset_types: tokio::sync::OnceCell::new(),
            primed: Mutex::default(),
        }
    }

    /// Loaders whose batches run as tasks of their own after DataLoader's
    /// short delay, for executions that [`Batches::run`] does not drive: a
    /// websocket connection's subscriptions.
    #[must_use]
    pub fn spawning(db: DatabaseConnection, scope: Option<Scope>) -> Self {
        Self {
            batch: DataLoader::new(Batch::new(db, scope), tokio::spawn),
            batches: Batches::default(),
            asset_types: tokio::sync::OnceCell::new(),
            primed: Mutex::default(),
        }
    }

    /// A handle to change the scope these loaders read through (a
    /// subscription's viewer is checked again before each event: a
    /// disconnect narrows it at once).
    #[must_use]
    pub fn scope_handle(&self) -> ScopeHandle {
        ScopeHandle(self.batch.loader().scope.clone())
    }

    /// Location `id` if a page of this request already read it (see
    /// `Batch::seen_locations`); `None` means: look it up.
    #[must_use]
    pub fn seen_location(&self, id: Uuid) -> Option<location::Model> {
        self.batch.loader().seen_locations.lock().ok()?.get(&id).cloned()
    }

    /// `f` of the organization's asset type `id` when this request has
    /// read the organization's types already (without waiting or copying:
    /// `None` means look it up with [`Loaders::asset_type`]).
    pub fn with_cached_asset_type<R>(&self, id: Uuid, f: impl FnOnce(&asset_type::Model) -> R) -> Option<R> {
        self.batch
            .loader()
            .asset_types
            .get()
            .or_else(|| self.asset_types.get())
            .and_then(|types| types.get(&id))
            .map(f)
    }

    /// The organization's asset type `id`. A page of assets names a handful
    /// of types over and over: the first call reads all of the
    /// organization's types (one statement per request) and later calls
    /// look them up, without a DataLoader round per asset.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn asset_type(&self, id: Uuid) -> Result<Option<asset_type::Model>, ApiError> {
        if let Some(found) = self.batch.loader().asset_types.get().and_then(|types| types.get(&id)) {
            return Ok(Some(found.clone()));
        }
        let types = self
            .asset_types
            .get_or_try_init(|| async {
                let batch = self.batch.loader();
                let Some(scope) = batch.scope() else {
                    return Ok(HashMap::new());
                };
                let rows = assets::asset_types(&batch.db, scope.organization_id(), false).await?;
                Ok::<_, ApiError>(rows.into_iter().map(|row| (row.id, row)).collect())
            })
            .await?;
        if let Some(found) = types.get(&id) {
            return Ok(Some(found.clone()));
        }
        // A type added since the list was read (a long-lived connection).
        let batch = self.batch.loader();
        let Some(scope) = batch.scope() else {
            return Ok(None);
        };
        let rows = assets::asset_types(&batch.db, scope.organization_id(), false).await?;
        Ok(rows.into_iter().find(|row| row.id == id))
    }

    /// The batches these loaders start, to run beside the request's execution.
    #[must_use]
    pub fn batches(&self) -> Batches {
        self.batches.clone()
    }

    /// Loads one value through the batch loader.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn one<K>(&self, key: K) -> Result<Option<<Batch as Loader<K>>::Value>, ApiError>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        Batch: Loader<K, Error = Arc<ApiError>>,
    {
        self.batch
            .load_one(key)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading failed: {e}")))
    }

    /// Each parent's page (`page_key`) and, when `with_total`, its count
    /// (`count_key`), as connections of `node` rows in `ids` order: a
    /// nested page field answered for every parent of a list at once.
    ///
    /// The caller has batched already (the ids are every parent of the
    /// list), so the loader runs at once, page and count side by side,
    /// and its rows are moved into the connections: through the DataLoader
    /// every page would be cloned out of its cache.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn pages<K, KC, M, N, C>(
        &self,
        ids: &[Uuid],
        page: Page,
        with_total: bool,
        page_key: impl Fn(Uuid) -> K,
        count_key: impl Fn(Uuid) -> KC,
        node: impl Fn(M) -> N,
    ) -> Result<Vec<C>, ApiError>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        KC: Send + Sync + Hash + Eq + Clone + 'static,
        M: Clone,
        Batch: Loader<K, Value = Vec<M>, Error = Arc<ApiError>> + Loader<KC, Value = u64, Error = Arc<ApiError>>,
        N: service::page::Node,
        C: From<service::page::Connection<N>>,
    {
        // How often each parent is still to come: the last one takes its
        // rows, any earlier one (a parent listed twice) a copy.
        let mut remaining: HashMap<Uuid, usize> = HashMap::with_capacity(ids.len());
        for id in ids {
            *remaining.entry(*id).or_default() += 1;
        }
        let unique: Vec<Uuid> = remaining.keys().copied().collect();
        let batch = self.batch.loader();
        let page_keys: Vec<K> = unique.iter().map(|id| page_key(*id)).collect();
        let count_keys: Vec<KC> = if with_total {
            unique.iter().map(|id| count_key(*id)).collect()
        } else {
            Vec::new()
        };
        let (mut pages, totals) =
            async_graphql::futures_util::future::try_join(Loader::<K>::load(batch, &page_keys), async {
                if with_total {
                    Loader::<KC>::load(batch, &count_keys).await.map(Some)
                } else {
                    Ok(None)
                }
            })
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading failed: {e}")))?;
        Ok(ids
            .iter()
            .map(|id| {
                let key = page_key(*id);
                let left = remaining.get_mut(id).map_or(0, |n| {
                    *n -= 1;
                    *n
                });
                let rows = if left == 0 {
                    pages.remove(&key)
                } else {
                    pages.get(&key).cloned()
                };
                let total = totals.as_ref().map(|t| t.get(&count_key(*id)).copied().unwrap_or(0));
                C::from(service::page::Connection::from_rows(
                    rows.unwrap_or_default().into_iter().map(&node).collect(),
                    page,
                    total,
                ))
            })
            .collect())
    }

    /// Keeps the balances and portal statuses a page of accounts read with
    /// its rows: [`Loaders::balances`] and [`Loaders::portal_statuses`]
    /// answer them without a statement of their own.
    pub fn prime(&self, listed: &mut service::accounts::Listed) {
        let mut primed = self.primed.lock().unwrap_or_else(PoisonError::into_inner);
        primed.balances.extend(listed.balances.drain());
        primed.statuses.extend(listed.statuses.drain());
    }

    /// The balance of each of `ids` (in order; `None` for an account the
    /// viewer cannot see): primed ones as read, the others in one batch.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn balances(&self, ids: &[Uuid]) -> Result<Vec<Option<service::money::Money>>, ApiError> {
        self.primed_or_loaded(ids, |primed| &primed.balances, BalanceOfAccount)
            .await
    }

    /// The portal status of each of `ids`, like [`Loaders::balances`].
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn portal_statuses(&self, ids: &[Uuid]) -> Result<Vec<Option<PortalStatus>>, ApiError> {
        self.primed_or_loaded(ids, |primed| &primed.statuses, PortalStatusOfAccount)
            .await
    }

    async fn primed_or_loaded<K, V: Clone>(
        &self,
        ids: &[Uuid],
        map: impl Fn(&Primed) -> &HashMap<Uuid, V>,
        key: impl Fn(Uuid) -> K,
    ) -> Result<Vec<Option<V>>, ApiError>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        Batch: Loader<K, Value = V, Error = Arc<ApiError>>,
    {
        let mut found: Vec<Option<V>> = {
            let primed = self.primed.lock().unwrap_or_else(PoisonError::into_inner);
            let primed = map(&primed);
            ids.iter().map(|id| primed.get(id).cloned()).collect()
        };
        let missing: Vec<usize> = (0..ids.len()).filter(|index| found[*index].is_none()).collect();
        if !missing.is_empty() {
            let loaded = self.many(missing.iter().map(|index| key(ids[*index]))).await?;
            for index in missing {
                found[index] = loaded.get(&key(ids[index])).cloned();
            }
        }
        Ok(found)
    }

    /// Loads values for many keys at once.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn many<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, <Batch as Loader<K>>::Value>, ApiError>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        Batch: Loader<K, Error = Arc<ApiError>>,
    {
        self.batch
            .load_many(keys)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading failed: {e}")))
    }
}

/// Changes the scope of the [`Loaders`] it came from.
#[derive(Clone)]
pub struct ScopeHandle(Arc<std::sync::RwLock<Option<Scope>>>);

impl ScopeHandle {
    /// Reads through `scope` from now on.
    pub fn set(&self, scope: Option<Scope>) {
        if let Ok(mut current) = self.0.write() {
            *current = scope;
        }
    }
}

/// The batch loads a request's loaders have started and not yet run: the
/// DataLoader "spawns" them here instead of on the runtime.
#[derive(Clone, Default)]
pub struct Batches(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

/// How often [`Batches::run`] goes round before it lets other tasks run.
const MAX_ROUNDS: usize = 64;

impl Batches {
    fn push(&self, load: BoxFuture<'static, ()>) {
        if let Ok(mut queue) = self.0.lock() {
            queue.push(load);
        }
    }

    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        self.0
            .lock()
            .map(|mut queue| std::mem::take(&mut *queue))
            .unwrap_or_default()
    }

    /// Drives `execution` (a request that uses these loaders) and the batch
    /// loads it starts, in the calling task. A load runs only once the
    /// resolvers are idle — polled without waking themselves, so every key
    /// they can ask for is waiting — which makes each level of a query one
    /// batch per loader, whatever the number of parents and however slow
    /// resolving is.
    pub async fn run<F: Future>(&self, execution: F) -> F::Output {
        let mut execution = pin!(execution);
        let mut loads = FuturesUnordered::new();
        let woken = Arc::new(WakeFlag::default());
        poll_fn(|cx| {
            woken.register(cx.waker());
            let waker = Waker::from(woken.clone());
            let mut flagged = Context::from_waker(&waker);
            for _ in 0..MAX_ROUNDS {
                woken.clear();
                if let Poll::Ready(output) = execution.as_mut().poll(&mut flagged) {
                    return Poll::Ready(output);
                }
                if woken.is_set() {
                    // The resolvers yielded with work left: finish it first.
                    continue;
                }
                loads.extend(self.take());
                match loads.poll_next_unpin(&mut flagged) {
                    // A batch delivered: the resolvers waiting for it go on.
                    Poll::Ready(Some(())) => {}
                    Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

/// A waker that records that it was woken and passes the wake on.
#[derive(Default)]
struct WakeFlag {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl WakeFlag {
    fn register(&self, waker: &Waker) {
        if let Ok(mut task) = self.task.lock()
            && !task.as_ref().is_some_and(|t| t.will_wake(waker))
        {
            *task = Some(waker.clone());
        }
    }

    fn clear(&self) {
        self.woken.store(false, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.woken.load(Ordering::SeqCst)
    }
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Ok(task) = self.task.lock()
            && let Some(task) = task.as_ref()
        {
            task.wake_by_ref();
        }
    }
}

/// The loader behind every key type below: it knows the database and the
/// viewer's scope, and nothing else.
pub struct Batch {
    db: DatabaseConnection,
    /// `None` for anonymous callers: every lookup finds nothing. Behind a
    /// lock for [`Loaders::scope_handle`]; read once per batch.
    scope: Arc<std::sync::RwLock<Option<Scope>>>,
    /// The organization's asset types, read in the batch that loaded the
    /// first page of assets, so that `Asset.assetType` needs no statement
    /// of its own in the middle of resolving (which would split the
    /// request's later batches).
    asset_types: Arc<tokio::sync::OnceCell<HashMap<Uuid, asset_type::Model>>>,
    /// The locations pages of this request read (`Account.locations`), so
    /// that `Asset.location` of an asset deployed at one of them needs no
    /// lookup: otherwise the same locations can be looked up in two rounds,
    /// depending on which of two pages of assets finished first.
    seen_locations: Arc<Mutex<HashMap<Uuid, location::Model>>>,
}

impl Batch {
    fn new(db: DatabaseConnection, scope: Option<Scope>) -> Self {
        Self {
            db,
            scope: Arc::new(std::sync::RwLock::new(scope)),
            asset_types: Arc::default(),
            seen_locations: Arc::default(),
        }
    }

    /// The scope this batch reads through.
    fn scope(&self) -> Option<Scope> {
        self.scope.read().ok().and_then(|scope| scope.clone())
    }
}

macro_rules! key_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub Uuid);
    )*};
}

key_types! {
    /// An organization by id.
    OrganizationKey;
    /// An account by id.
    AccountKey;
    /// A location by id.
    LocationKey;
    /// An invoice by id.
    InvoiceKey;
    /// The balance of an account: the sum of its OPEN invoices.
    BalanceOfAccount;
    /// The lines of an invoice.
    LinesOfInvoice;
    /// The payments of an invoice.
    PaymentsOfInvoice;
    /// The portal status of an account.
    PortalStatusOfAccount;
    /// A staff user by id.
    StaffUserKey;
    /// The locations an invitation covers.
    LocationsOfInvitation;
    /// The latest email delivery of an invitation.
    LatestDeliveryOfInvitation;
    /// The invitations of an account.
    InvitationsOfAccount;
    /// The portal users with access to an account.
    PortalUsersOfAccount;
    /// A portal user by id.
    PortalUserKey;
}

/// Implements `Loader<$key>` by handing the keys' ids and the scope to a
/// service function that returns a map from parent id to value.
macro_rules! load_map {
    ($key:ident => $value:ty, |$db:ident, $scope:ident, $ids:ident| $call:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = Arc<ApiError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let Some($scope) = &self.scope() else {
                    return Ok(HashMap::new());
                };
                let $db = &self.db;
                let $ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
                let found: HashMap<Uuid, $value> = $call.await?;
                Ok(found.into_iter().map(|(id, value)| ($key(id), value)).collect())
            }
        }
    };
}

/// Implements `Loader<$key>` for rows by id through a service function
/// returning the visible rows among the ids.
macro_rules! load_by_id {
    ($key:ident => $model:ty, |$db:ident, $scope:ident, $ids:ident| $call:expr) => {
        impl Loader<$key> for Batch {
            type Value = $model;
            type Error = Arc<ApiError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let Some($scope) = &self.scope() else {
                    return Ok(HashMap::new());
                };
                let $db = &self.db;
                let $ids = keys.iter().map(|k| k.0);
                let rows: Vec<$model> = $call.await?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

load_by_id!(AccountKey => account::Model, |db, scope, ids| accounts::by_ids(db, scope, ids));
load_by_id!(LocationKey => location::Model, |db, scope, ids| locations::by_ids(db, scope, ids));
load_by_id!(InvoiceKey => invoice::Model, |db, scope, ids| invoices::by_ids(db, scope, ids));
load_by_id!(StaffUserKey => staff_user::Model, |db, scope, ids| users::staff_by_ids(db, scope, ids));
load_by_id!(PortalUserKey => portal_user::Model, |db, scope, ids| users::portal_by_ids(db, scope, ids));

impl Loader<OrganizationKey> for Batch {
    type Value = organization::Model;
    type Error = Arc<ApiError>;

    /// Without a scope too: `staffLogin` and `portalLogin` answer with the
    /// new session's viewer while the request itself is still anonymous.
    async fn load(&self, keys: &[OrganizationKey]) -> Result<HashMap<OrganizationKey, Self::Value>, Self::Error> {
        let rows = organizations::by_ids(&self.db, keys.iter().map(|k| k.0)).await?;
        Ok(rows.into_iter().map(|row| (OrganizationKey(row.id), row)).collect())
    }
}

load_map!(BalanceOfAccount => service::money::Money, |db, scope, ids| invoices::open_balances(db, scope, &ids));
load_map!(LinesOfInvoice => Vec<invoice_line::Model>, |db, scope, ids| invoices::lines_of(db, scope, &ids));
load_map!(PaymentsOfInvoice => Vec<payment::Model>, |db, scope, ids| invoices::payments_of(db, scope, &ids));
load_map!(InvitationsOfAccount => Vec<invitation::Model>, |db, scope, ids| invitations::of_accounts(db, scope, &ids));
load_map!(LocationsOfInvitation => Vec<location::Model>, |db, scope, ids| invitations::locations_of(db, scope, &ids));
load_map!(LatestDeliveryOfInvitation => email_delivery::Model, |db, scope, ids| deliveries::latest_of_invitations(db, scope, &ids));
load_map!(PortalUsersOfAccount => Vec<portal_user::Model>, |db, scope, ids| users::portal_of_accounts(db, scope, &ids));
load_map!(PortalStatusOfAccount => PortalStatus, |db, scope, ids| accounts::portal_statuses(db, scope, ids));

/// One page (`Page`) of an account's locations, read in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocationPageOfAccount(pub Uuid, pub Page);

/// How many locations an account has (`totalCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocationCountOfAccount(pub Uuid);

/// One page of the assets at a location (of one status, when given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetPageAtLocation(pub Uuid, pub Option<AssetStatus>, pub Page);

/// How many assets (of one status, when given) are at a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetCountAtLocation(pub Uuid, pub Option<AssetStatus>);

/// One page of an account's invoices (of one status, when given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvoicePageOfAccount(pub Uuid, pub Option<InvoiceStatus>, pub Page);

/// How many invoices (of one status, when given) an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvoiceCountOfAccount(pub Uuid, pub Option<InvoiceStatus>);

/// Loads `keys` in groups of the same arguments (`group` tells a key's
/// arguments and parent): one service call, so one statement, per group.
async fn by_group<K, G, V, Fut>(
    keys: &[K],
    group: impl Fn(&K) -> (G, Uuid),
    load: impl Fn(G, Vec<Uuid>) -> Fut,
) -> Result<HashMap<K, V>, Arc<ApiError>>
where
    K: Clone + Eq + Hash,
    G: Eq + Hash,
    Fut: Future<Output = Result<HashMap<Uuid, V>, ApiError>>,
{
    let mut groups: HashMap<G, Vec<(K, Uuid)>> = HashMap::new();
    for key in keys {
        let (arguments, parent) = group(key);
        groups.entry(arguments).or_default().push((key.clone(), parent));
    }
    let mut out = HashMap::with_capacity(keys.len());
    for (arguments, members) in groups {
        let parents = members.iter().map(|(_, parent)| *parent).collect();
        let mut found = load(arguments, parents).await?;
        for (key, parent) in members {
            if let Some(value) = found.remove(&parent) {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// Implements `Loader<$key>` through [`by_group`].
macro_rules! load_grouped {
    ($key:ident => $value:ty, |$k:ident| $group:expr, |$db:ident, $scope:ident, $args:pat_param, $ids:ident| $call:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = Arc<ApiError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let Some($scope) = self.scope() else {
                    return Ok(HashMap::new());
                };
                let $db = &self.db;
                by_group(
                    keys,
                    |$k: &$key| $group,
                    |$args, $ids: Vec<Uuid>| {
                        let $scope = $scope.clone();
                        async move { $call.await }
                    },
                )
                .await
            }
        }
    };
}

impl Loader<LocationPageOfAccount> for Batch {
    type Value = Vec<location::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[LocationPageOfAccount],
    ) -> Result<HashMap<LocationPageOfAccount, Self::Value>, Self::Error> {
        let Some(scope) = self.scope() else {
            return Ok(HashMap::new());
        };
        let db = &self.db;
        let found = by_group(
            keys,
            |k| (k.1, k.0),
            |page, ids: Vec<Uuid>| {
                let scope = scope.clone();
                async move { locations::page_of_accounts(db, &scope, &ids, page).await }
            },
        )
        .await?;
        if let Ok(mut seen) = self.seen_locations.lock() {
            for location in found.values().flatten() {
                seen.entry(location.id).or_insert_with(|| location.clone());
            }
        }
        Ok(found)
    }
}
load_grouped!(LocationCountOfAccount => u64,
    |k| ((), k.0),
    |db, scope, (), ids| locations::count_of_accounts(db, &scope, &ids));
impl Loader<AssetPageAtLocation> for Batch {
    type Value = Vec<asset::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[AssetPageAtLocation],
    ) -> Result<HashMap<AssetPageAtLocation, Self::Value>, Self::Error> {
        let db = &self.db;
        self.asset_pages(keys, |k| ((k.1, k.2), k.0), move |scope, (status, page), ids| async move {
            assets::page_at_locations(db, &scope, &ids, status, page).await
        })
        .await
    }
}
load_grouped!(AssetCountAtLocation => u64,
    |k| (k.1, k.0),
    |db, scope, status, ids| assets::count_at_locations(db, &scope, &ids, status));
load_grouped!(InvoicePageOfAccount => Vec<invoice::Model>,
    |k| ((k.1, k.2), k.0),
    |db, scope, (status, page), ids| invoices::page_of_accounts(db, &scope, &ids, status, page));
load_grouped!(InvoiceCountOfAccount => u64,
    |k| (k.1, k.0),
    |db, scope, status, ids| invoices::count_of_accounts(db, &scope, &ids, status));

/// One page of the assets across an account's locations (`Account.assets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetPageOfAccount(pub Uuid, pub Option<AssetStatus>, pub Page);

/// How many assets (of one status, when given) an account's locations hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetCountOfAccount(pub Uuid, pub Option<AssetStatus>);

impl Loader<AssetPageOfAccount> for Batch {
    type Value = Vec<asset::Model>;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[AssetPageOfAccount]) -> Result<HashMap<AssetPageOfAccount, Self::Value>, Self::Error> {
        let db = &self.db;
        self.asset_pages(keys, |k| ((k.1, k.2), k.0), move |scope, (status, page), ids| async move {
            assets::page_of_accounts(db, &scope, &ids, status, page).await
        })
        .await
    }
}

impl Batch {
    /// Loads pages of assets in groups of the same arguments (see
    /// [`by_group`]) and, beside them, the organization's asset types, once
    /// per request.
    async fn asset_pages<K, G, Fut>(
        &self,
        keys: &[K],
        group: impl Fn(&K) -> (G, Uuid),
        load: impl Fn(Scope, G, Vec<Uuid>) -> Fut,
    ) -> Result<HashMap<K, Vec<asset::Model>>, Arc<ApiError>>
    where
        K: Clone + Eq + Hash,
        G: Eq + Hash,
        Fut: Future<Output = Result<HashMap<Uuid, Vec<asset::Model>>, ApiError>>,
    {
        let Some(scope) = self.scope() else {
            return Ok(HashMap::new());
        };
        let (found, ()) = async_graphql::futures_util::future::try_join(
            by_group(keys, group, |arguments, ids| load(scope.clone(), arguments, ids)),
            self.read_asset_types(&scope),
        )
        .await?;
        Ok(found)
    }

    /// Reads the organization's asset types once per request, in the batch
    /// that loads assets (see `Batch::asset_types`).
    async fn read_asset_types(&self, scope: &Scope) -> Result<(), Arc<ApiError>> {
        self.asset_types
            .get_or_try_init(|| async {
                let rows = assets::asset_types(&self.db, scope.organization_id(), false).await?;
                Ok::<_, ApiError>(rows.into_iter().map(|row| (row.id, row)).collect())
            })
            .await?;
        Ok(())
    }
}
load_grouped!(AssetCountOfAccount => u64,
    |k| (k.1, k.0),
    |db, scope, status, ids| assets::count_of_accounts(db, &scope, &ids, status));
