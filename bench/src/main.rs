//! `mailhost-bench`: a load generator that speaks plain SMTP and POP3 to any
//! server on loopback, so mailhost and other servers are measured by the
//! same client in the same run.
//!
//! - `smtp`: N concurrent sessions send M messages of a given size to local
//!   mailboxes (MAIL, RCPT and DATA pipelined as RFC 2920 allows); prints
//!   messages/s and p50/p99 latency from MAIL to the final 250.
//! - `pop3`: logs in to each mailbox and retrieves every message with
//!   pipelined RETR; prints messages/s and p50/p99 per-RETR latency.
//! - `sink`: an SMTP server that accepts and discards mail and reports the
//!   arrival rate once `expect` messages came (end-to-end delivery).
//! - `idle`: opens N connections, waits for each greeting and holds them
//!   for a while (the caller measures the server's memory).
//!
//! - `av-sigs`, `av`: the virus scanner's engines on one generated
//!   database and corpus (see `av.rs`).
//! - `imap-fill`, `imap-resync`, `imap-select`, `imap-webmail`,
//!   `imap-sync`, `imap-idle`: IMAP scenarios (see `imap.rs`).
//!
//! Every run is bounded by its counts and a deadline; only loopback
//! addresses are accepted.

mod av;
mod imap;
mod lists;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufStream,
};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Smtp {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 32)]
        sessions: usize,
        #[arg(long, default_value_t = 20000)]
        messages: usize,
        /// Message size in bytes.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        /// Recipients are user0@DOMAIN … user{mailboxes-1}@DOMAIN.
        #[arg(long, default_value = "bench.test")]
        domain: String,
        #[arg(long, default_value_t = 32)]
        mailboxes: usize,
        /// Envelope sender and From: address.
        #[arg(long, default_value = "bench@load.test")]
        from: String,
        /// Use STARTTLS (any certificate is accepted: a benchmark, not a check).
        #[arg(long)]
        starttls: bool,
        /// Authenticate with AUTH PLAIN as USER:PASSWORD (submission).
        #[arg(long)]
        auth: Option<String>,
        /// A file of "ADDRESS PASSWORD" lines: sessions log in as these
        /// accounts in turn (and send as them), instead of --auth.
        #[arg(long)]
        accounts: Option<std::path::PathBuf>,
        /// Messages per login before the session reconnects as the next
        /// account (default: one login per session).
        #[arg(long)]
        per_login: Option<usize>,
        /// Make every message's text different (random words).
        #[arg(long)]
        vary: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
    },
    /// An SMTP sink: accepts and discards mail, and reports when `expect`
    /// messages have arrived (end-to-end delivery throughput).
    Sink {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        expect: usize,
        #[arg(long, default_value_t = 600)]
        deadline: u64,
    },
    /// R-OUT-8 fingerprint quality over a directory of messages named
    /// GROUP-N.eml: copies in one group are one campaign and should match,
    /// messages of different groups should not. Prints, per similarity
    /// threshold, the share of same-group pairs that match (detection) and
    /// the share of messages that match a message of another group (false
    /// positives). No network.
    /// With --speed N instead: the time to fingerprint N varied messages
    /// of --size bytes, the ones `smtp --vary` sends.
    Fingerprint {
        #[arg(long, required_unless_present = "speed")]
        dir: Option<std::path::PathBuf>,
        /// Also list the cross-group pairs at or above this similarity.
        #[arg(long)]
        show: Option<f64>,
        #[arg(long)]
        speed: Option<usize>,
        #[arg(long, default_value_t = 4096)]
        size: usize,
    },
    /// Writes the benchmark's signature database (NDB + HDB + EICAR).
    AvSigs {
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long, default_value_t = 10_000)]
        ndb: usize,
        #[arg(long, default_value_t = 10_000)]
        hdb: usize,
    },
    /// The built-in engine, and clamd when given, on one database and
    /// corpus; bombs against the built-in engine.
    Av {
        #[arg(long)]
        sigs: std::path::PathBuf,
        /// clamd's socket (a path or 127.0.0.1:PORT).
        #[arg(long)]
        clamd: Option<String>,
        /// clamd's process id, for its peak memory.
        #[arg(long)]
        clamd_pid: Option<u32>,
        /// Seconds per engine and thread count.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    Pop3 {
        #[arg(long)]
        addr: SocketAddr,
        /// Logins to retrieve from, comma separated.
        #[arg(long)]
        users: String,
        #[arg(long)]
        password: String,
        /// Outstanding RETR commands per connection.
        #[arg(long, default_value_t = 64)]
        window: usize,
        #[arg(long, default_value_t = 600)]
        deadline: u64,
    },
    Idle {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Seconds to hold the connections open.
        #[arg(long, default_value_t = 5)]
        hold: u64,
    },
    #[command(flatten)]
    Imap(imap::Cmd),
    /// Mailing lists in-process: expanding a post to N members, the
    /// consent export of M ledger events.
    Lists {
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn check_loopback(a: &SocketAddr) -> Res<()> {
    if !a.ip().is_loopback() {
        return Err(format!("{a}: only loopback addresses may be load-tested").into());
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(what: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{what}: {n} messages in {:.2}s = {:.0} msg/s; latency p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
}

fn message(size: usize, n: usize, from: &str) -> Vec<u8> {
    let mut m = format!("From: {from}\r\nTo: someone@bench.test\r\nSubject: load {n}\r\nMessage-ID: <{n}@load.test>\r\n\r\n").into_bytes();
    let line = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    while m.len() < size.saturating_sub(2) {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n.\r\n");
    m
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Accepts any server certificate: the benchmark measures, it does not
/// authenticate the server.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

struct SmtpOpts {
    size: usize,
    domain: String,
    mailboxes: usize,
    from: String,
    starttls: bool,
    auth: Option<String>,
    /// Accounts to log in as in turn (address, password).
    accounts: Option<Vec<(String, String)>>,
    per_login: usize,
    sessions: usize,
    vary: bool,
}

async fn reply_s(r: &mut BufStream<Box<dyn Stream>>, line: &mut String) -> Res<u16> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            return Err("connection closed".into());
        }
        if line.len() >= 4 && line.as_bytes()[3] == b' ' {
            return Ok(line[..3].parse()?);
        }
    }
}

async fn expect(r: &mut BufStream<Box<dyn Stream>>, line: &mut String, want: u16) -> Res<()> {
    let c = reply_s(r, line).await?;
    if c != want {
        return Err(format!("expected {want}, got {}", line.trim()).into());
    }
    Ok(())
}

/// Connects, says EHLO, does STARTTLS and AUTH PLAIN as asked.
async fn smtp_connect(
    addr: SocketAddr,
    o: &SmtpOpts,
    cred: Option<(&str, &str)>,
) -> Res<BufStream<Box<dyn Stream>>> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut w: BufStream<Box<dyn Stream>> = BufStream::new(Box::new(s));
    let r = &mut String::new();
    expect(&mut w, r, 220).await?;
    w.write_all(b"EHLO load.test\r\n").await?;
    w.flush().await?;
    expect(&mut w, r, 250).await?;
    if o.starttls {
        w.write_all(b"STARTTLS\r\n").await?;
        w.flush().await?;
        expect(&mut w, r, 220).await?;
        let plain = w.into_inner();
        let name = rustls::pki_types::ServerName::try_from("localhost")?;
        let tls = tls_connector().connect(name, plain).await?;
        w = BufStream::new(Box::new(tls));
        w.write_all(b"EHLO load.test\r\n").await?;
        w.flush().await?;
        expect(&mut w, r, 250).await?;
    }
    if let Some((u, p)) = cred {
        use base64::Engine;
        let tok = base64::engine::general_purpose::STANDARD.encode(format!("\0{u}\0{p}"));
        w.write_all(format!("AUTH PLAIN {tok}\r\n").as_bytes())
            .await?;
        w.flush().await?;
        expect(&mut w, r, 235).await?;
    }
    Ok(w)
}

async fn smtp_session(
    addr: SocketAddr,
    id: usize,
    next: Arc<AtomicUsize>,
    total: usize,
    o: Arc<SmtpOpts>,
) -> Res<Vec<Duration>> {
    let mut lat = Vec::new();
    let mut line = String::new();
    let (domain, mailboxes, size) = (&o.domain, o.mailboxes, o.size);
    for login in 0.. {
        // With an account list, session `id` logs in as accounts id,
        // id + sessions, … in turn, `per_login` messages each time.
        let (from, cred) = match (&o.accounts, &o.auth) {
            (Some(list), _) => {
                let (u, p) = &list[(id + login * o.sessions) % list.len()];
                (u.as_str(), Some((u.as_str(), p.as_str())))
            }
            (None, Some(c)) => (
                o.from.as_str(),
                Some(c.split_once(':').ok_or("--auth USER:PASSWORD")?),
            ),
            (None, None) => (o.from.as_str(), None),
        };
        let mut w = smtp_connect(addr, &o, cred).await?;
        let mut sent = 0;
        let mut done = false;
        while sent < o.per_login {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= total {
                done = true;
                break;
            }
            let body = if o.vary {
                varied_message(size, n, from)
            } else {
                message(size, n, from)
            };
            let t0 = Instant::now();
            let cmds = format!(
                "MAIL FROM:<{from}>\r\nRCPT TO:<user{}@{domain}>\r\nDATA\r\n",
                n % mailboxes
            );
            w.write_all(cmds.as_bytes()).await?;
            w.flush().await?;
            for want in [250, 250, 354] {
                expect(&mut w, &mut line, want).await?;
            }
            w.write_all(&body).await?;
            w.flush().await?;
            expect(&mut w, &mut line, 250).await?;
            lat.push(t0.elapsed());
            sent += 1;
        }
        w.write_all(b"QUIT\r\n").await?;
        w.flush().await?;
        let _ = reply_s(&mut w, &mut line).await;
        if done {
            break;
        }
    }
    Ok(lat)
}

/// A message of `size` bytes whose text differs from every other's: words
/// drawn from a vocabulary by a generator seeded with `n` (bulk-mail
/// detection sees each as new content, as most real mail is).
fn varied_message(size: usize, n: usize, from: &str) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "meeting",
        "budget",
        "report",
        "invoice",
        "project",
        "schedule",
        "customer",
        "delivery",
        "contract",
        "review",
        "office",
        "team",
        "update",
        "question",
        "answer",
        "proposal",
        "draft",
        "final",
        "monday",
        "friday",
        "morning",
        "afternoon",
        "please",
        "thanks",
        "attached",
        "document",
        "change",
        "request",
        "approval",
        "order",
        "payment",
        "account",
        "support",
        "issue",
        "release",
        "version",
        "server",
        "network",
        "travel",
        "hotel",
        "flight",
        "lunch",
        "dinner",
        "weekend",
        "holiday",
        "family",
        "garden",
        "house",
        "school",
        "book",
        "music",
        "film",
        "price",
        "offer",
        "quote",
        "sample",
        "design",
        "colour",
        "paper",
        "print",
        "phone",
        "call",
        "email",
        "note",
        "plan",
        "idea",
        "result",
        "test",
        "data",
        "figure",
        "table",
        "chart",
        "summary",
        "detail",
        "minute",
        "agenda",
        "room",
        "floor",
        "building",
        "street",
        "city",
        "country",
        "market",
        "shop",
        "store",
        "product",
        "service",
        "quality",
        "problem",
        "solution",
        "reason",
        "decision",
        "option",
        "choice",
        "week",
        "month",
        "year",
        "today",
    ];
    let mut x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut m = format!("From: {from}\r\nTo: someone@remote.test\r\nSubject: note {n}\r\nMessage-ID: <{n}@load.test>\r\n\r\n").into_bytes();
    let mut col = 0;
    while m.len() + 16 < size {
        let w = WORDS[(rnd() % WORDS.len() as u64) as usize];
        m.extend_from_slice(w.as_bytes());
        col += w.len() + 1;
        if col > 70 {
            m.extend_from_slice(b"\r\n");
            col = 0;
        } else {
            m.push(b' ');
        }
    }
    m.extend_from_slice(b"\r\n.\r\n");
    m
}

