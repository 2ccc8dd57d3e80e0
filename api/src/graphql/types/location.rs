//! Locations: the physical sites of an account.

use crate::graphql::connection::page_cost;
use async_graphql::{Context, ID, Object, Positioned, Result, SimpleObject, parser::types::Field};
use entity::{AssetStatus as DbAssetStatus, location};

use super::{
    account::Account,
    asset::{Asset, AssetConnection, AssetStatus},
    to_id,
};
use crate::{
    error::ApiError,
    graphql::{
        connection::{Connection, Node, Page, connection_types},
        context::ContextExt,
        loaders::{AccountKey, AssetCountAtLocation, AssetPageAtLocation},
        rows::{Batch, Items, PlainFields, page_batch, plain_object_with, plain_value},
    },
};

/// A postal address.
#[derive(SimpleObject, Clone)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// Suite, building, gate.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region.
    pub region: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// Country (ISO 3166-1 alpha-2 code, e.g. US).
    pub country: String,
}

/// A physical site of an account where assets are deployed.
#[derive(Clone)]
pub struct Location(pub location::Model);

connection_types!(LocationConnection, LocationEdge, Location, "locations");

impl Node for Location {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// A plain field of location `l`'s address (read from the row, without
/// building an [`Address`]).
fn address_field(l: &location::Model, ctx: &Context<'_>) -> Option<async_graphql::Value> {
    match ctx.item.node.name.node.as_str() {
        "line1" => plain_value(ctx, &l.line1),
        "line2" => plain_value(ctx, &l.line2),
        "city" => plain_value(ctx, &l.city),
        "region" => plain_value(ctx, &l.region),
        "postalCode" => plain_value(ctx, &l.postal_code),
        "country" => plain_value(ctx, &l.country),
        _ => None,
    }
}

impl Location {
    fn address_of(&self) -> Address {
        let l = &self.0;
        Address {
            line1: l.line1.clone(),
            line2: l.line2.clone(),
            city: l.city.clone(),
            region: l.region.clone(),
            postal_code: l.postal_code.clone(),
            country: l.country.clone(),
        }
    }
}

impl PlainFields for Location {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => plain_value(ctx, &to_id(self.0.id)),
            "name" => plain_value(ctx, &self.0.name.as_str()),
            "address" => plain_object_with(ctx, "Address", |ctx| address_field(&self.0, ctx)),
            _ => None,
        }
    }

    fn batched<'a>(field: &'a Positioned<Field>, items: &'a Items<'a, Self>) -> Option<Batch<'a>> {
        let ids = move || items.rows.iter().map(|l| l.0.id).collect::<Vec<_>>();
        match field.node.name.node.as_str() {
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
                            |id| AssetPageAtLocation(id, status, page),
                            |id| AssetCountAtLocation(id, status),
                            Asset,
                        )
                        .await
                        .ok()
                },
            )),
            _ => None,
        }
    }
}

/// A physical site of an account where assets are deployed.
#[Object]
impl Location {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The account the location belongs to.
    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        let account = ctx.loaders().one(AccountKey(self.0.account_id)).await?;
        Ok(Account(account.ok_or(ApiError::NotFound("account"))?))
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn address(&self) -> Address {
        self.address_of()
    }

    /// Assets deployed here.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<AssetStatus>,
    ) -> Result<AssetConnection> {
        let page = Page::new(first, after.as_deref())?;
        let status: Option<DbAssetStatus> = status.map(Into::into);
        let loaders = ctx.loaders();
        let rows = loaders
            .one(AssetPageAtLocation(self.0.id, status, page))
            .await?
            .unwrap_or_default();
        let total = if ctx.look_ahead().field("totalCount").exists() {
            Some(loaders.one(AssetCountAtLocation(self.0.id, status)).await?.unwrap_or(0))
        } else {
            None
        };
        Ok(Connection::from_rows(rows.into_iter().map(Asset).collect(), page, total).into())
    }
}
