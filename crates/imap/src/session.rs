//! One IMAP session: the states, the read loop, dispatch and cleanup.
//!
//! States and the commands each allows (RFC 9051 §3, §6):
//!
//! | state             | commands                                                    |
//! |-------------------|-------------------------------------------------------------|
//! | any               | CAPABILITY, NOOP, LOGOUT, ID                                |
//! | not authenticated | STARTTLS, AUTHENTICATE, LOGIN                               |
//! | authenticated     | ENABLE, SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, |
//! |                   | UNSUBSCRIBE, LIST, LSUB, NAMESPACE, STATUS, APPEND, IDLE,   |
//! |                   | GETQUOTA, GETQUOTAROOT, SETQUOTA, COMPRESS                  |
//! | selected          | the above, and CHECK, CLOSE, UNSELECT, EXPUNGE, SEARCH,     |
//! |                   | FETCH, STORE, COPY, MOVE, UID …                             |
//!
//! Invariant: while `user` is set, the session holds its mailbox lease in
//! `mail_sessions` (R-POP-4); [`session`] releases it on every way out.

use crate::view::Selected;
use crate::ImapCtx;
use imap_proto::frame::{Frame, Framer, Refusal};
use imap_proto::types::{Command, Request};
use mailhost_imap_proto as imap_proto;
use mailhost_net::{Conn, ReadError};
use mailhost_store::Account;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// Read granularity cap: what one read may add to the framer.
const MAX_READ: usize = 64 * 1024;
/// How long the final flush and close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Failed logins tolerated in one session before it is closed.
pub(crate) const MAX_AUTH_FAILURES: u32 = 3;
/// Bad commands tolerated in a row before the session is closed.
const MAX_ERRORS: u32 = 20;

/// Why a session ends.
#[derive(Debug)]
pub(crate) enum End {
    Logout,
    Closed,
    Timeout,
    Shutdown,
    TooManyErrors,
    AuthFailures,
    LeaseLost,
    TlsFailed,
    /// The selected folder was deleted by another session.
    FolderGone,
}

/// What a command handler returns: go on, or end the session.
pub(crate) type Flow = Result<(), End>;

/// The logged-in mailbox.
pub(crate) struct User {
    pub account: Account,
    /// The account's keywords, `(bit, name)`, as last read.
    pub keywords: Vec<(u32, String)>,
}

pub(crate) struct Session {
    pub conn: Conn,
    pub ctx: Arc<ImapCtx>,
    pub framer: Framer,
    /// Unique per session, across nodes and restarts: the lease owner.
    pub id: String,
    pub user: Option<User>,
    pub sel: Option<Selected>,
    /// ENABLEd (RFC 5161): IMAP4rev2, UTF8=ACCEPT, CONDSTORE, QRESYNC.
    pub rev2: bool,
    pub utf8: bool,
    pub condstore: bool,
    pub qresync: bool,
    /// The last SEARCH … RETURN (SAVE) result, as UIDs (RFC 5182).
    pub saved: Option<Vec<u32>>,
    pub errors: u32,
    pub auth_failures: u32,
    pub lease_refreshed: Instant,
    /// The tag of the command being answered, for ESEARCH.
    pub tag: String,
    /// Whether the command being run is a UID command (its unsolicited
    /// FETCH responses then carry the UID, RFC 9051 §7.5.2).
    pub uid_cmd: bool,
}

