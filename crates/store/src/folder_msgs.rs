//! The messages of IMAP folders (R-POP-5): a session's view and what
//! changed since, flags, expunge, APPEND, COPY and MOVE.
//!
//! Every change runs in one transaction that first bumps the folder's
//! MODSEQ (which also locks its row on PostgreSQL, so concurrent changes
//! to one folder apply one after another) and stamps what it changed with
//! the new value (RFC 7162 §3.1). Sets of messages are given as runs of
//! consecutive UIDs, so that `1:*` on a large folder is one statement.
//! Counters (`messages`, `unseen`, `deleted`, `size`) and the mailbox's
//! usage (R-IN-3) change in the same transaction.

use crate::db::{Row, Stmt};
use crate::folders::{Folder, DELETED, SEEN};
use crate::{now_ms, Result, Store, StoreError};

/// One message as a session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgState {
    pub uid: u32,
    pub flags: i64,
    pub modseq: u64,
}

/// What changed in a folder since a MODSEQ.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    pub folder: Folder,
    /// New messages and messages whose flags changed, by UID.
    pub changed: Vec<MsgState>,
    /// UIDs expunged (some may be unknown to the caller).
    pub expunged: Vec<u32>,
}

/// ENVELOPE, BODY and BODYSTRUCTURE of a body as IMAP renders them,
/// computed once (`mailhost-imap-body`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlobSummary {
    pub envelope: Vec<u8>,
    pub body: Vec<u8>,
    pub bodystructure: Vec<u8>,
    /// The Date: header, Unix seconds.
    pub sent_at: Option<i64>,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAppend {
    pub data: Vec<u8>,
    pub flags: i64,
    /// INTERNALDATE, ms.
    pub date_ms: i64,
    pub summary: Option<BlobSummary>,
}

/// Where APPEND, COPY or MOVE put messages (RFC 4315 APPENDUID/COPYUID).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Appended {
    pub uidvalidity: u32,
    pub uids: Vec<u32>,
}

/// A message's data for FETCH.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchRow {
    pub uid: u32,
    pub size: u64,
    /// INTERNALDATE, ms.
    pub internal_ms: i64,
    pub blob: String,
    pub summary: Option<BlobSummary>,
    /// The message as delivered to this mailbox (its prefix, then the
    /// body), when asked for.
    pub data: Option<Vec<u8>>,
}

fn state_row(r: &Row) -> Result<MsgState> {
    Ok(MsgState {
        uid: r.i64(0)?.clamp(0, u32::MAX as i64) as u32,
        flags: r.i64(1)?,
        modseq: r.i64(2)?.max(0) as u64,
    })
}

/// How often an optimistic write (one that expects the folder's UIDNEXT)
/// is tried before giving up.
const TRIES: usize = 20;

/// `runs` as statements' bounds.
fn bounds(runs: &[(u32, u32)]) -> impl Iterator<Item = (i64, i64)> + '_ {
    runs.iter().map(|&(a, b)| (a as i64, b as i64))
}

/// Runs of consecutive numbers in sorted `uids`.
pub fn runs(uids: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &u in uids {
        match out.last_mut() {
            Some((_, b)) if b.checked_add(1) == Some(u) => *b = u,
            _ => out.push((u, u)),
        }
    }
    out
}

