//! The `api` command: serve, migrate, create an organization, look after
//! the email queue (`deliveries`), print the schema.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use api::Application;
use clap::{Parser, Subcommand};
use common::{Settings, db::Prepared};
use rand::{Rng, distr::Alphanumeric};

/// mimalloc instead of the system allocator: a GraphQL response is built from
/// thousands of small allocations across worker threads, which glibc's
/// malloc served slowly and with fragmented, long-kept arenas (see the
/// commit that brought it in for the figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Customer Portal api. Configuration comes from the environment (see README).
#[derive(Parser)]
#[command(name = "api", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve (the default).
    Serve {
        /// Fill an empty database with a demo organization and print its staff login.
        #[arg(long)]
        seed_demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Create an organization with its first staff admin. The password comes
    /// from PORTAL_ADMIN_PASSWORD, or a prompt on a terminal.
    CreateOrganization {
        /// Display name, e.g. "Acme Rentals".
        #[arg(long)]
        name: String,
        /// Short URL-safe name customers sign in with, e.g. acme-rentals.
        #[arg(long)]
        slug: String,
        /// The admin's email (staff sign in with it).
        #[arg(long)]
        admin_email: String,
        /// The admin's display name.
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
    },
    /// Print the GraphQL schema (SDL) to stdout; `schema.graphql` is this output.
    PrintSchema,
    /// The email queue across organizations, for operators.
    Deliveries {
        #[command(subcommand)]
        command: DeliveriesCommand,
    },
}

/// The filter of `api deliveries`.
#[derive(clap::Args)]
struct DeliveryFilter {
    /// Only deliveries in this state: queued, retrying, sent, failed, cancelled.
    #[arg(long)]
    status: Option<String>,
    /// Only deliveries of this kind: invitation, asset_request_received,
    /// asset_request_updated, payment_receipt, password_reset.
    #[arg(long)]
    kind: Option<String>,
    /// Only deliveries of the organization with this slug.
    #[arg(long)]
    organization: Option<String>,
    /// Only deliveries queued longer ago than this: 90s, 15m, 2h, 3d.
    #[arg(long, value_name = "AGE")]
    older_than: Option<String>,
}

impl From<DeliveryFilter> for api::operations::Filter {
    fn from(filter: DeliveryFilter) -> Self {
        Self {
            status: filter.status,
            kind: filter.kind,
            organization: filter.organization,
            older_than: filter.older_than,
        }
    }
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// List matching deliveries, oldest first, and how many match.
    List {
        #[command(flatten)]
        filter: DeliveryFilter,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Put matching FAILED deliveries back on the queue (fresh attempts).
    Retry {
        #[command(flatten)]
        filter: DeliveryFilter,
        /// At most this many in one run.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Only count what would be retried.
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", api::graphql::build_schema(None).sdl());
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let command = cli.command.unwrap_or(Command::Serve { seed_demo: false });
    if matches!(command, Command::Serve { .. }) {
        common::telemetry::init(settings.log_format);
    } else {
        common::telemetry::init_for_command(settings.log_format);
    }
    match command {
        Command::Serve { seed_demo } => serve(settings, seed_demo).await,
        Command::Migrate => {
            let (db, _) = common::db::connect(&settings.database_url, 2)
                .await
                .context("connecting to the database")?;
            match common::db::prepare_schema(&db, true)
                .await
                .context("applying migrations")?
            {
                Prepared::Current => println!("the database schema is up to date; nothing to apply"),
                Prepared::Migrated(count) => println!("migrations applied: {count}"),
                Prepared::Newer(unknown) => println!(
                    "the database schema is newer than this binary ({} migration(s) it does not know: {}); nothing to apply",
                    unknown.len(),
                    unknown.join(", ")
                ),
            }
            Ok(())
        }
        Command::CreateOrganization {
            name,
            slug,
            admin_email,
            admin_name,
        } => {
            let password = admin_password()?;
            let (db, _) = common::db::connect(&settings.database_url, 2)
                .await
                .context("connecting to the database")?;
            common::db::prepare_schema(&db, settings.migrate_on_start)
                .await
                .context("preparing the database schema (MIGRATE_ON_START)")?;
            let input = service::organizations::NewOrganization {
                name,
                slug,
                admin_email,
                admin_name,
                admin_password: password,
            };
            match service::organizations::create(&db, input).await {
                Ok((org, admin)) => {
                    println!("{}", org.id);
                    eprintln!(
                        "created organization {:?} (slug {}); staff login: {}",
                        org.name, org.slug, admin.email
                    );
                    Ok(())
                }
                Err(api::error::ApiError::BadInput { field, message }) => bail!("{field}: {message}"),
                Err(other) => Err(anyhow::Error::new(other).context("creating the organization")),
            }
        }
        Command::Deliveries { command } => {
            let (db, _) = common::db::connect(&settings.database_url, 2)
                .await
                .context("connecting to the database")?;
            common::db::prepare_schema(&db, false)
                .await
                .context("checking the database schema")?;
            let out = match command {
                DeliveriesCommand::List { filter, limit } => api::operations::list(&db, &filter.into(), limit).await?,
                DeliveriesCommand::Retry { filter, limit, dry_run } => {
                    api::operations::retry(&db, &filter.into(), limit, dry_run).await?
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::PrintSchema => Ok(()),
    }
}

async fn serve(settings: Settings, seed_demo: bool) -> anyhow::Result<()> {
    let public_url = settings.public_url.clone();
    let app = Application::build(settings).await?;
    let addr = app.local_addr()?;
    if seed_demo {
        let password = std::env::var("PORTAL_ADMIN_PASSWORD").unwrap_or_else(|_| random_password());
        match service::seed::seed_demo(app.db(), password).await {
            Ok(Some(seeded)) => {
                println!(
                    "Seeded the demo organization {:?} (slug {}).",
                    seeded.organization.name, seeded.organization.slug
                );
                println!(
                    "Staff login: {}  password: {}",
                    seeded.admin_email, seeded.admin_password
                );
                println!(
                    "Customer Portal: http://{addr}/portal/sign-in?organization={}  customer login: {}  password: the same",
                    seeded.organization.slug, seeded.customer_email
                );
            }
            Ok(None) => println!("The database already has an organization: --seed-demo left it unchanged."),
            Err(err) => return Err(anyhow::Error::new(err).context("seeding the demo organization")),
        }
    }
    println!("Customer Portal api listening on http://{addr}");
    println!("GraphiQL: http://{addr}/graphql   (links in emails use PUBLIC_URL={public_url})");
    app.run_until_stopped().await?;
    Ok(())
}

fn admin_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("PORTAL_ADMIN_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("set PORTAL_ADMIN_PASSWORD (there is no terminal to ask for the admin password)");
    }
    let password = rpassword::prompt_password("Admin password (10-256 characters): ")?;
    let again = rpassword::prompt_password("Again: ")?;
    if password != again {
        bail!("the passwords differ");
    }
    Ok(password)
}

fn random_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}
