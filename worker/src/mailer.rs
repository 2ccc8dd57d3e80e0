//! Sending a composed email: over SMTP (lettre) when `SMTP_URL` is set, else
//! as an `.eml` file in `MAIL_OUTBOX_DIR` (the embedded quick start).
//!
//! `SMTP_URL` forms (lettre's connection URL; user and password must be
//! percent-encoded; an optional path sets the EHLO name):
//!
//! | URL | TLS | default port |
//! | --- | --- | --- |
//! | `smtp://[user:pass@]host[:port]` | none: plain text (local relays, test sinks only) | 25 |
//! | `smtp://…?tls=required` | STARTTLS, required | 587 |
//! | `smtp://…?tls=opportunistic` | STARTTLS when offered, else plain (open to a man in the middle) | 587 |
//! | `smtps://[user:pass@]host[:port]` | implicit TLS from the first byte (recommended) | 465 |
//!
//! TLS is rustls with the webpki root certificates. Connections are pooled
//! (up to `WORKER_CONCURRENCY`), and one whole send — connect, TLS, the
//! greeting, every command and the data — is bounded by
//! `SMTP_TIMEOUT_SECONDS` (lettre's own timeout covers only the connect).
//!
//! A failure says whether trying again can help ([`SendError`]); the job
//! decides what to do with that. This module never logs a message's body:
//! an invitation's body carries a live link token.

use std::{path::PathBuf, time::Duration};

use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::PoolConfig,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use service::email::RenderedEmail;

/// The mail settings could not be used (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// `MAIL_FROM` is not a mailbox such as `Name <user@host>`.
    #[error("invalid configuration: MAIL_FROM: {0}")]
    From(#[source] lettre::address::AddressError),
    /// `SMTP_URL` has an unknown scheme or `tls` option, or no host.
    #[error("invalid configuration: SMTP_URL: {0}")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    /// `MAIL_OUTBOX_DIR` cannot be created.
    #[error("cannot create MAIL_OUTBOX_DIR {path}: {source}")]
    OutboxDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Why an email was not sent, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt later: connection refused or reset, a timeout,
    /// an SMTP 4xx reply, a file that could not be written.
    #[error("{0}")]
    Transient(String),
    /// Will fail again: an SMTP 5xx reply, an invalid address.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    /// Whether another attempt cannot succeed.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends composed emails; build one per process and share it (the SMTP
/// connection pool lives inside).
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    /// `SMTP_TIMEOUT_SECONDS`: the limit on one whole send.
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the SMTP URL: it may carry credentials.
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &transport)
            .finish()
    }
}

impl Mailer {
    /// From `SMTP_URL` (pooled SMTP, up to `WORKER_CONCURRENCY` connections)
    /// or, when it is unset, `MAIL_OUTBOX_DIR` (created if missing);
    /// `MAIL_FROM` as the sender. Opens no connection yet, but must be called
    /// inside a Tokio runtime (the SMTP pool starts its reaper task).
    ///
    /// # Errors
    /// When `MAIL_FROM` or `SMTP_URL` is unusable, or the directory cannot be created.
    pub fn from_settings(settings: &common::Settings) -> Result<Self, MailerError> {
        let from: Mailbox = settings.mail_from.parse().map_err(MailerError::From)?;
        let transport = match &settings.smtp_url {
            Some(url) => {
                let pool = PoolConfig::new().max_size(settings.worker_concurrency.max(1));
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(MailerError::SmtpUrl)?
                    // lettre's own timeout covers the TCP connect only;
                    // `send` bounds the whole exchange.
                    .timeout(Some(settings.smtp_timeout()))
                    .pool_config(pool)
                    .build();
                Transport::Smtp(transport)
            }
            None => {
                let dir = settings.mail_outbox_dir.clone();
                std::fs::create_dir_all(&dir).map_err(|source| MailerError::OutboxDir {
                    path: dir.clone(),
                    source,
                })?;
                Transport::Files(dir)
            }
        };
        Ok(Self {
            from,
            transport,
            timeout: settings.smtp_timeout(),
        })
    }

    /// Builds the message of delivery `delivery_id` to `recipient`: text and
    /// HTML alternatives, `MAIL_FROM` as sender, and a Message-ID derived
    /// from the delivery so that every attempt of one delivery shares it.
    ///
    /// # Errors
    /// [`SendError::Permanent`] when `recipient` is not a valid address.
    pub fn compose(&self, delivery_id: Uuid, recipient: &str, email: &RenderedEmail) -> Result<Message, SendError> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|_| SendError::Permanent("invalid recipient address".to_owned()))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", delivery_id.simple())))
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|err| SendError::Permanent(format!("cannot build the message: {err}")))
    }

    /// Sends `message` (the message of delivery `delivery_id`, which names
    /// its `.eml` file when there is no SMTP server). Without SMTP, `text`
    /// (the plain-text part) is also written beside it as `.txt`: an `.eml`
    /// file's text is quoted-printable, in which long links are cut and
    /// escaped, and a reader without a mail program should still be able to
    /// copy the link.
    ///
    /// # Errors
    /// A [`SendError`] saying whether another attempt may succeed.
    pub async fn send(&self, delivery_id: Uuid, message: &Message, text: &str) -> Result<(), SendError> {
        match &self.transport {
            // One limit on the whole exchange: TLS, the greeting, EHLO,
            // AUTH, every command and the data (a pooled connection's check
            // too). A relay that accepts the connection and then stalls
            // costs one attempt, not the worker slot.
            Transport::Smtp(transport) => {
                match tokio::time::timeout(self.timeout, transport.send(message.clone())).await {
                    Ok(sent) => sent.map(drop).map_err(classify),
                    Err(_) => Err(SendError::Transient(format!(
                        "the SMTP server did not finish within {} s (SMTP_TIMEOUT_SECONDS): it may be stalled",
                        self.timeout.as_secs()
                    ))),
                }
            }
            Transport::Files(dir) => write_eml(dir, delivery_id, message, text).await,
        }
    }

    /// Whether emails go to files rather than to an SMTP server.
    #[must_use]
    pub fn writes_files(&self) -> bool {
        matches!(self.transport, Transport::Files(_))
    }
}

