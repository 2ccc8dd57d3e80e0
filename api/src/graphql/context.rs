//! What resolvers read from the GraphQL context.

use std::sync::Arc;

use async_graphql::Context;
use common::Settings;
use sea_orm::DatabaseConnection;

use crate::{auth::Viewer, graphql::loaders::Loaders};

/// Process-wide state, added to the schema once.
#[derive(Clone)]
pub struct AppData {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The process settings.
    pub settings: Arc<Settings>,
}

/// Shortcuts for resolvers.
pub trait ContextExt {
    /// The database pool.
    fn db(&self) -> &DatabaseConnection;
    /// The process settings.
    fn settings(&self) -> &Settings;
    /// Who is asking.
    fn viewer(&self) -> &Viewer;
    /// This request's DataLoaders.
    fn loaders(&self) -> &Loaders;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> &DatabaseConnection {
        &self.data_unchecked::<AppData>().db
    }

    fn settings(&self) -> &Settings {
        &self.data_unchecked::<AppData>().settings
    }

    fn viewer(&self) -> &Viewer {
        self.data_unchecked::<Viewer>()
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }
}
