//! The bulk-mail window (R-OUT-8) as the database keeps it: one log that
//! only grows at its end, shared by every node.
//!
//! A row is one accepted message: its content cluster (a random key,
//! chosen by the node that saw the content first), the sending account
//! and the keys of the recipients that count (64-bit hashes, not
//! addresses; 8 bytes each). A row that introduces its cluster also
//! carries the customer and the MinHash signature; so does the first row
//! of a cluster sent again half a window after its last introduction, so
//! that every send in the window has an introducing row no older than 1.5
//! windows: that is how long rows are kept.
//!
//! Each node builds its index (the policy crate's `BulkIndex`) from this
//! log at start and follows it by id, so the hot path reads nothing from
//! the database and writes one row per message, at the end of the table.

use crate::db::{Stmt, Val};
use crate::{Result, Store};

/// A message as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRow {
    pub id: i64,
    pub cluster: i64,
    /// The customer and signature, when the row introduces its cluster.
    pub intro: Option<(String, Vec<u8>)>,
    pub account: String,
    pub rcpts: Vec<i64>,
    pub at: i64,
}

/// What an accepted message adds to the window, written in the message's
/// own transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkTrack {
    pub cluster: i64,
    /// Introduce the cluster (new content, or a refresh): its customer and
    /// signature.
    pub intro: Option<(String, Vec<u8>)>,
    pub account: String,
    /// Keys of the recipients that count (outside the customer's domains).
    pub rcpts: Vec<i64>,
    pub at: i64,
}

/// A random positive cluster key: any node can name new content without
/// asking the database first.
pub fn new_cluster_id() -> i64 {
    loop {
        let v = (rand::random::<u64>() >> 1) as i64;
        if v != 0 {
            return v;
        }
    }
}

fn rcpts_to_bytes(r: &[i64]) -> Vec<u8> {
    r.iter().flat_map(|k| k.to_be_bytes()).collect()
}

fn rcpts_from_bytes(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

impl Store {
    /// Log rows with an id above `after` and a time from `since`, in id
    /// order, at most `limit`.
    pub async fn bulk_log_after(&self, after: i64, since: i64, limit: i64) -> Result<Vec<BulkRow>> {
        let mut rows = self
            .query(
                "SELECT id, cluster, customer, signature, account, rcpts, at FROM bulk_log
                 WHERE id > ? AND at >= ? ORDER BY id LIMIT ?",
                vec![after.into(), since.into(), limit.into()],
            )
            .await?;
        rows.iter_mut()
            .map(|r| {
                let customer = r.opt_text(2)?;
                let signature = r.take_bytes(3)?;
                Ok(BulkRow {
                    id: r.i64(0)?,
                    cluster: r.i64(1)?,
                    intro: customer.map(|c| (c, signature)),
                    account: r.text(4)?,
                    rcpts: rcpts_from_bytes(&r.take_bytes(5)?),
                    at: r.i64(6)?,
                })
            })
            .collect()
    }

    /// Forgets rows from before `before`, oldest first, a slice at a time
    /// so the writer is never held long. Ids follow time closely (a row
    /// gets its id when its message commits), so the oldest rows are at the
    /// head of the table and no time index is needed: a straggler slightly
    /// out of order goes with a later slice. Returns the rows removed.
    pub async fn bulk_prune(&self, before: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self
                .batch(vec![Stmt::new(
                    "DELETE FROM bulk_log WHERE id IN
                       (SELECT id FROM (SELECT id, at FROM bulk_log ORDER BY id LIMIT 5000) head WHERE at < ?)",
                    vec![before.into()],
                )])
                .await?;
            let n: u64 = n.iter().sum();
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Rows in the log.
    /// Rows since `since` that introduce content: how many clusters a
    /// node loading the window should make room for (an upper bound, as
    /// long-lived content is introduced again).
    pub async fn bulk_intros(&self, since: i64) -> Result<i64> {
        let c = self
            .query(
                "SELECT COUNT(*) FROM bulk_log WHERE signature IS NOT NULL AND at >= ?",
                vec![since.into()],
            )
            .await?;
        c.first().map_or(Ok(0), |r| r.i64(0))
    }
}

/// The statement that logs a message in the window, for the message's own
/// transaction.
pub(crate) fn bulk_stmt(t: BulkTrack) -> Stmt {
    let (customer, signature) = match t.intro {
        Some((c, s)) => (Val::T(c), Val::B(s)),
        None => (Val::NullT, Val::NullT),
    };
    Stmt::new(
        "INSERT INTO bulk_log (cluster, customer, signature, account, rcpts, at) VALUES (?, ?, ?, ?, ?, ?)",
        vec![t.cluster.into(), customer, signature, t.account.into(), Val::B(rcpts_to_bytes(&t.rcpts)), t.at.into()],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rcpt_bytes_round_trip() {
        let r = vec![1, -1, i64::MAX, i64::MIN, 0];
        assert_eq!(super::rcpts_from_bytes(&super::rcpts_to_bytes(&r)), r);
        assert!(super::rcpts_from_bytes(&[1, 2, 3]).is_empty());
    }
}
