//! A real SMTP server on loopback for email tests: it speaks enough SMTP for
//! lettre (EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT), records every accepted message, and can be switched at run
//! time to defer (451), refuse (550) or go down (connections refused, open
//! sessions dropped) and come back up on the same port.
//!
//! [`ReceivedEmail`] decodes what tests need from a message: headers
//! (RFC 2047 encoded words), and the text and HTML parts (base64,
//! quoted-printable or plain).
//!
//! The sink also keeps each message's arrival time ([`SmtpSink::arrivals_from`])
//! and a cheap counter that waiters are woken by ([`SmtpSink::count`],
//! [`SmtpSink::wait_for_count`]), for the benchmark. Per message it does
//! one buffered read per line into reused buffers and takes its lock once,
//! so that it is never the bottleneck of what it measures.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::tcp::OwnedReadHalf,
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts and records every message.
    Accept,
    /// Answers `451` (try again later) to MAIL, RCPT and DATA.
    Transient,
    /// Answers `550` (refused) to MAIL, RCPT and DATA.
    Permanent,
    /// Not listening: connections are refused, open sessions are dropped.
    Down,
    /// Takes a message's data, then never answers its final dot (nothing
    /// is recorded): a relay that stalls after DATA. Leaving this mode
    /// (to any other) drops the stalled sessions.
    StallAfterData,
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as transmitted, dot-unstuffed, CRLF line ends.
    pub data: String,
}

struct Shared {
    mode: watch::Sender<Mode>,
    listening: watch::Sender<bool>,
    received: Mutex<Received>,
    /// How many messages `received` holds; updated after each push, so a
    /// waiter woken with `n` can read `n` messages.
    count: watch::Sender<usize>,
}

/// The accepted messages and, at the same index, when each arrived.
#[derive(Default)]
struct Received {
    messages: Vec<ReceivedEmail>,
    arrived: Vec<Instant>,
}

/// A running SMTP sink; stops when dropped.
pub struct SmtpSink {
    shared: Arc<Shared>,
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
        let _ = self.shared.mode.send(Mode::Down);
    }
}

impl SmtpSink {
    /// Starts accepting on `127.0.0.1` on a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound (see [`SmtpSink::try_start`]).
    pub async fn start() -> Self {
        Self::try_start().await.expect("bind the SMTP sink")
    }

    /// Like [`SmtpSink::start`], returning the error when no loopback port
    /// can be bound.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            mode: watch::channel(Mode::Accept).0,
            listening: watch::channel(true).0,
            received: Mutex::new(Received::default()),
            count: watch::channel(0).0,
        });
        let server = tokio::spawn(serve(shared.clone(), port, listener));
        Ok(Self { shared, port, server })
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP), for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Switches the mode; returns once the listener is closed (`Down`) or
    /// listening again (any other mode).
    pub async fn set_mode(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
        let want_listening = mode != Mode::Down;
        let mut listening = self.shared.listening.subscribe();
        tokio::time::timeout(
            Duration::from_secs(10),
            listening.wait_for(|now| *now == want_listening),
        )
        .await
        .expect("the sink changed its listening state in time")
        .expect("sink alive");
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        self.shared.received.lock().expect("sink lock").messages.clone()
    }

    /// How many messages were accepted so far (cheap: copies nothing).
    pub fn count(&self) -> usize {
        *self.shared.count.borrow()
    }

    /// The messages accepted from index `from` on, in order, each with the
    /// instant the sink accepted it (after the final `.` of its DATA).
    pub fn arrivals_from(&self, from: usize) -> Vec<(Instant, ReceivedEmail)> {
        let received = self.shared.received.lock().expect("sink lock");
        let from = from.min(received.messages.len());
        received.arrived[from..]
            .iter()
            .copied()
            .zip(received.messages[from..].iter().cloned())
            .collect()
    }

    /// Waits until at least `n` messages arrived, woken by each arrival (no
    /// polling). On timeout returns how many had arrived.
    ///
    /// # Errors
    /// The count reached when `timeout` ran out first.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Result<(), usize> {
        let mut count = self.shared.count.subscribe();
        match tokio::time::timeout(timeout, count.wait_for(|now| *now >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(self.count()),
        }
    }

    /// Waits until at least `n` messages arrived; panics after `deadline`.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<ReceivedEmail> {
        if let Err(got) = self.wait_for_count(n, deadline).await {
            panic!("expected {n} emails within {deadline:?}, got {got}");
        }
        self.messages()
    }

    /// Asserts that the count stays exactly `n` for `period` (no late duplicate).
    pub async fn assert_count_stays(&self, n: usize, period: Duration) {
        assert_eq!(self.count(), n, "a further email arrived");
        let got = self.wait_for_count(n + 1, period).await;
        assert!(got.is_err(), "a further email arrived");
        assert_eq!(self.count(), n, "a further email arrived");
    }
}

