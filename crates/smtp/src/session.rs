//! One SMTP server session.
//!
//! States and the commands they allow (RFC 5321 §4.1.4, §3.3):
//!
//! | state   | allowed                                              |
//! |---------|------------------------------------------------------|
//! | Fresh   | EHLO, HELO, NOOP, RSET, VRFY, HELP, QUIT             |
//! | Ready   | + MAIL, STARTTLS                                     |
//! | Mail    | + RCPT                                               |
//! | Rcpt    | + RCPT, DATA                                         |
//!
//! After STARTTLS the session is Fresh again (RFC 3207 §4.2). Replies are
//! queued and flushed when the next read would wait, which answers a
//! pipelined group in one write (RFC 2920).

use crate::reply::Reply;
use crate::SmtpCtx;
use mailhost_net::{Conn, ReadError};
use mailhost_policy::{SessionInfo, Verdict};
use smtp_proto::Request;
use std::sync::Arc;
use std::time::Instant;

/// RFC 5321 §4.5.3.1.4 puts command lines at 512 octets; extensions
/// (SIZE, AUTH initial responses) make longer ones legitimate, so the limit
/// is the text-line limit of §4.5.3.1.6: 1000 octets with CRLF.
pub(crate) const MAX_LINE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Fresh,
    Ready,
    Mail,
    Rcpt,
}

/// The current mail transaction.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    pub sender: String,
    pub smtputf8: bool,
    /// Accepted recipients as given.
    pub rcpts: Vec<String>,
    /// The SIZE the client declared (RFC 1870), if any.
    pub declared: Option<u64>,
    /// Receiving mailboxes (deduplicated).
    pub deliveries: Vec<mailhost_store::Account>,
    /// Remote recipients (authenticated submission only).
    pub outbound: Vec<String>,
    /// Remote destinations of forwarding (R-IN-4, R-ADDR-4).
    pub forwards: Vec<mailhost_mailbox::Forward>,
    /// A bounce to an SRS address going back to the original sender
    /// (R-IN-4): at most one per message.
    pub bounce: Option<Bounce>,
    /// all@ is a recipient (R-ADDR-5).
    pub to_all: bool,
    /// List command addresses among the recipients (R-LIST-1).
    pub lists: Vec<crate::lists::ListRcpt>,
}

/// A bounce sent on through SRS.
#[derive(Debug)]
pub(crate) struct Bounce {
    /// The original sender it goes back to.
    pub to: String,
    /// The hosted domain whose SRS address it came to: it counts there.
    pub via_domain: String,
}

pub(crate) enum Flow {
    Continue,
    Close,
}

pub(crate) struct Session {
    pub conn: Conn,
    pub ctx: Arc<SmtpCtx>,
    pub state: State,
    pub info: SessionInfo,
    pub env: Envelope,
    /// "SMTP" after HELO, "ESMTP" after EHLO (RFC 3848 adds S for TLS).
    pub esmtp: bool,
    errors: u32,
    pub started: Instant,
    /// Failed AUTH attempts in this session.
    pub auth_failures: u32,
    /// How the client authenticated, for the Received header.
    pub auth_via: Option<&'static str>,
}

impl Session {
    pub fn reply(&mut self, r: Reply) {
        let mut out = Vec::with_capacity(64);
        r.encode(&mut out);
        self.conn.write(&out);
    }

    /// Applies a verdict: a refusal is answered and recorded in the
    /// evidence log (R-ABUSE-3). Returns whether it refused.
    pub async fn refuse(&mut self, v: &Verdict) -> bool {
        self.refuse_message(v, mailhost_store::Evidence::default())
            .await
    }

