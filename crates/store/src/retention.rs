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
use crate::{now_ms, Result, Store, StoreError};
use std::collections::BTreeMap;

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
    /// Deletes up to `limit` entries first read over POP3 before `before`
    /// (ms), after the cursor `after` (R-POP-2).
    pub async fn purge_read(&self, before: i64, after: (i64, i64), limit: i64) -> Result<Purged> {
        let sql = "SELECT e.id, e.mailbox_id, e.retrieved_at, e.size, e.folder_id, e.imap_uid
                   FROM entries e
                   WHERE e.retrieved_at IS NOT NULL AND e.retrieved_at < ?
                     AND (e.retrieved_at > ? OR (e.retrieved_at = ? AND e.id > ?))
                   ORDER BY e.retrieved_at, e.id LIMIT ?";
        self.purge_by(sql, before, after, limit).await
    }

    /// The same for mail first read over IMAP (`policy.imap_read_retention`,
    /// R-POP-5), by `imap_read_at`.
    pub async fn purge_imap_read(
        &self,
        before: i64,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Purged> {
        let sql = "SELECT e.id, e.mailbox_id, e.imap_read_at, e.size, e.folder_id, e.imap_uid
                   FROM entries e
                   WHERE e.imap_read_at IS NOT NULL AND e.imap_read_at < ?
                     AND (e.imap_read_at > ? OR (e.imap_read_at = ? AND e.id > ?))
                   ORDER BY e.imap_read_at, e.id LIMIT ?";
        self.purge_by(sql, before, after, limit).await
    }

    /// One batch of either: `sql` finds the rows past the cursor.
    async fn purge_by(
        &self,
        sql: &'static str,
        before: i64,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Purged> {
        let params = vec![
            before.into(),
            after.0.into(),
            after.0.into(),
            after.1.into(),
            limit.into(),
        ];
        let rows = self.query(sql, params).await?;
        self.purge_rows(&rows, limit).await
    }

    /// Expunges the rows `(id, mailbox, at, size, folder, uid)`, one
    /// transaction per mailbox, each held back while the mailbox has a
    /// POP3 session open (its maildrop must not change under it, RFC 1939
    /// §3; IMAP sessions are told of the expunge instead).
    async fn purge_rows(&self, rows: &[crate::db::Row], limit: i64) -> Result<Purged> {
        let mut out = Purged::default();
        let mut by_mailbox: BTreeMap<i64, (i64, BTreeMap<i64, Vec<u32>>)> = BTreeMap::new();
        for r in rows {
            let (id, mailbox, at, size) = (r.i64(0)?, r.i64(1)?, r.i64(2)?, r.i64(3)?);
            out.next = Some((at, id));
            let (Some(folder), Some(uid)) = (r.opt_i64(4)?, r.opt_i64(5)?) else {
                continue;
            };
            let m = by_mailbox.entry(mailbox).or_default();
            m.0 += size;
            m.1.entry(folder)
                .or_default()
                .push(uid.clamp(0, u32::MAX as i64) as u32);
        }
        for (mailbox, (bytes, folders)) in by_mailbox {
            let mut stmts = vec![Stmt::new(
                "UPDATE addresses SET used = used WHERE id = ?
                   AND NOT EXISTS (SELECT 1 FROM mail_sessions l WHERE l.account_id = ? AND l.protocol = 'pop3' AND l.expires_at > ?)",
                vec![mailbox.into(), mailbox.into(), now_ms().into()],
            )
            .must_change(StoreError::Conflict("a POP3 session is open".into()))];
            let mut n = 0;
            for (folder, mut uids) in folders {
                uids.sort_unstable();
                n += uids.len() as u64;
                stmts.extend(crate::folder_msgs::expunge_stmts(
                    mailbox,
                    folder,
                    &crate::folder_msgs::runs(&uids),
                    false,
                    self.default_quota(),
                ));
            }
            if self.batch_guarded(stmts).await? {
                self.changed(mailbox);
                out.entries += n;
                out.bytes += bytes;
            }
        }
        if (rows.len() as i64) < limit {
            out.next = None;
        }
        Ok(out)
    }
}
