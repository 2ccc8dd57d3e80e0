//! What both asset-request emails (received, updated) say about the
//! request: the facts in their payloads and the templates they include
//! from `asset_request/` (the one-line summary and the details block).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An asset request as its emails describe it, copied when the email is
/// queued (the email tells what was asked at that moment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRequestFacts {
    /// The account's number, e.g. `C-1001`.
    pub account_number: String,
    /// The account's name.
    pub account_name: String,
    /// The location the assets are wanted at.
    pub location_name: String,
    /// Its first address line.
    pub location_line1: String,
    /// Its second address line, if any.
    pub location_line2: Option<String>,
    /// Its city.
    pub location_city: String,
    /// The kind of asset asked for.
    pub asset_type_name: String,
    /// How many.
    pub quantity: i32,
    /// When they are needed, if the customer said.
    pub needed_by: Option<NaiveDate>,
    /// The customer's notes for staff.
    pub notes: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request as the tests of both kinds describe it.
    pub(crate) fn facts() -> AssetRequestFacts {
        AssetRequestFacts {
            account_number: "C-1001".to_owned(),
            account_name: "Riverside Construction".to_owned(),
            location_name: "Tower site".to_owned(),
            location_line1: "1 Main St".to_owned(),
            location_line2: None,
            location_city: "Portland".to_owned(),
            asset_type_name: "Standard portable toilet".to_owned(),
            quantity: 2,
            needed_by: NaiveDate::from_ymd_opt(2026, 12, 9),
            notes: Some("Gate code 1234".to_owned()),
        }
    }
}
