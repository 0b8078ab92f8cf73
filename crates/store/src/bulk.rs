//! The bulk-mail window (R-OUT-8) as the database keeps it: two logs that
//! only grow at their end, shared by every node.
//!
//! - `bulk_clusters`: a piece of content as one customer sends it: a
//!   cluster key (random, chosen by the node that saw the content first),
//!   the customer and the MinHash signature.
//! - `bulk_sends`: one row per accepted message: its cluster, the sending
//!   account and the keys of the recipients that count (64-bit hashes, not
//!   addresses), 8 bytes each.
//!
//! Each node builds its index (the policy crate's `BulkIndex`) from these
//! rows at start and follows them by id, so the hot path reads nothing
//! from the database and writes one row per message (two for new
//! content), both at the end of their tables.
//!
//! A cluster row is written again when its content is still being sent
//! half a window after its last row, so that every send in the window has
//! a cluster row no older than 1.5 windows: that is how long cluster rows
//! are kept.

use crate::db::{Stmt, Val};
use crate::{Result, Store};

/// A cluster as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkCluster {
    pub id: i64,
    pub cluster: i64,
    pub customer: String,
    pub signature: Vec<u8>,
    pub at: i64,
}

/// A message as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkSend {
    pub id: i64,
    pub cluster: i64,
    pub account: String,
    pub rcpts: Vec<i64>,
    pub at: i64,
}

/// What an accepted message adds to the window, written in the message's
/// own transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkTrack {
    pub cluster: i64,
    /// Write the cluster row (new content, or a refresh): its customer and
    /// signature.
    pub cluster_row: Option<(String, Vec<u8>)>,
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
    b.chunks_exact(8).map(|c| i64::from_be_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

impl Store {
    /// Cluster rows with an id above `after` and a time from `since`, in
    /// id order, at most `limit`.
    pub async fn bulk_clusters_after(&self, after: i64, since: i64, limit: i64) -> Result<Vec<BulkCluster>> {
        let mut rows = self
            .query(
                "SELECT id, cluster, customer, signature, at FROM bulk_clusters
                 WHERE id > ? AND at >= ? ORDER BY id LIMIT ?",
                vec![after.into(), since.into(), limit.into()],
            )
            .await?;
        rows.iter_mut()
            .map(|r| {
                Ok(BulkCluster {
                    id: r.i64(0)?,
                    cluster: r.i64(1)?,
                    customer: r.text(2)?,
                    signature: r.take_bytes(3)?,
                    at: r.i64(4)?,
                })
            })
            .collect()
    }

    /// Send rows with an id above `after` and a time from `since`, in id
    /// order, at most `limit`.
    pub async fn bulk_sends_after(&self, after: i64, since: i64, limit: i64) -> Result<Vec<BulkSend>> {
        let mut rows = self
            .query(
                "SELECT id, cluster, account, rcpts, at FROM bulk_sends
                 WHERE id > ? AND at >= ? ORDER BY id LIMIT ?",
                vec![after.into(), since.into(), limit.into()],
            )
            .await?;
        rows.iter_mut()
            .map(|r| {
                Ok(BulkSend {
                    id: r.i64(0)?,
                    cluster: r.i64(1)?,
                    account: r.text(2)?,
                    rcpts: rcpts_from_bytes(&r.take_bytes(3)?),
                    at: r.i64(4)?,
                })
            })
            .collect()
    }

    /// Forgets sends from before `sends_before` and cluster rows from
    /// before `clusters_before`, a slice at a time so the writer is never
    /// held long. Returns the rows removed.
    pub async fn bulk_prune(&self, sends_before: i64, clusters_before: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self
                .batch(vec![
                    Stmt::new(
                        "DELETE FROM bulk_sends WHERE id IN
                           (SELECT id FROM bulk_sends WHERE at < ? ORDER BY at LIMIT 5000)",
                        vec![sends_before.into()],
                    ),
                    Stmt::new(
                        "DELETE FROM bulk_clusters WHERE id IN
                           (SELECT id FROM bulk_clusters WHERE at < ? ORDER BY at LIMIT 5000)",
                        vec![clusters_before.into()],
                    ),
                ])
                .await?;
            let n: u64 = n.iter().sum();
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Rows in the logs: (cluster rows, send rows).
    pub async fn bulk_size(&self) -> Result<(i64, i64)> {
        let c = self.query("SELECT COUNT(*) FROM bulk_clusters", vec![]).await?;
        let s = self.query("SELECT COUNT(*) FROM bulk_sends", vec![]).await?;
        Ok((c.first().map_or(Ok(0), |r| r.i64(0))?, s.first().map_or(Ok(0), |r| r.i64(0))?))
    }
}

/// The statements that log a message in the window, for the message's own
/// transaction.
pub(crate) fn bulk_stmts(t: BulkTrack) -> Vec<Stmt> {
    let mut out = Vec::with_capacity(2);
    if let Some((customer, signature)) = t.cluster_row {
        out.push(Stmt::new(
            "INSERT INTO bulk_clusters (cluster, customer, signature, at) VALUES (?, ?, ?, ?)",
            vec![t.cluster.into(), customer.into(), Val::B(signature), t.at.into()],
        ));
    }
    out.push(Stmt::new(
        "INSERT INTO bulk_sends (cluster, account, rcpts, at) VALUES (?, ?, ?, ?)",
        vec![t.cluster.into(), t.account.into(), Val::B(rcpts_to_bytes(&t.rcpts)), t.at.into()],
    ));
    out
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
