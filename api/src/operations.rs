//! `api deliveries`: the email queue for operators, across organizations.
//!
//! - `list` prints the deliveries a filter names (status, kind,
//!   organization slug, older than an age), oldest first, with how many
//!   match in all;
//! - `retry` puts the FAILED ones back on the queue with a fresh attempt
//!   budget (in one statement, at most `--limit` per run; `--dry-run` only
//!   counts them). They are due at once: the sweeper of any running api or
//!   worker pushes them within `OUTBOX_SWEEP_INTERVAL_MS`.
//!
//! Recipients are masked as in the logs. The staff side of the same is
//! `emailDeliveries(status:, kind:)` and `retryEmailDeliveries` in GraphQL.

use std::{collections::HashMap, fmt::Write as _, time::Duration};

use anyhow::{Context as _, bail};
use chrono::Utc;
use common::outbox::{self, Selection};
use entity::{DeliveryStatus, EmailKind, email_delivery, organization};
use sea_orm::{ActiveEnum, ColumnTrait, DatabaseConnection, EntityTrait, Iterable, QueryFilter};
use uuid::Uuid;

/// The filter both commands take, as typed on the command line.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--status`: a `DeliveryStatus` name, any case.
    pub status: Option<String>,
    /// `--kind`: an `EmailKind` name, any case (`invitation`, `password_reset`).
    pub kind: Option<String>,
    /// `--organization`: an organization's slug.
    pub organization: Option<String>,
    /// `--older-than`: an age such as `90s`, `15m`, `2h`, `3d`.
    pub older_than: Option<String>,
}

fn parse_enum<E: ActiveEnum<Value = String> + Iterable>(value: &str, flag: &str) -> anyhow::Result<E> {
    let wanted = value.trim().to_ascii_uppercase().replace('-', "_");
    E::iter()
        .find(|candidate| candidate.to_value() == wanted)
        .with_context(|| {
            let names: Vec<String> = E::iter().map(|e| e.to_value().to_ascii_lowercase()).collect();
            format!("{flag} {value:?}: expected one of {}", names.join(", "))
        })
}

/// An age: a whole number followed by `s`, `m`, `h` or `d`.
///
/// # Errors
/// When the text is not such an age.
pub fn parse_age(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("--older-than {text:?}: expected a number and a unit, such as 90s, 15m, 2h or 3d"),
    };
    let number: u64 = number
        .parse()
        .with_context(|| format!("--older-than {text:?}: expected a number and a unit, such as 90s, 15m, 2h or 3d"))?;
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

impl Filter {
    async fn selection(&self, db: &DatabaseConnection) -> anyhow::Result<Selection> {
        let organization_id = match &self.organization {
            None => None,
            Some(slug) => Some(
                organization::Entity::find()
                    .filter(organization::Column::Slug.eq(slug.trim().to_lowercase()))
                    .one(db)
                    .await?
                    .with_context(|| format!("--organization {slug:?}: no organization has this slug"))?
                    .id,
            ),
        };
        let queued_before = match &self.older_than {
            None => None,
            Some(age) => Some(Utc::now() - chrono::Duration::from_std(parse_age(age)?)?),
        };
        Ok(Selection {
            organization_id,
            kind: self
                .kind
                .as_deref()
                .map(|k| parse_enum::<EmailKind>(k, "--kind"))
                .transpose()?,
            status: self
                .status
                .as_deref()
                .map(|s| parse_enum::<DeliveryStatus>(s, "--status"))
                .transpose()?,
            queued_before,
            ids: None,
        })
    }
}

/// `api deliveries list`: a table of up to `limit` matching deliveries,
/// oldest first, and how many match.
///
/// # Errors
/// On a bad filter or database failure.
pub async fn list(db: &DatabaseConnection, filter: &Filter, limit: u64) -> anyhow::Result<String> {
    let selection = filter.selection(db).await?;
    let (rows, total) = outbox::select(db, &selection, limit).await?;
    let slugs = slugs(db, &rows).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36}  {:<16}  {:<22}  {:<9}  {:>8}  {:>9}  {:<22}  last error",
        "id", "organization", "kind", "status", "attempts", "queued", "recipient"
    );
    let now = Utc::now();
    for row in &rows {
        let age = (now - row.queued_at).to_std().unwrap_or_default();
        let error: String = row.last_error.as_deref().unwrap_or("").chars().take(80).collect();
        let _ = writeln!(
            out,
            "{:<36}  {:<16}  {:<22}  {:<9}  {:>8}  {:>9}  {:<22}  {}",
            row.id,
            slugs.get(&row.organization_id).map_or("?", String::as_str),
            row.kind.to_value(),
            row.status.to_value(),
            row.attempts,
            format!("{} ago", short_age(age)),
            common::redact::mask_email(&row.recipient),
            error
        );
    }
    let _ = writeln!(
        out,
        "{} of {total} matching deliveries shown (oldest first)",
        rows.len()
    );
    Ok(out)
}

/// `api deliveries retry`: puts up to `limit` matching FAILED deliveries
/// back on the queue (none with `dry_run`); says how many.
///
/// # Errors
/// On a bad filter (a `--status` other than failed) or database failure.
pub async fn retry(db: &DatabaseConnection, filter: &Filter, limit: u64, dry_run: bool) -> anyhow::Result<String> {
    let mut selection = filter.selection(db).await?;
    if selection.status.is_some_and(|status| status != DeliveryStatus::Failed) {
        bail!("--status: only FAILED deliveries are retried (leave --status out)");
    }
    selection.status = Some(DeliveryStatus::Failed);
    if dry_run {
        let (_, total) = outbox::select(db, &selection, 0).await?;
        return Ok(format!(
            "{total} FAILED deliveries match; a retry would put back {} of them (--dry-run: nothing changed)\n",
            total.min(limit)
        ));
    }
    let requeued = outbox::requeue_failed_many(db, &selection, limit, Duration::ZERO).await?;
    let (_, left) = outbox::select(db, &selection, 0).await?;
    Ok(format!(
        "{} FAILED deliveries put back on the queue (the sweepers push them now); {left} still FAILED match\n",
        requeued.len()
    ))
}

async fn slugs(db: &DatabaseConnection, rows: &[email_delivery::Model]) -> anyhow::Result<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.organization_id).collect();
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|org| (org.id, org.slug))
        .collect())
}

fn short_age(age: Duration) -> String {
    let seconds = age.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_names_parse_with_clear_errors() {
        assert_eq!(parse_age("90s").expect("s"), Duration::from_secs(90));
        assert_eq!(parse_age("15m").expect("m"), Duration::from_secs(900));
        assert_eq!(parse_age("2h").expect("h"), Duration::from_secs(7200));
        assert_eq!(parse_age("3d").expect("d"), Duration::from_secs(259_200));
        for bad in ["", "m", "15", "1.5h", "-3d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_enum::<EmailKind>("password-reset", "--kind").expect("kind"),
            EmailKind::PasswordReset
        );
        assert_eq!(
            parse_enum::<DeliveryStatus>("failed", "--status").expect("status"),
            DeliveryStatus::Failed
        );
        let err = parse_enum::<DeliveryStatus>("lost", "--status").expect_err("unknown");
        assert!(
            err.to_string().contains("queued, retrying, sent, failed, cancelled"),
            "{err}"
        );
        assert_eq!(short_age(Duration::from_secs(59)), "59s");
        assert_eq!(short_age(Duration::from_secs(7300)), "2h");
    }
}
