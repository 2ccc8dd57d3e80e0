//! DataLoaders: every parent→child field of the schema loads through here, so
//! a page of N parents costs one statement per level, whatever N is.
//!
//! Built per request ([`Loaders::new`]): batching is scoped to one request
//! (and so to one viewer), and nothing is kept between requests that could
//! hand one organization's rows to another. Every statement is also filtered
//! on the viewer's organization.
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
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use async_graphql::{
    dataloader::{DataLoader, Loader},
    futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered},
};
use chrono::Utc;
use entity::{
    InvitationStatus, InvoiceStatus, account, asset, asset_type, email_delivery, invitation, invitation_location,
    invoice, invoice_line, location, organization, payment, portal_access, portal_user, staff_user,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
    sea_query::{Expr, UnionType},
};
use uuid::Uuid;

use crate::{error::ApiError, graphql::types::account::PortalStatus};

/// This request's loaders.
pub struct Loaders {
    batch: DataLoader<Batch>,
    batches: Batches,
    /// Every asset type of the organization, read at the first need.
    asset_types: tokio::sync::OnceCell<HashMap<Uuid, asset_type::Model>>,
}

impl Loaders {
    /// Loaders for a viewer of `organization_id` (`None` for anonymous
    /// callers: every lookup then finds nothing). Execute the request with
    /// [`Batches::run`] of [`Loaders::batches`], or no batch ever goes out.
    #[must_use]
    pub fn new(db: DatabaseConnection, organization_id: Option<Uuid>) -> Self {
        let batch = Batch {
            db,
            org: organization_id.unwrap_or(Uuid::nil()),
            seen_asset_types: Arc::default(),
        };
        let batches = Batches::default();
        let queue = batches.clone();
        Self {
            batch: DataLoader::new(batch, move |load| queue.push(load)),
            batches,
            asset_types: tokio::sync::OnceCell::new(),
        }
    }

