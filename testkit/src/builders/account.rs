//! Builders of `accounts`, `locations`, `portal_users` and `portal_access`
//! rows.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `accounts` row: number `A-N`, named `Account N`, no contact.
    AccountBuilder for account {
        id: Uuid,
        number: String,
        name: String,
        contact_name: Option<String>,
        contact_email: Option<String>,
        contact_phone: Option<String>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    }
}

impl AccountBuilder {
    /// An account of `organization_id` with the defaults.
    pub fn new(organization_id: Uuid) -> Self {
        let n = next();
        let at = now();
        Self {
            model: entity::account::Model {
                id: Uuid::now_v7(),
                organization_id,
                number: format!("A-{n}"),
                name: format!("Account {n}"),
                contact_name: None,
                contact_email: None,
                contact_phone: None,
                created_at: at,
                updated_at: at,
            },
        }
    }
}

row_builder! {
    /// A `locations` row: `Location N` at 1 Main St, Portland, OR, US.
    LocationBuilder for location {
        id: Uuid,
        name: String,
        line1: String,
        line2: Option<String>,
        city: String,
        region: Option<String>,
        postal_code: Option<String>,
        country: String,
        created_at: DateTime<Utc>,
    }
}

impl LocationBuilder {
    /// A location of `account_id` (in `organization_id`) with the defaults.
    pub fn new(organization_id: Uuid, account_id: Uuid) -> Self {
        Self {
            model: entity::location::Model {
                id: Uuid::now_v7(),
                organization_id,
                account_id,
                name: format!("Location {}", next()),
                line1: "1 Main St".to_owned(),
                line2: None,
                city: "Portland".to_owned(),
                region: Some("OR".to_owned()),
                postal_code: None,
                country: "US".to_owned(),
                created_at: now(),
            },
        }
    }
}

row_builder! {
    /// A `portal_users` row: `portal-N@example.test`, named `Portal user N`,
    /// with a password hash that matches no password, never signed in.
    PortalUserBuilder for portal_user {
        id: Uuid,
        email: String,
        name: String,
        password_hash: String,
        created_at: DateTime<Utc>,
        last_sign_in_at: Option<DateTime<Utc>>,
    }
}

impl PortalUserBuilder {
    /// A portal user of `organization_id` with the defaults.
    pub fn new(organization_id: Uuid) -> Self {
        let n = next();
        Self {
            model: entity::portal_user::Model {
                id: Uuid::now_v7(),
                organization_id,
                email: format!("portal-{n}@example.test"),
                name: format!("Portal user {n}"),
                password_hash: "not-a-hash".to_owned(),
                created_at: now(),
                last_sign_in_at: None,
            },
        }
    }
}

row_builder! {
    /// A `portal_access` row: a grant of a whole account (set
    /// `location_id` for one location), from no invitation.
    PortalAccessBuilder for portal_access {
        id: Uuid,
        location_id: Option<Uuid>,
        invitation_id: Option<Uuid>,
        created_at: DateTime<Utc>,
    }
}

impl PortalAccessBuilder {
    /// `portal_user_id`'s grant to `account_id` (in `organization_id`).
    pub fn new(organization_id: Uuid, portal_user_id: Uuid, account_id: Uuid) -> Self {
        Self {
            model: entity::portal_access::Model {
                id: Uuid::now_v7(),
                organization_id,
                portal_user_id,
                account_id,
                location_id: None,
                invitation_id: None,
                created_at: now(),
            },
        }
    }
}