async fn serve(shared: Arc<Shared>, port: u16, first: TcpListener) {
    let mut listener = Some(first);
    let mut mode = shared.mode.subscribe();
    loop {
        match listener.take() {
            Some(bound) => {
                // The mode may have changed before this task first ran.
                let down = *mode.borrow_and_update() == Mode::Down;
                shared.listening.send_replace(!down);
                if !down {
                    loop {
                        tokio::select! {
                            accepted = bound.accept() => {
                                if let Ok((stream, _)) = accepted {
                                    tokio::spawn(session(shared.clone(), stream));
                                }
                            }
                            changed = mode.changed() => {
                                if changed.is_err() { return; }
                                if *mode.borrow_and_update() == Mode::Down { break; }
                            }
                        }
                    }
                }
                drop(bound);
                shared.listening.send_replace(false);
            }
            None => {
                // Down: wait to be switched back, then listen on the same port.
                if mode.wait_for(|m| *m != Mode::Down).await.is_err() {
                    return;
                }
                let mut tries = 0;
                listener = loop {
                    match TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(bound) => break Some(bound),
                        Err(err) => {
                            tries += 1;
                            assert!(tries < 200, "cannot listen on port {port} again: {err}");
                            tokio::time::sleep(Duration::from_millis(25)).await;
                        }
                    }
                };
            }
        }
    }
}

