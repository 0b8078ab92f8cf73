//! DATA (RFC 5321 §4.1.1.4): receive, add Received, store durably, reply.

use crate::data::{BareLf, DataReceiver, Outcome};
use crate::date::{now_secs, rfc5322};
use crate::headers::{self, Scan};
use crate::reply::Reply;
use crate::session::{Flow, Session, State};
use mailhost_net::ReadError;
use mailhost_policy::{DataCtx, Effects, Service, Verdict};
use mailhost_store::{NewMessage, Outbound};

/// Input buffered while streaming DATA.
const DATA_BUFFER: usize = 256 * 1024;

impl Session {
    pub(crate) async fn cmd_data(&mut self) -> Flow {
        match self.state {
            State::Rcpt => {}
            State::Mail => {
                // RFC 2920 §3.1: with pipelining, DATA after only failed RCPTs.
                self.reply(Reply::new(554, "5.5.1", "no valid recipients"));
                return Flow::Continue;
            }
            _ => {
                self.reply(Reply::new(503, "5.5.1", "send MAIL and RCPT first"));
                return Flow::Continue;
            }
        }
        self.reply(Reply::plain(
            354,
            vec!["start mail input; end with <CRLF>.<CRLF>".into()],
        ));

        let max = self.ctx.config.server.max_message_size.0;
        let mode = self.ctx.config.smtp.bare_lf;
        let mut rx = DataReceiver::new(max, mode);
        let qid = queue_id();
        let mut body = received_header(self, &qid);
        let trace_len = body.len();
        let timeout = self.ctx.config.limits.data_timeout.std();
        loop {
            match rx.feed(self.conn.buffered(), &mut body) {
                Outcome::Done(n) => {
                    self.conn.consume(n);
                    break;
                }
                Outcome::BareCr(_) | Outcome::BareLf(_) => {
                    let what = if mode == BareLf::Reject {
                        "CR or LF"
                    } else {
                        "CR"
                    };
                    tracing::info!(peer = %self.conn.peer, "bare {what} in DATA: closing");
                    self.reply(Reply::new(
                        554,
                        "5.6.0",
                        format!("bare {what} in message data; lines must end with CRLF (RFC 5321 section 2.3.8), closing"),
                    ));
                    return Flow::Close;
                }
                Outcome::NeedMore => {
                    let n = self.conn.buffered().len();
                    self.conn.consume(n);
                }
            }
            // During DATA a shutdown does not interrupt: the client gets to
            // finish within the grace period. The session deadline still
            // holds, so a client trickling bytes cannot stay forever.
            let left = self
                .ctx
                .config
                .limits
                .session_timeout
                .std()
                .saturating_sub(self.started.elapsed());
            match self
                .conn
                .read_more(timeout.min(left), None, DATA_BUFFER)
                .await
            {
                Ok(_) => {}
                Err(ReadError::Timeout) => {
                    self.reply(Reply::new(421, "4.4.2", "timeout during DATA, closing"));
                    return Flow::Close;
                }
                Err(_) => return Flow::Close,
            }
        }

        let env = std::mem::take(&mut self.env);
        self.state = State::Ready;
        if rx.normalized > 0 {
            // So a provider can see who still sends bare LFs (smtp.bare_lf).
            tracing::info!(
                peer = %self.conn.peer,
                account = self.info.account.as_deref().unwrap_or(""),
                queue_id = %qid,
                bare_lf = rx.normalized,
                "bare LF line ends stored as CRLF"
            );
        }
        let size = rx.size;
        let scan = if rx.over_limit() {
            Scan::default()
        } else {
            headers::scan(&body[trace_len..])
        };
        let max_received = self.ctx.config.delivery.max_received as usize;
        if scan.received + 1 > max_received {
            // RFC 5321 §6.3: a message that has passed too many hops loops.
            self.reply(Reply::new(
                554,
                "5.4.6",
                format!("mail loop: more than {max_received} Received headers"),
            ));
            return Flow::Continue;
        }
        if !env.forwards.is_empty() && !rx.over_limit() {
            // R-IN-4: a message that already passed one of its forwarding
            // addresses has come round (RFC 9228 Delivered-To).
            if let Some(f) = env
                .forwards
                .iter()
                .find(|f| scan.delivered_to.contains(&f.via.to_ascii_lowercase()))
            {
                tracing::info!(peer = %self.conn.peer, via = %f.via, rule = "R-IN-4", "mail forwarding loop refused");
                self.reply(Reply::new(
                    554,
                    "5.4.6",
                    format!(
                        "mail forwarding loop: this message was already forwarded by {} (R-IN-4)",
                        f.via
                    ),
                ));
                return Flow::Continue;
            }
        }
        let effects = Effects::default();
        let v = self
            .ctx
            .policy
            .on_data(&DataCtx {
                session: &self.info,
                sender: &env.sender,
                recipients: &env.rcpts,
                size,
                headers: &scan.facts,
                body: &body[trace_len..],
                effects: &effects,
            })
            .await;
        if v != Verdict::Allow {
            let about = mailhost_store::Evidence {
                queue_id: Some(qid.clone()),
                message_id: scan.message_id.clone(),
                headers: Some(headers::section(&body).to_vec()),
                ..Default::default()
            };
            self.refuse_message(&v, about).await;
            return Flow::Continue;
        }
        if self.ctx.service == Service::Mx {
            // Verified on the bytes as sent, before any part is removed.
            self.authenticate_inbound(&mut body, trace_len, &env.sender)
                .await;
        }
        // R-AV-1: once per message, before it is stored, queued or fanned
        // out (R-AV-5), and before DKIM signs what leaves.
        let checked = match self.virus_check(&mut body, trace_len, &qid).await {
            Ok(c) => c,
            Err(reply) => {
                self.reply(reply);
                return Flow::Continue;
            }
        };
        let trace_len = trace_len + checked.header_len;
        if !env.lists.is_empty() {
            // R-LIST-1/3: list commands take effect before the reply.
            let notes = match self
                .data_lists(&env.lists, &env.sender, scan.message_id.clone(), &body)
                .await
            {
                Ok(n) => n,
                Err(r) => {
                    self.reply(r);
                    return Flow::Continue;
                }
            };
            if env.deliveries.is_empty()
                && env.outbound.is_empty()
                && env.forwards.is_empty()
                && env.bounce.is_none()
                && !env.to_all
            {
                tracing::info!(qid, peer = %self.conn.peer, from = env.sender, "list commands done");
                let what = if notes.is_empty() {
                    String::new()
                } else {
                    format!("; {}", notes.join("; "))
                };
                self.reply(Reply::new(250, "2.0.0", format!("OK: done as {qid}{what}")));
                return Flow::Continue;
            }
        }
        let mut added_id = None;
        if self.ctx.service == Service::Submission {
            // RFC 6409 §8.2, §8.3: a submission server may add a missing
            // Date and Message-ID.
            let mut add = String::new();
            let id = format!("<{}.{qid}@{}>", now_secs(), self.ctx.hostname);
            if !scan.has_date {
                add.push_str(&format!("Date: {}\r\n", rfc5322(now_secs())));
            }
            if !scan.has_message_id {
                add.push_str(&format!("Message-ID: {id}\r\n"));
                added_id = Some(id);
            }
            body.splice(trace_len..trace_len, add.into_bytes());
            self.dkim_sign(&mut body, &scan).await;
        }
        // R-IN-3: a mailbox the message does not fit refuses it (452) when
        // it is the only place the message goes; otherwise its copy is left
        // out and the sender told (a DSN with the message), so one full
        // mailbox does not hold back the others.
        let dq = self.ctx.config.policy.quota.0;
        let split = crate::services::split_by_quota(&env, body.len(), dq);
        for (a, size) in &split.refused {
            tracing::info!(qid, mailbox = %a.address, size, rule = "R-IN-3", "over quota");
        }
        if split.deliveries.is_empty()
            && env.outbound.is_empty()
            && env.forwards.is_empty()
            && env.bounce.is_none()
        {
            let who = split
                .refused
                .first()
                .map(|(a, _)| a.address.clone())
                .unwrap_or_default();
            self.notify_full(split.refused);
            self.reply(Reply::new(
                452,
                "4.2.2",
                format!("mailbox {who} has no room for this message ({size} bytes); try again later (R-IN-3)"),
            ));
            return Flow::Continue;
        }
        let mut outbound = env
            .outbound
            .iter()
            .map(|r| Outbound {
                sender: env.sender.clone(),
                rcpt: r.clone(),
                account: self.info.account.clone(),
            })
            .collect::<Vec<_>>();
        let remote_count = outbound.len() as i64;
        let (forwards, mut counts) = crate::services::forward_copies(
            self.ctx.srs.as_deref(),
            &env.sender,
            self.info.account.is_some(),
            &env.forwards,
        );
        if let Some(b) = &env.bounce {
            // R-IN-4: a bounce to an SRS address goes on with the null
            // sender, counted for the domain that forwarded the original.
            outbound.push(Outbound {
                sender: String::new(),
                rcpt: b.to.clone(),
                account: None,
            });
            counts.push((
                format!("postmaster@{}", b.via_domain),
                b.via_domain.clone(),
                1,
            ));
        }
        let queued = !outbound.is_empty() || !forwards.is_empty();
        let mut msg = NewMessage {
            deliveries: split.deliveries,
            forwards,
            counts,
            ..Default::default()
        };
        if !split.refused.is_empty() {
            let left_out: Vec<String> = split
                .refused
                .iter()
                .map(|(a, _)| a.address.clone())
                .collect();
            // The sender learns which copies did not fit, in the same
            // transaction as the message.
            match crate::services::full_notice(
                &self.ctx.store,
                &self.ctx.hostname,
                &env.sender,
                &left_out,
                &body,
            )
            .await
            {
                Ok(Some(n)) => msg.also.push(n),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(qid, "delivery notice for full mailboxes: {e}");
                    self.reply(Reply::new(
                        451,
                        "4.3.0",
                        "temporary storage failure; try again later",
                    ));
                    return Flow::Continue;
                }
            }
        }
        if let Some(b) = &env.bounce {
            // R-ABUSE-3: what leaves through an SRS address, and from whom.
            msg.evidence.push(mailhost_store::Evidence {
                ip: self.conn.peer.ip().to_string(),
                account: None,
                rule: "R-IN-4".into(),
                decision: "accept".into(),
                reply: format!(
                    "250 2.0.0 OK: queued as {qid}: bounce returned to {} through SRS",
                    b.to
                ),
                service: self.service_name().into(),
                queue_id: Some(qid.clone()),
                message_id: scan.message_id.clone(),
                headers: Some(headers::section(&body).to_vec()),
                ..Default::default()
            });
        }
        if let (Service::Submission, Some(account)) = (self.ctx.service, &self.info.account) {
            // R-OUT-6/R-OUT-7 count what leaves the server; R-ABUSE-3 keeps
            // who sent what, from where, with its headers for abuse reports.
            // all@ counts as one message however many copies (R-ADDR-5).
            let counted = remote_count + i64::from(env.to_all);
            if counted > 0 {
                let domain = account.rsplit_once('@').map_or("", |(_, d)| d).to_string();
                msg.send_log = Some((account.clone(), domain, counted));
                let p = &self.ctx.policy.config.policy;
                msg.domain_limit = p.enforce.then_some(p.domain_hourly_limit as i64);
            }
            let headers = headers::section(&body).to_vec();
            msg.evidence.push(mailhost_store::Evidence {
                ip: self.conn.peer.ip().to_string(),
                account: Some(account.clone()),
                rule: "R-ABUSE-3".into(),
                decision: "accept".into(),
                reply: format!("250 2.0.0 OK: queued as {qid}"),
                service: "submission".into(),
                queue_id: Some(qid.clone()),
                message_id: scan.message_id.clone().or(added_id.clone()),
                headers: Some(headers),
                ..Default::default()
            });
        }
        if !checked.removed.is_empty() {
            // R-AV-3: the removal, who sent it and from where, for the
            // evidence log; the removed content itself is not kept.
            msg.evidence.push(mailhost_store::Evidence {
                ip: self.conn.peer.ip().to_string(),
                account: self.info.account.clone(),
                rule: "R-AV-3".into(),
                decision: "removed".into(),
                reply: checked.describe(),
                service: self.service_name().into(),
                queue_id: Some(qid.clone()),
                message_id: scan.message_id.clone().or(added_id.clone()),
                headers: Some(headers::section(&body).to_vec()),
                ..Default::default()
            });
        }
        msg.body = body;
        if !msg.deliveries.is_empty() {
            // R-POP-5: IMAP's ENVELOPE and BODYSTRUCTURE, computed once
            // for every mailbox that gets the body.
            let s = mailhost_imap_body::summarize(&msg.body);
            msg.summary = Some(mailhost_store::BlobSummary {
                envelope: s.envelope,
                body: s.body,
                bodystructure: s.bodystructure,
                sent_at: s.sent_date,
            });
        }
        msg.outbound = outbound;
        let bulk = effects.bulk.into_inner().unwrap_or_else(|p| p.into_inner());
        msg.bulk = bulk.clone();
        let notice_queued = msg.also.iter().any(|m| !m.outbound.is_empty());
        let sent = msg.send_log.clone();
        let after = crate::services::After::needed(&split.stored, &split.refused, dq).then(|| {
            self.after(
                &env.sender,
                split.stored,
                split.refused,
                headers::section(&msg.body).to_vec(),
            )
        });
        let stored = msg.body.len() as u64;
        match self.ctx.store.deliver(msg).await {
            Ok(_) => {
                if let Some(space) = &self.ctx.space {
                    space.charge(stored);
                }
                if let Some(t) = &bulk {
                    self.ctx.policy.bulk.learn(t);
                }
                if let Some((account, domain, n)) = &sent {
                    self.ctx.policy.state.sent(account, domain, *n);
                }
                if let (true, Some(w)) = (queued || notice_queued, &self.ctx.wake) {
                    w.notify_one();
                }
                if let Some(a) = after {
                    tokio::spawn(a.run());
                }
                if let (false, Some(account)) = (checked.removed.is_empty(), &self.info.account) {
                    self.infected_submissions(account).await;
                }
                tracing::info!(qid, peer = %self.conn.peer, from = env.sender, rcpts = env.rcpts.len(), size, "delivered");
                self.reply(Reply::new(250, "2.0.0", format!("OK: queued as {qid}")));
            }
            Err(e) => {
                tracing::error!(qid, "storing message: {e}");
                self.reply(Reply::new(
                    451,
                    "4.3.0",
                    "temporary storage failure; try again later",
                ));
            }
        }
        Flow::Continue
    }
}

