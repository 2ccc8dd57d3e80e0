//! The builder of `email_deliveries` rows.

use chrono::{DateTime, Utc};
use entity::{DeliveryStatus, EmailKind};
use sea_orm::JsonValue;
use uuid::Uuid;

use super::{next, now, row_builder};

row_builder! {
    /// An `email_deliveries` row: QUEUED now, never attempted, to
    /// `recipient-N@example.test`, with an empty payload and no invitation.
    EmailDeliveryBuilder for email_delivery {
        id: Uuid,
        recipient: String,
        subject: String,
        status: DeliveryStatus,
        attempts: i32,
        last_error: Option<String>,
        payload: JsonValue,
        invitation_id: Option<Uuid>,
        queued_at: DateTime<Utc>,
        next_attempt_at: DateTime<Utc>,
        lease_owner: Option<String>,
        lease_expires_at: Option<DateTime<Utc>>,
        sent_at: Option<DateTime<Utc>>,
    }
}

impl EmailDeliveryBuilder {
    /// A delivery of `kind` for `organization_id` with the defaults.
    pub fn new(organization_id: Uuid, kind: EmailKind) -> Self {
        let at = now();
        Self {
            model: entity::email_delivery::Model {
                id: Uuid::now_v7(),
                organization_id,
                kind,
                recipient: format!("recipient-{}@example.test", next()),
                subject: "A message".to_owned(),
                status: DeliveryStatus::Queued,
                attempts: 0,
                last_error: None,
                payload: serde_json::json!({}),
                invitation_id: None,
                queued_at: at,
                next_attempt_at: at,
                lease_owner: None,
                lease_expires_at: None,
                sent_at: None,
            },
        }
    }
}