fn reply_for(mode: Mode, ok: &'static str) -> &'static str {
    match mode {
        Mode::Accept | Mode::Down | Mode::StallAfterData => ok,
        Mode::Transient => "451 4.3.0 Temporary failure, try again later\r\n",
        Mode::Permanent => "550 5.7.1 Message refused\r\n",
    }
}

async fn session(shared: Arc<Shared>, stream: TcpStream) {
    let mut mode = shared.mode.subscribe();
    if *mode.borrow_and_update() == Mode::Down {
        return;
    }
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::with_capacity(16 * 1024, read);
    if write.write_all(b"220 sink.test ESMTP ready\r\n").await.is_err() {
        return;
    }
    // Reused for every line of the session: no allocation per line.
    let mut command = Vec::with_capacity(256);
    let mut data_line = Vec::with_capacity(1024);
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    loop {
        let more = tokio::select! {
            more = read_line(&mut reader, &mut command) => more,
            _ = mode.wait_for(|m| *m == Mode::Down) => return,
        };
        if !more {
            return;
        }
        let Ok(line) = std::str::from_utf8(&command) else {
            return;
        };
        let current = *shared.mode.borrow();
        let reply: &'static str = if has_prefix(line, "EHLO") {
            "250-sink.test\r\n250 HELP\r\n"
        } else if has_prefix(line, "HELO") {
            "250 sink.test\r\n"
        } else if has_prefix(line, "MAIL FROM:") {
            let reply = reply_for(current, "250 2.1.0 OK\r\n");
            if reply.starts_with("250") {
                mail_from = address(&line["MAIL FROM:".len()..]);
                rcpt_to.clear();
            }
            reply
        } else if has_prefix(line, "RCPT TO:") {
            let reply = reply_for(current, "250 2.1.5 OK\r\n");
            if reply.starts_with("250") {
                rcpt_to.push(address(&line["RCPT TO:".len()..]));
            }
            reply
        } else if line.eq_ignore_ascii_case("DATA") {
            let reply = reply_for(current, "354 End data with <CR><LF>.<CR><LF>\r\n");
            if !reply.starts_with("354") {
                reply
            } else {
                if write.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                let mut data = String::with_capacity(16 * 1024);
                loop {
                    if !read_line(&mut reader, &mut data_line).await {
                        return;
                    }
                    let Ok(line) = std::str::from_utf8(&data_line) else {
                        return;
                    };
                    if line == "." {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(line));
                    data.push_str("\r\n");
                }
                let current = *shared.mode.borrow();
                if current == Mode::StallAfterData {
                    // Hold the client until the test changes the mode.
                    let _ = mode.wait_for(|m| *m != Mode::StallAfterData).await;
                    return;
                }
                let reply = reply_for(current, "250 2.0.0 OK queued\r\n");
                if reply.starts_with("250") {
                    let email = ReceivedEmail {
                        mail_from: std::mem::take(&mut mail_from),
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        data,
                    };
                    let mut received = shared.received.lock().expect("sink lock");
                    received.messages.push(email);
                    received.arrived.push(Instant::now());
                    // Under the lock, so the count never goes backwards.
                    shared.count.send_replace(received.messages.len());
                }
                reply
            }
        } else if line.eq_ignore_ascii_case("RSET") {
            mail_from.clear();
            rcpt_to.clear();
            "250 2.0.0 OK\r\n"
        } else if line.eq_ignore_ascii_case("NOOP") {
            "250 2.0.0 OK\r\n"
        } else if line.eq_ignore_ascii_case("QUIT") {
            let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
            return;
        } else {
            "502 5.5.2 Command not implemented\r\n"
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one line into `buf` (cleared first), without its line end (`\n`
/// or `\r\n`). `false` at the end of the stream or on a read error.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    if reader.buffer().is_empty() {
        // About to wait on the socket: acknowledge what arrived now.
        ack_now(reader.get_ref());
    }
    match reader.read_until(b'\n', buf).await {
        Ok(0) | Err(_) => false,
        Ok(_) => {
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            true
        }
    }
}

/// Sends the ACK for data received so far at once instead of delaying it.
///
/// lettre writes a message's content and its terminating `.` in two writes
/// without `TCP_NODELAY`, so Nagle's algorithm holds the `.` back until the
/// content is acknowledged; a server that has nothing to answer yet delays
/// that ACK (about 40 ms on Linux), which would cap every connection at about
/// 25 messages a second. `TCP_QUICKACK` is not sticky, hence a call before
/// each wait on the socket. Elsewhere than Linux this does nothing.
fn ack_now(read: &OwnedReadHalf) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let stream: &TcpStream = read.as_ref();
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = read;
}

/// Whether `line` starts with the command `prefix`, ignoring ASCII case.
fn has_prefix(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// `<a@b> SIZE=…` → `a@b`.
fn address(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

impl ReceivedEmail {
    fn split(raw: &str) -> (Vec<(String, String)>, &str) {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        (headers, body)
    }

    /// A top-level header, RFC 2047 encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = Self::split(&self.data);
        let name = name.to_ascii_lowercase();
        headers
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| decode_words(&value))
    }

    /// The decoded subject.
    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded parts of a multipart message, as `(content type, body)`.
    pub fn parts(&self) -> Vec<(String, String)> {
        let (headers, body) = Self::split(&self.data);
        let content_type = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let Some(boundary) = parameter(&content_type, "boundary") else {
            return vec![(content_type, decode_body(&headers, body))];
        };
        let delimiter = format!("--{boundary}");
        body.split(&delimiter)
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| {
                let part = part.strip_prefix("\r\n").unwrap_or(part);
                let (headers, body) = Self::split(part);
                let content_type = headers
                    .iter()
                    .find(|(n, _)| n == "content-type")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (content_type, decode_body(&headers, body))
            })
            .collect()
    }

    /// The decoded `text/plain` part.
    pub fn text(&self) -> Option<String> {
        self.part("text/plain")
    }

    /// The decoded `text/html` part.
    pub fn html(&self) -> Option<String> {
        self.part("text/html")
    }

    fn part(&self, mime: &str) -> Option<String> {
        self.parts()
            .into_iter()
            .find(|(content_type, _)| content_type.to_ascii_lowercase().starts_with(mime))
            .map(|(_, body)| body)
    }
}

fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let body = body.trim_end_matches("\r\n");
    let encoding = headers
        .iter()
        .find(|(n, _)| n == "content-transfer-encoding")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(STANDARD.decode(compact).expect("base64 body")).expect("utf-8 body")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    }
}

