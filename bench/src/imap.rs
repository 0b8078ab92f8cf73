//! IMAP load client for `bench/imap.sh`: the same commands, from the same
//! client, against mailhost and Dovecot on loopback.
//!
//! - `imap-fill`: S sessions APPEND N generated messages (pipelined, with
//!   LITERAL+ when the server offers it); msg/s and p50/p99 per APPEND.
//! - `imap-resync`: a new session's SELECT INBOX + `UID FETCH 1:* (FLAGS)`,
//!   R times (Thunderbird opening a folder it already knows).
//! - `imap-select`: STATUS then SELECT of the folder in a new session, R
//!   times.
//! - `imap-webmail`: ENVELOPE, BODYSTRUCTURE and six header fields of the
//!   newest 500, R times.
//! - `imap-sync`: S sessions fetch disjoint parts of the first N messages'
//!   `BODY.PEEK[]` in chunks (a client's first download), timed from the
//!   first FETCH, once every session has logged in and selected.
//! - `imap-idle`: C sessions in IDLE; M messages delivered by SMTP (or
//!   LMTP) one at a time; the time from the 250 to `* n EXISTS`.
//!
//! Responses are read as the grammar frames them (RFC 9051 §4.3): a line
//! that ends in `{n}` is followed by n bytes of literal, skipped by length,
//! and the response goes on after them. Logins are quoted strings. Times
//! exclude connecting and logging in unless said otherwise.

use crate::{check_loopback, percentile, Res};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The server, account and folder of a scenario.
#[derive(clap::Args)]
pub struct Conn {
    #[arg(long)]
    addr: SocketAddr,
    #[arg(long, default_value = "user0@bench.test")]
    user: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    deadline: u64,
}

/// Flattened into the top-level list, so the variants carry the `imap-`
/// of their subcommand names.
#[derive(clap::Subcommand)]
#[allow(clippy::enum_variant_names)]
pub enum Cmd {
    /// APPEND N generated messages with S sessions (pipelined, LITERAL+
    /// when offered); msg/s and p50/p99 per APPEND.
    ImapFill {
        #[command(flatten)]
        c: Conn,
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 4096)]
        size: usize,
        #[arg(long, default_value_t = 4)]
        sessions: usize,
        /// APPENDs in flight per session.
        #[arg(long, default_value_t = 8)]
        window: usize,
    },
    /// A new session's SELECT + `UID FETCH 1:* (FLAGS)`, R times.
    ImapResync {
        #[command(flatten)]
        c: Conn,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// STATUS, then SELECT, of the folder in a new session, R times.
    ImapSelect {
        #[command(flatten)]
        c: Conn,
        #[arg(long, default_value_t = 20)]
        repeat: usize,
    },
    /// ENVELOPE, BODYSTRUCTURE and header fields of the newest messages.
    ImapWebmail {
        #[command(flatten)]
        c: Conn,
        #[arg(long, default_value_t = 10)]
        repeat: usize,
        #[arg(long, default_value_t = 500)]
        newest: u64,
    },
    /// S sessions fetch disjoint parts of the first N messages'
    /// `BODY.PEEK[]`, CHUNK messages per command.
    ImapSync {
        #[command(flatten)]
        c: Conn,
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 4)]
        sessions: u64,
        #[arg(long, default_value_t = 500)]
        chunk: u64,
    },
    /// C sessions in IDLE on INBOX, one account each; then M messages by
    /// SMTP (LMTP with --lmtp), one at a time; time from 250 to EXISTS.
    ImapIdle {
        #[arg(long)]
        addr: SocketAddr,
        /// Logins and recipients; `{}` is the account number 0..C-1.
        #[arg(long, default_value = "user{}@bench.test")]
        user_format: String,
        #[arg(long, default_value = "bench-pw")]
        password: String,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 64)]
        parallel: usize,
        #[arg(long)]
        smtp: SocketAddr,
        #[arg(long)]
        lmtp: bool,
        #[arg(long, default_value_t = 200)]
        messages: usize,
        #[arg(long, default_value_t = 4096)]
        size: usize,
        /// Seconds between "idling" and the first delivery.
        #[arg(long, default_value_t = 10)]
        hold: u64,
        /// Seconds to wait for each EXISTS.
        #[arg(long, default_value_t = 10)]
        wait: u64,
        #[arg(long, default_value_t = 1800)]
        deadline: u64,
    },
    /// Prints a cheap Argon2id hash of a password, for bench accounts.
    ImapHash {
        #[arg(long, default_value = "bench-pw")]
        password: String,
    },
}