/// Runs one IMAP session on an accepted connection (already TLS for 993).
pub async fn session(conn: Conn, ctx: Arc<ImapCtx>) {
    static SESSIONS: AtomicU64 = AtomicU64::new(0);
    let id = format!(
        "imap/{}/{}/{}/{}",
        ctx.node,
        std::process::id(),
        mailhost_store::now_ms(),
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    );
    let limits = crate::auth::framer_limits(&ctx);
    let mut s = Session {
        conn,
        framer: Framer::new(limits),
        ctx,
        id,
        user: None,
        sel: None,
        rev2: false,
        utf8: false,
        condstore: false,
        qresync: false,
        saved: None,
        errors: 0,
        auth_failures: 0,
        lease_refreshed: Instant::now(),
        tag: String::new(),
        uid_cmd: false,
    };
    // RFC 9051 §7.1.1: the greeting carries the capabilities.
    let caps = s.capabilities();
    s.untagged(&format!(
        "OK [CAPABILITY {caps}] {} IMAP ready",
        s.ctx.hostname
    ));
    let end = s.run().await;
    debug!(peer = %s.conn.peer, ?end, "imap session ends");
    match end {
        End::Shutdown => s.untagged("BYE server shutting down"),
        End::Timeout => s.untagged("BYE autologout; idle for too long"),
        End::TooManyErrors => s.untagged("BYE too many bad commands"),
        End::AuthFailures => s.untagged("BYE too many failed logins"),
        End::FolderGone => s.untagged("BYE the selected folder was deleted"),
        End::LeaseLost => s.untagged("BYE [UNAVAILABLE] mailbox lease lost; please reconnect"),
        _ => {}
    }
    s.cleanup().await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, s.conn.close()).await;
}

impl Session {
    async fn run(&mut self) -> End {
        loop {
            let frame = match self.next_frame().await {
                Ok(f) => f,
                Err(end) => return end,
            };
            let flow = match frame {
                // RFC 9051 §7.5: the client waits for this before sending
                // a synchronizing literal.
                Frame::Continue { .. } => {
                    self.conn.write(b"+ Ready for literal data\r\n");
                    Ok(())
                }
                Frame::Refused { tag, why } => {
                    let text = match why {
                        Refusal::LineTooLong => "command line too long",
                        Refusal::LiteralTooBig => "[TOOBIG] literal too big",
                        Refusal::BadLiteral => "bad literal",
                    };
                    let tag = tag.map(|t| String::from_utf8_lossy(&t).into_owned());
                    self.bad(tag.as_deref(), text)
                }
                Frame::Command(cmd) => match imap_proto::parse::parse(&cmd) {
                    Err(e) => {
                        let text = e.text.clone();
                        self.bad(e.tag.as_deref(), &text)
                    }
                    Ok(req) => {
                        self.errors = 0;
                        self.dispatch(req).await
                    }
                },
            };
            if let Err(end) = flow {
                return end;
            }
            // Sessions stop at a command boundary once shutdown begins.
            if self.ctx.shutdown.is_cancelled() {
                return End::Shutdown;
            }
            if let Err(end) = self.keep_lease().await {
                return end;
            }
        }
    }

    /// The next frame, reading as needed; waits at most the autologout
    /// time (RFC 9051 §5.4), keeping the lease fresh meanwhile.
    pub async fn next_frame(&mut self) -> Result<Frame, End> {
        let timeout = if self.user.is_some() {
            self.ctx.limits.imap_timeout.std()
        } else {
            self.ctx.limits.imap_login_timeout.std()
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.framer.next_frame() {
                return Ok(f);
            }
            let now = Instant::now();
            let mut wait = deadline.saturating_duration_since(now);
            if self.user.is_some() {
                wait = wait.min(
                    (self.lease_refreshed + self.refresh_every()).saturating_duration_since(now),
                );
            }
            match self
                .conn
                .read_more(wait, Some(&self.ctx.shutdown), MAX_READ)
                .await
            {
                Ok(_) => {
                    self.framer.push(self.conn.buffered());
                    let n = self.conn.buffered().len();
                    self.conn.consume(n);
                }
                Err(ReadError::Timeout) if Instant::now() < deadline => self.keep_lease().await?,
                Err(ReadError::Timeout) => return Err(End::Timeout),
                Err(ReadError::Shutdown) => return Err(End::Shutdown),
                Err(_) => return Err(End::Closed),
            }
        }
    }