    /// Like [`Session::refuse`], for a decision about a message: `about`
    /// carries its queue id, Message-ID and header section for the
    /// evidence log (R-ABUSE-3).
    pub async fn refuse_message(&mut self, v: &Verdict, about: mailhost_store::Evidence) -> bool {
        match v {
            Verdict::Allow => false,
            Verdict::Refuse(r) => {
                tracing::info!(peer = %self.conn.peer, rule = r.rule, code = r.code, "{}", r.reason);
                let reply: Reply = r.into();
                if !r.recorded {
                    let e = mailhost_store::Evidence {
                        ip: self.conn.peer.ip().to_string(),
                        account: self.info.account.clone(),
                        rule: r.rule.to_string(),
                        decision: "refuse".into(),
                        reply: format!("{} {} {}", r.code, r.enhanced, r.text()),
                        service: self.service_name().into(),
                        ..about
                    };
                    if let Err(err) = self.ctx.store.evidence_record(&e).await {
                        tracing::error!("evidence log: {err}");
                    }
                }
                self.reply(reply);
                true
            }
        }
    }

    pub fn service_name(&self) -> &'static str {
        match self.ctx.service {
            mailhost_policy::Service::Mx => "mx",
            mailhost_policy::Service::Submission => "submission",
        }
    }

    /// Counts a client error; true when the client has used up its errors
    /// and the session must end.
    fn error(&mut self) -> bool {
        self.errors += 1;
        self.errors >= self.ctx.config.limits.max_errors
    }

    async fn run(&mut self) {
        let v = self.ctx.policy.on_connect(&self.info).await;
        if self.refuse(&v).await {
            return;
        }
        let greeting = format!("{} ESMTP mailhost", self.ctx.hostname);
        self.reply(Reply::plain(220, vec![greeting]));
        let limits = self.ctx.config.limits.clone();
        let mut skipping = false;
        loop {
            if self.started.elapsed() > limits.session_timeout.std() {
                self.reply(Reply::new(
                    421,
                    "4.4.2",
                    format!("{} session time limit reached, closing", self.ctx.hostname),
                ));
                return;
            }
            let buf = self.conn.buffered();
            let lf = buf.iter().position(|&b| b == b'\n');
            if skipping {
                // Dropping the rest of an over-long line.
                match lf {
                    Some(p) => {
                        self.conn.consume(p + 1);
                        skipping = false;
                        continue;
                    }
                    None => {
                        let n = buf.len();
                        self.conn.consume(n);
                    }
                }
            } else if let Some(p) = lf.filter(|&p| p < MAX_LINE) {
                let line = buf[..=p].to_vec();
                self.conn.consume(p + 1);
                match self.command(&line).await {
                    Flow::Continue => continue,
                    Flow::Close => return,
                }
            } else if lf.is_some() || buf.len() >= MAX_LINE {
                self.reply(Reply::new(
                    500,
                    "5.5.2",
                    "line too long: commands are limited to 1000 octets (RFC 5321 section 4.5.3.1)",
                ));
                skipping = true;
                if self.error() {
                    self.reply(Reply::new(421, "4.7.0", "too many errors, closing"));
                    return;
                }
                continue;
            }
            match self
                .conn
                .read_more(
                    limits.command_timeout.std(),
                    Some(&self.ctx.shutdown),
                    4 * MAX_LINE,
                )
                .await
            {
                Ok(_) => {}
                Err(ReadError::Timeout) => {
                    self.reply(Reply::new(
                        421,
                        "4.4.2",
                        format!(
                            "{} timeout waiting for a command, closing",
                            self.ctx.hostname
                        ),
                    ));
                    return;
                }
                Err(ReadError::Shutdown) => {
                    self.reply(Reply::new(
                        421,
                        "4.3.2",
                        format!("{} shutting down, try again later", self.ctx.hostname),
                    ));
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// Reads one line of at most `max` octets (AUTH continuations, RFC 4954
    /// §4 allows 12288). Err on timeout, disconnect or an over-long line.
    pub(crate) async fn read_line(&mut self, max: usize) -> Result<Vec<u8>, ReadError> {
        let timeout = self.ctx.config.limits.command_timeout.std();
        loop {
            let buf = self.conn.buffered();
            if let Some(p) = buf.iter().position(|&b| b == b'\n') {
                let line = buf[..p].strip_suffix(b"\r").unwrap_or(&buf[..p]).to_vec();
                self.conn.consume(p + 1);
                return Ok(line);
            }
            if buf.len() > max {
                return Err(ReadError::Full);
            }
            self.conn
                .read_more(timeout, Some(&self.ctx.shutdown), max + 2)
                .await?;
        }
    }

    async fn command(&mut self, line: &[u8]) -> Flow {
        let req = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => {
                let r = parse_error_reply(e);
                self.reply(r);
                if self.error() {
                    self.reply(Reply::new(421, "4.7.0", "too many errors, closing"));
                    return Flow::Close;
                }
                return Flow::Continue;
            }
        };
        self.dispatch(req.into_owned()).await
    }

    async fn dispatch(&mut self, req: Request<String>) -> Flow {
        match req {
            Request::Ehlo { host } => self.cmd_ehlo(host, true),
            Request::Helo { host } => self.cmd_ehlo(host, false),
            Request::StartTls => return self.cmd_starttls().await,
            Request::Mail { from } => self.cmd_mail(from).await,
            Request::Rcpt { to } => self.cmd_rcpt(to).await,
            Request::Data => return self.cmd_data().await,
            Request::Rset => self.cmd_rset(),
            Request::Noop { .. } => self.reply(Reply::new(250, "2.0.0", "OK")),
            // RFC 5321 §3.5.3: 252 when we will not verify but will accept.
            Request::Vrfy { .. } => self.reply(Reply::new(
                252,
                "2.5.0",
                "cannot VRFY a user, but will take a message for a hosted address",
            )),
            Request::Expn { .. } => self.reply(Reply::new(502, "5.5.1", "EXPN is not available")),
            Request::Help { .. } => self.reply(Reply::new(214, "2.0.0", "mailhost: see RFC 5321")),
            Request::Quit => {
                self.reply(Reply::new(
                    221,
                    "2.0.0",
                    format!("{} closing connection", self.ctx.hostname),
                ));
                return Flow::Close;
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => return self.cmd_auth(mechanism, initial_response).await,
            Request::Bdat { .. }
            | Request::Lhlo { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                self.reply(Reply::new(502, "5.5.1", "command not implemented"))
            }
        }
        Flow::Continue
    }
}

fn parse_error_reply(e: smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => Reply::new(500, "5.5.1", "command unrecognized"),
        E::InvalidSenderAddress => Reply::new(501, "5.1.7", "invalid sender address syntax"),
        E::InvalidRecipientAddress => Reply::new(501, "5.1.3", "invalid recipient address syntax"),
        E::SyntaxError { syntax } => {
            Reply::new(501, "5.5.4", format!("syntax error, expected: {syntax}"))
        }
        E::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", format!("invalid value for parameter {param}"))
        }
        E::UnsupportedParameter { param } => {
            let p: String = param
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(40)
                .collect();
            Reply::new(555, "5.5.4", format!("unsupported parameter {p}"))
        }
        E::ResponseTooLong => Reply::new(500, "5.5.2", "line too long"),
        E::NeedsMoreData { .. } | E::InvalidResponse { .. } => {
            Reply::new(500, "5.5.2", "syntax error")
        }
    }
}

/// Runs one SMTP session on an accepted connection.
pub async fn session(conn: Conn, ctx: Arc<SmtpCtx>) {
    let info = SessionInfo {
        peer: conn.peer.ip(),
        service: ctx.service,
        tls: conn.is_tls(),
        helo: String::new(),
        account: None,
        identities: Vec::new(),
        profile: None,
    };
    let mut s = Session {
        conn,
        ctx,
        state: State::Fresh,
        info,
        env: Envelope::default(),
        esmtp: false,
        errors: 0,
        started: Instant::now(),
        auth_failures: 0,
        auth_via: None,
    };
    s.run().await;
    s.conn.close().await;
}