pub async fn main(cmd: Cmd) -> Res<()> {
    let login = |c: Conn| -> Res<(Login, u64)> {
        check_loopback(&c.addr)?;
        let l = Login {
            addr: c.addr,
            user: c.user,
            password: c.password,
            mailbox: c.mailbox,
        };
        Ok((l, c.deadline))
    };
    let (run, deadline): (
        std::pin::Pin<Box<dyn std::future::Future<Output = Res<()>>>>,
        u64,
    ) = match cmd {
        Cmd::ImapHash { password } => return cheap_hash(&password),
        Cmd::ImapFill {
            c,
            messages,
            size,
            sessions,
            window,
        } => {
            let (l, d) = login(c)?;
            (
                Box::pin(fill(l, messages, size, sessions, window.max(1))),
                d,
            )
        }
        Cmd::ImapResync { c, repeat } => {
            let (l, d) = login(c)?;
            (Box::pin(resync(l, repeat)), d)
        }
        Cmd::ImapSelect { c, repeat } => {
            let (l, d) = login(c)?;
            (Box::pin(select(l, repeat)), d)
        }
        Cmd::ImapWebmail { c, repeat, newest } => {
            let (l, d) = login(c)?;
            (Box::pin(webmail(l, repeat, newest.max(1))), d)
        }
        Cmd::ImapSync {
            c,
            messages,
            sessions,
            chunk,
        } => {
            let (l, d) = login(c)?;
            (
                Box::pin(sync(l, messages, sessions.max(1), chunk.max(1))),
                d,
            )
        }
        Cmd::ImapIdle {
            addr,
            user_format,
            password,
            connections,
            parallel,
            smtp,
            lmtp,
            messages,
            size,
            hold,
            wait,
            deadline,
        } => {
            check_loopback(&addr)?;
            check_loopback(&smtp)?;
            let o = IdleOpts {
                addr,
                user_format,
                password,
                connections,
                parallel,
                smtp,
                lmtp,
                messages,
                size,
                hold,
                wait,
            };
            (Box::pin(idle(o)), deadline)
        }
    };
    tokio::time::timeout(Duration::from_secs(deadline), run)
        .await
        .map_err(|_| format!("deadline of {deadline}s reached"))?
}

/// What one response is.
#[derive(Debug, PartialEq)]
enum Kind {
    /// `+ …`: go on with the literal (or IDLE has begun).
    Cont,
    /// `* …`
    Untagged,
    /// `aN OK|NO|BAD …` for one of our tags.
    Tagged { tag: u64, ok: bool },
}

/// One client connection. `text` holds the last response without its
/// literals' bytes (the `{n}` markers stay); `lit` their total length.
struct Imap {
    r: BufReader<OwnedReadHalf>,
    w: BufWriter<OwnedWriteHalf>,
    next: u64,
    literal_plus: bool,
    text: Vec<u8>,
    lit: usize,
}

/// The length of the literal announced at the end of a line (`{n}` or
/// `{n+}` before the CRLF). A quoted string cannot hold a CRLF, so a line
/// that ends in a brace always announces one.
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\n")?;
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let l = l.strip_suffix(b"}")?;
    let l = l.strip_suffix(b"+").unwrap_or(l);
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `* N WORD …` → N when WORD matches (EXISTS, FETCH).
fn untagged_num(text: &[u8], word: &str) -> Option<u64> {
    let mut it = text.split(|&b| b == b' ' || b == b'\r' || b == b'\n');
    if it.next()? != b"*" {
        return None;
    }
    let n = std::str::from_utf8(it.next()?).ok()?.parse().ok()?;
    it.next()?
        .eq_ignore_ascii_case(word.as_bytes())
        .then_some(n)
}

