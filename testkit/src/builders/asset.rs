//! Builders of `asset_types` and `assets` rows.

use chrono::{DateTime, Utc};
use entity::AssetStatus;
use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `asset_types` row: `Asset type N`, no description, requestable.
    AssetTypeBuilder for asset_type {
        id: Uuid,
        name: String,
        description: Option<String>,
        requestable: bool,
        created_at: DateTime<Utc>,
    }
}

impl AssetTypeBuilder {
    /// An asset type of `organization_id` with the defaults.
    pub fn new(organization_id: Uuid) -> Self {
        Self {
            model: entity::asset_type::Model {
                id: Uuid::now_v7(),
                organization_id,
                name: format!("Asset type {}", next()),
                description: None,
                requestable: true,
                created_at: now(),
            },
        }
    }
}

row_builder! {
    /// An `assets` row: tag `T-N`, available in the yard (no location).
    AssetBuilder for asset {
        id: Uuid,
        tag: String,
        status: AssetStatus,
        location_id: Option<Uuid>,
        deployed_at: Option<DateTime<Utc>>,
        created_at: DateTime<Utc>,
    }
}

impl AssetBuilder {
    /// An asset of `asset_type_id` (in `organization_id`) with the defaults.
    pub fn new(organization_id: Uuid, asset_type_id: Uuid) -> Self {
        Self {
            model: entity::asset::Model {
                id: Uuid::now_v7(),
                organization_id,
                asset_type_id,
                tag: format!("T-{}", next()),
                status: AssetStatus::Available,
                location_id: None,
                deployed_at: None,
                created_at: now(),
            },
        }
    }

    /// Deployed at `location_id` since `at` (status, location and time
    /// together, as a move leaves them).
    pub fn deployed(self, location_id: Uuid, at: DateTime<Utc>) -> Self {
        self.status(AssetStatus::Deployed)
            .location_id(location_id)
            .deployed_at(at)
    }
}
