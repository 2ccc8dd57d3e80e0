//! Relay-style connections shared by every list of the contract: the GraphQL
//! face of [`service::page`] (which owns pages, cursors and their order).

use async_graphql::SimpleObject;
pub use service::page::{Connection, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Node, Page, encode_cursor};

/// What a list costs against the complexity limit
/// ([`crate::graphql::schema::MAX_COMPLEXITY`]): a page of `first` rows
/// (default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`]) costs one plus
/// `first` times what one row's selection costs, so the limit bounds the
/// rows and fields a document can ask for however deeply its lists nest. A
/// `first` out of range counts as the most; the resolver refuses it.
#[must_use]
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = match first {
        None => DEFAULT_PAGE_SIZE,
        Some(n) => u64::try_from(n).map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE)),
    };
    bounded_cost(usize::try_from(rows).unwrap_or(usize::MAX), child_complexity)
}

/// The cost of a list of at most `rows` rows (see [`page_cost`]).
#[must_use]
pub fn bounded_cost(rows: usize, child_complexity: usize) -> usize {
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// The cost of a short list without pages (an account's portal users and
/// invitations, an invitation's locations, the asset types): a default page.
#[must_use]
pub fn list_cost(child_complexity: usize) -> usize {
    bounded_cost(usize::try_from(DEFAULT_PAGE_SIZE).unwrap_or(20), child_complexity)
}

/// Where a page ends.
#[derive(Debug, Clone, SimpleObject)]
pub struct PageInfo {
    /// Whether rows follow this page.
    pub has_next_page: bool,
    /// Cursor of the last row, to pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// Declares the GraphQL connection and edge types of one node type.
macro_rules! connection_types {
    ($connection:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $connection(pub ::service::page::Connection<$node>);

        impl From<::service::page::Connection<$node>> for $connection {
            fn from(page: ::service::page::Connection<$node>) -> Self {
                Self(page)
            }
        }

        impl $crate::graphql::rows::PageOf for $connection {
            type Node = $node;

            fn page(&self) -> &::service::page::Connection<$node> {
                &self.0
            }
        }

        #[doc = concat!("A page of ", $what, ".")]
        #[async_graphql::Object]
        impl $connection {
            /// Rows with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.0
                    .nodes
                    .iter()
                    .map(|node| $edge {
                        cursor: ::service::page::encode_cursor(::service::page::Node::id(node)),
                        node: node.clone(),
                    })
                    .collect()
            }

            /// The rows of this page.
            async fn nodes(&self) -> $crate::graphql::rows::Rows<'_, $node> {
                $crate::graphql::rows::Rows(&self.0.nodes)
            }

            /// Whether more rows follow, and where this page ends.
            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                $crate::graphql::connection::PageInfo {
                    has_next_page: self.0.has_next_page,
                    end_cursor: self.0.end_cursor(),
                }
            }

            /// How many rows match, over all pages.
            async fn total_count(&self) -> i32 {
                self.0.total_count
            }
        }

        #[doc = concat!("One of ", $what, " with its cursor.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque cursor: pass it as `after` to continue after this row.
            pub cursor: String,
            /// The row.
            pub node: $node,
        }
    };
}
pub(crate) use connection_types;
