//! Assets (the units a business deploys) and asset types.

use std::sync::LazyLock;

use async_graphql::{Context, Enum, ID, Name, Object, Result};
use chrono::{DateTime, Utc};
use entity::{asset, asset_type};

use super::{location::Location, to_id};
use crate::{
    error::ApiError,
    graphql::{
        connection::{Node, connection_types},
        context::ContextExt,
        loaders::LocationKey,
        rows::{PlainFields, enum_names, enum_value, plain_object, plain_object_with, plain_value},
    },
};

/// Where an asset is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::AssetStatus")]
pub enum AssetStatus {
    /// In the yard, ready to deploy.
    Available,
    /// At a customer's location.
    Deployed,
    /// Being serviced.
    Maintenance,
    /// Out of service for good.
    Retired,
}

/// A kind of asset, e.g. "Standard portable toilet".
#[derive(Clone)]
pub struct AssetType(pub asset_type::Model);

/// A kind of asset the business rents out.
#[Object]
impl AssetType {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether customers can request it in the portal.
    async fn requestable(&self) -> bool {
        self.0.requestable
    }
}

/// One physical unit, identified by its tag.
#[derive(Clone)]
pub struct Asset(pub asset::Model);

connection_types!(AssetConnection, AssetEdge, Asset, "assets");

impl Node for Asset {
    fn id(&self) -> uuid::Uuid {
        self.0.id
    }
}

/// The names of [`AssetStatus`]'s items (see [`enum_value`]).
static STATUS_NAMES: LazyLock<Vec<(AssetStatus, Name)>> = LazyLock::new(enum_names);

impl PlainFields for AssetType {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        asset_type_field(&self.0, ctx)
    }
}

/// A plain field of asset type `t`.
fn asset_type_field(t: &asset_type::Model, ctx: &Context<'_>) -> Option<async_graphql::Value> {
    match ctx.item.node.name.node.as_str() {
        "id" => plain_value(ctx, &to_id(t.id)),
        "name" => plain_value(ctx, &t.name.as_str()),
        "description" => plain_value(ctx, &t.description.as_deref()),
        "requestable" => plain_value(ctx, &t.requestable),
        _ => None,
    }
}

impl PlainFields for Asset {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        let a = &self.0;
        match ctx.item.node.name.node.as_str() {
            "id" => plain_value(ctx, &to_id(a.id)),
            "tag" => plain_value(ctx, &a.tag.as_str()),
            "status" => enum_value(&STATUS_NAMES, AssetStatus::from(a.status)),
            "deployedAt" => plain_value(ctx, &a.deployed_at),
            "assetType" => ctx
                .loaders()
                .with_cached_asset_type(a.asset_type_id, |t| {
                    plain_object_with(ctx, "AssetType", |ctx| asset_type_field(t, ctx))
                })
                .flatten(),
            "location" => match a.location_id {
                None => Some(async_graphql::Value::Null),
                Some(id) => plain_object(ctx, &Location(ctx.loaders().seen_location(id)?)),
            },
            _ => None,
        }
    }
}

/// One physical unit, identified by its tag.
#[Object]
impl Asset {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The tag painted on the unit (unique in the organization).
    async fn tag(&self) -> &str {
        &self.0.tag
    }

    async fn asset_type(&self, ctx: &Context<'_>) -> Result<AssetType> {
        let found = ctx.loaders().asset_type(self.0.asset_type_id).await?;
        Ok(AssetType(found.ok_or(ApiError::NotFound("asset type"))?))
    }

    async fn status(&self) -> AssetStatus {
        self.0.status.into()
    }

    /// Where it is deployed; null when not deployed.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        let Some(id) = self.0.location_id else { return Ok(None) };
        let loaders = ctx.loaders();
        if let Some(seen) = loaders.seen_location(id) {
            return Ok(Some(Location(seen)));
        }
        Ok(loaders.one(LocationKey(id)).await?.map(Location))
    }

    /// When it was deployed at its current location.
    async fn deployed_at(&self) -> Option<DateTime<Utc>> {
        self.0.deployed_at
    }
}