impl Session {
    /// R-OUT-9: DKIM-signs submitted mail with the From: domain's key
    /// (RFC 6376), prepending the signature. A domain without a key, or a
    /// signing error, leaves the message unsigned rather than refusing it.
    async fn dkim_sign(&self, body: &mut Vec<u8>, scan: &Scan) {
        let (Some(signer), Some(from)) = (&self.ctx.signer, scan.facts.from.first()) else {
            return;
        };
        let Some((_, domain)) = from.rsplit_once('@') else {
            return;
        };
        match signer.sign(domain, body).await {
            Ok(Some(sig)) => {
                body.splice(0..0, sig);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(domain, "DKIM signing failed: {e}"),
        }
    }

    /// R-IN-6: SPF, DKIM and DMARC results for mail from the world, as an
    /// Authentication-Results header at the top (RFC 8601 §5). Headers that
    /// claim to come from this host are removed first: only we may say
    /// what we verified.
    async fn authenticate_inbound(&self, body: &mut Vec<u8>, trace_len: usize, sender: &str) {
        let Some(v) = &self.ctx.verifier else { return };
        let removed = headers::strip_auth_results(body, trace_len, &self.ctx.hostname);
        if removed > 0 {
            tracing::info!(peer = %self.conn.peer, removed, "removed forged Authentication-Results headers");
        }
        let ar = v
            .authentication_results(
                &self.ctx.hostname,
                &body[trace_len..],
                self.conn.peer.ip(),
                &self.info.helo,
                sender,
            )
            .await;
        body.splice(0..0, ar.into_bytes());
    }
}

/// 64 random bits, hex: names the message in replies and logs.
fn queue_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

/// RFC 5321 §4.4 trace header; `with` per RFC 3848.
fn received_header(s: &Session, qid: &str) -> Vec<u8> {
    let ip = s.conn.peer.ip();
    let literal = match ip {
        std::net::IpAddr::V4(v) => format!("[{v}]"),
        std::net::IpAddr::V6(v) => format!("[IPv6:{v}]"),
    };
    // RFC 3848: S for TLS, A for SMTP AUTH.
    let with = match (s.esmtp, s.conn.is_tls(), s.auth_via == Some("AUTH")) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    };
    // R-OUT-4: the Received header records who submitted, from which IP.
    let auth = match (&s.info.account, s.auth_via) {
        (Some(a), Some(via)) => format!(" (authenticated as {a} by {via})"),
        _ => String::new(),
    };
    let helo: String = s
        .info
        .helo
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    let for_clause = match s.env.rcpts.as_slice() {
        [one] => format!("\r\n\tfor <{one}>"),
        _ => String::new(),
    };
    format!(
        "Received: from {helo} ({literal}){auth}\r\n\tby {} (mailhost) with {with} id {qid}{for_clause};\r\n\t{}\r\n",
        s.ctx.hostname,
        rfc5322(now_secs())
    )
    .into_bytes()
}