/// The number after `UID ` in a FETCH response.
fn fetch_uid(text: &[u8]) -> Option<u64> {
    let i = text
        .windows(5)
        .position(|w| w.eq_ignore_ascii_case(b" UID ") || w.eq_ignore_ascii_case(b"(UID "))?;
    let rest = &text[i + 5..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// An IMAP quoted string (RFC 9051 §4.3).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Imap {
    async fn connect(addr: SocketAddr) -> Res<Imap> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        let mut c = Imap {
            r: BufReader::with_capacity(64 * 1024, r),
            w: BufWriter::with_capacity(64 * 1024, w),
            next: 1,
            literal_plus: false,
            text: Vec::with_capacity(1024),
            lit: 0,
        };
        if c.read().await? != Kind::Untagged || !c.text.starts_with(b"* OK") {
            return Err(format!("greeting: {}", c.line()).into());
        }
        Ok(c)
    }

    /// Connects, logs in with LOGIN and learns whether LITERAL+ is there.
    async fn login(addr: SocketAddr, user: &str, password: &str) -> Res<Imap> {
        let mut c = Imap::connect(addr).await?;
        c.run(
            &format!("LOGIN {} {}", quoted(user), quoted(password)),
            |_, _| {},
        )
        .await
        .map_err(|e| format!("{user}: {e}"))?;
        let mut lp = false;
        c.run("CAPABILITY", |t, _| {
            if t.starts_with(b"* CAPABILITY") {
                lp = t
                    .split(|&b| b == b' ' || b == b'\r')
                    .any(|w| w.eq_ignore_ascii_case(b"LITERAL+"));
            }
        })
        .await?;
        c.literal_plus = lp;
        Ok(c)
    }

    fn line(&self) -> String {
        String::from_utf8_lossy(&self.text).trim_end().to_string()
    }

    /// Reads one whole response, skipping its literals by length.
    async fn read(&mut self) -> Res<Kind> {
        self.text.clear();
        self.lit = 0;
        loop {
            let start = self.text.len();
            if self.r.read_until(b'\n', &mut self.text).await? == 0 {
                return Err("connection closed".into());
            }
            match literal_len(&self.text[start..]) {
                Some(n) => {
                    let got =
                        tokio::io::copy(&mut (&mut self.r).take(n as u64), &mut tokio::io::sink())
                            .await?;
                    if got != n as u64 {
                        return Err("connection closed inside a literal".into());
                    }
                    self.lit += n;
                }
                None => break,
            }
        }
        let t = &self.text;
        if t.starts_with(b"+") {
            return Ok(Kind::Cont);
        }
        if t.starts_with(b"* ") {
            return Ok(Kind::Untagged);
        }
        let mut it = t.split(|&b| b == b' ');
        let tag = it
            .next()
            .and_then(|w| w.strip_prefix(b"a"))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok());
        match (tag, it.next()) {
            (Some(tag), Some(s)) => Ok(Kind::Tagged {
                tag,
                ok: s.eq_ignore_ascii_case(b"OK"),
            }),
            _ => Err(format!("unexpected response: {}", self.line()).into()),
        }
    }

    /// Queues `aN CMD` (no CRLF when the command ends in a literal
    /// announcement written by the caller); returns N.
    fn queue(&mut self, cmd: &str) -> Vec<u8> {
        let tag = self.next;
        self.next += 1;
        format!("a{tag} {cmd}").into_bytes()
    }

    /// Sends one command and reads until its tagged reply; `f` sees each
    /// untagged response (text, literal bytes).
    async fn run(&mut self, cmd: &str, mut f: impl FnMut(&[u8], usize)) -> Res<()> {
        let tag = self.next;
        let mut b = self.queue(cmd);
        b.extend_from_slice(b"\r\n");
        self.w.write_all(&b).await?;
        self.w.flush().await?;
        self.until(tag, &mut f).await
    }

    async fn until(&mut self, tag: u64, f: &mut impl FnMut(&[u8], usize)) -> Res<()> {
        loop {
            match self.read().await? {
                Kind::Untagged => f(&self.text, self.lit),
                Kind::Tagged { tag: t, ok } if t == tag => {
                    return if ok {
                        Ok(())
                    } else {
                        Err(format!("a{tag}: {}", self.line()).into())
                    };
                }
                k => return Err(format!("unexpected {k:?}: {}", self.line()).into()),
            }
        }
    }

    /// SELECT; returns EXISTS.
    async fn select(&mut self, mailbox: &str) -> Res<u64> {
        let mut exists = 0;
        self.run(&format!("SELECT {}", quoted(mailbox)), |t, _| {
            if let Some(n) = untagged_num(t, "EXISTS") {
                exists = n;
            }
        })
        .await?;
        Ok(exists)
    }

    async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.run("LOGOUT", |_, _| {})).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p50_p99(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    (ms(percentile(&v, 0.5)), ms(percentile(&v, 0.99)))
}

// --- the corpus -------------------------------------------------------------