/// The statements that expunge the messages of `runs` in `folder` (only
/// those marked \Deleted when `only_deleted`): tombstones with the new
/// MODSEQ, counters, usage, bodies no other entry holds.
pub(crate) fn expunge_stmts(
    account: i64,
    folder: i64,
    runs: &[(u32, u32)],
    only_deleted: bool,
    default_quota: i64,
) -> Vec<Stmt> {
    let od = only_deleted as i64;
    let mut out = Vec::with_capacity(runs.len() * 6 + 3);
    out.push(
        Stmt::new(
            "UPDATE folders SET modseq = modseq + 1 WHERE id = ?",
            vec![folder.into()],
        )
        .must_change(StoreError::NotFound("the folder was deleted".into())),
    );
    for (a, b) in bounds(runs) {
        let p = || vec![folder.into(), a.into(), b.into(), od.into()];
        let mut counters = Vec::with_capacity(17);
        for _ in 0..4 {
            counters.extend(p());
        }
        counters.push(folder.into());
        out.push(Stmt::new(
            "UPDATE folders SET
               messages = messages - (SELECT COUNT(*) FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0)),
               unseen = unseen - (SELECT COUNT(*) FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0) AND (flags & 1) = 0),
               deleted = deleted - (SELECT COUNT(*) FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0) AND (flags & 8) <> 0),
               size = size - (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0))
             WHERE id = ?",
            counters,
        ));
        let mut used = p();
        used.push(account.into());
        out.push(Stmt::new(
            "UPDATE addresses SET used = used - (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM entries
               WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0))
             WHERE id = ?",
            used,
        ));
        let mut tomb = vec![folder.into()];
        tomb.extend(p());
        out.push(Stmt::new(
            "INSERT INTO expunged (folder_id, uid, modseq)
             SELECT folder_id, imap_uid, (SELECT modseq FROM folders WHERE id = ?) FROM entries
             WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0)",
            tomb,
        ));
        // The body goes while its entries still name it, unless an entry
        // outside this set (or the queue) still holds it.
        let mut blobs = p();
        blobs.extend(p());
        out.push(Stmt::new(
            "DELETE FROM blobs WHERE id IN (SELECT blob_id FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0))
               AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id
                 AND NOT (e.folder_id = ? AND e.imap_uid >= ? AND e.imap_uid <= ? AND (? = 0 OR (e.flags & 8) <> 0)))
               AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)",
            blobs,
        ));
        out.push(Stmt::new(
            "DELETE FROM summaries WHERE blob_id IN (SELECT blob_id FROM entries
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0))
               AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = summaries.blob_id)",
            p(),
        ));
        out.push(Stmt::new(
            "DELETE FROM entries
             WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND (? = 0 OR (flags & 8) <> 0)",
            p(),
        ));
    }
    out.extend(crate::quota::settle_stmts(account, default_quota));
    out
}

/// The statement that stores a body's summary, if it has none yet.
pub(crate) fn summary_stmt(blob: &str, s: &BlobSummary) -> Stmt {
    Stmt::new(
        "INSERT INTO summaries (blob_id, sent_at, envelope, body, bodystructure) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (blob_id) DO NOTHING",
        vec![
            blob.into(),
            s.sent_at.into(),
            s.envelope.clone().into(),
            s.body.clone().into(),
            s.bodystructure.clone().into(),
        ],
    )
}

/// Counters and usage for the messages just placed in `folder` from UID
/// `first` up (read through the folder's UID index).
fn placed_stmts(account: i64, folder: i64, first: u32) -> [Stmt; 2] {
    let (f, first) = (folder, first as i64);
    [
        Stmt::new(
            "UPDATE addresses SET used = used + (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM entries
               WHERE folder_id = ? AND imap_uid >= ?) WHERE id = ?",
            vec![f.into(), first.into(), account.into()],
        ),
        Stmt::new(
            "UPDATE folders SET
               messages = messages + (SELECT COUNT(*) FROM entries WHERE folder_id = ? AND imap_uid >= ?),
               unseen = unseen + (SELECT COUNT(*) FROM entries WHERE folder_id = ? AND imap_uid >= ? AND (flags & 1) = 0),
               deleted = deleted + (SELECT COUNT(*) FROM entries WHERE folder_id = ? AND imap_uid >= ? AND (flags & 8) <> 0),
               size = size + (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM entries WHERE folder_id = ? AND imap_uid >= ?)
             WHERE id = ?",
            vec![
                f.into(),
                first.into(),
                f.into(),
                first.into(),
                f.into(),
                first.into(),
                f.into(),
                first.into(),
                f.into(),
            ],
        ),
    ]
}

