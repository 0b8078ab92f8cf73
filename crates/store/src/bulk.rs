//! The bulk-mail window (R-OUT-8), shared by every node on one database.
//!
//! A *cluster* is one piece of content as a customer sends it: the MinHash
//! signature of its first message, indexed by LSH band keys. Each cluster
//! remembers which recipients it has reached (as 64-bit keys, not
//! addresses) and which accounts sent it, with the time of the latest
//! send. The policy rule finds a message's clusters by its band keys,
//! counts their distinct recipients in the window, and writes what the
//! message adds in the same transaction as the message itself.
//!
//! Rows per tracked recipient: one `bulk_rcpts` row (cluster, key, time)
//! and its entry in the time index; a WITHOUT ROWID table on SQLite keeps
//! that to the key itself.

use crate::db::{Stmt, Val};
use crate::{Result, Store};

/// Band keys per lookup (the policy engine's LSH bands).
pub const MAX_BANDS: usize = 16;
/// Clusters counted together for one message.
pub const MAX_CLUSTERS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct BulkCluster {
    pub id: i64,
    pub signature: Vec<u8>,
    pub last_at: i64,
}

/// What an accepted message adds to the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkTrack {
    pub cluster: i64,
    /// A new cluster: its customer, signature and band keys.
    pub new: Option<(String, Vec<u8>, Vec<i64>)>,
    pub account: String,
    /// Keys of the recipients that count (outside the customer's domains).
    pub rcpts: Vec<i64>,
}

fn pad<const N: usize>(ids: &[i64]) -> Vec<Val> {
    // Unused placeholders get a key no row has (cluster ids and band keys
    // are random; 0 is never issued, see `new_cluster_id`).
    (0..N).map(|i| Val::I(ids.get(i).copied().unwrap_or(0))).collect()
}

/// A random positive id, so that a cluster and its band rows can be
/// written in one batch on any node without asking the database first.
pub fn new_cluster_id() -> i64 {
    loop {
        let v = (rand::random::<u64>() >> 1) as i64;
        if v != 0 {
            return v;
        }
    }
}

