//! EHLO/HELO, STARTTLS, MAIL, RCPT, RSET.

use crate::reply::Reply;
use crate::session::{Envelope, Flow, Session, State};
use mailhost_policy::{MailCtx, RcptCtx, Service, Verdict};
use mailhost_store::Resolved;
use smtp_proto::{MailFrom, RcptTo, MAIL_BODY_BINARYMIME, MAIL_REQUIRETLS, MAIL_SMTPUTF8};

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
const MAX_PATH: usize = 256;

impl Session {
    /// EHLO/HELO (RFC 5321 §4.1.1.1): resets any transaction.
    pub(crate) fn cmd_ehlo(&mut self, host: String, esmtp: bool) {
        let host = host.trim().to_string();
        if host.is_empty() || host.len() > 255 || !host.bytes().all(|b| b.is_ascii_graphic()) {
            self.reply(Reply::new(
                501,
                "5.5.4",
                "syntax: EHLO <your host name or [address literal]>",
            ));
            return;
        }
        self.env = Envelope::default();
        self.state = State::Ready;
        self.esmtp = esmtp;
        self.info.helo = host;
        if !esmtp {
            self.reply(Reply::plain(250, vec![self.ctx.hostname.clone()]));
            return;
        }
        let mut lines = vec![
            format!("{} greets {}", self.ctx.hostname, self.info.helo),
            "PIPELINING".into(),
            format!("SIZE {}", self.ctx.config.server.max_message_size.0),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.ctx.tls.is_some() && !self.conn.is_tls() {
            lines.push("STARTTLS".into());
        }
        // R-OUT-1/R-OUT-3: AUTH only on the submission ports, only under TLS.
        if self.ctx.service == Service::Submission && self.conn.is_tls() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        self.reply(Reply::plain(250, lines));
    }

    /// STARTTLS (RFC 3207). Pipelined input after the command is discarded
    /// by `Conn::start_tls`, and the session starts over (§4.2).
    pub(crate) async fn cmd_starttls(&mut self) -> Flow {
        let Some(acc) = self.ctx.tls.clone() else {
            self.reply(Reply::new(454, "4.7.0", "TLS not available"));
            return Flow::Continue;
        };
        if self.conn.is_tls() {
            self.reply(Reply::new(503, "5.5.1", "TLS already active"));
            return Flow::Continue;
        }
        if self.state == State::Fresh {
            self.reply(Reply::new(503, "5.5.1", "send EHLO first"));
            return Flow::Continue;
        }
        self.reply(Reply::new(220, "2.0.0", "ready to start TLS"));
        let timeout = self.ctx.config.limits.command_timeout.std();
        if let Err(e) = self.conn.start_tls(&acc, timeout).await {
            tracing::debug!(peer = %self.conn.peer, "STARTTLS failed: {e}");
            return Flow::Close;
        }
        self.state = State::Fresh;
        self.env = Envelope::default();
        self.info.tls = true;
        self.info.helo.clear();
        Flow::Continue
    }

    pub(crate) async fn cmd_mail(&mut self, from: MailFrom<String>) {
        match self.state {
            State::Fresh => return self.reply(Reply::new(503, "5.5.1", "send EHLO or HELO first")),
            State::Mail | State::Rcpt => {
                return self.reply(Reply::new(
                    503,
                    "5.5.1",
                    "nested MAIL command: one transaction at a time",
                ))
            }
            State::Ready => {}
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        if (smtputf8 || from.flags & MAIL_REQUIRETLS != 0 || from.flags & MAIL_BODY_BINARYMIME != 0)
            && !self.esmtp
        {
            return self.reply(Reply::new(555, "5.5.4", "MAIL parameters need EHLO"));
        }
        if from.flags & (MAIL_REQUIRETLS | MAIL_BODY_BINARYMIME) != 0 {
            return self.reply(Reply::new(
                555,
                "5.5.4",
                "REQUIRETLS and BODY=BINARYMIME are not supported",
            ));
        }
        if from.address.len() > MAX_PATH {
            return self.reply(Reply::new(501, "5.1.7", "sender address too long"));
        }
        // RFC 6531 §3.4: non-ASCII addresses need SMTPUTF8.
        if !smtputf8 && !from.address.is_ascii() {
            return self.reply(Reply::new(
                553,
                "5.6.7",
                "non-ASCII sender address needs the SMTPUTF8 parameter",
            ));
        }
        let declared = (from.size > 0).then_some(from.size as u64);
        // A declared size over the limit gets its 552 from the policy
        // (R-IN-2), not a 452 to retry for days.
        let oversize = declared.is_some_and(|n| n > self.ctx.config.server.max_message_size.0);
        if let (Some(space), false) = (&self.ctx.space, oversize) {
            // RFC 3463 X.3.1 "mail system full"; 452 is "insufficient system
            // storage" (RFC 5321 §4.2.2, RFC 1870 §6.1 for a declared SIZE).
            if let Err(low) = space.check(declared.unwrap_or(0)).await {
                tracing::info!(peer = %self.conn.peer, free = low.free, min_free_space = low.min, need = low.need, "MAIL refused: mail system full");
                let text = if low.need > 0 {
                    format!(
                        "mail system full: no room for a message of {} bytes now; try again later",
                        low.need
                    )
                } else {
                    "mail system full: too little free space to take new mail now; try again later"
                        .into()
                };
                return self.reply(Reply::new(452, "4.3.1", text));
            }
        }
        if self.ctx.service == Service::Submission && self.info.account.is_none() {
            self.pop_before_smtp().await;
        }
        let v = self
            .ctx
            .policy
            .on_mail(&MailCtx {
                session: &self.info,
                sender: &from.address,
                declared_size: declared,
            })
            .await;
        if self.refuse(&v).await {
            return;
        }
        self.env = Envelope {
            sender: from.address,
            smtputf8,
            declared,
            ..Default::default()
        };
        self.state = State::Mail;
        self.reply(Reply::new(250, "2.1.0", "sender OK"));
    }

    pub(crate) async fn cmd_rcpt(&mut self, to: RcptTo<String>) {
        if !matches!(self.state, State::Mail | State::Rcpt) {
            return self.reply(Reply::new(503, "5.5.1", "send MAIL first"));
        }
        if to.address.len() > MAX_PATH || to.address.is_empty() {
            return self.reply(Reply::new(501, "5.1.3", "invalid recipient address"));
        }
        if !self.env.smtputf8 && !to.address.is_ascii() {
            return self.reply(Reply::new(
                553,
                "5.6.7",
                "non-ASCII recipient address needs SMTPUTF8 on MAIL",
            ));
        }
        // R-IN-4: a bounce to the return address of forwarded mail.
        if self.rcpt_srs(&to.address).await {
            return;
        }
        let resolved = match self.ctx.store.resolve(&to.address).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("resolving {}: {e}", to.address);
                return self.reply(Reply::new(
                    451,
                    "4.3.0",
                    "temporary lookup failure; try again later",
                ));
            }
        };
        let v = self
            .ctx
            .policy
            .on_rcpt(&RcptCtx {
                session: &self.info,
                sender: &self.env.sender,
                recipient: &to.address,
                resolved: &resolved,
                accepted: self.env.rcpts.len(),
                remote_accepted: self.env.outbound.len(),
            })
            .await;
        if self.refuse(&v).await {
            return;
        }
        let mut resolved = resolved;
        if let Resolved::List { list, command } = &resolved {
            match self
                .rcpt_list(&to.address, &list.clone(), &command.clone())
                .await
            {
                Ok(Some(owner)) => resolved = owner,
                Ok(None) => {
                    self.env.rcpts.push(to.address);
                    self.state = State::Rcpt;
                    return self.reply(Reply::new(250, "2.1.5", "recipient OK"));
                }
                Err(r) => return self.reply(r),
            }
        }
        match resolved {
            Resolved::Deliver(_) | Resolved::All(_) | Resolved::Postmaster(_) => {
                let planned = match self.plan(&to.address, &resolved).await {
                    Ok(Some(p)) => p,
                    Ok(None) => {
                        return self.reply(Reply::new(550, "5.1.1", "recipient not accepted"))
                    }
                    Err(e) => {
                        tracing::error!("planning delivery to {}: {e}", to.address);
                        return self.reply(Reply::new(
                            451,
                            "4.3.0",
                            "temporary lookup failure; try again later",
                        ));
                    }
                };
                if let Err(r) = self.take_plan(&to.address, planned) {
                    return self.reply(r);
                }
                self.env.to_all |= matches!(resolved, Resolved::All(_));
            }
            // Relaying for an authenticated customer (the relay rule let it
            // through): queued for delivery.
            Resolved::NotHosted if self.info.account.is_some() => {
                if !self
                    .env
                    .outbound
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&to.address))
                {
                    self.env.outbound.push(to.address.clone());
                }
            }
            _ => {
                // Every other outcome is refused by a rule above; reaching
                // here means a rule is missing, so refuse rather than lose mail.
                debug_assert!(v == Verdict::Allow);
                return self.reply(Reply::new(550, "5.1.1", "recipient not accepted"));
            }
        }
        self.env.rcpts.push(to.address);
        self.state = State::Rcpt;
        self.reply(Reply::new(250, "2.1.5", "recipient OK"));
    }

    /// R-OUT-2: a recent POP3 login from this IP stands in for AUTH.
    async fn pop_before_smtp(&mut self) {
        let ip = self.conn.peer.ip().to_string();
        let Ok(Some(account)) = self.ctx.store.pop_granted(&ip).await else {
            return;
        };
        match self.sign_in(&account).await {
            Ok(()) => {
                tracing::info!(peer = %self.conn.peer, account, "authorized by POP-before-SMTP");
                self.auth_via = Some("POP-before-SMTP");
            }
            Err(e) => tracing::error!("sender profile of {account}: {e}"),
        }
    }

    pub(crate) fn cmd_rset(&mut self) {
        self.env = Envelope::default();
        if self.state != State::Fresh {
            self.state = State::Ready;
        }
        self.reply(Reply::new(250, "2.0.0", "OK"));
    }
}
