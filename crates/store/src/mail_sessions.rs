//! Leases of open POP3 and IMAP sessions, in the store so that every node
//! sees them (R-POP-4, R-POP-5): a mailbox is used from one computer at a
//! time. Several IMAP sessions from one IP may share it (mail clients
//! open several connections); a POP3 session excludes every other, and a
//! session from a second IP is refused while the first has sessions open.
//!
//! A session refreshes its lease while it lives; a crashed node's leases
//! run out by themselves, and a restarted node drops those it held
//! ([`Store::release_node_locks`]).

use crate::db::Stmt;
use crate::{now_ms, Result, Store};
use std::time::Duration;

impl Store {
    /// Opens session `id` of `protocol` ("pop3" or "imap") from `ip` on
    /// `account`, unless the rules above refuse it: Ok(false), in use.
    pub async fn mail_session_open(
        &self,
        id: &str,
        account: i64,
        protocol: &str,
        ip: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let now = now_ms();
        let n = self
            .batch(vec![
                // Locks the account's row on PostgreSQL, so that two logins
                // of one mailbox decide one after the other.
                Stmt::new(
                    "UPDATE addresses SET used = used WHERE id = ?",
                    vec![account.into()],
                ),
                Stmt::new(
                    "DELETE FROM mail_sessions WHERE account_id = ? AND expires_at < ?",
                    vec![account.into(), now.into()],
                ),
                Stmt::new(
                    "INSERT INTO mail_sessions (id, account_id, protocol, ip, node, expires_at)
                     SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM mail_sessions
                       WHERE account_id = ? AND expires_at >= ? AND (protocol = 'pop3' OR ? = 'pop3' OR ip <> ?))",
                    vec![
                        id.into(),
                        account.into(),
                        protocol.into(),
                        ip.into(),
                        node.into(),
                        (now + ttl.as_millis() as i64).into(),
                        account.into(),
                        now.into(),
                        protocol.into(),
                        ip.into(),
                    ],
                ),
            ])
            .await?;
        Ok(n.get(2).copied().unwrap_or(0) == 1)
    }

    /// Extends a session's lease; false if it was lost.
    pub async fn mail_session_refresh(&self, id: &str, ttl: Duration) -> Result<bool> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE mail_sessions SET expires_at = ? WHERE id = ?",
                vec![(now_ms() + ttl.as_millis() as i64).into(), id.into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0) == 1)
    }

    pub async fn mail_session_close(&self, id: &str) -> Result<()> {
        self.batch(vec![Stmt::new(
            "DELETE FROM mail_sessions WHERE id = ?",
            vec![id.into()],
        )])
        .await?;
        Ok(())
    }
}