    async fn dispatch(&mut self, req: Request) -> Flow {
        let Request { tag, command } = req;
        debug!(peer = %self.conn.peer, cmd = command.name(), "imap command");
        self.tag = tag.clone();
        self.uid_cmd = matches!(
            command,
            Command::Fetch { uid: true, .. }
                | Command::Store { uid: true, .. }
                | Command::Search { uid: true, .. }
                | Command::Copy { uid: true, .. }
                | Command::Move { uid: true, .. }
                | Command::UidExpunge(_)
        );
        let authed = self.user.is_some();
        let selected = self.sel.is_some();
        match command {
            // Any state.
            Command::Capability => {
                let caps = self.capabilities();
                self.untagged(&format!("CAPABILITY {caps}"));
                self.ok(&tag, "CAPABILITY completed")
            }
            Command::Noop if authed => {
                self.sync_full().await?;
                self.ok(&tag, "NOOP completed")
            }
            Command::Noop => self.ok(&tag, "NOOP completed"),
            Command::Logout => {
                self.untagged("BYE logging out");
                self.ok(&tag, "LOGOUT completed")?;
                Err(End::Logout)
            }
            Command::Id(params) => self.cmd_id(&tag, params),

            // Not authenticated.
            Command::StartTls if !authed => self.cmd_starttls(&tag).await,
            Command::Login { user, password } if !authed => {
                self.cmd_login(&tag, user, password).await
            }
            Command::Authenticate { mechanism, initial } if !authed => {
                self.cmd_authenticate(&tag, mechanism, initial).await
            }
            Command::StartTls | Command::Login { .. } | Command::Authenticate { .. } => {
                self.bad(Some(&tag), "already logged in")
            }
            _ if !authed => self.bad(Some(&tag), "log in first"),

            // Authenticated.
            Command::Enable(caps) => self.cmd_enable(&tag, caps),
            Command::Select { mailbox, params } => {
                self.cmd_select(&tag, mailbox, params, false).await
            }
            Command::Examine { mailbox, params } => {
                self.cmd_select(&tag, mailbox, params, true).await
            }
            Command::Create {
                mailbox,
                special_use,
            } => self.cmd_create(&tag, mailbox, special_use).await,
            Command::Delete(mailbox) => self.cmd_delete(&tag, mailbox).await,
            Command::Rename { from, to } => self.cmd_rename(&tag, from, to).await,
            Command::Subscribe(mailbox) => self.cmd_subscribe(&tag, mailbox, true).await,
            Command::Unsubscribe(mailbox) => self.cmd_subscribe(&tag, mailbox, false).await,
            Command::List(list) => self.cmd_list(&tag, list).await,
            Command::Lsub { reference, pattern } => self.cmd_lsub(&tag, reference, pattern).await,
            Command::Namespace => {
                // RFC 2342: one personal namespace, no others.
                self.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                self.ok(&tag, "NAMESPACE completed")
            }
            Command::Status { mailbox, items } => self.cmd_status(&tag, mailbox, items).await,
            Command::Append { mailbox, messages } => self.cmd_append(&tag, mailbox, messages).await,
            Command::Idle => self.cmd_idle(&tag).await,
            Command::GetQuota(root) => self.cmd_getquota(&tag, root).await,
            Command::GetQuotaRoot(mailbox) => self.cmd_getquotaroot(&tag, mailbox).await,
            Command::SetQuota { .. } => self.no(
                &tag,
                "[NOPERM] quotas are set by your provider, not over IMAP (R-IN-3)",
            ),
            Command::Compress(mechanism) => self.cmd_compress(&tag, &mechanism).await,
            _ if !selected => self.bad(Some(&tag), "no folder selected"),

            // Selected.
            // RFC 9051 §6.4.1: a checkpoint; our writes are durable at
            // once, so it is a NOOP.
            Command::Check => {
                self.sync_full().await?;
                self.ok(&tag, "CHECK completed")
            }
            Command::Close => self.cmd_close(&tag, true).await,
            Command::Unselect => self.cmd_close(&tag, false).await,
            Command::Expunge => self.cmd_expunge(&tag, None).await,
            Command::UidExpunge(set) => self.cmd_expunge(&tag, Some(set)).await,
            Command::Search { uid, search } => self.cmd_search(&tag, uid, search).await,
            Command::Fetch {
                uid,
                set,
                items,
                modifiers,
            } => self.cmd_fetch(&tag, uid, set, items, modifiers).await,
            Command::Store {
                uid,
                set,
                unchanged_since,
                op,
                silent,
                flags,
            } => {
                self.cmd_store(&tag, uid, set, unchanged_since, op, silent, flags)
                    .await
            }
            Command::Copy { uid, set, mailbox } => {
                self.cmd_copy(&tag, uid, set, mailbox, false).await
            }
            Command::Move { uid, set, mailbox } => {
                self.cmd_copy(&tag, uid, set, mailbox, true).await
            }
        }
    }

