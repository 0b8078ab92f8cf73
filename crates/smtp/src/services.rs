//! The mailbox services at each step of a transaction: SRS bounces and
//! recipient plans at RCPT (R-IN-4, R-ADDR-4, R-ADDR-5), quota (R-IN-3)
//! and forwarding loops at end of DATA, and, once the message is stored,
//! the quota notices and the autoresponder (R-IN-5).

use crate::reply::Reply;
use crate::session::{Bounce, Envelope, Session, State};
use mailhost_mailbox::{autoreply, expand, notice, srs, Plan};
use mailhost_policy::{Refusal, Verdict};
use mailhost_store::{quota, Account, ForwardCopy, NewMessage, Outbound, Resolved, Store};
use std::sync::Arc;

/// Whether `size` more bytes fit in the mailbox.
pub(crate) fn fits(a: &Account, size: u64, default_quota: u64) -> bool {
    let q = a.quota.unwrap_or(default_quota as i64);
    a.used.saturating_add(size as i64) <= q && a.used < q.max(1)
}

fn over_quota(addr: &str, size: u64) -> Reply {
    let what = if size > 0 {
        format!("has no room for a message of {size} bytes")
    } else {
        "is full".to_string()
    };
    Reply::new(
        452,
        "4.2.2",
        format!("mailbox {addr} {what}; try again later (R-IN-3)"),
    )
}

impl Session {
    fn default_quota(&self) -> u64 {
        self.ctx.config.policy.quota.0
    }

    /// RCPT to `local@domain` in SRS form at a hosted domain: a bounce of
    /// mail we forwarded, going back to its sender (R-IN-4). Returns false
    /// when the address is not SRS at all.
    pub(crate) async fn rcpt_srs(&mut self, rcpt: &str) -> bool {
        let Some(srs) = self.ctx.srs.clone() else {
            return false;
        };
        let Some((local, domain)) = rcpt.rsplit_once('@') else {
            return false;
        };
        if !srs::is_srs(local) || !matches!(self.ctx.store.is_hosted(domain).await, Ok(true)) {
            return false;
        }
        let refuse = |text: String| Verdict::Refuse(Refusal::new(550, "5.7.1", "R-IN-4", text));
        if !self.env.sender.is_empty() {
            let v = refuse(format!(
                "{rcpt} is the return address of forwarded mail and takes only bounces (null sender)"
            ));
            self.refuse(&v).await;
            return true;
        }
        let now = crate::date::now_secs() as u64;
        let orig = match srs.reverse(local, now) {
            Ok(o) => o,
            Err(e) => {
                let v = refuse(format!("{rcpt}: {e}; no such return address"));
                self.refuse(&v).await;
                return true;
            }
        };
        match self.ctx.store.resolve(&orig).await {
            Ok(Resolved::Deliver(accts)) => {
                for account in accts {
                    self.add_dest(account);
                }
            }
            Ok(Resolved::NotHosted) => {
                // A bounce has one recipient, its envelope sender; more SRS
                // recipients in one message would make this a relay.
                if self.env.bounce.is_some() {
                    self.reply(Reply::new(
                        452,
                        "4.5.3",
                        "one SRS return address per message; send the others separately (R-IN-4)",
                    ));
                    return true;
                }
                // What goes back out through SRS counts for the domain that
                // forwarded (R-OUT-7), and stops at its hourly limit.
                let p = &self.ctx.config.policy;
                if p.enforce {
                    let sent = self
                        .ctx
                        .policy
                        .state
                        .sent_by_domain(domain, mailhost_store::now_ms())
                        .await
                        .unwrap_or(0);
                    if sent >= i64::from(p.domain_hourly_limit) {
                        let v = Verdict::Refuse(Refusal::new(
                            450,
                            "4.7.1",
                            "R-OUT-7",
                            format!("{domain} has reached its hourly limit; bounces to its SRS addresses wait"),
                        ));
                        self.refuse(&v).await;
                        return true;
                    }
                }
                self.env.bounce = Some(Bounce {
                    to: orig.clone(),
                    via_domain: domain.to_ascii_lowercase(),
                });
            }
            Ok(_) => {
                let v = refuse(format!("{rcpt}: the original sender {orig} takes no mail"));
                self.refuse(&v).await;
                return true;
            }
            Err(e) => {
                tracing::error!("resolving {orig}: {e}");
                self.reply(Reply::new(
                    451,
                    "4.3.0",
                    "temporary lookup failure; try again later",
                ));
                return true;
            }
        }
        tracing::info!(peer = %self.conn.peer, rcpt, to = orig, "bounce to an SRS address returned to its sender");
        self.env.rcpts.push(rcpt.to_string());
        self.state = State::Rcpt;
        self.reply(Reply::new(
            250,
            "2.1.5",
            "recipient OK (bounce returned to its sender)",
        ));
        true
    }