/// 5xx replies are permanent; everything else (4xx, refused or reset
/// connections, timeouts, TLS trouble, garbled replies) may pass next time.
fn classify(err: lettre::transport::smtp::Error) -> SendError {
    if err.is_permanent() {
        SendError::Permanent(format!("SMTP server refused the message: {err}"))
    } else if err.is_transient() {
        SendError::Transient(format!("SMTP server deferred the message: {err}"))
    } else if err.is_timeout() {
        SendError::Transient(format!("SMTP server timed out: {err}"))
    } else {
        SendError::Transient(format!("SMTP failure: {err}"))
    }
}

/// Writes `<dir>/<UTC timestamp>-<delivery id>.eml` (and the plain text as
/// `.txt`), each through a temporary name and a rename so that a reader never
/// sees half a file.
async fn write_eml(dir: &std::path::Path, delivery_id: Uuid, message: &Message, text: &str) -> Result<(), SendError> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let path = dir.join(format!("{stamp}-{delivery_id}.eml"));
    let written = async {
        tokio::fs::create_dir_all(dir).await?;
        for (extension, bytes) in [("txt", text.as_bytes().to_vec()), ("eml", message.formatted())] {
            let partial = dir.join(format!(".{stamp}-{delivery_id}.{extension}.partial"));
            tokio::fs::write(&partial, bytes).await?;
            tokio::fs::rename(&partial, dir.join(format!("{stamp}-{delivery_id}.{extension}"))).await?;
        }
        Ok::<(), std::io::Error>(())
    }
    .await;
    written.map_err(|err| SendError::Transient(format!("cannot write {}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> common::Settings {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        common::Settings::from_lookup(|k| map.get(k).cloned()).expect("valid settings")
    }

    fn email() -> RenderedEmail {
        RenderedEmail {
            subject: "Welcome to the Customer Portal — Acme".to_owned(),
            text: "Hello".to_owned(),
            html: "<p>Hello</p>".to_owned(),
            after_sent: None,
        }
    }

    #[tokio::test]
    async fn without_smtp_each_email_is_an_eml_file_named_by_time_and_delivery() {
        let dir = std::env::temp_dir().join(format!("mailer-test-{}", Uuid::now_v7().simple()));
        let dir_text = dir.display().to_string();
        let mailer = Mailer::from_settings(&settings(&[("MAIL_OUTBOX_DIR", &dir_text)])).expect("mailer");
        assert!(
            mailer.writes_files() && dir.is_dir(),
            "the directory is created at start"
        );
        let id = Uuid::now_v7();
        let message = mailer.compose(id, "jane@example.com", &email()).expect("compose");
        mailer.send(id, &message, &email().text).await.expect("send");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("read dir")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].ends_with(&format!("-{id}.eml")), "{names:?}");
        assert!(names[1].ends_with(&format!("-{id}.txt")), "{names:?}");
        assert_eq!(std::fs::read_to_string(dir.join(&names[1])).expect("read txt"), "Hello");
        let raw = std::fs::read_to_string(dir.join(&names[0])).expect("read eml");
        assert!(raw.contains("To: jane@example.com"), "{raw}");
        assert!(raw.contains("From: \"Customer Portal\" <no-reply@localhost>"), "{raw}");
        assert!(
            raw.contains(&format!("Message-ID: <{}@localhost>", id.simple())),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn an_invalid_recipient_is_a_permanent_failure() {
        let mailer = Mailer::from_settings(&settings(&[("SMTP_URL", "smtp://127.0.0.1:2525")])).expect("mailer");
        let err = mailer
            .compose(Uuid::now_v7(), "not an address", &email())
            .expect_err("invalid");
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn smtp_urls_take_the_documented_tls_options() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:p%40ss@mail.example.com?tls=required",
            "smtp://mail.example.com:587?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
        ] {
            Mailer::from_settings(&settings(&[("SMTP_URL", url)])).expect(url);
        }
        let err = Mailer::from_settings(&settings(&[("SMTP_URL", "smtp://mail.example.com?tls=sometimes")]))
            .expect_err("unknown tls option");
        assert!(err.to_string().contains("SMTP_URL"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        // Bind then drop: nothing listens on the port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let url = format!("smtp://127.0.0.1:{port}");
        let mailer = Mailer::from_settings(&settings(&[("SMTP_URL", &url)])).expect("mailer");
        let id = Uuid::now_v7();
        let message = mailer.compose(id, "jane@example.com", &email()).expect("compose");
        let err = mailer.send(id, &message, "Hello").await.expect_err("refused");
        assert!(!err.is_permanent(), "{err}");
    }
}
