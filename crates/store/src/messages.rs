//! Messages: durable delivery, listing, retrieval, deletion.
//!
//! A message body is stored once (`blobs`) however many mailboxes receive
//! it; each receiving mailbox gets an entry with its own header prefix
//! (Return-Path, Delivered-To) and a UID that never changes, which POP3
//! serves as its UIDL (RFC 1939 §7).

use crate::db::{Stmt, Val};
use crate::{now_ms, Result, Store, StoreError};
use rand::Rng;
use std::sync::Arc;

/// A message accepted for delivery.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// The message as received, with our Received header, CRLF line ends.
    pub body: Vec<u8>,
    /// For each receiving mailbox: its id and the header lines to put
    /// before the body for it.
    pub deliveries: Vec<(i64, Vec<u8>)>,
    /// Remote recipients: queued for delivery in the same transaction.
    pub outbound: Vec<Outbound>,
    /// Counted against hourly limits (R-OUT-6, R-OUT-7) in the same
    /// transaction: the sending account, its domain, and how many
    /// recipients leave the server.
    pub send_log: Option<(String, String, i64)>,
    /// R-OUT-7: the sending domain's hourly limit. Each queue row notes
    /// whether its recipient was past it, counted in commit order with
    /// this message's own recipients (so that when two sessions both
    /// passed the check at RCPT, the later one's excess bounces).
    pub domain_limit: Option<i64>,
    /// Decisions recorded with the message (R-ABUSE-3).
    pub evidence: Vec<crate::Evidence>,
    /// What the message adds to the bulk window (R-OUT-8).
    pub bulk: Option<crate::BulkTrack>,
    /// Forwarded copies (R-IN-4), each stored as its own body: the
    /// message with `prefix` (the forwarding address's Delivered-To)
    /// before it, queued to each of its recipients.
    pub forwards: Vec<ForwardCopy>,
    /// More hourly counts (account, domain, recipients) beside `send_log`:
    /// forwarded copies count for the forwarding mailbox (R-IN-4,
    /// R-OUT-6/7), bounces sent on through SRS for their domain.
    pub counts: Vec<(String, String, i64)>,
    /// Messages committed with this one, such as the delivery notice for
    /// recipients it could not reach (R-IN-3: a full mailbox of a
    /// fan-out): both or neither.
    pub also: Vec<NewMessage>,
    /// ENVELOPE and BODYSTRUCTURE for IMAP, computed once (R-POP-5);
    /// when None, the first IMAP FETCH computes and stores them.
    pub summary: Option<crate::BlobSummary>,
    /// Lists' VERP return paths this message (a delivery report of ours)
    /// goes to: kept for the list worker, which reads it as a bounce
    /// (R-LIST: `list+bounce-TOKEN@`), with the list's id.
    pub reports: Vec<(i64, String)>,
}

/// One forwarding address's copy of a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForwardCopy {
    pub prefix: Vec<u8>,
    pub outbound: Vec<Outbound>,
}

/// One remote recipient of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// Envelope sender; "" for the null sender (DSNs).
    pub sender: String,
    pub rcpt: String,
    /// The submitting account, if any (policy counts per account).
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageMeta {
    pub id: i64,
    pub uid: String,
    pub size: u64,
    /// Its UID in INBOX (IMAP), which POP3 serves.
    pub imap_uid: u32,
}

/// 32 hex digits: the time in milliseconds (48 bits), then 80 random bits
/// (the layout of a UUIDv7, RFC 9562 §5.7). Unique across nodes without
/// coordination, and in time order, so that the indexes on blob ids
/// (the blobs' key, the queue's and the entries' references) grow at
/// their end: the messages of one group commit share index pages instead
/// of each dirtying a random one, and the WAL carries a few pages per
/// commit rather than a few per message.
pub(crate) fn new_blob_id() -> String {
    let ms = now_ms().max(0) as u128 & ((1 << 48) - 1);
    let r: u128 = rand::rng().random::<u128>() >> 48;
    format!("{:032x}", ms << 80 | r)
}

