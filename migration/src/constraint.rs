//! Names of the schema's UNIQUE indexes, and how to recognise which one a
//! unique violation hit.
//!
//! The api turns a `sea_orm::SqlErr::UniqueConstraintViolation` into a
//! `BAD_USER_INPUT` error naming the offending input field, so it needs to
//! know which index was violated. The backends report that differently:
//!
//! - PostgreSQL names the index:
//!   `duplicate key value violates unique constraint "uq_accounts_org_number"`.
//! - SQLite names the columns, not the index:
//!   `UNIQUE constraint failed: accounts.organization_id, accounts.number`.
//!
//! [`violated_unique_index`] understands both. [`UNIQUE_INDEXES`] describes
//! today's schema, after every migration; it is read for error mapping only.
//! Migrations never read it (a later migration would change it under an
//! earlier one): each creates its unique indexes from its own frozen list,
//! and a unit test of the migrations checks that they add up to this one.
//! A migration that adds or changes a unique index updates this list too.
//! Unique rules are indexes (not table constraints) because
//! `CREATE UNIQUE INDEX` means the same on both backends.

/// `organizations (slug)`.
pub const ORGANIZATIONS_SLUG: &str = "uq_organizations_slug";
/// `staff_users (email)`: staff emails are unique across all organizations.
pub const STAFF_USERS_EMAIL: &str = "uq_staff_users_email";
/// `accounts (organization_id, number)`.
pub const ACCOUNTS_ORG_NUMBER: &str = "uq_accounts_org_number";
/// `asset_types (organization_id, name)`.
pub const ASSET_TYPES_ORG_NAME: &str = "uq_asset_types_org_name";
/// `assets (organization_id, tag)`.
pub const ASSETS_ORG_TAG: &str = "uq_assets_org_tag";
/// `invoices (organization_id, number)`.
pub const INVOICES_ORG_NUMBER: &str = "uq_invoices_org_number";
/// `payments (organization_id, idempotency_key)`.
pub const PAYMENTS_ORG_IDEMPOTENCY_KEY: &str = "uq_payments_org_idempotency_key";
/// `invitations (token_digest)`; NULLs (not yet sent) do not collide.
pub const INVITATIONS_TOKEN_DIGEST: &str = "uq_invitations_token_digest";
/// `portal_users (organization_id, email)`.
pub const PORTAL_USERS_ORG_EMAIL: &str = "uq_portal_users_org_email";
/// `sessions (token_digest)`.
pub const SESSIONS_TOKEN_DIGEST: &str = "uq_sessions_token_digest";
/// `password_resets (token_digest)`; NULLs (not yet sent) do not collide.
pub const PASSWORD_RESETS_TOKEN_DIGEST: &str = "uq_password_resets_token_digest";

/// A UNIQUE index of the schema: its name, table and columns in index order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueIndex {
    /// Index name, one of this module's constants.
    pub name: &'static str,
    /// Table the index is on.
    pub table: &'static str,
    /// Indexed columns, in order.
    pub columns: &'static [&'static str],
}

/// Every UNIQUE index of the schema (primary keys excluded).
pub const UNIQUE_INDEXES: &[UniqueIndex] = &[
    UniqueIndex {
        name: ORGANIZATIONS_SLUG,
        table: "organizations",
        columns: &["slug"],
    },
    UniqueIndex {
        name: STAFF_USERS_EMAIL,
        table: "staff_users",
        columns: &["email"],
    },
    UniqueIndex {
        name: ACCOUNTS_ORG_NUMBER,
        table: "accounts",
        columns: &["organization_id", "number"],
    },
    UniqueIndex {
        name: ASSET_TYPES_ORG_NAME,
        table: "asset_types",
        columns: &["organization_id", "name"],
    },
    UniqueIndex {
        name: ASSETS_ORG_TAG,
        table: "assets",
        columns: &["organization_id", "tag"],
    },
    UniqueIndex {
        name: INVOICES_ORG_NUMBER,
        table: "invoices",
        columns: &["organization_id", "number"],
    },
    UniqueIndex {
        name: PAYMENTS_ORG_IDEMPOTENCY_KEY,
        table: "payments",
        columns: &["organization_id", "idempotency_key"],
    },
    UniqueIndex {
        name: INVITATIONS_TOKEN_DIGEST,
        table: "invitations",
        columns: &["token_digest"],
    },
    UniqueIndex {
        name: PORTAL_USERS_ORG_EMAIL,
        table: "portal_users",
        columns: &["organization_id", "email"],
    },
    UniqueIndex {
        name: SESSIONS_TOKEN_DIGEST,
        table: "sessions",
        columns: &["token_digest"],
    },
    UniqueIndex {
        name: PASSWORD_RESETS_TOKEN_DIGEST,
        table: "password_resets",
        columns: &["token_digest"],
    },
];

