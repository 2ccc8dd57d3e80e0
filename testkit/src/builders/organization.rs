//! Builders of `organizations` and `staff_users` rows.

use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `organizations` row: `Organization N`, slug `org-N`, online
    /// payments off. It comes with no asset types or staff (the service's
    /// `organizations::create` adds those).
    OrganizationBuilder for organization {
        id: Uuid,
        name: String,
        slug: String,
        online_payments_enabled: bool,
        created_at: chrono::DateTime<chrono::Utc>,
    }
}

impl OrganizationBuilder {
    /// An organization with the defaults.
    pub fn new() -> Self {
        let n = next();
        Self {
            model: entity::organization::Model {
                id: Uuid::now_v7(),
                name: format!("Organization {n}"),
                slug: format!("org-{n}"),
                online_payments_enabled: false,
                created_at: now(),
            },
        }
    }
}

impl Default for OrganizationBuilder {
    fn default() -> Self {
        Self::new()
    }
}

row_builder! {
    /// A `staff_users` row: `staff-N@example.test`, named `Staff N`, with a
    /// password hash that matches no password (it never signs in).
    StaffUserBuilder for staff_user {
        id: Uuid,
        email: String,
        name: String,
        password_hash: String,
        created_at: chrono::DateTime<chrono::Utc>,
    }
}

impl StaffUserBuilder {
    /// A staff user of `organization_id` with the defaults.
    pub fn new(organization_id: Uuid) -> Self {
        let n = next();
        Self {
            model: entity::staff_user::Model {
                id: Uuid::now_v7(),
                organization_id,
                email: format!("staff-{n}@example.test"),
                name: format!("Staff {n}"),
                password_hash: "not a hash: this user never signs in".to_owned(),
                created_at: now(),
            },
        }
    }
}
