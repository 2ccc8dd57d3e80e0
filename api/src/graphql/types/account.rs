//! The account (a customer's billing account) and its contact information.

use crate::graphql::connection::{list_cost, page_cost};
use std::sync::LazyLock;

use async_graphql::{
    Context, Enum, ID, Object, Positioned, Result, SimpleObject,
    parser::types::{Field, OperationType},
};
use entity::{AssetStatus as DbAssetStatus, InvoiceStatus as DbInvoiceStatus, account};
use service::accounts;

use super::{
    asset::{Asset, AssetConnection, AssetStatus},
    audit::{AuditEvent, AuditEventConnection},
    invitation::Invitation,
    invoice::{Invoice, InvoiceConnection, InvoiceStatus},
    location::{Location, LocationConnection},
    money::Money,
    to_id,
    user::PortalUser,
};
use crate::graphql::{
    connection::{Connection, Node, Page, connection_types},
    context::ContextExt,
    loaders::{
        AssetCountOfAccount, AssetPageOfAccount, InvitationsOfAccount, InvoiceCountOfAccount, InvoicePageOfAccount,
        LocationCountOfAccount, LocationPageOfAccount, PortalUsersOfAccount,
    },
    rows::{
        Batch, Items, PlainFields, enum_names, enum_value, page_batch, plain_object, plain_object_with, plain_value,
    },
};
use service::audit;

/// Whether the account's customer uses the portal.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::PortalStatus")]
pub enum PortalStatus {
    /// Nobody was invited, or every invitation ended unused.
    NotConnected,
    /// An invitation is pending (sent, not accepted, not expired).
    Invited,
    /// At least one portal user has access.
    Connected,
}

/// Contact Information on file; invitations go to its email.
#[derive(SimpleObject, Clone)]
pub struct ContactInfo {
    /// Contact person.
    pub name: Option<String>,
    /// Where invitations and notices go.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// A customer's billing account.
#[derive(Clone)]
pub struct Account(pub account::Model);

connection_types!(AccountConnection, AccountEdge, Account, "accounts");

impl Node for Account {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// The names of [`PortalStatus`]'s items (see [`enum_value`]).
static PORTAL_STATUS_NAMES: LazyLock<Vec<(PortalStatus, async_graphql::Name)>> = LazyLock::new(enum_names);

/// A plain field of account `a`'s contact information (read from the row,
/// without building a [`ContactInfo`]).
fn contact_field(a: &account::Model, ctx: &Context<'_>) -> Option<async_graphql::Value> {
    match ctx.item.node.name.node.as_str() {
        "name" => plain_value(ctx, &a.contact_name),
        "email" => plain_value(ctx, &a.contact_email),
        "phone" => plain_value(ctx, &a.contact_phone),
        _ => None,
    }
}

impl PlainFields for Account {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        let a = &self.0;
        match ctx.item.node.name.node.as_str() {
            "id" => plain_value(ctx, &to_id(a.id)),
            "number" => plain_value(ctx, &a.number.as_str()),
            "name" => plain_value(ctx, &a.name.as_str()),
            "contact" => plain_object_with(ctx, "ContactInfo", |ctx| contact_field(a, ctx)),
            _ => None,
        }
    }

    fn batched<'a>(field: &'a Positioned<Field>, items: &'a Items<'a, Self>) -> Option<Batch<'a>> {
        let ids = move || items.rows.iter().map(|a| a.0.id).collect::<Vec<_>>();
        match field.node.name.node.as_str() {
            "portalStatus" => Some(Box::pin(async move {
                let ctx = items.field_ctx(0, field);
                let found = ctx.loaders().portal_statuses(&ids()).await.ok()?;
                found
                    .into_iter()
                    .map(|status| {
                        enum_value(
                            &PORTAL_STATUS_NAMES,
                            status.map_or(PortalStatus::NotConnected, Into::into),
                        )
                    })
                    .collect()
            })),
            "balanceDue" => Some(Box::pin(async move {
                let ctx = items.field_ctx(0, field);
                let found = ctx.loaders().balances(&ids()).await.ok()?;
                found
                    .into_iter()
                    .enumerate()
                    .map(|(index, balance)| {
                        plain_object(
                            &items.field_ctx(index, field),
                            &balance.map_or_else(no_balance, Money::from),
                        )
                    })
                    .collect()
            })),
            "locations" => Some(page_batch::<_, LocationConnection, _, _>(
                field,
                items,
                move |ctx, page, with_total| async move {
                    ctx.loaders()
                        .pages(
                            &ids(),
                            page,
                            with_total,
                            |id| LocationPageOfAccount(id, page),
                            LocationCountOfAccount,
                            Location,
                        )
                        .await
                        .ok()
                },
            )),
            "assets" => Some(page_batch::<_, AssetConnection, _, _>(
                field,
                items,
                move |ctx, page, with_total| async move {
                    let (_, status) = ctx.param_value::<Option<AssetStatus>>("status", None).ok()?;
                    let status: Option<DbAssetStatus> = status.map(Into::into);
                    ctx.loaders()
                        .pages(
                            &ids(),
                            page,
                            with_total,
                            |id| AssetPageOfAccount(id, status, page),
                            |id| AssetCountOfAccount(id, status),
                            Asset,
                        )
                        .await
                        .ok()
                },
            )),
            "invoices" => Some(page_batch::<_, InvoiceConnection, _, _>(
                field,
                items,
                move |ctx, page, with_total| async move {
                    let (_, status) = ctx.param_value::<Option<InvoiceStatus>>("status", None).ok()?;
                    let status: Option<DbInvoiceStatus> = status.map(Into::into);
                    ctx.loaders()
                        .pages(
                            &ids(),
                            page,
                            with_total,
                            |id| InvoicePageOfAccount(id, status, page),
                            |id| InvoiceCountOfAccount(id, status),
                            Invoice,
                        )
                        .await
                        .ok()
                },
            )),
            _ => None,
        }
    }
}