    /// The organization's asset type `id`. A page of assets names a handful
    /// of types over and over: the types read along with assets
    /// ([`AssetsAtLocation`]) answer without a statement; otherwise the first
    /// call reads all of the organization's types (one statement per
    /// request) and later calls look them up, without a DataLoader round per
    /// asset.
    ///
    /// # Errors
    /// Internal on database failure.
    pub async fn asset_type(&self, id: Uuid) -> Result<Option<asset_type::Model>, ApiError> {
        if let Ok(seen) = self.batch.loader().seen_asset_types.lock()
            && let Some(found) = seen.get(&id)
        {
            return Ok(Some(found.clone()));
        }
        let types = self
            .asset_types
            .get_or_try_init(|| async {
                let batch = self.batch.loader();
                let rows = asset_type::Entity::find()
                    .filter(asset_type::Column::OrganizationId.eq(batch.org))
                    .all(&batch.db)
                    .await?;
                Ok::<_, DbErr>(rows.into_iter().map(|row| (row.id, row)).collect())
            })
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading the asset types failed: {e}")))?;
        Ok(types.get(&id).cloned())
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
        Batch: Loader<K, Error = Arc<DbErr>>,
    {
        self.batch
            .load_one(key)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading failed: {e}")))
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
        Batch: Loader<K, Error = Arc<DbErr>>,
    {
        self.batch
            .load_many(keys)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("loading failed: {e}")))
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

/// The loader behind every key type below.
pub struct Batch {
    db: DatabaseConnection,
    org: Uuid,
    /// Asset types met while loading assets (read with them, in the same
    /// statement), so that `Asset.assetType` usually needs no statement.
    seen_asset_types: Arc<Mutex<HashMap<Uuid, asset_type::Model>>>,
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
    /// The locations of an account.
    LocationsOfAccount;
    /// The assets deployed at a location.
    AssetsAtLocation;
    /// The invoices of an account.
    InvoicesOfAccount;
    /// The OPEN invoices of an account (its balance, and the portal's
    /// "to pay" list), without reading the paid ones.
    OpenInvoicesOfAccount;
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

/// One row per id, filtered on the organization.
macro_rules! by_id {
    ($key:ident, $module:ident) => {
        impl Loader<$key> for Batch {
            type Value = $module::Model;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let rows = $module::Entity::find()
                    .filter($module::Column::Id.is_in(keys.iter().map(|k| k.0)))
                    .filter($module::Column::OrganizationId.eq(self.org))
                    .all(&self.db)
                    .await?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

by_id!(AccountKey, account);
by_id!(LocationKey, location);
by_id!(InvoiceKey, invoice);
by_id!(StaffUserKey, staff_user);
by_id!(PortalUserKey, portal_user);

impl Loader<OrganizationKey> for Batch {
    type Value = organization::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[OrganizationKey]) -> Result<HashMap<OrganizationKey, Self::Value>, Self::Error> {
        // Not filtered on the viewer's organization: keys only ever come from
        // rows already scoped (the viewer's own user, or a session just
        // started by staffLogin, whose request is still anonymous).
        let rows = organization::Entity::find()
            .filter(organization::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (OrganizationKey(row.id), row)).collect())
    }
}

/// All children of many parents, grouped by parent, ordered by id.
macro_rules! children {
    ($key:ident, $module:ident, $parent:ident, $parent_field:ident $(, $extra:expr)?) => {
        impl Loader<$key> for Batch {
            type Value = Vec<$module::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let mut grouped: HashMap<$key, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
                let rows = $module::Entity::find()
                    .filter($module::Column::$parent.is_in(keys.iter().map(|k| k.0)))
                    $(.filter($extra(self.org)))?
                    .order_by_asc($module::Column::Id)
                    .all(&self.db)
                    .await?;
                for row in rows {
                    let parent: Option<Uuid> = row.$parent_field.into();
                    if let Some(children) = parent.and_then(|p| grouped.get_mut(&$key(p))) {
                        children.push(row);
                    }
                }
                Ok(grouped)
            }
        }
    };
}

children!(LocationsOfAccount, location, AccountId, account_id, |org| {
    location::Column::OrganizationId.eq(org)
});

impl Loader<AssetsAtLocation> for Batch {
    type Value = Vec<asset::Model>;
    type Error = Arc<DbErr>;

    /// The assets with their types in one statement (a LEFT JOIN): the types
    /// go to `seen_asset_types` for `Asset.assetType`.
    async fn load(&self, keys: &[AssetsAtLocation]) -> Result<HashMap<AssetsAtLocation, Self::Value>, Self::Error> {
        let mut grouped: HashMap<AssetsAtLocation, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        let rows = asset::Entity::find()
            .find_also_related(asset_type::Entity)
            .filter(asset::Column::LocationId.is_in(keys.iter().map(|k| k.0)))
            .filter(asset::Column::OrganizationId.eq(self.org))
            .order_by_asc(asset::Column::Id)
            .all(&self.db)
            .await?;
        let mut types = HashMap::new();
        for (row, asset_type) in rows {
            if let Some(asset_type) = asset_type.filter(|t| t.organization_id == self.org) {
                types.entry(asset_type.id).or_insert(asset_type);
            }
            if let Some(children) = row.location_id.and_then(|p| grouped.get_mut(&AssetsAtLocation(p))) {
                children.push(row);
            }
        }
        if let Ok(mut seen) = self.seen_asset_types.lock() {
            seen.extend(types);
        }
        Ok(grouped)
    }
}
children!(InvoicesOfAccount, invoice, AccountId, account_id, |org| {
    invoice::Column::OrganizationId.eq(org)
});
children!(OpenInvoicesOfAccount, invoice, AccountId, account_id, |org| {
    Condition::all()
        .add(invoice::Column::OrganizationId.eq(org))
        .add(invoice::Column::Status.eq(InvoiceStatus::Open))
});
children!(PaymentsOfInvoice, payment, InvoiceId, invoice_id, |org| {
    payment::Column::OrganizationId.eq(org)
});
// Lines carry no organization: their invoices were checked before asking.
children!(LinesOfInvoice, invoice_line, InvoiceId, invoice_id);
children!(InvitationsOfAccount, invitation, AccountId, account_id, |org| {
    invitation::Column::OrganizationId.eq(org)
});

impl Loader<LocationsOfInvitation> for Batch {
    type Value = Vec<location::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[LocationsOfInvitation],
    ) -> Result<HashMap<LocationsOfInvitation, Self::Value>, Self::Error> {
        let links = invitation_location::Entity::find()
            .filter(invitation_location::Column::InvitationId.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        let locations: HashMap<Uuid, location::Model> = location::Entity::find()
            .filter(location::Column::Id.is_in(links.iter().map(|l| l.location_id)))
            .filter(location::Column::OrganizationId.eq(self.org))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        let mut grouped: HashMap<LocationsOfInvitation, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for link in links {
            if let (Some(list), Some(location)) = (
                grouped.get_mut(&LocationsOfInvitation(link.invitation_id)),
                locations.get(&link.location_id),
            ) {
                list.push(location.clone());
            }
        }
        Ok(grouped)
    }
}

impl Loader<LatestDeliveryOfInvitation> for Batch {
    type Value = email_delivery::Model;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[LatestDeliveryOfInvitation],
    ) -> Result<HashMap<LatestDeliveryOfInvitation, Self::Value>, Self::Error> {
        let rows = email_delivery::Entity::find()
            .filter(email_delivery::Column::InvitationId.is_in(keys.iter().map(|k| k.0)))
            .filter(email_delivery::Column::OrganizationId.eq(self.org))
            .order_by_asc(email_delivery::Column::Id)
            .all(&self.db)
            .await?;
        // Ordered by id (time): the last one per invitation wins.
        Ok(rows
            .into_iter()
            .filter_map(|row| row.invitation_id.map(|id| (LatestDeliveryOfInvitation(id), row)))
            .collect())
    }
}

impl Loader<PortalUsersOfAccount> for Batch {
    type Value = Vec<portal_user::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[PortalUsersOfAccount],
    ) -> Result<HashMap<PortalUsersOfAccount, Self::Value>, Self::Error> {
        let grants = portal_access::Entity::find()
            .filter(portal_access::Column::AccountId.is_in(keys.iter().map(|k| k.0)))
            .filter(portal_access::Column::OrganizationId.eq(self.org))
            .all(&self.db)
            .await?;
        let users: HashMap<Uuid, portal_user::Model> = portal_user::Entity::find()
            .filter(portal_user::Column::Id.is_in(grants.iter().map(|g| g.portal_user_id)))
            .filter(portal_user::Column::OrganizationId.eq(self.org))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut grouped: HashMap<PortalUsersOfAccount, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for grant in grants {
            if let (Some(list), Some(user)) = (
                grouped.get_mut(&PortalUsersOfAccount(grant.account_id)),
                users.get(&grant.portal_user_id),
            ) && !list.iter().any(|u| u.id == user.id)
            {
                list.push(user.clone());
            }
        }
        for list in grouped.values_mut() {
            list.sort_by_key(|u| u.id);
        }
        Ok(grouped)
    }
}

impl Loader<PortalStatusOfAccount> for Batch {
    type Value = PortalStatus;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[PortalStatusOfAccount],
    ) -> Result<HashMap<PortalStatusOfAccount, PortalStatus>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        // One statement: accounts with a portal user (true) UNION accounts
        // with a pending, unexpired invitation (false).
        let mut query = portal_access::Entity::find()
            .select_only()
            .column(portal_access::Column::AccountId)
            .expr_as(Expr::val(true), "connected")
            .filter(portal_access::Column::AccountId.is_in(ids.iter().copied()))
            .filter(portal_access::Column::OrganizationId.eq(self.org))
            .into_query();
        let invited = invitation::Entity::find()
            .select_only()
            .column(invitation::Column::AccountId)
            .expr_as(Expr::val(false), "connected")
            .filter(invitation::Column::AccountId.is_in(ids.iter().copied()))
            .filter(invitation::Column::OrganizationId.eq(self.org))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .into_query();
        query.union(UnionType::Distinct, invited);
        let statement = self.db.get_database_backend().build(&query);
        let mut connected = Vec::new();
        let mut invited = Vec::new();
        for row in self.db.query_all_raw(statement).await? {
            let account: Uuid = row.try_get_by_index(0)?;
            if row.try_get_by_index::<bool>(1)? {
                connected.push(account);
            } else {
                invited.push(account);
            }
        }
        Ok(ids
            .into_iter()
            .map(|id| {
                let status = if connected.contains(&id) {
                    PortalStatus::Connected
                } else if invited.contains(&id) {
                    PortalStatus::Invited
                } else {
                    PortalStatus::NotConnected
                };
                (PortalStatusOfAccount(id), status)
            })
            .collect())
    }
}