const WORDS: &[&str] = &[
    "meeting", "budget", "report", "invoice", "project", "schedule", "customer", "delivery",
    "contract", "review", "office", "team", "update", "question", "answer", "proposal", "draft",
    "final", "monday", "friday", "morning", "please", "thanks", "attached", "document", "change",
    "request", "approval", "order", "payment", "account", "support", "issue", "release", "version",
    "server", "network", "travel", "hotel", "lunch", "weekend", "family", "price", "offer",
    "quote", "design", "paper", "phone", "note", "plan", "idea", "result", "summary", "agenda",
    "room", "market", "product", "service", "problem", "decision", "week", "month",
];
const NAMES: &[&str] = &[
    "Alice Martin",
    "Bob Tanaka",
    "Carol Schmidt",
    "David Rossi",
    "Emma Dubois",
    "Frank Sato",
    "Grace Novak",
    "Henry Kim",
    "Ines Garcia",
    "Jun Suzuki",
    "Karl Berg",
    "Lena Ivanova",
];

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m as usize, d)
}

/// Message n's date: 2025-01-01 plus five minutes per message, as
/// (RFC 5322 Date header, IMAP date-time).
fn dates(n: usize) -> (String, String) {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DOW: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let t = 1_735_689_600 + n as i64 * 300;
    let days = t.div_euclid(86_400);
    let s = t.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let (hh, mm, ss) = (s / 3600, s / 60 % 60, s % 60);
    let mon = MON[m - 1];
    (
        format!(
            "{}, {d:02} {mon} {y} {hh:02}:{mm:02}:{ss:02} +0000",
            DOW[days.rem_euclid(7) as usize]
        ),
        format!("{d:02}-{mon}-{y} {hh:02}:{mm:02}:{ss:02} +0000"),
    )
}

/// Message n of the corpus, exactly `size` bytes (at least its headers):
/// the headers a real message has, a plain-text body of words drawn from a
/// generator seeded with n. The same bytes for every server.
pub fn message(n: usize, size: usize, to: &str) -> Vec<u8> {
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut word = || WORDS[(rnd() % WORDS.len() as u64) as usize];
    let subject: Vec<&str> = (0..5).map(|_| word()).collect();
    let name = NAMES[n % NAMES.len()];
    let (date, _) = dates(n);
    let mut m = format!(
        "From: \"{name}\" <sender{}@example.org>\r\nTo: <{to}>\r\nSubject: {} #{n}\r\n\
         Date: {date}\r\nMessage-ID: <{n}.{:x}@load.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        n % 97,
        subject.join(" "),
        n.wrapping_mul(2_654_435_761)
    )
    .into_bytes();
    let mut col = 0;
    while m.len() + 2 < size {
        let w = word();
        let room = size - 2 - m.len();
        let w = &w.as_bytes()[..w.len().min(room)];
        m.extend_from_slice(w);
        col += w.len() + 1;
        if m.len() + 2 >= size {
            break;
        }
        if col > 70 && m.len() + 4 < size {
            m.extend_from_slice(b"\r\n");
            col = 0;
        } else {
            m.push(b' ');
        }
    }
    m.extend_from_slice(b"\r\n");
    m
}

/// Flags as a mailbox ends up: four in five read, one in fifty flagged.
fn flags(n: usize) -> &'static str {
    match (!n.is_multiple_of(5), n % 50 == 7) {
        (true, true) => "(\\Seen \\Flagged) ",
        (true, false) => "(\\Seen) ",
        (false, true) => "(\\Flagged) ",
        (false, false) => "",
    }
}

// --- imap-fill ----------------------------------------------------------------

pub struct Login {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub mailbox: String,
}

/// The tagged reply to the oldest APPEND in flight.
fn appended(
    c: &Imap,
    pending: &mut VecDeque<(u64, Instant)>,
    lat: &mut Vec<Duration>,
    tag: u64,
    ok: bool,
) -> Res<()> {
    let (want, t0) = pending.pop_front().ok_or("a reply to no APPEND")?;
    if tag != want || !ok {
        return Err(format!("APPEND a{want}: {}", c.line()).into());
    }
    lat.push(t0.elapsed());
    Ok(())
}

