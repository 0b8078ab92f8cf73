//! One POP3 session: the state, the read loop, dispatch and cleanup.
//!
//! States and the commands each allows (RFC 1939 §3–§6, RFC 2449 §5):
//!
//! | state         | commands                                           |
//! |---------------|----------------------------------------------------|
//! | AUTHORIZATION | CAPA, USER, PASS, AUTH, STLS, QUIT                 |
//! | TRANSACTION   | CAPA, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT |
//!
//! UPDATE is not a state here: QUIT in TRANSACTION applies the deletions
//! and ends the session. Any other end (disconnect, timeout, shutdown, lost
//! lease) deletes nothing (RFC 1939 §6).
//!
//! Invariant: while the state is TRANSACTION, [`Io::lease`] holds the
//! mailbox lease (R-POP-4); [`session`] releases it on every way out.

use crate::parse::{parse_command, Command, MAX_COMMAND_LINE};
use crate::retr::DotStuffer;
use crate::Pop3Ctx;
use mailhost_net::{Conn, ReadError};
use mailhost_store::{Account, MessageMeta};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The read buffer cap: a client can make us hold at most this much.
const MAX_BUFFERED: usize = 4096;
/// Output is stuffed and sent in pieces of this size (`write_big` keeps the
/// write buffer bounded too).
const CHUNK: usize = 32 * 1024;
/// How long the final flush and close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Failed logins tolerated in one session before it is closed.
pub(crate) const MAX_AUTH_FAILURES: u32 = 3;

pub(crate) enum State {
    Authorization {
        /// The name from USER, waiting for PASS (RFC 1939 §7).
        user: Option<String>,
    },
    Transaction(Maildrop),
}

/// The mailbox as listed at login: the session's snapshot (RFC 1939 §5).
/// Message N is `msgs[N - 1]`.
pub(crate) struct Maildrop {
    pub account: Account,
    pub msgs: Vec<Msg>,
    /// Messages read ahead for pipelined RETRs: (store id, content).
    pub ahead: std::collections::VecDeque<(i64, Vec<u8>)>,
}

pub(crate) struct Msg {
    pub meta: MessageMeta,
    /// Marked by DELE; removed from the store only at QUIT.
    pub deleted: bool,
    /// Sent whole by RETR (R-POP-2 counts retention from then).
    pub retrieved: bool,
}

/// The mailbox lease held in TRANSACTION state (R-POP-4).
pub(crate) struct Lease {
    pub name: String,
    pub refreshed: Instant,
}

/// Why a session ends.
#[derive(Debug)]
pub(crate) enum End {
    Quit,
    Closed,
    Timeout,
    Shutdown,
    TooManyErrors,
    AuthFailures,
    LeaseLost,
    TlsFailed,
}

/// What a command handler returns: go on, or end the session.
pub(crate) type Flow = Result<(), End>;

/// The connection and everything about the session that is not the state.
pub(crate) struct Io {
    pub conn: Conn,
    pub ctx: Arc<Pop3Ctx>,
    /// Unique per session, across nodes and restarts: the lease owner.
    pub owner: String,
    pub lease: Option<Lease>,
    pub errors: u32,
    pub auth_failures: u32,
}

pub(crate) struct Session {
    pub io: Io,
    pub state: State,
}

/// Runs one POP3 session on an accepted connection (already TLS for port 995).
pub async fn session(conn: Conn, ctx: Arc<Pop3Ctx>) {
    static SESSIONS: AtomicU64 = AtomicU64::new(0);
    let owner = format!(
        "{}/{}/{}/{}",
        ctx.node,
        std::process::id(),
        mailhost_store::now_ms(),
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    );
    let mut s = Session {
        io: Io {
            conn,
            ctx,
            owner,
            lease: None,
            errors: 0,
            auth_failures: 0,
        },
        state: State::Authorization { user: None },
    };
    let greeting = format!("{} POP3 ready", s.io.ctx.hostname);
    s.io.ok(&greeting);
    let end = s.run().await;
    debug!(peer = %s.io.conn.peer, ?end, "pop3 session ends");
    match end {
        End::Shutdown => s.io.err("[SYS/TEMP] server shutting down"),
        // RFC 1939 §3: the autologout timer ends the session without UPDATE.
        End::Timeout => s.io.err("autologout; idle for too long"),
        _ => {}
    }
    s.cleanup().await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, s.io.conn.close()).await;
}