async fn smtp(addr: SocketAddr, sessions: usize, messages: usize, o: SmtpOpts) -> Res<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let what = format!(
        "smtp {sessions} sessions, {} B{}{}",
        o.size,
        if o.starttls { ", STARTTLS" } else { "" },
        if o.auth.is_some() { ", AUTH" } else { "" }
    );
    let o = Arc::new(o);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..sessions)
        .map(|id| tokio::spawn(smtp_session(addr, id, next.clone(), messages, o.clone())))
        .collect();
    let mut lat = Vec::with_capacity(messages);
    for t in tasks {
        lat.extend(t.await??);
    }
    report(&what, lat.len(), t0.elapsed(), lat);
    Ok(())
}

/// One sink connection: answers every command, counts every message.
async fn sink_conn(
    s: TcpStream,
    count: Arc<AtomicUsize>,
    first: Arc<std::sync::OnceLock<Instant>>,
) -> Res<()> {
    let mut s = BufStream::new(s);
    s.write_all(b"220 sink ESMTP\r\n").await?;
    s.flush().await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if s.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line
            .get(..4)
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default();
        let reply: &[u8] = match cmd.as_slice() {
            b"EHLO" => b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n",
            b"DATA" => {
                s.write_all(b"354 go\r\n").await?;
                s.flush().await?;
                loop {
                    line.clear();
                    if s.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                }
                first.get_or_init(Instant::now);
                count.fetch_add(1, Ordering::Relaxed);
                b"250 2.0.0 ok\r\n"
            }
            b"QUIT" => {
                s.write_all(b"221 bye\r\n").await?;
                s.flush().await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        s.write_all(reply).await?;
        s.flush().await?;
    }
}

async fn sink(listen: SocketAddr, expect: usize) -> Res<()> {
    let l = tokio::net::TcpListener::bind(listen).await?;
    println!("sink: listening on {}", l.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(std::sync::OnceLock::new());
    let (c2, f2) = (count.clone(), first.clone());
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(sink_conn(s, c2.clone(), f2.clone()));
        }
    });
    while count.load(Ordering::Relaxed) < expect {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = first.get().copied().unwrap_or_else(Instant::now);
    let n = count.load(Ordering::Relaxed);
    let el = t0.elapsed();
    println!(
        "sink: {n} messages in {:.2}s = {:.0} msg/s (first to last arrival)",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
    Ok(())
}

/// Reads one multi-line POP3 response after its `+OK` line; returns the
/// bytes of the body.
async fn pop_multiline(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> Res<usize> {
    buf.clear();
    r.read_until(b'\n', buf).await?;
    if !buf.starts_with(b"+OK") {
        return Err(format!("RETR: {}", String::from_utf8_lossy(buf)).into());
    }
    let mut total = 0;
    loop {
        buf.clear();
        if r.read_until(b'\n', buf).await? == 0 {
            return Err("connection closed".into());
        }
        if buf.as_slice() == b".\r\n" {
            return Ok(total);
        }
        total += buf.len();
    }
}

async fn pop3_user(
    addr: SocketAddr,
    user: String,
    password: String,
    window: usize,
) -> Res<Vec<Duration>> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let mut line = String::new();
    r.read_line(&mut line).await?;
    w.write_all(format!("USER {user}\r\nPASS {password}\r\nSTAT\r\n").as_bytes())
        .await?;
    for _ in 0..3 {
        line.clear();
        r.read_line(&mut line).await?;
        if !line.starts_with("+OK") {
            return Err(format!("{user}: {}", line.trim()).into());
        }
    }
    let count: usize = line.split_whitespace().nth(1).ok_or("STAT")?.parse()?;
    let mut sent = std::collections::VecDeque::new();
    let mut lat = Vec::with_capacity(count);
    let mut buf = Vec::with_capacity(8192);
    let mut next = 1;
    while lat.len() < count {
        let mut batch = String::new();
        while next <= count && sent.len() < window {
            batch.push_str(&format!("RETR {next}\r\n"));
            sent.push_back(Instant::now());
            next += 1;
        }
        if !batch.is_empty() {
            w.write_all(batch.as_bytes()).await?;
        }
        pop_multiline(&mut r, &mut buf).await?;
        lat.push(sent.pop_front().ok_or("protocol")?.elapsed());
    }
    w.write_all(b"QUIT\r\n").await?;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), r.read_to_end(&mut rest)).await;
    Ok(lat)
}