    /// Where mail for a hosted recipient goes; None when the resolution
    /// is not a delivery (refused earlier by the rules).
    pub(crate) async fn plan(
        &self,
        rcpt: &str,
        resolved: &Resolved,
    ) -> mailhost_store::Result<Option<Plan>> {
        let store = &self.ctx.store;
        Ok(Some(match resolved {
            Resolved::Deliver(accts) => expand::expand(store, accts.clone()).await?,
            Resolved::All(domain) => {
                expand::expand(store, store.all_members(domain).await?).await?
            }
            Resolved::Postmaster(contact) => expand::postmaster(store, rcpt, contact).await?,
            _ => return Ok(None),
        }))
    }

    /// Takes a plan into the envelope, or refuses it: a plan that leads
    /// nowhere is a forwarding loop; one whose every mailbox is full gets
    /// 452 (R-IN-3).
    pub(crate) fn take_plan(&mut self, rcpt: &str, plan: Plan) -> Result<(), Reply> {
        if plan.is_empty() {
            return Err(Reply::new(
                550,
                "5.4.6",
                format!("mail for {rcpt} has nowhere to go: its forwarding leads back to itself (a loop, R-IN-4) or its contact takes no mail (R-ADDR-4)"),
            ));
        }
        let size = self.env.declared.unwrap_or(0);
        let dq = self.default_quota();
        if plan.remote.is_empty() && !plan.local.iter().any(|a| fits(a, size, dq)) {
            let full = plan
                .local
                .first()
                .map_or(rcpt, |a| a.address.as_str())
                .to_string();
            self.notify_full(
                plan.local
                    .iter()
                    .map(|a| (a.clone(), size.max(1) as i64))
                    .collect(),
            );
            return Err(over_quota(&full, size));
        }
        for account in plan.local {
            self.add_dest(account);
        }
        for f in plan.remote {
            if !self
                .env
                .forwards
                .iter()
                .any(|x| x.dest.eq_ignore_ascii_case(&f.dest))
            {
                self.env.forwards.push(f);
            }
        }
        Ok(())
    }

    /// The work to do once a message is stored (or refused).
    pub(crate) fn after(
        &self,
        sender: &str,
        stored: Vec<(Account, i64)>,
        refused: Vec<(Account, i64)>,
        message: Vec<u8>,
    ) -> After {
        After {
            store: self.ctx.store.clone(),
            config: self.ctx.config.clone(),
            hostname: self.ctx.hostname.clone(),
            signer: self.ctx.signer.clone(),
            scanner: self.ctx.scanner.clone(),
            wake: self.ctx.wake.clone(),
            sender: sender.to_string(),
            stored,
            refused,
            message,
        }
    }

    /// R-IN-3: mailboxes that refused a message for want of room get
    /// their "exceeded" notice (once), off the session's path.
    pub(crate) fn notify_full(&self, refused: Vec<(Account, i64)>) {
        if After::needed(&[], &refused, self.default_quota()) {
            tokio::spawn(self.after("", vec![], refused, vec![]).run());
        }
    }

    fn add_dest(&mut self, account: Account) {
        if !self.env.deliveries.iter().any(|x| x.id == account.id) {
            self.env.deliveries.push(account);
        }
    }
}

/// Hourly counts (account, domain, recipients), as `NewMessage::counts`.
pub(crate) type Counts = Vec<(String, String, i64)>;

/// The forwarded copies: one per forwarding address, with its
/// Delivered-To and an SRS sender — unless the sender authenticated
/// (its address is its own, R-OUT-4, and its domain's SPF names us) or is
/// the null sender. A claimed hosted sender from outside is rewritten
/// like any other: otherwise forwarding would lend it our SPF. With them,
/// what each forwarding mailbox sends out, counted for it and its domain
/// (R-OUT-6/7).
pub(crate) fn forward_copies(
    srs: Option<&srs::Srs>,
    sender: &str,
    authenticated: bool,
    forwards: &[mailhost_mailbox::Forward],
) -> (Vec<ForwardCopy>, Counts) {
    let now = crate::date::now_secs() as u64;
    let mut copies: Vec<(String, ForwardCopy)> = Vec::new();
    for f in forwards {
        let via_domain = f.via.rsplit_once('@').map_or("", |(_, d)| d);
        let env_from = match srs {
            Some(s) if !authenticated => s.forward(sender, via_domain, now),
            _ => sender.to_string(),
        };
        let o = Outbound {
            sender: env_from,
            rcpt: f.dest.clone(),
            account: None,
        };
        match copies.iter_mut().find(|(v, _)| *v == f.via) {
            Some((_, c)) => c.outbound.push(o),
            None => copies.push((
                f.via.clone(),
                ForwardCopy {
                    prefix: format!("Delivered-To: {}\r\n", f.via).into_bytes(),
                    outbound: vec![o],
                },
            )),
        }
    }
    let counts = copies
        .iter()
        .map(|(via, c)| {
            let domain = via.rsplit_once('@').map_or("", |(_, d)| d).to_string();
            (via.clone(), domain, c.outbound.len() as i64)
        })
        .collect();
    (copies.into_iter().map(|(_, c)| c).collect(), counts)
}