/// The bodies of messages this node queued lately, by blob id, so that its
/// delivery worker, which usually sends them within milliseconds, need not
/// read them back from the database. Bodies never change once stored, so
/// a copy here cannot be stale; it only saves a read, and the oldest go
/// first once `RECENT_BYTES` are held. Other nodes read the database.
#[derive(Default)]
pub(crate) struct RecentBodies {
    map: std::collections::HashMap<String, Arc<Vec<u8>>>,
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

const RECENT_BYTES: usize = 32 << 20;
/// Larger bodies are read from the database when sent.
const RECENT_MAX_BODY: usize = 1 << 20;

impl RecentBodies {
    fn insert(&mut self, blob: String, body: Arc<Vec<u8>>) {
        self.bytes += body.len();
        self.order.push_back(blob.clone());
        self.map.insert(blob, body);
        while self.bytes > RECENT_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.map.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }

    pub(crate) fn get(&self, blob: &str) -> Option<Arc<Vec<u8>>> {
        self.map.get(blob).cloned()
    }

    /// Forgets a body (its rows are done). Its place in `order` goes when
    /// it comes first, or when forgotten places outnumber the rest (a body
    /// kept long, say for a host that is down, holds the front).
    pub(crate) fn remove(&mut self, blob: &str) {
        if let Some(b) = self.map.remove(blob) {
            self.bytes -= b.len();
        }
        while self
            .order
            .front()
            .is_some_and(|f| !self.map.contains_key(f))
        {
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order.retain(|b| map.contains_key(b));
        }
    }
}

impl Store {
    /// Stores the message for every recipient. When this returns Ok, the
    /// message is committed and synced to disk (group commit); the caller
    /// may then answer 250.
    pub async fn deliver(&self, msg: NewMessage) -> Result<Vec<String>> {
        let blob = new_blob_id();
        let keep = (!msg.outbound.is_empty() && msg.body.len() <= RECENT_MAX_BODY)
            .then(|| Arc::new(msg.body.clone()));
        let mut touched: Vec<i64> = msg.deliveries.iter().map(|(id, _)| *id).collect();
        for m in &msg.also {
            touched.extend(m.deliveries.iter().map(|(id, _)| *id));
        }
        let (stmts, uids) = message_stmts_as(msg, blob.clone())?;
        self.batch(stmts).await?;
        for id in touched {
            self.changed(id);
        }
        if let Some(body) = keep {
            self.recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(blob, body);
        }
        Ok(uids)
    }