async fn pop3(addr: SocketAddr, users: String, password: String, window: usize) -> Res<()> {
    let t0 = Instant::now();
    let tasks: Vec<_> = users
        .split(',')
        .filter(|u| !u.is_empty())
        .map(|u| tokio::spawn(pop3_user(addr, u.to_string(), password.clone(), window)))
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    report(
        &format!("pop3 pipelined RETR (window {window})"),
        lat.len(),
        t0.elapsed(),
        lat,
    );
    Ok(())
}

async fn idle(addr: SocketAddr, connections: usize, hold: u64) -> Res<()> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut s = TcpStream::connect(addr).await?;
        let mut b = [0u8; 512];
        let n = s.read(&mut b).await?;
        if n == 0 {
            return Err("closed before greeting".into());
        }
        conns.push(s);
    }
    println!("idle: {connections} connections open; holding {hold}s");
    tokio::time::sleep(Duration::from_secs(hold)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    if let Cmd::Fingerprint {
        dir,
        show,
        speed,
        size,
    } = &args.cmd
    {
        return match (dir, speed) {
            (_, Some(n)) => fingerprint_speed(*n, *size),
            (Some(dir), None) => fingerprint_quality(dir, *show),
            (None, None) => unreachable!("clap requires one"),
        };
    }
    match args.cmd {
        Cmd::AvSigs { out, ndb, hdb } => {
            return av::write_sigs(&out, ndb, hdb).map_err(|e| e.to_string().into())
        }
        Cmd::Av {
            sigs,
            clamd,
            clamd_pid,
            seconds,
        } => {
            if let Some(c) = &clamd {
                if !c.contains('/') {
                    check_loopback(&c.parse()?)?;
                }
            }
            return av::av(sigs, clamd, clamd_pid, seconds)
                .await
                .map_err(|e| e.to_string().into());
        }
        Cmd::Imap(c) => return imap::main(c).await,
        Cmd::Lists {
            members,
            events,
            runs,
        } => return lists::main(members, events, runs).await,
        _ => {}
    }
    let (addr, deadline) = match &args.cmd {
        Cmd::Fingerprint { .. }
        | Cmd::AvSigs { .. }
        | Cmd::Av { .. }
        | Cmd::Imap(_)
        | Cmd::Lists { .. } => unreachable!(),
        Cmd::Smtp { addr, deadline, .. } | Cmd::Pop3 { addr, deadline, .. } => (*addr, *deadline),
        Cmd::Idle { addr, hold, .. } => (*addr, hold + 120),
        Cmd::Sink {
            listen, deadline, ..
        } => (*listen, *deadline),
    };
    check_loopback(&addr)?;
    let run = async move {
        match args.cmd {
            Cmd::Smtp {
                addr,
                sessions,
                messages,
                size,
                domain,
                mailboxes,
                from,
                starttls,
                auth,
                accounts,
                per_login,
                vary,
                ..
            } => {
                let accounts = match accounts {
                    Some(path) => Some(
                        std::fs::read_to_string(&path)?
                            .lines()
                            .filter_map(|l| l.split_once(char::is_whitespace))
                            .map(|(u, p)| (u.to_string(), p.trim().to_string()))
                            .collect::<Vec<_>>(),
                    ),
                    None => None,
                };
                if accounts.as_ref().is_some_and(|a| a.is_empty()) {
                    return Err("--accounts: no \"ADDRESS PASSWORD\" lines".into());
                }
                let per_login = per_login.unwrap_or(usize::MAX);
                let o = SmtpOpts {
                    size,
                    domain,
                    mailboxes,
                    from,
                    starttls,
                    auth,
                    accounts,
                    per_login,
                    sessions,
                    vary,
                };
                smtp(addr, sessions, messages, o).await
            }
            Cmd::Sink { listen, expect, .. } => sink(listen, expect).await,
            Cmd::Pop3 {
                addr,
                users,
                password,
                window,
                ..
            } => pop3(addr, users, password, window).await,
            Cmd::Idle {
                addr,
                connections,
                hold,
            } => idle(addr, connections, hold).await,
            Cmd::Fingerprint { .. }
            | Cmd::AvSigs { .. }
            | Cmd::Av { .. }
            | Cmd::Imap(_)
            | Cmd::Lists { .. } => unreachable!(),
        }
    };
    tokio::time::timeout(Duration::from_secs(deadline), run)
        .await
        .map_err(|_| format!("deadline of {deadline}s reached"))?
}