/// A page of accounts for a connection field: the balances and portal
/// statuses its selection asks for are read in the page's own statement
/// ([`accounts::Extras`]) and kept for the fields that answer them.
///
/// # Errors
/// Internal on database failure.
pub async fn account_page(
    ctx: &Context<'_>,
    scope: &service::Scope,
    filter: &accounts::AccountFilter,
    page: Page,
) -> Result<AccountConnection> {
    let look = ctx.look_ahead();
    let want_total = look.field("totalCount").exists();
    // Only in a query: a mutation's later root fields may change what was
    // read (and a subscription's loaders outlive one event), while the
    // kept values would still answer.
    let query = ctx.query_env.operation.node.ty == OperationType::Query;
    let asks = |name: &str| {
        query && (look.field("nodes").field(name).exists() || look.field("edges").field("node").field(name).exists())
    };
    let extras = accounts::Extras {
        balance: asks("balanceDue"),
        portal_status: asks("portalStatus"),
    };
    let mut listed = accounts::list(ctx.db(), scope, filter, page, want_total, extras).await?;
    ctx.loaders().prime(&mut listed);
    Ok(Connection::from_rows(listed.rows.into_iter().map(Account).collect(), page, listed.total).into())
}

/// The balance of an account the loader did not answer for (not
/// visible): nothing due.
fn no_balance() -> Money {
    Money::new(0, "USD")
}

/// A customer's billing account: its locations, assets and invoices.
#[Object]
impl Account {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The account number (unique in the organization).
    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Contact Information on file.
    async fn contact(&self) -> ContactInfo {
        ContactInfo {
            name: self.0.contact_name.clone(),
            email: self.0.contact_email.clone(),
            phone: self.0.contact_phone.clone(),
        }
    }

    /// NOT_CONNECTED, INVITED or CONNECTED.
    async fn portal_status(&self, ctx: &Context<'_>) -> Result<PortalStatus> {
        let found = ctx.loaders().portal_statuses(&[self.0.id]).await?;
        Ok(found
            .into_iter()
            .next()
            .flatten()
            .map_or(PortalStatus::NotConnected, Into::into))
    }

    /// The account's locations (sites).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<LocationConnection> {
        let page = Page::new(first, after.as_deref())?;
        let loaders = ctx.loaders();
        let rows = loaders
            .one(LocationPageOfAccount(self.0.id, page))
            .await?
            .unwrap_or_default();
        let total = if ctx.look_ahead().field("totalCount").exists() {
            Some(loaders.one(LocationCountOfAccount(self.0.id)).await?.unwrap_or(0))
        } else {
            None
        };
        Ok(Connection::from_rows(rows.into_iter().map(Location).collect(), page, total).into())
    }

    /// Assets deployed at the account's locations.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<AssetStatus>,
    ) -> Result<AssetConnection> {
        let page = Page::new(first, after.as_deref())?;
        let loaders = ctx.loaders();
        let status: Option<DbAssetStatus> = status.map(Into::into);
        let rows = loaders
            .one(AssetPageOfAccount(self.0.id, status, page))
            .await?
            .unwrap_or_default();
        let total = if ctx.look_ahead().field("totalCount").exists() {
            Some(loaders.one(AssetCountOfAccount(self.0.id, status)).await?.unwrap_or(0))
        } else {
            None
        };
        Ok(Connection::from_rows(rows.into_iter().map(Asset).collect(), page, total).into())
    }

    /// The account's invoices.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<InvoiceStatus>,
    ) -> Result<InvoiceConnection> {
        let page = Page::new(first, after.as_deref())?;
        let status: Option<DbInvoiceStatus> = status.map(Into::into);
        let loaders = ctx.loaders();
        let rows = loaders
            .one(InvoicePageOfAccount(self.0.id, status, page))
            .await?
            .unwrap_or_default();
        let total = if ctx.look_ahead().field("totalCount").exists() {
            Some(
                loaders
                    .one(InvoiceCountOfAccount(self.0.id, status))
                    .await?
                    .unwrap_or(0),
            )
        } else {
            None
        };
        Ok(Connection::from_rows(rows.into_iter().map(Invoice).collect(), page, total).into())
    }

    /// Staff only: the portal users with access to this account.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn portal_users(&self, ctx: &Context<'_>) -> Result<Vec<PortalUser>> {
        ctx.viewer().require_staff()?;
        let rows = ctx
            .loaders()
            .one(PortalUsersOfAccount(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(PortalUser).collect())
    }

    /// Staff only: the account's invitations, newest first.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        ctx.viewer().require_staff()?;
        let rows = ctx
            .loaders()
            .one(InvitationsOfAccount(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().rev().map(Invitation).collect())
    }

    /// Staff only: who invited, resent, revoked, accepted, requested, paid —
    /// newest first (`after` continues towards older events).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AuditEventConnection> {
        let staff = ctx.viewer().require_staff()?;
        let page = Page::new(first, after.as_deref())?;
        let want_total = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) =
            audit::list_for_account(ctx.db(), staff.organization_id, self.0.id, page, want_total).await?;
        Ok(Connection::from_rows(rows.into_iter().map(AuditEvent).collect(), page, total).into())
    }

    /// Sum of amountDue over OPEN invoices.
    async fn balance_due(&self, ctx: &Context<'_>) -> Result<Money> {
        let found = ctx.loaders().balances(&[self.0.id]).await?;
        Ok(found.into_iter().next().flatten().map_or_else(no_balance, Money::from))
    }
}