fn quoted_printable(body: &str) -> String {
    let mut bytes = Vec::with_capacity(body.len());
    let raw = body.replace("=\r\n", "");
    let mut input = raw.bytes();
    while let Some(b) = input.next() {
        if b == b'=' {
            let hex: Vec<u8> = input.by_ref().take(2).collect();
            let hex = std::str::from_utf8(&hex).expect("qp escape");
            bytes.push(u8::from_str_radix(hex, 16).expect("qp hex"));
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).expect("utf-8 body")
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`);
/// whitespace between two encoded words is dropped.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive(char::is_whitespace) {
        let word = token.trim_end();
        let trailing = &token[word.len()..];
        if let Some(decoded) = decode_word(word) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            out.push_str(&decoded);
            last_was_word = true;
        } else {
            out.push_str(&pending_space);
            out.push_str(word);
            last_was_word = false;
        }
        pending_space = trailing.to_owned();
    }
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut fields = inner.splitn(3, '?');
    let _charset = fields.next()?;
    let encoding = fields.next()?;
    let text = fields.next()?;
    let bytes = match encoding {
        "b" | "B" => STANDARD.decode(text).ok()?,
        "q" | "Q" => quoted_printable(&text.replace('_', " ")).into_bytes(),
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speaks SMTP to `sink` over a raw connection; returns the replies.
    async fn converse(sink: &SmtpSink, lines: &[&str]) -> Vec<String> {
        let stream = TcpStream::connect(("127.0.0.1", sink.port)).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut replies = BufReader::new(read).lines();
        let mut got = vec![replies.next_line().await.expect("read").expect("greeting")];
        for line in lines {
            write.write_all(format!("{line}\r\n").as_bytes()).await.expect("write");
            // Lines of a message's content get no reply.
            let in_data = got.last().is_some_and(|last| last.starts_with("354")) && *line != ".";
            if !in_data {
                loop {
                    let reply = replies.next_line().await.expect("read").expect("reply");
                    let more = reply.as_bytes().get(3) == Some(&b'-');
                    got.push(reply);
                    if !more {
                        break;
                    }
                }
            }
        }
        got
    }

    #[tokio::test]
    async fn records_messages_with_their_envelope_count_and_arrival() {
        let sink = SmtpSink::start().await;
        let before = Instant::now();
        let replies = converse(
            &sink,
            &[
                "EHLO client",
                "MAIL FROM:<from@example.com> SIZE=100",
                "rcpt to:<to@example.com>",
                "DATA",
                "Subject: Hi",
                "",
                "..a line that starts with a dot",
                ".",
                "QUIT",
            ],
        )
        .await;
        assert!(replies[0].starts_with("220"), "{replies:?}");
        assert!(
            replies.iter().any(|r| r.starts_with("250 2.0.0 OK queued")),
            "{replies:?}"
        );
        sink.wait_for_count(1, Duration::from_secs(5))
            .await
            .expect("one message");
        assert_eq!(sink.count(), 1);
        let arrivals = sink.arrivals_from(0);
        assert_eq!(arrivals.len(), 1);
        let (at, email) = &arrivals[0];
        assert!(*at >= before);
        assert_eq!(email.mail_from, "from@example.com");
        assert_eq!(email.rcpt_to, vec!["to@example.com".to_owned()]);
        assert_eq!(email.data, "Subject: Hi\r\n\r\n.a line that starts with a dot\r\n");
        assert_eq!(email.subject(), "Hi");
        assert!(sink.arrivals_from(1).is_empty());
        assert_eq!(sink.wait_for_count(2, Duration::from_millis(100)).await, Err(1));
    }

    #[tokio::test]
    async fn defers_and_refuses_by_mode() {
        let sink = SmtpSink::start().await;
        sink.set_mode(Mode::Transient).await;
        let replies = converse(&sink, &["HELO client", "MAIL FROM:<a@example.com>"]).await;
        assert!(replies[2].starts_with("451"), "{replies:?}");
        sink.set_mode(Mode::Permanent).await;
        let replies = converse(&sink, &["HELO client", "MAIL FROM:<a@example.com>"]).await;
        assert!(replies[2].starts_with("550"), "{replies:?}");
        assert_eq!(sink.count(), 0);
    }
}