fn fingerprint_speed(n: usize, size: usize) -> Res<()> {
    use mailhost_policy::fingerprint::Fingerprint;
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| varied_message(size, i, "bench@load.test"))
        .collect();
    // Best of three passes: the figure is the code's cost, not the
    // machine's neighbours.
    let mut best = f64::MAX;
    let mut check = 0u32;
    for _ in 0..3 {
        let t0 = Instant::now();
        for m in &msgs {
            check ^= Fingerprint::of_message(m).mins[0];
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "fingerprint speed: {n} messages of {size} B: {:.2} us per message, {:.0} MB/s (check {check:08x})",
        best * 1e6 / n as f64,
        (n * size) as f64 / best / 1e6
    );
    Ok(())
}

fn fingerprint_quality(dir: &std::path::Path, show: Option<f64>) -> Res<()> {
    use mailhost_policy::fingerprint::Fingerprint;
    let mut raw = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name.rsplit_once('-').is_some() {
            raw.push((name, std::fs::read(&p)?));
        }
    }
    let bytes: usize = raw.iter().map(|r| r.1.len()).sum();
    let t0 = Instant::now();
    let msgs: Vec<(String, Fingerprint)> = raw
        .iter()
        .map(|(n, r)| (n.clone(), Fingerprint::of_message(r)))
        .collect();
    let took = t0.elapsed();
    println!(
        "fingerprint: {} messages, {} KB in {:.1} ms = {:.1} us per message",
        msgs.len(),
        bytes / 1024,
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / msgs.len().max(1) as f64
    );
    // For each message: the highest similarity to another message of its
    // own group and of any other group.
    let n = msgs.len();
    let groups: Vec<&str> = msgs
        .iter()
        .map(|(name, _)| name.rsplit_once('-').map_or("", |g| g.0))
        .collect();
    let mut same_pairs = Vec::new();
    let mut best_other = vec![0f64; n];
    for i in 0..n {
        for j in i + 1..n {
            let s = msgs[i].1.similarity(&msgs[j].1);
            if groups[i] == groups[j] {
                same_pairs.push(s);
            } else {
                best_other[i] = best_other[i].max(s);
                best_other[j] = best_other[j].max(s);
                if show.is_some_and(|t| s >= t) {
                    println!("{s:.2} {} {}", msgs[i].0, msgs[j].0);
                }
            }
        }
    }
    println!("threshold  same-campaign pairs matched  messages matching another group");
    for t in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8] {
        let det = same_pairs.iter().filter(|s| **s >= t).count();
        let fp = best_other.iter().filter(|s| **s >= t).count();
        println!(
            "{t:9.1}  {det:>7} of {:>7} = {:6.2}%  {fp:>6} of {n} = {:5.2}%",
            same_pairs.len(),
            100.0 * det as f64 / same_pairs.len().max(1) as f64,
            100.0 * fp as f64 / n.max(1) as f64
        );
    }
    Ok(())
}