async fn fill_session(
    l: Arc<Login>,
    next: Arc<AtomicUsize>,
    total: usize,
    size: usize,
    window: usize,
) -> Res<(Vec<Duration>, bool)> {
    let mut c = Imap::login(l.addr, &l.user, &l.password).await?;
    let mbox = quoted(&l.mailbox);
    let mut pending: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut lat = Vec::new();
    loop {
        while pending.len() < window {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= total {
                break;
            }
            let body = message(n, size, &l.user);
            let (_, idate) = dates(n);
            let tag = c.next;
            let plus = if c.literal_plus { "+" } else { "" };
            let mut cmd = c.queue(&format!(
                "APPEND {mbox} {}\"{idate}\" {{{}{plus}}}\r\n",
                flags(n),
                body.len()
            ));
            let t0 = Instant::now();
            if !c.literal_plus {
                // A synchronizing literal: wait for "+" (RFC 9051 §4.3),
                // taking the replies to earlier APPENDs as they come.
                c.w.write_all(&cmd).await?;
                c.w.flush().await?;
                loop {
                    match c.read().await? {
                        Kind::Cont => break,
                        Kind::Untagged => {}
                        Kind::Tagged { tag, ok } => appended(&c, &mut pending, &mut lat, tag, ok)?,
                    }
                }
                cmd.clear();
            }
            cmd.extend_from_slice(&body);
            cmd.extend_from_slice(b"\r\n");
            c.w.write_all(&cmd).await?;
            pending.push_back((tag, t0));
        }
        if pending.is_empty() {
            break;
        }
        c.w.flush().await?;
        loop {
            match c.read().await? {
                Kind::Untagged => {}
                Kind::Tagged { tag, ok } => {
                    appended(&c, &mut pending, &mut lat, tag, ok)?;
                    break;
                }
                Kind::Cont => return Err(format!("unexpected: {}", c.line()).into()),
            }
        }
    }
    let lp = c.literal_plus;
    c.logout().await;
    Ok((lat, lp))
}

pub async fn fill(
    l: Login,
    messages: usize,
    size: usize,
    sessions: usize,
    window: usize,
) -> Res<()> {
    let l = Arc::new(l);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..sessions)
        .map(|_| {
            tokio::spawn(fill_session(
                l.clone(),
                next.clone(),
                messages,
                size,
                window,
            ))
        })
        .collect();
    let mut lat = Vec::with_capacity(messages);
    let mut lp = true;
    for t in tasks {
        let (v, p) = t.await??;
        lat.extend(v);
        lp &= p;
    }
    let el = t0.elapsed();
    let n = lat.len();
    let (p50, p99) = p50_p99(lat);
    println!(
        "imap-fill: {n} APPENDs of {size} B, {sessions} sessions, window {window}, {}: {:.2}s = {:.0} msg/s; p50 {p50:.2} ms, p99 {p99:.2} ms",
        if lp { "LITERAL+" } else { "synchronizing literals" },
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
    Ok(())
}

// --- imap-resync, imap-select, imap-webmail -----------------------------------

pub async fn resync(l: Login, repeat: usize) -> Res<()> {
    let (mut tot, mut sel) = (Vec::new(), Vec::new());
    let mut lines = 0;
    for _ in 0..repeat {
        let mut c = Imap::login(l.addr, &l.user, &l.password).await?;
        let t0 = Instant::now();
        let exists = c.select(&l.mailbox).await?;
        let t1 = Instant::now();
        lines = 0;
        c.run("UID FETCH 1:* (FLAGS)", |t, _| {
            lines += usize::from(untagged_num(t, "FETCH").is_some())
        })
        .await?;
        tot.push(t0.elapsed());
        sel.push(t1 - t0);
        if lines as u64 != exists {
            return Err(format!("{lines} FETCH lines for {exists} messages").into());
        }
        c.logout().await;
    }
    let (p50, p99) = p50_p99(tot);
    let (s50, _) = p50_p99(sel);
    println!(
        "imap-resync: {repeat} runs of SELECT + UID FETCH 1:* (FLAGS), {lines} FETCH lines: p50 {p50:.2} ms, p99 {p99:.2} ms (SELECT alone p50 {s50:.2} ms)"
    );
    Ok(())
}

pub async fn select(l: Login, repeat: usize) -> Res<()> {
    let (mut st, mut sel) = (Vec::new(), Vec::new());
    let mut exists = 0;
    for _ in 0..repeat {
        let mut c = Imap::login(l.addr, &l.user, &l.password).await?;
        let t0 = Instant::now();
        c.run(
            &format!(
                "STATUS {} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)",
                quoted(&l.mailbox)
            ),
            |_, _| {},
        )
        .await?;
        st.push(t0.elapsed());
        let t1 = Instant::now();
        exists = c.select(&l.mailbox).await?;
        sel.push(t1.elapsed());
        c.logout().await;
    }
    let (s50, s99) = p50_p99(sel);
    let (t50, t99) = p50_p99(st);
    println!(
        "imap-select: {repeat} new sessions on {exists} messages: SELECT p50 {s50:.2} ms, p99 {s99:.2} ms; STATUS p50 {t50:.2} ms, p99 {t99:.2} ms"
    );
    Ok(())
}

