//! What a viewer may see, as SQL: a [`Scope`] is the organization plus, for
//! a portal user, the grants its accepted invitations gave ([`Grants`]).
//!
//! Every read of the service crate takes a scope and adds its condition to
//! the statement's `WHERE`, so tenancy and grants are applied by the
//! database, once, in the same place for root lists, lookups by id and the
//! batched reads behind nested fields. Staff see their whole organization;
//! a portal user sees the accounts it was granted, and of an account
//! granted location by location only those locations, their assets, the
//! invoices billed to them and the asset requests made for them.
//!
//! This module owns the conditions only: who the viewer is comes from
//! [`crate::auth`], and which rows a function reads is the domain module's.

use std::{collections::HashSet, sync::Arc};

use entity::{account, asset, asset_request, invoice, invoice_line, location, payment, portal_access};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, ExprTrait as _, JoinType,
    sea_query::{Alias, Expr, Query},
};
use uuid::Uuid;

use crate::error::ApiError;

/// A portal user's access: whole accounts ("together") and single
/// locations ("separately").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Accounts granted as a whole: every location, asset and invoice.
    pub whole_accounts: HashSet<Uuid>,
    /// Locations granted one by one (their account is visible, but only these
    /// locations of it and the invoices billed to them).
    pub locations: HashSet<Uuid>,
    /// Every account with any grant.
    pub accounts: HashSet<Uuid>,
    /// Every visible location: those granted one by one and those of the
    /// whole accounts (read with the grants, in the same statement), so that
    /// reads of what hangs off a location filter by id, without a subquery.
    pub visible_locations: HashSet<Uuid>,
}

impl Grants {
    /// Reads a portal user's grants, with the locations of its whole
    /// accounts, in one statement.
    ///
    /// # Errors
    /// On database failure.
    pub async fn load(db: &impl ConnectionTrait, portal_user_id: Uuid) -> Result<Self, ApiError> {
        let mut statement = Query::select()
            .from(portal_access::Entity)
            .and_where(Expr::col((portal_access::Entity, portal_access::Column::PortalUserId)).eq(portal_user_id))
            .to_owned();
        Self::join_rows(&mut statement, JoinType::InnerJoin);
        let mut grants = Self::default();
        for row in db.query_all(&statement).await? {
            grants.add_row(&row)?;
        }
        Ok(grants)
    }

    /// Joins to `statement` (which reads `portal_users` or `portal_access`)
    /// the grant columns [`Grants::add_row`] reads: each `portal_access` row
    /// of the portal user and, for a grant of a whole account, each of the
    /// account's locations. `join` is `LeftJoin` when the statement reads
    /// the portal user (a user without grants still has its row).
    pub(crate) fn join_rows(statement: &mut sea_orm::sea_query::SelectStatement, join: JoinType) {
        let whole = Alias::new("whole");
        if join == JoinType::LeftJoin {
            statement.join(
                JoinType::LeftJoin,
                portal_access::Entity,
                Expr::col((portal_access::Entity, portal_access::Column::PortalUserId))
                    .equals((entity::portal_user::Entity, entity::portal_user::Column::Id)),
            );
        }
        statement
            .expr_as(
                Expr::col((portal_access::Entity, portal_access::Column::AccountId)),
                Alias::new("grant_account_id"),
            )
            .expr_as(
                Expr::col((portal_access::Entity, portal_access::Column::LocationId)),
                Alias::new("grant_location_id"),
            )
            .expr_as(
                Expr::col((whole.clone(), location::Column::Id)),
                Alias::new("grant_whole_location_id"),
            )
            .join_as(
                JoinType::LeftJoin,
                location::Entity,
                whole.clone(),
                Condition::all()
                    .add(Expr::col((portal_access::Entity, portal_access::Column::LocationId)).is_null())
                    .add(
                        Expr::col((whole.clone(), location::Column::AccountId))
                            .equals((portal_access::Entity, portal_access::Column::AccountId)),
                    )
                    .add(
                        Expr::col((whole, location::Column::OrganizationId))
                            .equals((portal_access::Entity, portal_access::Column::OrganizationId)),
                    ),
            );
    }

    /// Adds one row of the columns [`Grants::join_rows`] selects (a row of
    /// a user without grants adds nothing).
    pub(crate) fn add_row(&mut self, row: &sea_orm::QueryResult) -> Result<(), ApiError> {
        let Some(account) = row.try_get::<Option<Uuid>>("", "grant_account_id")? else {
            return Ok(());
        };
        self.accounts.insert(account);
        match row.try_get::<Option<Uuid>>("", "grant_location_id")? {
            Some(location) => {
                self.locations.insert(location);
                self.visible_locations.insert(location);
            }
            None => {
                self.whole_accounts.insert(account);
                if let Some(location) = row.try_get::<Option<Uuid>>("", "grant_whole_location_id")? {
                    self.visible_locations.insert(location);
                }
            }
        }
        Ok(())
    }
}

/// The organization a read is confined to, and the grants that narrow it
/// for a portal user (`None`: staff, the whole organization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    organization_id: Uuid,
    grants: Option<Arc<Grants>>,
}

impl Scope {
    /// The whole organization: what staff see, and what the organization's
    /// own processes (emails, checks before a staff change) read.
    #[must_use]
    pub fn organization(organization_id: Uuid) -> Self {
        Self {
            organization_id,
            grants: None,
        }
    }