/// Looks up a unique index by name.
#[must_use]
pub fn unique_index(name: &str) -> Option<&'static UniqueIndex> {
    UNIQUE_INDEXES.iter().find(|index| index.name == name)
}

/// The unique index a violation message (the string inside
/// `SqlErr::UniqueConstraintViolation`) refers to, on PostgreSQL or SQLite.
///
/// Returns `None` for violations of a primary key or of anything not in
/// [`UNIQUE_INDEXES`]; callers should treat those as internal errors.
#[must_use]
pub fn violated_unique_index(message: &str) -> Option<&'static UniqueIndex> {
    UNIQUE_INDEXES.iter().find(|index| index.matches(message))
}

impl UniqueIndex {
    /// Whether a unique-violation message is about this index.
    #[must_use]
    pub fn matches(&self, message: &str) -> bool {
        // PostgreSQL: duplicate key value violates unique constraint "NAME"
        if message.contains(&format!("\"{}\"", self.name)) {
            return true;
        }
        // SQLite, for an index on expressions: UNIQUE constraint failed: index 'NAME'
        if message.contains(&format!("index '{}'", self.name)) {
            return true;
        }
        // SQLite, for an index on plain columns:
        // UNIQUE constraint failed: TABLE.COL1, TABLE.COL2
        message
            .split_once("UNIQUE constraint failed: ")
            .is_some_and(|(_, columns)| columns.trim_end() == self.sqlite_column_list())
    }

    fn sqlite_column_list(&self) -> String {
        self.columns
            .iter()
            .map(|column| format!("{}.{column}", self.table))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_are_unique_and_prefixed() {
        for (i, index) in UNIQUE_INDEXES.iter().enumerate() {
            assert!(index.name.starts_with("uq_"), "{}", index.name);
            assert!(index.name.len() <= 63, "{} is too long for PostgreSQL", index.name);
            assert!(
                UNIQUE_INDEXES[i + 1..].iter().all(|other| other.name != index.name),
                "{} is listed twice",
                index.name
            );
        }
    }

    #[test]
    fn postgres_message_is_recognised_by_name() {
        let message = "duplicate key value violates unique constraint \"uq_accounts_org_number\"";
        assert_eq!(
            violated_unique_index(message).map(|index| index.name),
            Some(ACCOUNTS_ORG_NUMBER)
        );
    }

    #[test]
    fn sqlite_message_is_recognised_by_columns() {
        let message = "UNIQUE constraint failed: accounts.organization_id, accounts.number";
        assert_eq!(
            violated_unique_index(message).map(|index| index.name),
            Some(ACCOUNTS_ORG_NUMBER)
        );
        let message = "UNIQUE constraint failed: staff_users.email";
        assert_eq!(
            violated_unique_index(message).map(|index| index.name),
            Some(STAFF_USERS_EMAIL)
        );
    }

    #[test]
    fn a_prefix_of_another_index_does_not_match() {
        // `uq_invoices_org_number` must not match a message about another
        // table's (organization_id, number), nor a primary key.
        let message = "UNIQUE constraint failed: invoices.organization_id";
        assert_eq!(violated_unique_index(message), None);
        let message = "UNIQUE constraint failed: accounts.id";
        assert_eq!(violated_unique_index(message), None);
        let message = "duplicate key value violates unique constraint \"accounts_pkey\"";
        assert_eq!(violated_unique_index(message), None);
    }
}