pub async fn webmail(l: Login, repeat: usize, newest: u64) -> Res<()> {
    let mut c = Imap::login(l.addr, &l.user, &l.password).await?;
    let exists = c.select(&l.mailbox).await?;
    if exists == 0 {
        return Err("empty mailbox".into());
    }
    let lo = exists.saturating_sub(newest - 1).max(1);
    let (mut ulo, mut uhi) = (u64::MAX, 0);
    c.run(&format!("FETCH {lo}:{exists} (UID)"), |t, _| {
        if let Some(u) = fetch_uid(t) {
            ulo = ulo.min(u);
            uhi = uhi.max(u);
        }
    })
    .await?;
    let cmd = format!(
        "UID FETCH {ulo}:{uhi} (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])"
    );
    let mut lat = Vec::new();
    let (mut lines, mut bytes) = (0, 0);
    for _ in 0..repeat {
        let t0 = Instant::now();
        (lines, bytes) = (0, 0);
        c.run(&cmd, |t, lit| {
            if untagged_num(t, "FETCH").is_some() {
                lines += 1;
                bytes += t.len() + lit;
            }
        })
        .await?;
        lat.push(t0.elapsed());
    }
    c.logout().await;
    let (p50, p99) = p50_p99(lat);
    println!(
        "imap-webmail: {repeat} runs of UID FETCH of the newest {lines} (ENVELOPE BODYSTRUCTURE header fields, {bytes} B): p50 {p50:.2} ms, p99 {p99:.2} ms"
    );
    Ok(())
}

// --- imap-sync ----------------------------------------------------------------

/// Messages, bytes, and when the fetching began and ended.
type Synced = (usize, usize, Instant, Instant);

async fn sync_session(
    l: Arc<Login>,
    from: u64,
    to: u64,
    chunk: u64,
    ready: Arc<tokio::sync::Barrier>,
) -> Res<Synced> {
    let mut c = Imap::login(l.addr, &l.user, &l.password).await?;
    let exists = c.select(&l.mailbox).await?;
    if exists < to {
        return Err(format!("{exists} messages, fewer than {to}").into());
    }
    // UID FETCH as sync clients do, when UIDs are the sequence numbers
    // (a freshly filled folder); otherwise sequence numbers.
    let mut uids = (0, 0);
    c.run(&format!("FETCH {from},{to} (UID)"), |t, _| {
        match (untagged_num(t, "FETCH"), fetch_uid(t)) {
            (Some(n), Some(u)) if n == from => uids.0 = u,
            (Some(n), Some(u)) if n == to => uids.1 = u,
            _ => {}
        }
    })
    .await?;
    let uid = if uids == (from, to) { "UID " } else { "" };
    // Every session logged in and selected before the clock starts.
    ready.wait().await;
    let t0 = Instant::now();
    let (mut msgs, mut bytes) = (0, 0);
    let mut f = |t: &[u8], lit: usize| {
        if untagged_num(t, "FETCH").is_some() {
            msgs += 1;
            bytes += lit;
        }
    };
    // Two chunks in flight, so the server never waits for the client.
    let mut tags = VecDeque::new();
    let mut lo = from;
    while lo <= to || !tags.is_empty() {
        while lo <= to && tags.len() < 2 {
            let hi = (lo + chunk - 1).min(to);
            tags.push_back(c.next);
            let mut b = c.queue(&format!("{uid}FETCH {lo}:{hi} (UID BODY.PEEK[])"));
            b.extend_from_slice(b"\r\n");
            c.w.write_all(&b).await?;
            lo = hi + 1;
        }
        c.w.flush().await?;
        let tag = tags.pop_front().expect("one in flight");
        c.until(tag, &mut f).await?;
    }
    let t1 = Instant::now();
    c.logout().await;
    Ok((msgs, bytes, t0, t1))
}

