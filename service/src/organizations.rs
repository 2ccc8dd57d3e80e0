//! Organizations (tenants): creation with their first staff admin and default
//! asset types, and the billing setup switch.

use chrono::Utc;
use entity::{asset_type, organization, staff_user};
use migration::constraint;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use super::validate;
use crate::{
    auth,
    error::{ApiError, UniqueRule, on_unique},
};

const SLUG_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::ORGANIZATIONS_SLUG,
    field: "slug",
    message: "an organization with this slug already exists",
};

const STAFF_EMAIL_TAKEN: UniqueRule = UniqueRule {
    constraint: constraint::STAFF_USERS_EMAIL,
    field: "adminEmail",
    message: "a staff user with this email already exists",
};

/// Asset types every new organization starts with, so the portal has
/// something to offer: (name, description).
pub const DEFAULT_ASSET_TYPES: [(&str, &str); 4] = [
    (
        "Standard portable toilet",
        "Single-unit portable restroom for job sites and events",
    ),
    ("ADA portable toilet", "Wheelchair-accessible portable restroom"),
    ("Hand-wash station", "Two-sink freshwater hand-wash station"),
    (
        "20-yard roll-off dumpster",
        "Roll-off container for construction and clean-out debris",
    ),
];

/// An organization to create with its first staff user.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// URL-safe short name; portal users name it when signing in.
    pub slug: String,
    /// The admin's email (staff sign in with it).
    pub admin_email: String,
    /// The admin's display name.
    pub admin_name: String,
    /// The admin's password (10–256 characters).
    pub admin_password: String,
}

/// Checks a slug: 2–63 lowercase letters, digits and single hyphens.
///
/// # Errors
/// `BAD_USER_INPUT` on `slug`.
pub fn validate_slug(slug: &str) -> Result<String, ApiError> {
    let slug = slug.trim();
    let ok = (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(ApiError::bad_input(
            "slug",
            "the slug must be 2-63 lowercase letters, digits and single hyphens, e.g. acme-rentals",
        ))
    }
}

/// Creates an organization, its admin staff user and the default asset
/// types in one transaction.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field (bad or taken slug, bad or taken email,
/// bad password); internal on database failure.
pub async fn create<C: super::Db>(
    db: &C,
    input: NewOrganization,
) -> Result<(organization::Model, staff_user::Model), ApiError> {
    let name = validate::required("name", &input.name, 200)?;
    let slug = validate_slug(&input.slug)?;
    let email = validate::email("adminEmail", &input.admin_email)?;
    let admin_name = validate::required("adminName", &input.admin_name, 200)?;
    auth::validate_new_password("password", &input.admin_password)?;
    let password_hash = auth::hash_password(input.admin_password).await?;

    let now = Utc::now();
    let txn = db.begin().await?;
    let org = organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        slug: Set(slug),
        online_payments_enabled: Set(false),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| on_unique(e, &[SLUG_TAKEN]))?;
    let admin = staff_user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org.id),
        email: Set(email),
        name: Set(admin_name),
        password_hash: Set(password_hash),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| on_unique(e, &[STAFF_EMAIL_TAKEN]))?;
    let types = DEFAULT_ASSET_TYPES
        .iter()
        .map(|(name, description)| asset_type::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(org.id),
            name: Set((*name).to_owned()),
            description: Set(Some((*description).to_owned())),
            requestable: Set(true),
            created_at: Set(now),
        });
    asset_type::Entity::insert_many(types).exec(&txn).await?;
    txn.commit().await?;
    Ok((org, admin))
}

/// The organization by id.
///
/// # Errors
/// `NOT_FOUND`; internal on database failure.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("organization"))
}

/// Turns online invoice payments on or off.
///
/// # Errors
/// Internal on database failure.
pub async fn set_online_payments(
    db: &impl ConnectionTrait,
    id: Uuid,
    enabled: bool,
) -> Result<organization::Model, ApiError> {
    let mut active: organization::ActiveModel = get(db, id).await?.into();
    active.online_payments_enabled = Set(enabled);
    Ok(active.update(db).await?)
}

/// The organizations among `ids`, in one statement. Not scoped: ids only
/// ever come from rows already read through a scope (the viewer's own user,
/// an invoice's organization) or from a session just started.
///
/// # Errors
/// Internal on database failure.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<organization::Model>, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(db)
        .await?)
}