/// The first statement of a write that places messages: bumps MODSEQ if
/// UIDNEXT is still `uidnext`, else fails with `Conflict` (and the caller
/// reads the folder again and retries).
fn expect_uidnext(folder: i64, uidnext: u32, count: usize) -> Result<Stmt> {
    if uidnext as u64 + count as u64 > u32::MAX as u64 {
        // RFC 9051 §2.3.1.1: UIDs are 32 bits; a folder that used them all
        // takes no more mail (a new folder would need a new UIDVALIDITY).
        return Err(StoreError::Invalid(
            "this folder has used every UID; copy its mail to a new folder".into(),
        ));
    }
    Ok(Stmt::new(
        "UPDATE folders SET modseq = modseq + 1 WHERE id = ? AND uidnext = ?",
        vec![folder.into(), (uidnext as i64).into()],
    )
    .must_change(StoreError::Conflict("folder changed".into())))
}

impl Store {
    /// Every message of a folder, by UID.
    pub async fn folder_messages(&self, folder: i64) -> Result<Vec<MsgState>> {
        let rows = self
            .query(
                "SELECT imap_uid, flags, modseq FROM entries WHERE folder_id = ? ORDER BY imap_uid",
                vec![folder.into()],
            )
            .await?;
        rows.iter().map(state_row).collect()
    }

