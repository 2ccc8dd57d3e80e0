//! `invitation_links`: the digest of every link minted for an invitation.
//! The current link's digest is also on `invitations.token_digest`; a digest
//! found only here belongs to a superseded link.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One minted invitation link, by its token's digest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "invitation_links")]
pub struct Model {
    /// SHA-256 hex of the link's token (never the token itself).
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_digest: String,
    /// The invitation the link was minted for (cascade delete).
    pub invitation_id: Uuid,
    /// When it was minted (sent).
    pub created_at: DateTimeUtc,
}

/// Relations of an invitation link.
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
}

impl Related<super::invitation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invitation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