    /// What a portal user of `organization_id` with `grants` sees.
    #[must_use]
    pub fn portal(organization_id: Uuid, grants: Arc<Grants>) -> Self {
        Self {
            organization_id,
            grants: Some(grants),
        }
    }

    /// The organization.
    #[must_use]
    pub fn organization_id(&self) -> Uuid {
        self.organization_id
    }

    /// The portal user's grants; `None` for the whole organization.
    #[must_use]
    pub fn grants(&self) -> Option<&Grants> {
        self.grants.as_deref()
    }

    /// Visible accounts: the organization's, and for a portal user those
    /// with any grant.
    #[must_use]
    pub fn accounts(&self) -> Condition {
        let mut cond = Condition::all().add(account::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            cond = cond.add(any_in(&[(account::Column::Id, &grants.accounts)], account::Column::Id));
        }
        cond
    }

    /// Visible locations: of whole-account grants, and those granted one by one.
    #[must_use]
    pub fn locations(&self) -> Condition {
        let mut cond = Condition::all().add(location::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            cond = cond.add(any_in(
                &[(location::Column::Id, &grants.visible_locations)],
                location::Column::Id,
            ));
        }
        cond
    }

    /// Visible assets: for a portal user, those deployed at a visible
    /// location (the yard is never visible to customers).
    #[must_use]
    pub fn assets(&self) -> Condition {
        let mut cond = Condition::all().add(asset::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            cond = cond.add(any_in(
                &[(asset::Column::LocationId, &grants.visible_locations)],
                asset::Column::Id,
            ));
        }
        cond
    }

    /// Visible assets among those deployed at `location_ids`: the same rows
    /// as [`Scope::assets`], with the grant's id list narrowed to those
    /// locations, for the batched read behind `Location.assets`.
    #[must_use]
    pub fn assets_at(&self, location_ids: &[Uuid]) -> Condition {
        let mut cond = Condition::all().add(asset::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            let visible: HashSet<Uuid> = location_ids
                .iter()
                .copied()
                .filter(|id| grants.visible_locations.contains(id))
                .collect();
            cond = cond.add(any_in(&[(asset::Column::LocationId, &visible)], asset::Column::Id));
        }
        cond
    }

    /// Visible invoices: of whole-account grants, and those billed to a
    /// location granted one by one.
    #[must_use]
    pub fn invoices(&self) -> Condition {
        let mut cond = Condition::all().add(invoice::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            cond = cond.add(any_in(
                &[
                    (invoice::Column::AccountId, &grants.whole_accounts),
                    (invoice::Column::LocationId, &grants.locations),
                ],
                invoice::Column::Id,
            ));
        }
        cond
    }

    /// Lines of the visible invoices among `invoice_ids` (lines carry no
    /// organization of their own).
    #[must_use]
    pub fn invoice_lines(&self, invoice_ids: &[Uuid]) -> Condition {
        Condition::all().add(invoice_line::Column::InvoiceId.in_subquery(self.invoice_ids_among(invoice_ids)))
    }

    /// Payments of the visible invoices among `invoice_ids`.
    #[must_use]
    pub fn payments(&self, invoice_ids: &[Uuid]) -> Condition {
        let mut cond = Condition::all().add(payment::Column::OrganizationId.eq(self.organization_id));
        if self.grants.is_some() {
            cond = cond.add(payment::Column::InvoiceId.in_subquery(self.invoice_ids_among(invoice_ids)));
        }
        cond
    }

    /// Visible asset requests: for a portal user, those for a visible
    /// location, whoever made them.
    #[must_use]
    pub fn asset_requests(&self) -> Condition {
        let mut cond = Condition::all().add(asset_request::Column::OrganizationId.eq(self.organization_id));
        if let Some(grants) = self.grants() {
            cond = cond.add(any_in(
                &[(asset_request::Column::LocationId, &grants.visible_locations)],
                asset_request::Column::Id,
            ));
        }
        cond
    }

    /// The visible accounts' ids, as a subquery (for rows that hang off an
    /// account: its invitations, its portal access).
    #[must_use]
    pub fn account_ids(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(account::Column::Id)
            .from(account::Entity)
            .cond_where(self.accounts())
            .to_owned()
    }

    /// The visible invoices among `ids`, as a subquery narrowed by primary key.
    fn invoice_ids_among(&self, ids: &[Uuid]) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(invoice::Column::Id)
            .from(invoice::Entity)
            .cond_where(self.invoices().add(invoice::Column::Id.is_in(ids.iter().copied())))
            .to_owned()
    }
}

/// `column IN (ids) OR …` over the non-empty id sets only; with none, a
/// condition no row meets (`key IS NULL` on the primary key).
///
/// An empty `IN ()` would be written as a comparison of two bound values
/// (`$9 = $10`), which a prepared statement's generic plan cannot fold: the
/// `OR` then cannot use an index and PostgreSQL scans the whole table.
fn any_in<C: ColumnTrait>(branches: &[(C, &HashSet<Uuid>)], key: C) -> Condition {
    let mut any = Condition::any();
    let mut none = true;
    for (column, ids) in branches {
        if !ids.is_empty() {
            any = any.add(column.is_in(ids.iter().copied()));
            none = false;
        }
    }
    if none { any.add(key.is_null()) } else { any }
}