/// The receiving mailboxes of a message of `body_len` bytes, by whether it
/// fits (R-IN-3).
#[derive(Default)]
pub(crate) struct QuotaSplit {
    /// (mailbox id, its Return-Path and Delivered-To) where it fits.
    pub deliveries: Vec<(i64, Vec<u8>)>,
    /// Those mailboxes, with their usage once it is stored.
    pub stored: Vec<(Account, i64)>,
    /// Mailboxes it does not fit, with its size there.
    pub refused: Vec<(Account, i64)>,
}

pub(crate) fn split_by_quota(env: &Envelope, body_len: usize, default_quota: u64) -> QuotaSplit {
    let mut q = QuotaSplit::default();
    for a in &env.deliveries {
        // Return-Path (RFC 5321 §4.4) and Delivered-To (RFC 9228).
        let prefix = format!(
            "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
            env.sender, a.address
        )
        .into_bytes();
        let size = (body_len + prefix.len()) as i64;
        if fits(a, size as u64, default_quota) {
            q.deliveries.push((a.id, prefix));
            q.stored.push((a.clone(), a.used + size));
        } else {
            q.refused.push((a.clone(), size));
        }
    }
    q
}

/// The delivery notice (RFC 3464) for copies of a fan-out left out because
/// their mailbox was full (R-IN-3): to the sender's mailbox, or queued with
/// the null sender. None for the null sender (never bounce a bounce).
pub(crate) async fn full_notice(
    store: &Store,
    hostname: &str,
    sender: &str,
    mailboxes: &[String],
    original: &[u8],
) -> mailhost_store::Result<Option<NewMessage>> {
    use mailhost_delivery::dsn;
    if sender.is_empty() {
        return Ok(None);
    }
    let failure =
        mailhost_delivery::outcome::Failure::local(true, "5.2.2", "the mailbox is full (R-IN-3)");
    let now = mailhost_store::now_ms();
    let body = dsn::build(&dsn::Report {
        hostname,
        to: sender,
        action: dsn::Action::Failed,
        arrival_ms: now,
        last_attempt_ms: now,
        rcpts: mailboxes
            .iter()
            .map(|addr| dsn::Recipient {
                addr,
                failure: &failure,
            })
            .collect(),
        original,
    });
    let mut msg = NewMessage {
        body,
        ..Default::default()
    };
    if !store.address_notice(sender, None, &mut msg).await? {
        return Ok(None);
    }
    Ok(Some(msg))
}

/// What runs once a message is stored, off the session's path: a notice
/// for each mailbox that crossed 90 % or 100 % (R-IN-3), and the
/// autoresponder's replies (R-IN-5).
pub(crate) struct After {
    pub store: Store,
    pub config: Arc<mailhost_config::Config>,
    pub hostname: String,
    pub signer: Option<Arc<mailhost_mailauth::Signer>>,
    /// Replies are checked like any message (R-AV-5).
    pub scanner: Option<mailhost_antivirus::Scanner>,
    pub wake: Option<Arc<tokio::sync::Notify>>,
    pub sender: String,
    /// (mailbox, its usage after this message)
    pub stored: Vec<(Account, i64)>,
    /// (mailbox, the size of a message it had to refuse): it is full, and
    /// says so once (R-IN-3).
    pub refused: Vec<(Account, i64)>,
    /// The message as received, without our trace header.
    pub message: Vec<u8>,
}

impl After {
    /// Whether anything is to be done.
    pub fn needed(
        stored: &[(Account, i64)],
        refused: &[(Account, i64)],
        default_quota: u64,
    ) -> bool {
        stored.iter().any(|(a, used)| {
            a.autoreply
                || quota::level(*used, a.quota.unwrap_or(default_quota as i64)) > a.quota_level
        }) || refused.iter().any(|(a, _)| a.quota_level < quota::FULL)
    }

