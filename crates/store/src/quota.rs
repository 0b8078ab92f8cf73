//! Mailbox quotas (R-IN-3): usage kept exactly, in the transaction of each
//! delivery and deletion, and the notice level, so that the 90 % and 100 %
//! notices go once per crossing, across restarts and nodes.

use crate::accounts::mailbox_address;
use crate::db::Stmt;
use crate::{NewMessage, Result, Store, StoreError};
use std::sync::atomic::Ordering;

/// The quota of the `addresses` row being updated, with the server
/// default bound as its one parameter.
macro_rules! effective_quota {
    () => {
        "COALESCE(addresses.quota, (SELECT p.quota FROM packages p WHERE p.name = addresses.package),
           (SELECT p.quota FROM packages p JOIN domains pd ON pd.package = p.name WHERE pd.id = addresses.domain_id), ?)"
    };
}

/// Notice levels: past 90 %, and full.
pub const WARNED: i64 = 1;
pub const FULL: i64 = 2;

/// The level `used` bytes reach in a quota of `quota` bytes.
pub fn level(used: i64, quota: i64) -> i64 {
    if used >= quota {
        FULL
    } else if used.saturating_mul(10) >= quota.saturating_mul(9) {
        WARNED
    } else {
        0
    }
}

/// A mailbox's usage, for `user quota` and the panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub address: String,
    pub used: i64,
    pub quota: i64,
    pub messages: i64,
}

impl Store {
    /// The server default (`policy.quota`), for mailboxes whose quota
    /// comes from no package.
    pub fn set_default_quota(&self, bytes: u64) {
        self.default_quota
            .store(bytes.min(i64::MAX as u64) as i64, Ordering::Relaxed);
    }

    pub fn default_quota(&self) -> i64 {
        self.default_quota.load(Ordering::Relaxed)
    }

    /// `user quota`.
    pub async fn user_quota(&self, address: &str) -> Result<Usage> {
        let addr = mailbox_address(address)?;
        let rows = self
            .lookup(
                "SELECT a.used, COALESCE(a.quota, (SELECT p.quota FROM packages p WHERE p.name = a.package),
                   (SELECT p.quota FROM packages p JOIN domains pd ON pd.package = p.name WHERE pd.id = a.domain_id), ?),
                   (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = a.id)
                 FROM addresses a WHERE a.address = ? AND a.kind = 'mailbox'",
                vec![self.default_quota().into(), addr.clone().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such mailbox: {addr}")));
        };
        Ok(Usage {
            address: addr,
            used: r.i64(0)?,
            quota: r.i64(1)?,
            messages: r.i64(2)?,
        })
    }

    /// `user quota ADDRESS --set SIZE`: the mailbox's own quota (None:
    /// from its package again). A quota below the usage is allowed; new
    /// mail is refused until the mailbox fits (the caller warns).
    pub async fn user_set_quota(&self, address: &str, quota: Option<u64>) -> Result<Usage> {
        let addr = mailbox_address(address)?;
        self.batch(vec![Stmt::new(
            "UPDATE addresses SET quota = ? WHERE address = ? AND kind = 'mailbox'",
            vec![
                quota.map(|q| q.min(i64::MAX as u64) as i64).into(),
                addr.clone().into(),
            ],
        )
        .must_change(StoreError::NotFound(format!("no such mailbox: {addr}")))])
            .await?;
        let id = self
            .lookup(
                "SELECT id FROM addresses WHERE address = ?",
                vec![addr.clone().into()],
            )
            .await?
            .first()
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0);
        let [a, b] = settle_stmts(id, self.default_quota());
        self.batch(vec![a, b]).await?;
        self.user_quota(&addr).await
    }

    /// Mailboxes whose quota comes from package `name` (theirs or their
    /// domain's) and that use more than it: after `package set --quota`,
    /// the ones that take no new mail until they fit.
    pub async fn package_overruns(&self, name: &str) -> Result<Vec<Usage>> {
        let rows = self
            .query(
                "SELECT a.address, a.used, COALESCE(a.quota, (SELECT p.quota FROM packages p WHERE p.name = a.package),
                   (SELECT p.quota FROM packages p JOIN domains pd ON pd.package = p.name WHERE pd.id = a.domain_id), ?)
                 FROM addresses a
                 WHERE a.kind = 'mailbox' AND a.quota IS NULL
                   AND (a.package = ? OR a.domain_id IN (SELECT d.id FROM domains d WHERE d.package = ?))
                 ORDER BY a.address",
                vec![self.default_quota().into(), name.into(), name.into()],
            )
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let (used, quota) = (r.i64(1)?, r.i64(2)?);
            if used > quota {
                out.push(Usage {
                    address: r.text(0)?,
                    used,
                    quota,
                    messages: 0,
                });
            }
        }
        Ok(out)
    }

    /// Stores a quota notice (R-IN-3) if, and only if, the mailbox has not
    /// yet been told about `level`: the level and the notice commit
    /// together, so a notice goes once per crossing whichever node
    /// delivered. Returns whether it was stored.
    pub async fn quota_notice(&self, mailbox: i64, level: i64, notice: NewMessage) -> Result<bool> {
        let need = if level >= FULL { 10 } else { 9 };
        let mut stmts = vec![Stmt::new(
            concat!(
                "UPDATE addresses SET quota_level = ? WHERE id = ? AND quota_level < ?
                   AND used * 10 >= ",
                effective_quota!(),
                " * ?"
            ),
            vec![
                level.into(),
                mailbox.into(),
                level.into(),
                self.default_quota().into(),
                need.into(),
            ],
        )
        .must_change(StoreError::Conflict("already noticed".into()))];
        stmts.extend(crate::messages::message_stmts(notice)?.0);
        self.batch_guarded(stmts).await
    }
}

/// Adds `delta` bytes to a mailbox's usage.
pub(crate) fn usage_stmt(mailbox: i64, delta: i64) -> Stmt {
    Stmt::new(
        "UPDATE addresses SET used = used + ? WHERE id = ?",
        vec![delta.into(), mailbox.into()],
    )
}

/// Lowers the notice level of a mailbox whose usage fell below a line,
/// so that crossing it again notifies again. `default` is the server's
/// quota.
pub(crate) fn settle_stmts(mailbox: i64, default: i64) -> [Stmt; 2] {
    [
        Stmt::new(
            concat!(
                "UPDATE addresses SET quota_level = 1 WHERE id = ? AND quota_level > 1 AND used < ",
                effective_quota!()
            ),
            vec![mailbox.into(), default.into()],
        ),
        Stmt::new(
            concat!(
                "UPDATE addresses SET quota_level = 0 WHERE id = ? AND quota_level > 0 AND used * 10 < 9 * ",
                effective_quota!()
            ),
            vec![mailbox.into(), default.into()],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level(0, 100), 0);
        assert_eq!(level(89, 100), 0);
        assert_eq!(level(90, 100), WARNED);
        assert_eq!(level(99, 100), WARNED);
        assert_eq!(level(100, 100), FULL);
        assert_eq!(level(5, 0), FULL);
        assert_eq!(level(i64::MAX, i64::MAX), FULL);
    }
}
