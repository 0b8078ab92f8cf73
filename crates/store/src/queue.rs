//! The outbound queue: one row per remote recipient, pointing at a body in
//! `blobs`. Rows are committed with the message (before 250), so an
//! accepted message is never lost; a row is deleted in the same
//! transaction that records its outcome.
//!
//! Delivery workers on any node **claim** due rows with a lease (owner and
//! expiry); a crashed worker's lease runs out and another takes the rows
//! over, and a restarted node takes its own back at once
//! ([`Store::queue_release_node`]).

use crate::db::{Row, Stmt};
use crate::messages::message_stmts;
use crate::{now_ms, NewMessage, Result, Store, StoreError};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    pub id: i64,
    pub blob_id: String,
    /// Envelope sender; "" for the null sender.
    pub sender: String,
    pub rcpt: String,
    pub domain: String,
    pub account: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub next_attempt: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// A delay DSN has been sent.
    pub warned: bool,
    /// Past the sending domain's hourly limit when accepted (R-OUT-7).
    pub over_limit: bool,
    /// Header fields for this recipient alone, sent before the body (a
    /// list's List-Unsubscribe and DKIM signature for one member).
    pub prefix: Vec<u8>,
}

fn item(r: &Row) -> Result<QueueItem> {
    Ok(QueueItem {
        id: r.i64(0)?,
        blob_id: r.text(1)?,
        sender: r.text(2)?,
        rcpt: r.text(3)?,
        domain: r.text(4)?,
        account: r.opt_text(5)?,
        created_at: r.i64(6)?,
        next_attempt: r.i64(7)?,
        attempts: r.i64(8)?,
        last_error: r.opt_text(9)?,
        warned: r.i64(10)? != 0,
        over_limit: r.i64(11)? != 0,
        prefix: r.bytes(12)?,
    })
}

/// One temporary failure for [`Store::queue_defer`].
pub struct Deferral<'a> {
    pub item: &'a QueueItem,
    /// Milliseconds since the epoch.
    pub next_attempt: i64,
    pub error: &'a str,
    /// This recipient is covered by the delay DSN stored with the batch.
    pub warned: bool,
}

/// Deletes a body that nothing references any more.
fn drop_orphan_blob(blob_id: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM blobs WHERE id = ?
           AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)
           AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id)",
        vec![blob_id.into()],
    )
}