impl Session {
    async fn run(&mut self) -> End {
        loop {
            let line = match self.io.read_line(MAX_COMMAND_LINE).await {
                Ok(l) => l,
                Err(end) => return end,
            };
            // Sessions stop at a command boundary once shutdown begins.
            if self.io.ctx.shutdown.is_cancelled() {
                return End::Shutdown;
            }
            let flow = match line.as_deref().map(parse_command) {
                // RFC 2449 §4: lines over 255 octets are refused.
                None => self.io.bad("line too long"),
                Some(Err(e)) => self.io.bad(&e.to_string()),
                Some(Ok(cmd)) => self.dispatch(cmd).await,
            };
            if let Err(end) = flow {
                return end;
            }
            if let Err(end) = self.io.keep_lease().await {
                return end;
            }
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> Flow {
        debug!(peer = %self.io.conn.peer, cmd = cmd.name(), "pop3 command");
        match (&mut self.state, cmd) {
            (_, Command::Capa) => self.io.cmd_capa(),
            (State::Authorization { .. }, Command::Quit) => {
                let bye = format!("{} POP3 server signing off", self.io.ctx.hostname);
                self.io.ok(&bye);
                Err(End::Quit)
            }
            (State::Authorization { .. }, cmd) => self.authorization(cmd).await,
            (State::Transaction(md), cmd) => md.transaction(&mut self.io, cmd).await,
        }
    }

    /// Records retrievals and releases the lease, whatever ended the
    /// session. It runs before the final flush, so a client holding QUIT's
    /// +OK finds the mailbox free. (A task aborted mid-session cannot get
    /// here; its lease then simply expires.)
    async fn cleanup(&mut self) {
        if let State::Transaction(md) = &self.state {
            let ids: Vec<i64> = md
                .msgs
                .iter()
                .filter(|m| m.retrieved)
                .map(|m| m.meta.id)
                .collect();
            if let Err(e) = self.io.ctx.store.mark_retrieved(md.account.id, &ids).await {
                warn!(account = %md.account.address, "pop3: cannot record retrievals: {e}");
            }
        }
        if let Some(lease) = self.io.lease.take() {
            if let Err(e) = self.io.ctx.store.mail_session_close(&self.io.owner).await {
                warn!(lock = %lease.name, "pop3: cannot release mailbox lock (it will expire): {e}");
            }
        }
    }
}

impl Io {
    pub fn ok(&mut self, text: &str) {
        self.reply("+OK", text);
    }

    pub fn err(&mut self, text: &str) {
        self.reply("-ERR", text);
    }

    fn reply(&mut self, status: &str, text: &str) {
        self.conn.write(status.as_bytes());
        if !text.is_empty() {
            self.conn.write(b" ");
            self.conn.write(text.as_bytes());
        }
        self.conn.write(b"\r\n");
    }

    /// Refuses a bad command; too many of them end the session.
    pub fn bad(&mut self, text: &str) -> Flow {
        self.err(text);
        self.errors += 1;
        if self.errors >= self.ctx.limits.max_errors.max(1) {
            info!(peer = %self.conn.peer, "pop3: too many errors, closing");
            return Err(End::TooManyErrors);
        }
        Ok(())
    }

    /// Reads one line of at most `limit` octets, LF included. `Ok(None)`: the
    /// line was longer; it has been read and dropped without being buffered
    /// whole. Waits at most the autologout time (RFC 1939 §3), keeping the
    /// lease fresh meanwhile.
    pub async fn read_line(&mut self, limit: usize) -> Result<Option<Vec<u8>>, End> {
        let deadline = Instant::now() + self.ctx.limits.pop3_timeout.std();
        let mut discarding = false;
        loop {
            let buf = self.conn.buffered();
            if let Some(i) = buf.iter().position(|&b| b == b'\n') {
                let line = (!discarding && i < limit).then(|| buf[..=i].to_vec());
                self.conn.consume(i + 1);
                return Ok(line);
            }
            if buf.len() >= limit {
                discarding = true;
                let n = buf.len();
                self.conn.consume(n);
            }
            self.flush().await?;
            let now = Instant::now();
            let mut wait = deadline.saturating_duration_since(now);
            if let Some(l) = &self.lease {
                wait =
                    wait.min((l.refreshed + self.refresh_every()).saturating_duration_since(now));
            }
            match self
                .conn
                .read_more(wait, Some(&self.ctx.shutdown), MAX_BUFFERED)
                .await
            {
                Ok(_) => {}
                Err(ReadError::Timeout) if Instant::now() < deadline => self.keep_lease().await?,
                Err(ReadError::Timeout) => return Err(End::Timeout),
                Err(ReadError::Shutdown) => return Err(End::Shutdown),
                Err(ReadError::Eof | ReadError::Io(_) | ReadError::Full) => {
                    return Err(End::Closed)
                }
            }
        }
    }

    /// Sends queued replies, giving a client that does not read at most the
    /// autologout time.
    pub async fn flush(&mut self) -> Flow {
        match tokio::time::timeout(self.ctx.limits.pop3_timeout.std(), self.conn.flush()).await {
            Ok(Ok(())) => Ok(()),
            // A client that stops reading gets no more replies.
            Ok(Err(_)) | Err(_) => Err(End::Closed),
        }
    }

    /// Sends `data` as a multi-line response body: byte-stuffed, terminated
    /// (RFC 1939 §3), in bounded pieces.
    pub async fn send_multiline(&mut self, data: &[u8]) -> Flow {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::with_capacity(CHUNK + CHUNK / 8);
        let mut pieces = data.chunks(CHUNK);
        loop {
            out.clear();
            let last = match pieces.next() {
                Some(piece) => {
                    stuffer.push(piece, &mut out);
                    false
                }
                None => {
                    stuffer.finish(&mut out);
                    true
                }
            };
            self.send(&out).await?;
            if last {
                return Ok(());
            }
        }
    }

    /// Sends `data` after what is queued, directly once it is large
    /// (`write_big`), giving a client that does not read at most the
    /// autologout time.
    pub async fn send(&mut self, data: &[u8]) -> Flow {
        match tokio::time::timeout(
            self.ctx.limits.pop3_timeout.std(),
            self.conn.write_big(data),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(End::Closed),
        }
    }

    /// The lease lives `pop3_timeout + 60s` and is refreshed every third of
    /// that, also while idle: it only lapses if this node stops (a crash).
    pub fn lease_ttl(&self) -> Duration {
        self.ctx.limits.pop3_timeout.std() + Duration::from_secs(60)
    }

    fn refresh_every(&self) -> Duration {
        self.lease_ttl() / 3
    }

    /// Extends the lease when a third of its life has passed (R-POP-4).
    pub async fn keep_lease(&mut self) -> Flow {
        let every = self.refresh_every();
        let ttl = self.lease_ttl();
        let Some(lease) = &mut self.lease else {
            return Ok(());
        };
        if lease.refreshed.elapsed() < every {
            return Ok(());
        }
        // Whatever the outcome, wait another period before trying again,
        // so that a store outage does not turn into a busy loop.
        lease.refreshed = Instant::now();
        match self.ctx.store.mail_session_refresh(&self.owner, ttl).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                // Another session holds the mailbox now: stop, without UPDATE.
                warn!(lock = %lease.name, "pop3: mailbox lock lost");
                self.lease = None;
                self.err("[SYS/TEMP] mailbox lock lost; please reconnect");
                Err(End::LeaseLost)
            }
            Err(e) => {
                warn!(lock = %lease.name, "pop3: cannot refresh mailbox lock: {e}");
                Ok(())
            }
        }
    }
}