    /// What changed in a folder after MODSEQ `since`; None when the
    /// folder is gone. The folder row is read first, so everything up to
    /// its MODSEQ is in the changes (later changes may be too; reading
    /// them again later is harmless).
    pub async fn folder_changes(&self, folder: i64, since: u64) -> Result<Option<Changes>> {
        let Some(f) = self.folder_by_id(folder).await? else {
            return Ok(None);
        };
        if f.modseq <= since {
            return Ok(Some(Changes {
                folder: f,
                ..Default::default()
            }));
        }
        let since = since.min(i64::MAX as u64) as i64;
        let changed = self
            .query(
                "SELECT imap_uid, flags, modseq FROM entries WHERE folder_id = ? AND modseq > ? ORDER BY imap_uid",
                vec![folder.into(), since.into()],
            )
            .await?
            .iter()
            .map(state_row)
            .collect::<Result<Vec<_>>>()?;
        let expunged = self
            .query(
                "SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid",
                vec![folder.into(), since.into()],
            )
            .await?
            .iter()
            .map(|r| Ok(r.i64(0)?.clamp(0, u32::MAX as i64) as u32))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Changes {
            folder: f,
            changed,
            expunged,
        }))
    }

    /// UIDs expunged after MODSEQ `since` (QRESYNC's VANISHED (EARLIER)).
    pub async fn expunged_since(&self, folder: i64, since: u64) -> Result<Vec<u32>> {
        let since = since.min(i64::MAX as u64) as i64;
        self.query(
            "SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid",
            vec![folder.into(), since.into()],
        )
        .await?
        .iter()
        .map(|r| Ok(r.i64(0)?.clamp(0, u32::MAX as i64) as u32))
        .collect()
    }

    /// Sets the flags of the messages in `runs` to `(flags & keep) | set`,
    /// leaving those changed after `unchanged_since` (RFC 7162 §3.1.3).
    pub async fn store_flags(
        &self,
        folder: i64,
        runs: &[(u32, u32)],
        keep: i64,
        set: i64,
        unchanged_since: Option<u64>,
    ) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let since = unchanged_since.map_or(i64::MAX, |m| m.min(i64::MAX as u64) as i64);
        let mut stmts = Vec::with_capacity(runs.len() * 2 + 1);
        stmts.push(
            Stmt::new(
                "UPDATE folders SET modseq = modseq + 1 WHERE id = ?",
                vec![folder.into()],
            )
            .must_change(StoreError::NotFound("the folder was deleted".into())),
        );
        for (a, b) in bounds(runs) {
            let p = || {
                vec![
                    keep.into(),
                    set.into(),
                    folder.into(),
                    a.into(),
                    b.into(),
                    since.into(),
                ]
            };
            let mut counters = p();
            counters.extend(p());
            counters.push(folder.into());
            stmts.push(Stmt::new(
                "UPDATE folders SET
                   unseen = unseen + (SELECT CAST(COALESCE(SUM(
                       (CASE WHEN (((flags & ?) | ?) & 1) = 0 THEN 1 ELSE 0 END)
                     - (CASE WHEN (flags & 1) = 0 THEN 1 ELSE 0 END)), 0) AS BIGINT)
                     FROM entries WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND modseq <= ?),
                   deleted = deleted + (SELECT CAST(COALESCE(SUM(
                       (CASE WHEN (((flags & ?) | ?) & 8) <> 0 THEN 1 ELSE 0 END)
                     - (CASE WHEN (flags & 8) <> 0 THEN 1 ELSE 0 END)), 0) AS BIGINT)
                     FROM entries WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND modseq <= ?)
                 WHERE id = ?",
                counters,
            ));
            stmts.push(Stmt::new(
                "UPDATE entries SET flags = ((flags & ?) | ?), modseq = (SELECT modseq FROM folders WHERE id = ?)
                 WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND modseq <= ?
                   AND flags <> ((flags & ?) | ?)",
                vec![
                    keep.into(),
                    set.into(),
                    folder.into(),
                    folder.into(),
                    a.into(),
                    b.into(),
                    since.into(),
                    keep.into(),
                    set.into(),
                ],
            ));
        }
        self.batch(stmts).await?;
        Ok(())
    }

    /// Expunges the messages of `runs` (with `only_deleted`, those marked
    /// \Deleted) from a folder of `account`.
    pub async fn expunge(
        &self,
        account: i64,
        folder: i64,
        runs: &[(u32, u32)],
        only_deleted: bool,
    ) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let stmts = expunge_stmts(account, folder, runs, only_deleted, self.default_quota());
        self.batch(stmts).await?;
        Ok(())
    }

    /// APPEND (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND: all or none).
    /// `OverQuota` when the mailbox would pass its quota (R-IN-3).
    ///
    /// The UIDs are taken in the transaction, as a delivery takes them
    /// (the folder row is updated first, which orders concurrent writers
    /// on PostgreSQL; SQLite has one writer), so sessions appending at once
    /// never retry; the folder's new `uidnext` comes back from the same
    /// transaction, so the UIDs are known even if another session expunges
    /// the messages before this one answers.
    pub async fn append(&self, account: i64, folder: i64, msgs: &[NewAppend]) -> Result<Appended> {
        let n = msgs.len() as i64;
        let mut stmts = vec![Stmt::new(
            "UPDATE folders SET uidnext = uidnext + ?, modseq = modseq + 1 WHERE id = ? AND uidnext + ? <= 4294967296
             RETURNING uidnext",
            vec![n.into(), folder.into(), n.into()],
        )
        .returning()
        .must_change(StoreError::NotFound(
            "no such folder, or it has used every UID".into(),
        ))];
        for (i, m) in msgs.iter().enumerate() {
            let blob = crate::messages::new_blob_id();
            stmts.push(Stmt::new(
                "INSERT INTO blobs (id, data) VALUES (?, ?)",
                vec![blob.clone().into(), m.data.clone().into()],
            ));
            if let Some(s) = &m.summary {
                stmts.push(summary_stmt(&blob, s));
            }
            // Message i gets UID uidnext_before + i = uidnext_now - n + i.
            let back = n - i as i64;
            stmts.push(Stmt::new(
                "INSERT INTO entries (mailbox_id, blob_id, uid, prefix, size, received_at, folder_id, imap_uid, modseq, flags)
                 SELECT ?, ?, ? || CAST(f.uidnext - ? AS TEXT), ?, ?, ?, f.id, f.uidnext - ?, f.modseq, ?
                 FROM folders f WHERE f.id = ?",
                vec![
                    account.into(),
                    blob.clone().into(),
                    format!("i{folder}.").into(),
                    back.into(),
                    Vec::new().into(),
                    (m.data.len() as i64).into(),
                    m.date_ms.into(),
                    back.into(),
                    m.flags.into(),
                    folder.into(),
                ],
            ));
        }
        // The counters from what is known of the messages: no read.
        let size: i64 = msgs.iter().map(|m| m.data.len() as i64).sum();
        let unseen = msgs.iter().filter(|m| m.flags & SEEN == 0).count() as i64;
        let deleted = msgs.iter().filter(|m| m.flags & DELETED != 0).count() as i64;
        stmts.push(Stmt::new(
            "UPDATE folders SET messages = messages + ?, unseen = unseen + ?, deleted = deleted + ?, size = size + ?
             WHERE id = ?",
            vec![n.into(), unseen.into(), deleted.into(), size.into(), folder.into()],
        ));
        stmts.push(crate::quota::usage_stmt(account, size));
        stmts.push(crate::quota::within_quota_stmt(
            account,
            self.default_quota(),
        ));
        let uidnext = self.batch(stmts).await?[0] as i64;
        let uids = (0..n).map(|i| (uidnext - n + i) as u32).collect();
        Ok(Appended {
            uidvalidity: folder as u32,
            uids,
        })
    }

    /// COPY (RFC 9051 §6.4.7) or, with `expunge_source`, MOVE (RFC 6851):
    /// the messages `uids` (sorted) of `src` placed in `dst` in UID order,
    /// flags kept, bodies shared. A quota check applies to COPY only: a
    /// MOVE within a mailbox takes no more room.
    pub async fn copy(
        &self,
        account: i64,
        src: i64,
        dst: i64,
        uids: &[u32],
        expunge_source: bool,
    ) -> Result<Appended> {
        for _ in 0..TRIES {
            let Some(f) = self.folder_by_id(dst).await? else {
                return Err(StoreError::NotFound("no such folder".into()));
            };
            let mut stmts = vec![expect_uidnext(dst, f.uidnext, uids.len())?];
            let mut out = Vec::with_capacity(uids.len());
            for (i, &uid) in uids.iter().enumerate() {
                let new = f.uidnext + i as u32;
                stmts.push(
                    Stmt::new(
                        "INSERT INTO entries (mailbox_id, blob_id, uid, prefix, size, received_at, folder_id, imap_uid, modseq, flags, retrieved_at)
                         SELECT mailbox_id, blob_id, ?, prefix, size, received_at, ?, ?, (SELECT modseq FROM folders WHERE id = ?), flags, retrieved_at
                         FROM entries WHERE folder_id = ? AND imap_uid = ?",
                        vec![
                            format!("i{dst}.{new}").into(),
                            dst.into(),
                            (new as i64).into(),
                            dst.into(),
                            src.into(),
                            (uid as i64).into(),
                        ],
                    )
                    .must_change(StoreError::NotFound(
                        "some of the messages were expunged meanwhile".into(),
                    )),
                );
                out.push(new);
            }
            stmts.push(Stmt::new(
                "UPDATE folders SET uidnext = uidnext + ? WHERE id = ?",
                vec![(uids.len() as i64).into(), dst.into()],
            ));
            stmts.extend(placed_stmts(account, dst, f.uidnext));
            if expunge_source {
                stmts.extend(expunge_stmts(
                    account,
                    src,
                    &runs(uids),
                    false,
                    self.default_quota(),
                ));
            } else {
                stmts.push(crate::quota::within_quota_stmt(
                    account,
                    self.default_quota(),
                ));
            }
            match self.batch(stmts).await {
                Ok(_) => {
                    return Ok(Appended {
                        uidvalidity: f.uidvalidity(),
                        uids: out,
                    })
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Backend("COPY: the folder kept changing".into()))
    }

    /// The messages of `runs` for FETCH, by UID, with their summaries
    /// and, with `data`, their contents.
    pub async fn fetch_rows(
        &self,
        folder: i64,
        runs: &[(u32, u32)],
        data: bool,
    ) -> Result<Vec<FetchRow>> {
        let mut out = Vec::new();
        for (a, b) in bounds(runs) {
            let params = vec![folder.into(), a.into(), b.into()];
            let rows = if data {
                self.query(
                    "SELECT e.imap_uid, e.size, e.received_at, e.blob_id, s.sent_at, s.envelope, s.body, s.bodystructure,
                            e.prefix, b.data
                     FROM entries e JOIN blobs b ON b.id = e.blob_id LEFT JOIN summaries s ON s.blob_id = e.blob_id
                     WHERE e.folder_id = ? AND e.imap_uid >= ? AND e.imap_uid <= ? ORDER BY e.imap_uid",
                    params,
                )
                .await?
            } else {
                self.query(
                    "SELECT e.imap_uid, e.size, e.received_at, e.blob_id, s.sent_at, s.envelope, s.body, s.bodystructure
                     FROM entries e LEFT JOIN summaries s ON s.blob_id = e.blob_id
                     WHERE e.folder_id = ? AND e.imap_uid >= ? AND e.imap_uid <= ? ORDER BY e.imap_uid",
                    params,
                )
                .await?
            };
            for mut r in rows {
                let summary = match r.0.get(5) {
                    Some(crate::db::Val::B(_)) => Some(BlobSummary {
                        sent_at: r.opt_i64(4)?,
                        envelope: r.take_bytes(5)?,
                        body: r.take_bytes(6)?,
                        bodystructure: r.take_bytes(7)?,
                    }),
                    _ => None,
                };
                let content = if data {
                    // Mail APPENDed has no prefix: its body is the message.
                    let prefix = r.take_bytes(8)?;
                    let body = r.take_bytes(9)?;
                    Some(if prefix.is_empty() {
                        body
                    } else {
                        let mut d = prefix;
                        d.extend_from_slice(&body);
                        d
                    })
                } else {
                    None
                };
                out.push(FetchRow {
                    uid: r.i64(0)?.clamp(0, u32::MAX as i64) as u32,
                    size: r.i64(1)?.max(0) as u64,
                    internal_ms: r.i64(2)?,
                    blob: r.text(3)?,
                    summary,
                    data: content,
                });
            }
        }
        Ok(out)
    }

    /// Stores the summary of a body that had none (mail stored before
    /// summaries were computed, or by a path that does not compute them).
    pub async fn save_summary(&self, blob: &str, s: &BlobSummary) -> Result<()> {
        self.batch(vec![summary_stmt(blob, s)]).await?;
        Ok(())
    }

    /// Records the first read over IMAP of messages of `runs`
    /// (`policy.imap_read_retention`, R-POP-5).
    pub async fn mark_imap_read(&self, folder: i64, runs: &[(u32, u32)]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let stmts = bounds(runs)
            .map(|(a, b)| {
                Stmt::new(
                    "UPDATE entries SET imap_read_at = ?
                     WHERE folder_id = ? AND imap_uid >= ? AND imap_uid <= ? AND imap_read_at IS NULL",
                    vec![now.into(), folder.into(), a.into(), b.into()],
                )
            })
            .collect();
        self.batch(stmts).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_uids() {
        assert_eq!(runs(&[]), vec![]);
        assert_eq!(runs(&[1, 2, 3, 5, 7, 8]), vec![(1, 3), (5, 5), (7, 8)]);
        assert_eq!(
            runs(&[u32::MAX - 1, u32::MAX]),
            vec![(u32::MAX - 1, u32::MAX)]
        );
    }
}
