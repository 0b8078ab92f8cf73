//! Read-mail retention (R-POP-2): entries first retrieved before a cut-off
//! are deleted for good, their bodies freed when nothing else holds them,
//! their bytes returned to the quota.
//!
//! The work is found through a partial index on `(retrieved_at, id)` and
//! done in bounded batches, each one transaction: a crash mid-pass loses
//! nothing but the pass. Mailboxes with a POP3 session open are left for
//! a later pass, so that a session's maildrop never changes under it
//! (RFC 1939 §3).

use crate::db::Stmt;
use crate::{now_ms, Result, Store};

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Purged {
    pub entries: u64,
    pub bytes: i64,
    /// Where the next batch starts: `(retrieved_at, id)` of the last entry
    /// looked at; None when nothing is left before the cut-off.
    pub next: Option<(i64, i64)>,
}

impl Store {
    /// Deletes up to `limit` entries read before `before` (ms), after the
    /// cursor `after`.
    pub async fn purge_read(&self, before: i64, after: (i64, i64), limit: i64) -> Result<Purged> {
        let now = now_ms();
        let rows = self
            .query(
                "SELECT e.id, e.mailbox_id, e.retrieved_at, e.size,
                        EXISTS (SELECT 1 FROM locks l WHERE l.name = 'pop:' || e.mailbox_id AND l.expires_at > ?)
                 FROM entries e
                 WHERE e.retrieved_at IS NOT NULL AND e.retrieved_at < ?
                   AND (e.retrieved_at > ? OR (e.retrieved_at = ? AND e.id > ?))
                 ORDER BY e.retrieved_at, e.id LIMIT ?",
                vec![
                    now.into(),
                    before.into(),
                    after.0.into(),
                    after.0.into(),
                    after.1.into(),
                    limit.into(),
                ],
            )
            .await?;
        let mut out = Purged::default();
        let mut stmts = Vec::with_capacity(rows.len() * 3);
        let mut touched = Vec::new();
        for r in &rows {
            let (id, mailbox, at, size) = (r.i64(0)?, r.i64(1)?, r.i64(2)?, r.i64(3)?);
            out.next = Some((at, id));
            if r.i64(4)? != 0 {
                continue;
            }
            // Each statement repeats the lock check: a session that opened
            // since the read keeps its maildrop.
            stmts.push(Stmt::new(
                "UPDATE addresses SET used = used - ? WHERE id = ?
                   AND EXISTS (SELECT 1 FROM entries WHERE id = ?)
                   AND NOT EXISTS (SELECT 1 FROM locks l WHERE l.name = ? AND l.expires_at > ?)",
                vec![
                    size.into(),
                    mailbox.into(),
                    id.into(),
                    format!("pop:{mailbox}").into(),
                    now.into(),
                ],
            ));
            stmts.push(Stmt::new(
                "DELETE FROM blobs WHERE id = (SELECT blob_id FROM entries WHERE id = ?)
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id AND e.id <> ?)
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)
                   AND NOT EXISTS (SELECT 1 FROM locks l WHERE l.name = ? AND l.expires_at > ?)",
                vec![
                    id.into(),
                    id.into(),
                    format!("pop:{mailbox}").into(),
                    now.into(),
                ],
            ));
            stmts.push(Stmt::new(
                "DELETE FROM entries WHERE id = ?
                   AND NOT EXISTS (SELECT 1 FROM locks l WHERE l.name = ? AND l.expires_at > ?)",
                vec![id.into(), format!("pop:{mailbox}").into(), now.into()],
            ));
            out.bytes += size;
            if !touched.contains(&mailbox) {
                touched.push(mailbox);
            }
        }
        if stmts.is_empty() {
            if (rows.len() as i64) < limit {
                out.next = None;
            }
            return Ok(out);
        }
        let deletions = stmts.len();
        for m in touched {
            stmts.extend(crate::quota::settle_stmts(m, self.default_quota()));
        }
        let n = self.batch(stmts).await?;
        // Every third count is an entry's deletion.
        out.entries = n.iter().take(deletions).skip(2).step_by(3).sum();
        if (rows.len() as i64) < limit {
            out.next = None;
        }
        Ok(out)
    }
}