impl Store {
    /// Claims up to `limit` due rows for `owner` for `lease`; returns them
    /// oldest first. Rows leased by someone else are skipped; the outer
    /// `lease_until` condition is re-checked by PostgreSQL on rows another
    /// node updated meanwhile, so two nodes never claim the same row.
    pub async fn queue_claim(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<QueueItem>> {
        let now = now_ms();
        let until = now + lease.as_millis() as i64;
        self.batch(vec![Stmt::new(
            "UPDATE queue SET lease_owner = ?, lease_until = ?
             WHERE lease_until < ? AND id IN
               (SELECT id FROM queue WHERE next_attempt <= ? AND lease_until < ? ORDER BY next_attempt, id LIMIT ?)",
            vec![owner.into(), until.into(), now.into(), now.into(), now.into(), (limit as i64).into()],
        )])
        .await?;
        let rows = self
            .query(
                "SELECT id, blob_id, sender, rcpt, domain, account, created_at, next_attempt, attempts, last_error, warned, over_limit, prefix
                 FROM queue WHERE lease_owner = ? AND lease_until = ? ORDER BY id",
                vec![owner.into(), until.into()],
            )
            .await?;
        rows.iter().map(item).collect()
    }

    /// The message body of a queue row.
    /// The first `max` bytes of a body and its whole size, without
    /// reading the rest (a held post's subject for a listing).
    pub async fn body_head(&self, blob_id: &str, max: i64) -> Result<(Vec<u8>, i64)> {
        let mut rows = self
            .query(
                "SELECT substr(data, 1, CAST(? AS INTEGER)), CAST(length(data) AS BIGINT) FROM blobs WHERE id = ?",
                vec![max.into(), blob_id.into()],
            )
            .await?;
        match rows.first_mut() {
            Some(r) => Ok((r.take_bytes(0)?, r.i64(1)?)),
            None => Err(StoreError::NotFound(format!("body {blob_id} is missing"))),
        }
    }

    pub async fn queue_body(&self, blob_id: &str) -> Result<Vec<u8>> {
        if let Some(b) = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(blob_id)
        {
            return Ok(b.to_vec());
        }
        let mut rows = self
            .query("SELECT data FROM blobs WHERE id = ?", vec![blob_id.into()])
            .await?;
        match rows.first_mut() {
            Some(r) => r.take_bytes(0),
            None => Err(StoreError::NotFound(format!(
                "queued body {blob_id} is missing"
            ))),
        }
    }

    /// Rows delivered, in one transaction (the recipients of one message
    /// that one server accepted with one reply): the rows go, and their
    /// bodies once no row or mailbox needs them.
    pub async fn queue_done_many(&self, items: &[&QueueItem]) -> Result<()> {
        let mut stmts: Vec<Stmt> = items
            .iter()
            .map(|i| Stmt::new("DELETE FROM queue WHERE id = ?", vec![i.id.into()]))
            .collect();
        let mut blobs: Vec<&str> = items.iter().map(|i| i.blob_id.as_str()).collect();
        blobs.sort_unstable();
        blobs.dedup();
        stmts.extend(blobs.iter().map(|b| drop_orphan_blob(b)));
        self.batch(stmts).await?;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        blobs.iter().for_each(|b| recent.remove(b));
        Ok(())
    }

    /// A temporary failure: try again at `next_attempt` (ms since epoch).
    /// `warning`, if given, is a delay DSN stored in the same transaction,
    /// and the row is marked as warned.
    pub async fn queue_retry(
        &self,
        item: &QueueItem,
        next_attempt: i64,
        error: &str,
        warning: Option<NewMessage>,
    ) -> Result<()> {
        let warned = item.warned || warning.is_some();
        self.queue_defer(
            &[Deferral {
                item,
                next_attempt,
                error,
                warned,
            }],
            warning,
        )
        .await
    }

    /// Several temporary failures of one message in one transaction, with
    /// the delay DSN that covers those newly `warned`: a crash leaves either
    /// all of it or none, so each recipient is warned once.
    pub async fn queue_defer(
        &self,
        rows: &[Deferral<'_>],
        warning: Option<NewMessage>,
    ) -> Result<()> {
        let mut stmts: Vec<Stmt> = rows
            .iter()
            .map(|d| {
                Stmt::new(
                    "UPDATE queue SET attempts = attempts + 1, next_attempt = ?, last_error = ?,
                         lease_owner = NULL, lease_until = 0, warned = ?
                     WHERE id = ?",
                    vec![
                        d.next_attempt.into(),
                        d.error.into(),
                        ((d.item.warned || d.warned) as i64).into(),
                        d.item.id.into(),
                    ],
                )
            })
            .collect();
        if let Some(w) = warning {
            stmts.extend(message_stmts(w)?.0);
        }
        self.batch(stmts).await?;
        Ok(())
    }

    /// A permanent failure: the row goes and the bounce (a DSN to the
    /// sender, if any: never for a null sender) is stored in the same
    /// transaction, so a crash leaves either the row or the bounce.
    pub async fn queue_fail(&self, item: &QueueItem, bounce: Option<NewMessage>) -> Result<()> {
        self.queue_fail_many(&[item], bounce).await
    }

    /// Permanent failures of one message's recipients and the one bounce
    /// that reports them all, in one transaction.
    pub async fn queue_fail_many(
        &self,
        items: &[&QueueItem],
        bounce: Option<NewMessage>,
    ) -> Result<()> {
        let mut stmts: Vec<Stmt> = items
            .iter()
            .map(|i| Stmt::new("DELETE FROM queue WHERE id = ?", vec![i.id.into()]))
            .collect();
        if let Some(b) = bounce {
            stmts.extend(message_stmts(b)?.0);
        }
        for i in items {
            stmts.push(drop_orphan_blob(&i.blob_id));
        }
        self.batch(stmts).await?;
        Ok(())
    }

    /// Releases every lease `owner` holds (a node starting again).
    pub async fn queue_release(&self, owner: &str) -> Result<u64> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?",
                vec![owner.into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0))
    }

    /// Every row, oldest first (for `mailhost queue list` and tests).
    pub async fn queue_list(&self) -> Result<Vec<QueueItem>> {
        let rows = self
            .query(
                "SELECT id, blob_id, sender, rcpt, domain, account, created_at, next_attempt, attempts, last_error, warned, over_limit, prefix
                 FROM queue ORDER BY id",
                vec![],
            )
            .await?;
        rows.iter().map(item).collect()
    }

    /// Makes every row due now (`mailhost queue flush`).
    pub async fn queue_flush(&self) -> Result<u64> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE queue SET next_attempt = ? WHERE lease_until < ?",
                vec![now_ms().into(), now_ms().into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0))
    }
}