pub async fn sync(l: Login, messages: u64, sessions: u64, chunk: u64) -> Res<()> {
    let l = Arc::new(l);
    let per = messages.div_ceil(sessions);
    let parts: Vec<_> = (0..sessions).filter(|k| k * per < messages).collect();
    let ready = Arc::new(tokio::sync::Barrier::new(parts.len()));
    let tasks: Vec<_> = parts
        .into_iter()
        .map(|k| {
            let (from, to) = (k * per + 1, ((k + 1) * per).min(messages));
            tokio::spawn(sync_session(l.clone(), from, to, chunk, ready.clone()))
        })
        .collect();
    let (mut msgs, mut bytes) = (0, 0);
    let (mut t0, mut t1): (Option<Instant>, Option<Instant>) = (None, None);
    for t in tasks {
        let (m, b, s, e) = t.await??;
        msgs += m;
        bytes += b;
        t0 = Some(t0.map_or(s, |x| x.min(s)));
        t1 = Some(t1.map_or(e, |x| x.max(e)));
    }
    // From the first FETCH to the last reply; logins and SELECTs excluded.
    let el = match (t0, t1) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => return Err("no session".into()),
    };
    if msgs as u64 != messages {
        return Err(format!("{msgs} messages fetched, expected {messages}").into());
    }
    println!(
        "imap-sync: {msgs} messages ({:.1} MB) BODY.PEEK[] in chunks of {chunk}, {sessions} sessions: {el:.2}s = {:.0} msg/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        msgs as f64 / el,
        bytes as f64 / 1e6 / el
    );
    Ok(())
}

// --- imap-idle ----------------------------------------------------------------

pub struct IdleOpts {
    pub addr: SocketAddr,
    /// `{}` is replaced by the account number.
    pub user_format: String,
    pub password: String,
    pub connections: usize,
    /// Connections being opened at once.
    pub parallel: usize,
    pub smtp: SocketAddr,
    pub lmtp: bool,
    pub messages: usize,
    pub size: usize,
    /// Seconds between "idling" and the first delivery (the caller
    /// measures memory then).
    pub hold: u64,
    /// Seconds to wait for each EXISTS.
    pub wait: u64,
}

/// Opens connection `k`: LOGIN as account k, SELECT INBOX, IDLE; returns it
/// with the EXISTS count it knows.
async fn idle_open(o: &IdleOpts, k: usize) -> Res<(Imap, u64)> {
    let user = o.user_format.replace("{}", &k.to_string());
    let mut c = Imap::login(o.addr, &user, &o.password).await?;
    let exists = c.select("INBOX").await?;
    let mut b = c.queue("IDLE");
    b.extend_from_slice(b"\r\n");
    c.w.write_all(&b).await?;
    c.w.flush().await?;
    loop {
        match c.read().await? {
            Kind::Cont => return Ok((c, exists)),
            Kind::Untagged => {}
            k => return Err(format!("IDLE: {k:?} {}", c.line()).into()),
        }
    }
}

/// Reads an idling connection; reports each new EXISTS.
async fn idle_watch(
    mut c: Imap,
    k: usize,
    mut exists: u64,
    tx: tokio::sync::mpsc::UnboundedSender<(usize, Instant)>,
) {
    while let Ok(kind) = c.read().await {
        if kind != Kind::Untagged {
            continue;
        }
        if let Some(n) = untagged_num(&c.text, "EXISTS") {
            if n > exists {
                exists = n;
                if tx.send((k, Instant::now())).is_err() {
                    return;
                }
            }
        }
    }
}

async fn smtp_reply(r: &mut BufReader<OwnedReadHalf>, line: &mut String) -> Res<u16> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            return Err("SMTP connection closed".into());
        }
        if line.len() >= 4 && line.as_bytes()[3] == b' ' {
            return Ok(line[..3].parse()?);
        }
    }
}

async fn smtp_expect(r: &mut BufReader<OwnedReadHalf>, line: &mut String, want: u16) -> Res<()> {
    let got = smtp_reply(r, line).await?;
    if got != want {
        return Err(format!("SMTP: expected {want}, got {}", line.trim()).into());
    }
    Ok(())
}

