//! Named leases with an expiry, in the store so that every node sharing a
//! database sees them (R-POP-4: one session per mailbox across nodes).
//!
//! A holder refreshes its lease while it works; a crashed holder's lease
//! runs out by itself, and a restarted node drops the leases it held before
//! ([`Store::release_node_locks`]).

use crate::db::Stmt;
use crate::{now_ms, Result, Store};
use std::time::Duration;

impl Store {
    /// Takes the lease `name` for `owner` if it is free or expired.
    pub async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let now = now_ms();
        let n = self
            .batch(vec![Stmt::new(
                "INSERT INTO locks (name, owner, node, expires_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, node = excluded.node,
                     expires_at = excluded.expires_at
                 WHERE locks.expires_at < ?",
                vec![
                    name.into(),
                    owner.into(),
                    node.into(),
                    (now + ttl.as_millis() as i64).into(),
                    now.into(),
                ],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0) == 1)
    }

    /// Extends a held lease; false if it was lost (expired and taken).
    pub async fn refresh_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ?",
                vec![
                    (now_ms() + ttl.as_millis() as i64).into(),
                    name.into(),
                    owner.into(),
                ],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0) == 1)
    }

    pub async fn unlock(&self, name: &str, owner: &str) -> Result<()> {
        self.batch(vec![Stmt::new(
            "DELETE FROM locks WHERE name = ? AND owner = ?",
            vec![name.into(), owner.into()],
        )])
        .await?;
        Ok(())
    }

    /// Drops every lease a node held: called when the node starts, since a
    /// node that starts holds no sessions.
    pub async fn release_node_locks(&self, node: &str) -> Result<u64> {
        let n = self
            .batch(vec![
                Stmt::new("DELETE FROM locks WHERE node = ?", vec![node.into()]),
                Stmt::new(
                    "DELETE FROM mail_sessions WHERE node = ?",
                    vec![node.into()],
                ),
            ])
            .await?;
        Ok(n.iter().sum())
    }
}
