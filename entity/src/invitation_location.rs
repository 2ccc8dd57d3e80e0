//! `invitation_locations`: the locations a location-scoped invitation covers
//! (join table, composite primary key). Deleted with their invitation.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One location in an invitation's scope.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "invitation_locations")]
pub struct Model {
    /// The invitation (cascade delete).
    #[sea_orm(primary_key, auto_increment = false)]
    pub invitation_id: Uuid,
    /// A location of the invitation's account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub location_id: Uuid,
}

/// Relations of an invitation location.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The invitation (cascade delete).
    #[sea_orm(
        belongs_to = "super::invitation::Entity",
        from = "Column::InvitationId",
        to = "super::invitation::Column::Id",
        on_delete = "Cascade"
    )]
    Invitation,
    /// The covered location.
    #[sea_orm(
        belongs_to = "super::location::Entity",
        from = "Column::LocationId",
        to = "super::location::Column::Id"
    )]
    Location,
}

impl Related<super::invitation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invitation.def()
    }
}

impl Related<super::location::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Location.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