    /// Addresses a notice the system sends (a DSN, a quota notice, an
    /// autoreply) with the null sender: into `to`'s mailboxes when local
    /// (postmaster@ meaning its domain's contact), else queued for `to`,
    /// counted for `account` if given. False when `to` takes no mail.
    pub async fn address_notice(
        &self,
        to: &str,
        account: Option<&str>,
        msg: &mut NewMessage,
    ) -> Result<bool> {
        let mut to = to.to_string();
        let mut r = self.resolve(&to).await?;
        if let crate::Resolved::Postmaster(contact) = r {
            r = self.resolve(&contact).await?;
            to = contact;
        }
        match r {
            crate::Resolved::Deliver(accts) => {
                for a in accts {
                    if !msg.deliveries.iter().any(|(id, _)| *id == a.id) {
                        msg.deliveries.push((
                            a.id,
                            format!("Return-Path: <>\r\nDelivered-To: {}\r\n", a.address)
                                .into_bytes(),
                        ));
                    }
                }
                Ok(true)
            }
            crate::Resolved::NotHosted => {
                msg.outbound.push(Outbound {
                    sender: String::new(),
                    rcpt: to,
                    account: account.map(str::to_string),
                });
                Ok(true)
            }
            // A report of ours to a list member's VERP return path (a
            // remote member refused its copy): the list reads it.
            crate::Resolved::List { list, command } if command.starts_with("bounce-") => {
                match self.list_get(&list).await? {
                    Some(l) => {
                        msg.reports.push((l.id, to));
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
            _ => Ok(false),
        }
    }

    /// The messages of the mailbox's INBOX (what POP3 serves, R-POP-5) in
    /// arrival order.
    pub async fn list_messages(&self, mailbox: i64) -> Result<Vec<MessageMeta>> {
        let rows = self
            .query(
                "SELECT id, uid, size, imap_uid FROM entries
                 WHERE folder_id = (SELECT id FROM folders WHERE account_id = ? AND name = 'INBOX')
                 ORDER BY imap_uid",
                vec![mailbox.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MessageMeta {
                    id: r.i64(0)?,
                    uid: r.text(1)?,
                    size: r.i64(2)? as u64,
                    imap_uid: r.i64(3)?.clamp(0, u32::MAX as i64) as u32,
                })
            })
            .collect()
    }

    /// The full message as delivered to this mailbox: its prefix and body.
    pub async fn read_message(&self, mailbox: i64, id: i64) -> Result<Vec<u8>> {
        let mut rows = self
            .query(
                "SELECT e.prefix, b.data FROM entries e JOIN blobs b ON b.id = e.blob_id
                 WHERE e.id = ? AND e.mailbox_id = ?",
                vec![id.into(), mailbox.into()],
            )
            .await?;
        let Some(r) = rows.first_mut() else {
            return Err(StoreError::NotFound(format!(
                "no message {id} in mailbox {mailbox}"
            )));
        };
        let mut out = r.take_bytes(0)?;
        out.extend_from_slice(&r.take_bytes(1)?);
        Ok(out)
    }

    /// Reads the messages of a mailbox whose ids lie in `from..=to`, in id
    /// order: one query for a run of pipelined retrievals.
    pub async fn read_messages_range(
        &self,
        mailbox: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = self
            .query(
                "SELECT e.id, e.prefix, b.data FROM entries e JOIN blobs b ON b.id = e.blob_id
                 WHERE e.mailbox_id = ? AND e.id >= ? AND e.id <= ? ORDER BY e.id",
                vec![mailbox.into(), from.into(), to.into()],
            )
            .await?;
        rows.into_iter()
            .map(|mut r| {
                let id = r.i64(0)?;
                let mut out = r.take_bytes(1)?;
                out.extend_from_slice(&r.take_bytes(2)?);
                Ok((id, out))
            })
            .collect()
    }

    /// Records the first retrieval (R-POP-2 counts retention from it).
    pub async fn mark_retrieved(&self, mailbox: i64, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let stmts = ids
            .iter()
            .map(|id| {
                Stmt::new(
                    "UPDATE entries SET retrieved_at = ? WHERE id = ? AND mailbox_id = ? AND retrieved_at IS NULL",
                    vec![now.into(), (*id).into(), mailbox.into()],
                )
            })
            .collect();
        self.batch(stmts).await?;
        Ok(())
    }

    /// Deletes messages of one mailbox, and bodies no other mailbox holds,
    /// in one transaction. For IMAP this is an expunge (R-POP-5: a POP3
    /// DELE and an IMAP EXPUNGE are one state): each folder's MODSEQ moves
    /// and tombstones tell IMAP sessions.
    pub async fn delete_messages(&self, mailbox: i64, ids: &[i64]) -> Result<()> {
        let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(());
        };
        let rows = self
            .query(
                "SELECT id, folder_id, imap_uid FROM entries WHERE mailbox_id = ? AND id >= ? AND id <= ?",
                vec![mailbox.into(), (*lo).into(), (*hi).into()],
            )
            .await?;
        let mut by_folder: std::collections::BTreeMap<i64, Vec<u32>> = Default::default();
        for r in &rows {
            if ids.contains(&r.i64(0)?) {
                by_folder
                    .entry(r.i64(1)?)
                    .or_default()
                    .push(r.i64(2)?.clamp(0, u32::MAX as i64) as u32);
            }
        }
        let mut stmts = Vec::new();
        for (folder, mut uids) in by_folder {
            uids.sort_unstable();
            stmts.extend(crate::folder_msgs::expunge_stmts(
                mailbox,
                folder,
                &crate::folder_msgs::runs(&uids),
                false,
                self.default_quota(),
            ));
        }
        if !stmts.is_empty() {
            self.batch(stmts).await?;
            self.changed(mailbox);
        }
        Ok(())
    }
}

/// The statements that store a message: its body once, an entry per local
/// mailbox, a queue row per remote recipient. Returns them with the UIDs of
/// the local entries.
pub(crate) fn message_stmts(msg: NewMessage) -> Result<(Vec<Stmt>, Vec<String>)> {
    message_stmts_as(msg, new_blob_id())
}

/// `message_stmts` with the body stored as `blob`.
pub(crate) fn message_stmts_as(
    mut msg: NewMessage,
    blob: String,
) -> Result<(Vec<Stmt>, Vec<String>)> {
    let also = std::mem::take(&mut msg.also);
    let forwarded = msg.forwards.iter().any(|f| !f.outbound.is_empty());
    if msg.deliveries.is_empty() && msg.outbound.is_empty() && !forwarded && msg.reports.is_empty()
    {
        return Err(StoreError::Invalid(
            "a message needs at least one recipient".into(),
        ));
    }
    let now = now_ms();
    let len = msg.body.len();
    let mut uids = Vec::with_capacity(msg.deliveries.len());
    let mut stmts = Vec::with_capacity(msg.deliveries.len() * 2 + msg.outbound.len() + 1);
    for f in msg.forwards.iter().filter(|f| !f.outbound.is_empty()) {
        let copy = new_blob_id();
        let mut data = Vec::with_capacity(f.prefix.len() + msg.body.len());
        data.extend_from_slice(&f.prefix);
        data.extend_from_slice(&msg.body);
        stmts.push(Stmt::new(
            "INSERT INTO blobs (id, data) VALUES (?, ?)",
            vec![copy.clone().into(), Val::B(data)],
        ));
        for o in &f.outbound {
            stmts.push(queue_stmt(&copy, o, now));
        }
    }
    for (list_id, verp) in &msg.reports {
        stmts.push(Stmt::new(
            "INSERT INTO list_posts (list_id, blob_id, poster, state, release_at, created_at)
             VALUES (?, ?, ?, 'report', 0, ?)",
            vec![
                (*list_id).into(),
                blob.clone().into(),
                verp.clone().into(),
                now.into(),
            ],
        ));
    }
    if !msg.deliveries.is_empty() || !msg.outbound.is_empty() || !msg.reports.is_empty() {
        stmts.push(Stmt::new(
            "INSERT INTO blobs (id, data) VALUES (?, ?)",
            vec![blob.clone().into(), Val::B(msg.body)],
        ));
    }
    if let Some(s) = msg.summary.as_ref().filter(|_| !msg.deliveries.is_empty()) {
        stmts.push(crate::folder_msgs::summary_stmt(&blob, s));
    }
    for (i, (mailbox, prefix)) in msg.deliveries.into_iter().enumerate() {
        // RFC 1939 §7: UIDs are 1-70 printable characters, unique in
        // the mailbox and stable across sessions.
        let uid = format!("{blob}.{i}");
        let size = (len + prefix.len()) as i64;
        // R-POP-5: into INBOX with the next UID and MODSEQ, taken from the
        // folder row this transaction updates first (on PostgreSQL that
        // row's lock orders concurrent deliveries, so UIDs ascend in
        // commit order, RFC 9051 §2.3.1.1).
        stmts.push(
            Stmt::new(
                "UPDATE folders SET uidnext = uidnext + 1, modseq = modseq + 1, messages = messages + 1,
                   unseen = unseen + 1, size = size + ?
                 WHERE account_id = ? AND name = 'INBOX' AND uidnext < 4294967295",
                vec![size.into(), mailbox.into()],
            )
            .must_change(StoreError::Backend(format!(
                "mailbox {mailbox} has no INBOX to deliver to, or it used every UID"
            ))),
        );
        stmts.push(Stmt::new(
            "INSERT INTO entries (mailbox_id, blob_id, uid, prefix, size, received_at, folder_id, imap_uid, modseq)
             SELECT ?, ?, ?, ?, ?, ?, f.id, f.uidnext - 1, f.modseq FROM folders f
             WHERE f.account_id = ? AND f.name = 'INBOX'",
            vec![
                mailbox.into(),
                blob.clone().into(),
                uid.clone().into(),
                Val::B(prefix),
                size.into(),
                now.into(),
                mailbox.into(),
            ],
        ));
        uids.push(uid);
        // R-IN-3: usage changes with the entry, in its transaction.
        stmts.push(crate::quota::usage_stmt(mailbox, size));
    }
    for (account, domain, n) in msg.send_log.iter().chain(&msg.counts) {
        let minute = now / 60_000;
        for key in [format!("acct:{account}"), format!("dom:{domain}")] {
            stmts.push(Stmt::new(
                "INSERT INTO send_counts (key, minute, rcpts) VALUES (?, ?, ?)
                 ON CONFLICT (key, minute) DO UPDATE SET rcpts = send_counts.rcpts + excluded.rcpts",
                vec![key.into(), minute.into(), (*n).into()],
            ));
        }
    }
    for e in &msg.evidence {
        stmts.push(crate::policy_state::evidence_stmt(e));
    }
    if let Some(b) = msg.bulk {
        stmts.push(crate::bulk::bulk_stmt(b));
    }
    // The sending domain's count after this message, less the recipients
    // after the n-th, is the n-th recipient's place in the hour; the
    // statements above have added this message to the count, and the
    // sum runs in the same transaction, after every commit before it.
    let place = match (&msg.send_log, msg.domain_limit) {
        (Some((_, domain, _)), Some(limit)) => Some((format!("dom:{domain}"), limit)),
        _ => None,
    };
    let n = msg.outbound.len() as i64;
    for (i, o) in msg.outbound.into_iter().enumerate() {
        let domain = o
            .rcpt
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let mut args = vec![
            blob.clone().into(),
            o.sender.into(),
            o.rcpt.into(),
            domain.into(),
            o.account.into(),
            now.into(),
            now.into(),
        ];
        let sql = match &place {
            Some((key, limit)) => {
                args.extend([key.clone().into(), (now - 3_600_000).div_euclid(60_000).into(), (n - 1 - i as i64).into(), (*limit).into()]);
                "INSERT INTO queue (blob_id, sender, rcpt, domain, account, created_at, next_attempt, over_limit)
                 VALUES (?, ?, ?, ?, ?, ?, ?, CASE WHEN
                   (SELECT CAST(COALESCE(SUM(rcpts), 0) AS BIGINT) FROM send_counts WHERE key = ? AND minute >= ?)
                   - CAST(? AS BIGINT) > CAST(? AS BIGINT) THEN 1 ELSE 0 END)"
            }
            None => {
                "INSERT INTO queue (blob_id, sender, rcpt, domain, account, created_at, next_attempt)
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            }
        };
        stmts.push(Stmt::new(sql, args));
    }
    for m in also {
        stmts.extend(message_stmts(m)?.0);
    }
    Ok((stmts, uids))
}

/// A plain queue row for `o`, due now.
fn queue_stmt(blob: &str, o: &Outbound, now: i64) -> Stmt {
    let domain = o
        .rcpt
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    Stmt::new(
        "INSERT INTO queue (blob_id, sender, rcpt, domain, account, created_at, next_attempt)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            blob.into(),
            o.sender.clone().into(),
            o.rcpt.clone().into(),
            domain.into(),
            o.account.clone().into(),
            now.into(),
            now.into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_bodies_stay_bounded() {
        let mut r = RecentBodies::default();
        let body = Arc::new(vec![0u8; 1 << 20]);
        for i in 0..40 {
            r.insert(format!("b{i}"), body.clone());
        }
        // 32 MiB at most: the oldest went first.
        assert_eq!(r.bytes, 32 << 20);
        assert!(r.get("b7").is_none() && r.get("b8").is_some() && r.get("b39").is_some());
        r.remove("b20");
        assert!(r.get("b20").is_none());
        assert_eq!(r.bytes, 31 << 20);
        // One body kept at the front while many come and go: the places of
        // those forgotten do not pile up.
        let small = Arc::new(vec![0u8; 10]);
        for i in 0..100_000 {
            r.insert(format!("s{i}"), small.clone());
            r.remove(&format!("s{i}"));
        }
        assert!(
            r.order.len() <= 2 * r.map.len() + 1024 + 1,
            "{}",
            r.order.len()
        );
        assert!(r.get("b8").is_some());
    }
}
