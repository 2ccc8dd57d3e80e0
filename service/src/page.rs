//! Pages of rows, as every list of the contract returns them.
//!
//! Order is always by id. Ids are UUIDv7, so that is creation order, stable
//! and unique: walking the pages with `after` returns every row once.
//! Cursors are the row id in URL-safe base64, opaque to clients.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::ApiError;

/// `first` when the client gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first` accepted.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// How many rows to return.
    pub first: u64,
    /// Return rows after this id.
    pub after: Option<Uuid>,
}

impl Page {
    /// Validates `first` and decodes `after`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `first` (negative or over 100) or `after` (not a cursor).
    pub fn new(first: Option<i32>, after: Option<&str>) -> Result<Self, ApiError> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => return Err(ApiError::bad_input("first", "first must not be negative")),
            Some(n) if n.unsigned_abs() > MAX_PAGE_SIZE as u32 => {
                return Err(ApiError::bad_input(
                    "first",
                    format!("first may be at most {MAX_PAGE_SIZE}"),
                ));
            }
            Some(n) => u64::from(n.unsigned_abs()),
        };
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self { first, after })
    }

    /// Pages a complete, id-ordered list in memory (for children that a
    /// DataLoader fetched for many parents at once).
    #[must_use]
    pub fn apply<T: Node>(self, mut all: Vec<T>) -> Connection<T> {
        all.sort_by_key(Node::id);
        let total = all.len() as u64;
        let start = self.after.map_or(0, |after| all.partition_point(|n| n.id() <= after));
        let take = usize::try_from(self.first).unwrap_or(usize::MAX).saturating_add(1);
        let rows: Vec<T> = all.into_iter().skip(start).take(take).collect();
        Connection::from_rows(rows, self, Some(total))
    }
}

/// Encodes a row id as a cursor.
#[must_use]
pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_input("after", "after is not a cursor from this API"))
}

/// A type listed in connections: it has the id that orders it.
pub trait Node: Clone {
    /// The row id.
    fn id(&self) -> Uuid;
}

/// A page of rows, before the api turns it into one of its GraphQL
/// connection types.
#[derive(Debug, Clone)]
pub struct Connection<T> {
    /// The rows of this page, in order.
    pub nodes: Vec<T>,
    /// Whether rows follow this page.
    pub has_next_page: bool,
    /// How many rows match over all pages (0 when not asked for).
    pub total_count: i32,
}

impl<T: Node> Connection<T> {
    /// Builds a page from rows fetched with `LIMIT first + 1` (the extra row
    /// only tells whether a next page exists).
    #[must_use]
    pub fn from_rows(mut rows: Vec<T>, page: Page, total: Option<u64>) -> Self {
        let has_next_page = rows.len() as u64 > page.first;
        rows.truncate(usize::try_from(page.first).unwrap_or(usize::MAX));
        Self {
            nodes: rows,
            has_next_page,
            total_count: i32::try_from(total.unwrap_or(0)).unwrap_or(i32::MAX),
        }
    }

    /// The cursor of this page's last row, to pass as `after` for the next.
    #[must_use]
    pub fn end_cursor(&self) -> Option<String> {
        self.nodes.last().map(|n| encode_cursor(n.id()))
    }
}