    /// Releases the lease, whatever ended the session. It runs before the
    /// final flush, so a client holding LOGOUT's OK finds the mailbox
    /// free. (A task aborted mid-session cannot get here; its lease then
    /// simply expires.)
    async fn cleanup(&mut self) {
        if self.user.is_some() {
            if let Err(e) = self.ctx.store.mail_session_close(&self.id).await {
                warn!(session = %self.id, "imap: cannot release the mailbox lease (it will expire): {e}");
            }
        }
    }

    // ---- replies ----

    pub fn untagged(&mut self, text: &str) {
        self.conn.write(b"* ");
        self.conn.write(text.as_bytes());
        self.conn.write(b"\r\n");
    }

    pub fn ok(&mut self, tag: &str, text: &str) -> Flow {
        self.tagged(tag, "OK", text);
        Ok(())
    }

    pub fn no(&mut self, tag: &str, text: &str) -> Flow {
        self.tagged(tag, "NO", text);
        Ok(())
    }

    fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.conn.write(tag.as_bytes());
        self.conn.write(b" ");
        self.conn.write(status.as_bytes());
        self.conn.write(b" ");
        self.conn.write(text.as_bytes());
        self.conn.write(b"\r\n");
    }

    /// BAD (RFC 9051 §7.1.3); too many in a row end the session.
    pub fn bad(&mut self, tag: Option<&str>, text: &str) -> Flow {
        self.tagged(tag.unwrap_or("*"), "BAD", text);
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            return Err(End::TooManyErrors);
        }
        Ok(())
    }

    /// A store failure: the client may try again.
    pub fn tempfail(&mut self, tag: &str, what: &str, e: impl std::fmt::Display) -> Flow {
        warn!(peer = %self.conn.peer, "imap: {what}: {e}");
        self.no(
            tag,
            "[UNAVAILABLE] temporary failure; please try again later",
        )
    }

    pub async fn flush(&mut self) -> Flow {
        self.conn.flush().await.map_err(|_| End::Closed)
    }

    // ---- the lease (R-POP-4) ----

    /// The lease lives the autologout time and a minute, refreshed every
    /// third of that, also while idle: it only lapses if this node stops.
    pub fn lease_ttl(&self) -> Duration {
        self.ctx.limits.imap_timeout.std() + Duration::from_secs(60)
    }

    fn refresh_every(&self) -> Duration {
        self.lease_ttl() / 3
    }

    /// Extends the lease when a third of its life has passed.
    pub async fn keep_lease(&mut self) -> Flow {
        if self.user.is_none() || self.lease_refreshed.elapsed() < self.refresh_every() {
            return Ok(());
        }
        // Whatever the outcome, wait another period before trying again,
        // so that a store outage does not turn into a busy loop.
        self.lease_refreshed = Instant::now();
        match self
            .ctx
            .store
            .mail_session_refresh(&self.id, self.lease_ttl())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => {
                warn!(session = %self.id, "imap: mailbox lease lost");
                Err(End::LeaseLost)
            }
            Err(e) => {
                warn!(session = %self.id, "imap: cannot refresh the mailbox lease: {e}");
                Ok(())
            }
        }
    }

    /// The account of the logged-in user.
    pub fn account(&self) -> i64 {
        self.user.as_ref().map_or(0, |u| u.account.id)
    }
}
