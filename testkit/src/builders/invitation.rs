//! Builders of `invitations` and `invitation_links` rows.

use chrono::{DateTime, TimeDelta, Utc};
use entity::InvitationStatus;
use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `invitations` row: PENDING, to the whole account, for
    /// `invitee-N@example.test`, sent now (no link minted yet) and expiring
    /// in 7 days.
    InvitationBuilder for invitation {
        id: Uuid,
        email: String,
        status: InvitationStatus,
        whole_account: bool,
        token_digest: Option<String>,
        invited_by: Option<Uuid>,
        accepted_by: Option<Uuid>,
        created_at: DateTime<Utc>,
        last_sent_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        accepted_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
    }
}

impl InvitationBuilder {
    /// An invitation to `account_id` (in `organization_id`) with the defaults.
    pub fn new(organization_id: Uuid, account_id: Uuid) -> Self {
        let at = now();
        Self {
            model: entity::invitation::Model {
                id: Uuid::now_v7(),
                organization_id,
                account_id,
                email: format!("invitee-{}@example.test", next()),
                status: InvitationStatus::Pending,
                whole_account: true,
                token_digest: None,
                invited_by: None,
                accepted_by: None,
                created_at: at,
                last_sent_at: at,
                expires_at: at + TimeDelta::days(7),
                accepted_at: None,
                revoked_at: None,
            },
        }
    }

    /// Expires `after` from its creation.
    pub fn expires_in(self, after: TimeDelta) -> Self {
        let expires_at = self.model.created_at + after;
        self.expires_at(expires_at)
    }
}

row_builder! {
    /// An `invitation_links` row: a link minted now.
    InvitationLinkBuilder for invitation_link {
        created_at: DateTime<Utc>,
    }
}

impl InvitationLinkBuilder {
    /// The link of `invitation_id` whose token has digest `token_digest`.
    pub fn new(invitation_id: Uuid, token_digest: impl Into<String>) -> Self {
        Self {
            model: entity::invitation_link::Model {
                token_digest: token_digest.into(),
                invitation_id,
                created_at: now(),
            },
        }
    }
}