    pub async fn run(self) {
        let dq = self.config.policy.quota.0 as i64;
        let mut woke = false;
        // A mailbox that refused a message is full for mail of that size,
        // though its usage may stay under the quota: the "exceeded"
        // notice goes then, once, as long as usage has not fallen since.
        for (a, size) in &self.refused {
            let q = a.quota.unwrap_or(dq);
            if a.quota_level < quota::FULL {
                // Not for a message merely larger than the room left in a
                // mailbox below 90 %: that one is not full.
                let threshold = (q - size + 1).max(quota::line(quota::WARNED, q)).min(q);
                match self.notice(a, quota::FULL, q, threshold).await {
                    Ok(queued) => woke |= queued,
                    Err(e) => tracing::warn!(mailbox = %a.address, "quota notice: {e}"),
                }
            }
        }
        for (a, used) in &self.stored {
            let q = a.quota.unwrap_or(dq);
            let level = quota::level(*used, q);
            if level > a.quota_level {
                match self.notice(a, level, q, quota::line(level, q)).await {
                    Ok(queued) => woke |= queued,
                    Err(e) => tracing::warn!(mailbox = %a.address, "quota notice: {e}"),
                }
            }
            if a.autoreply {
                match self.autoreply(a).await {
                    Ok(queued) => woke |= queued,
                    Err(e) => tracing::warn!(mailbox = %a.address, "autoreply: {e}"),
                }
            }
        }
        if let (true, Some(w)) = (woke, &self.wake) {
            w.notify_one();
        }
    }

    /// R-IN-3: to the mailbox and the domain's contact, once per crossing
    /// (the store decides, atomically with the level). Delivered even
    /// into a full mailbox: nothing checks the quota here.
    async fn notice(
        &self,
        a: &Account,
        level: i64,
        q: i64,
        threshold: i64,
    ) -> mailhost_store::Result<bool> {
        let domain = a.address.rsplit_once('@').map_or("", |(_, d)| d);
        let contact = self.store.domain_contact(domain).await?;
        let mut to = vec![a.address.as_str()];
        if !contact.eq_ignore_ascii_case(&a.address) {
            to.push(&contact);
        }
        let body = notice::build(level, &a.address, q, &to, &self.hostname);
        let mut msg = NewMessage {
            body,
            ..Default::default()
        };
        for t in &to {
            self.store.address_notice(t, None, &mut msg).await?;
        }
        let queued = !msg.outbound.is_empty();
        if msg.deliveries.is_empty() && !queued {
            return Ok(false);
        }
        let sent = self.store.quota_notice(a.id, level, threshold, msg).await?;
        if sent {
            tracing::info!(mailbox = %a.address, level, quota = q, rule = "R-IN-3", "quota notice sent");
        }
        Ok(sent && queued)
    }

    /// R-IN-5, RFC 3834.
    async fn autoreply(&self, a: &Account) -> mailhost_store::Result<bool> {
        let Some(ar) = self.store.autoreply_get(a.id).await? else {
            return Ok(false);
        };
        if !ar.active(mailhost_store::now_ms()) {
            return Ok(false);
        }
        let Some(msg) = mail_parser::MessageParser::default().parse_headers(&self.message[..])
        else {
            return Ok(false);
        };
        let names = self.store.identities(&a.address).await?;
        if let Some(why) = autoreply::refusal(&self.sender, &msg, &names) {
            tracing::debug!(mailbox = %a.address, sender = %self.sender, why, "no autoreply");
            return Ok(false);
        }
        let mut body = autoreply::build(
            &a.address,
            &self.sender,
            ar.subject.as_deref(),
            &ar.body,
            &msg,
            &self.hostname,
        );
        if let Some(scanner) = &self.scanner {
            match crate::virus::check_generated(scanner, body, "autoreply").await {
                Some(b) => body = b,
                None => return Ok(false),
            }
        }
        let domain = a
            .address
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .to_string();
        if let (Some(signer), true) = (&self.signer, self.config.dkim.sign) {
            if let Ok(Some(sig)) = signer.sign(&domain, &body).await {
                body.splice(0..0, sig);
            }
        }
        let mut out = NewMessage {
            body,
            ..Default::default()
        };
        self.store
            .address_notice(&self.sender, Some(&a.address), &mut out)
            .await?;
        let queued = !out.outbound.is_empty();
        if queued {
            // Replies count against the domain's hourly limit (R-IN-5).
            out.send_log = Some((a.address.clone(), domain, 1));
        }
        if out.deliveries.is_empty() && !queued {
            return Ok(false);
        }
        let sent = self
            .store
            .autoreply_send(
                a.id,
                &autoreply::sender_key(&self.sender),
                self.config.policy.autoreply_interval.std(),
                out,
            )
            .await?;
        if sent {
            tracing::info!(mailbox = %a.address, to = %self.sender, rule = "R-IN-5", "autoreply sent");
        }
        Ok(sent && queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_fit() {
        let a = Account {
            used: 90,
            quota: Some(100),
            ..Default::default()
        };
        assert!(fits(&a, 10, 0));
        assert!(!fits(&a, 11, 0));
        let full = Account {
            used: 100,
            quota: Some(100),
            ..Default::default()
        };
        assert!(!fits(&full, 0, 0));
        let default = Account::default();
        assert!(fits(&default, 50, 100));
    }
}