impl Store {
    /// The customer's clusters active since `since` that share a band key
    /// with the message, most recent first.
    pub async fn bulk_candidates(&self, customer: &str, bands: &[i64], since: i64) -> Result<Vec<BulkCluster>> {
        let mut params = pad::<MAX_BANDS>(bands);
        params.push(customer.into());
        params.push(since.into());
        let mut rows = self
            .query(
                "SELECT id, signature, last_at FROM bulk_clusters
                 WHERE id IN (SELECT cluster_id FROM bulk_bands
                              WHERE band IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))
                   AND customer = ? AND last_at >= ?
                 ORDER BY last_at DESC LIMIT 32",
                params,
            )
            .await?;
        rows.iter_mut()
            .map(|r| Ok(BulkCluster { id: r.i64(0)?, signature: r.take_bytes(1)?, last_at: r.i64(2)? }))
            .collect()
    }

    /// Distinct recipients the clusters have reached since `since`,
    /// together with `rcpts` (a message about to be sent).
    pub async fn bulk_reach(&self, clusters: &[i64], since: i64, rcpts: &[i64]) -> Result<i64> {
        let clusters = &clusters[..clusters.len().min(MAX_CLUSTERS)];
        let mut rcpts = rcpts.to_vec();
        rcpts.sort_unstable();
        rcpts.dedup();
        if clusters.is_empty() {
            return Ok(rcpts.len() as i64);
        }
        let mut params = pad::<MAX_CLUSTERS>(clusters);
        params.push(since.into());
        let rows = self
            .query(
                "SELECT COUNT(DISTINCT rcpt) FROM bulk_rcpts
                 WHERE cluster_id IN (?, ?, ?, ?, ?, ?, ?, ?) AND at >= ?",
                params,
            )
            .await?;
        let mut n = rows.first().map_or(Ok(0), |r| r.i64(0))?;
        for r in rcpts {
            let mut params = pad::<MAX_CLUSTERS>(clusters);
            params.push(r.into());
            params.push(since.into());
            let seen = self
                .query(
                    "SELECT 1 FROM bulk_rcpts
                     WHERE cluster_id IN (?, ?, ?, ?, ?, ?, ?, ?) AND rcpt = ? AND at >= ? LIMIT 1",
                    params,
                )
                .await?;
            if seen.is_empty() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The accounts that sent the clusters' content since `since`.
    pub async fn bulk_senders(&self, clusters: &[i64], since: i64) -> Result<Vec<String>> {
        let clusters = &clusters[..clusters.len().min(MAX_CLUSTERS)];
        let mut params = pad::<MAX_CLUSTERS>(clusters);
        params.push(since.into());
        let rows = self
            .query(
                "SELECT DISTINCT account FROM bulk_senders
                 WHERE cluster_id IN (?, ?, ?, ?, ?, ?, ?, ?) AND at >= ? ORDER BY account",
                params,
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    /// Forgets what left the window before `before`, a slice at a time so
    /// the writer is never held long. Returns the rows removed.
    pub async fn bulk_prune(&self, before: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self
                .batch(vec![
                    Stmt::new(
                        "DELETE FROM bulk_rcpts WHERE (cluster_id, rcpt) IN
                           (SELECT cluster_id, rcpt FROM bulk_rcpts WHERE at < ? LIMIT 5000)",
                        vec![before.into()],
                    ),
                    Stmt::new(
                        "DELETE FROM bulk_senders WHERE (cluster_id, account) IN
                           (SELECT cluster_id, account FROM bulk_senders WHERE at < ? LIMIT 5000)",
                        vec![before.into()],
                    ),
                    Stmt::new(
                        "DELETE FROM bulk_bands WHERE cluster_id IN
                           (SELECT id FROM bulk_clusters WHERE last_at < ? LIMIT 500)",
                        vec![before.into()],
                    ),
                    Stmt::new(
                        "DELETE FROM bulk_clusters WHERE id IN
                           (SELECT id FROM bulk_clusters WHERE last_at < ? LIMIT 500)",
                        vec![before.into()],
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

    /// Rows in the window: (clusters, tracked recipients).
    pub async fn bulk_size(&self) -> Result<(i64, i64)> {
        let c = self.query("SELECT COUNT(*) FROM bulk_clusters", vec![]).await?;
        let r = self.query("SELECT COUNT(*) FROM bulk_rcpts", vec![]).await?;
        Ok((c.first().map_or(Ok(0), |r| r.i64(0))?, r.first().map_or(Ok(0), |r| r.i64(0))?))
    }
}

/// The statements that add a message to the window, for the message's
/// own transaction.
pub(crate) fn bulk_stmts(t: BulkTrack, now: i64) -> Vec<Stmt> {
    let mut out = Vec::with_capacity(t.rcpts.len() + MAX_BANDS + 2);
    match t.new {
        Some((customer, signature, bands)) => {
            out.push(Stmt::new(
                "INSERT INTO bulk_clusters (id, customer, signature, first_at, last_at) VALUES (?, ?, ?, ?, ?)",
                vec![t.cluster.into(), customer.into(), Val::B(signature), now.into(), now.into()],
            ));
            for b in bands {
                out.push(Stmt::new(
                    "INSERT INTO bulk_bands (band, cluster_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    vec![b.into(), t.cluster.into()],
                ));
            }
        }
        None => out.push(Stmt::new(
            "UPDATE bulk_clusters SET last_at = ? WHERE id = ? AND last_at < ?",
            vec![now.into(), t.cluster.into(), now.into()],
        )),
    }
    for r in t.rcpts {
        out.push(Stmt::new(
            "INSERT INTO bulk_rcpts (cluster_id, rcpt, at) VALUES (?, ?, ?)
             ON CONFLICT (cluster_id, rcpt) DO UPDATE SET at = excluded.at",
            vec![t.cluster.into(), r.into(), now.into()],
        ));
    }
    out.push(Stmt::new(
        "INSERT INTO bulk_senders (cluster_id, account, at) VALUES (?, ?, ?)
         ON CONFLICT (cluster_id, account) DO UPDATE SET at = excluded.at",
        vec![t.cluster.into(), t.account.into(), now.into()],
    ));
    out
}