pub async fn idle(o: IdleOpts) -> Res<()> {
    let o = Arc::new(o);
    let t0 = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let next = Arc::new(AtomicUsize::new(0));
    let openers: Vec<_> = (0..o.parallel.max(1))
        .map(|_| {
            let (o, next, tx) = (o.clone(), next.clone(), tx.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= o.connections {
                        return Ok::<_, String>(());
                    }
                    let (c, exists) = idle_open(&o, k)
                        .await
                        .map_err(|e| format!("connection {k}: {e}"))?;
                    tokio::spawn(idle_watch(c, k, exists, tx.clone()));
                }
            })
        })
        .collect();
    drop(tx);
    for t in openers {
        t.await??;
    }
    println!(
        "imap-idle: {} connections idling (opened in {:.1}s); holding {}s",
        o.connections,
        t0.elapsed().as_secs_f64(),
        o.hold
    );
    tokio::time::sleep(Duration::from_secs(o.hold)).await;

    let s = TcpStream::connect(o.smtp).await?;
    s.set_nodelay(true)?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let line = &mut String::new();
    smtp_expect(&mut r, line, 220).await?;
    let hello = if o.lmtp { "LHLO" } else { "EHLO" };
    w.write_all(format!("{hello} load.test\r\n").as_bytes())
        .await?;
    smtp_expect(&mut r, line, 250).await?;
    let (mut lat, mut missed) = (Vec::new(), 0);
    let mut stale = 0;
    for i in 0..o.messages {
        // Spread over the connections, one account per message.
        let k = i * o.connections / o.messages.max(1);
        let rcpt = o.user_format.replace("{}", &k.to_string());
        w.write_all(
            format!("MAIL FROM:<bench@load.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes(),
        )
        .await?;
        for want in [250, 250, 354] {
            smtp_expect(&mut r, line, want).await?;
        }
        let mut body = message(1_000_000 + i, o.size, &rcpt);
        body.extend_from_slice(b".\r\n");
        w.write_all(&body).await?;
        smtp_expect(&mut r, line, 250).await?;
        let t250 = Instant::now();
        let until = t250 + Duration::from_secs(o.wait);
        loop {
            match tokio::time::timeout_at(until.into(), rx.recv()).await {
                Ok(Some((j, t))) if j == k => {
                    lat.push(t.saturating_duration_since(t250));
                    break;
                }
                Ok(Some(_)) => stale += 1,
                Ok(None) => return Err("every IDLE connection closed".into()),
                Err(_) => {
                    missed += 1;
                    break;
                }
            }
        }
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    let n = lat.len();
    let max = lat.iter().max().copied().unwrap_or_default();
    let (p50, p99) = p50_p99(lat);
    println!(
        "imap-idle: {n} of {} deliveries seen by {} ({}): EXISTS after the 250 p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms; {missed} not seen within {}s; {stale} other",
        o.messages,
        if o.lmtp { "LMTP" } else { "SMTP" },
        o.connections,
        ms(max),
        o.wait
    );
    Ok(())
}

/// A cheap Argon2id hash (64 KiB, one pass) of the bench accounts'
/// password, so that 10,000 IDLE logins measure IDLE, not Argon2 (Dovecot's
/// side uses {PLAIN}).
pub fn cheap_hash(password: &str) -> Res<()> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).map_err(|e| e.to_string())?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"mailhost-bench-salt").map_err(|e| e.to_string())?;
    let h = a
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| e.to_string())?;
    println!("{h}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_numbers() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {4096}\r\n"), Some(4096));
        assert_eq!(literal_len(b"a1 APPEND INBOX {12+}\r\n"), Some(12));
        assert_eq!(literal_len(b"* 1 FETCH (ENVELOPE (\"x {3}\"))\r\n"), None);
        assert_eq!(untagged_num(b"* 100000 EXISTS\r\n", "EXISTS"), Some(100000));
        assert_eq!(untagged_num(b"* 3 FETCH (FLAGS ())\r\n", "FETCH"), Some(3));
        assert_eq!(untagged_num(b"* OK [UIDNEXT 4]\r\n", "EXISTS"), None);
        assert_eq!(fetch_uid(b"* 3 FETCH (UID 17 FLAGS ())\r\n"), Some(17));
        assert_eq!(fetch_uid(b"* 3 FETCH (FLAGS () UID 9)\r\n"), Some(9));
    }

    #[test]
    fn corpus() {
        for size in [400, 4096, 10_000] {
            let m = message(12345, size, "user0@bench.test");
            assert_eq!(m.len(), size);
            assert!(m.ends_with(b"\r\n"));
            assert!(!m.windows(3).any(|w| w == b"\n.\r"));
        }
        assert_eq!(dates(0).0, "Wed, 01 Jan 2025 00:00:00 +0000");
        assert_eq!(dates(288).1, "02-Jan-2025 00:00:00 +0000");
    }
}
