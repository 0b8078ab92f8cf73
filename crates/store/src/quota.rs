//! Mailbox quotas (R-IN-3): usage kept exactly, in the transaction of each
//! delivery and deletion, and the notice level, so that the 90 % and 100 %
//! notices go once per crossing, across restarts and nodes.

use crate::accounts::{account_row, mailbox_address, mailbox_cols};
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

/// The largest quota (1 PiB): usage arithmetic (`used * 10`) stays far
/// from BIGINT's limit, which PostgreSQL enforces.
pub const MAX_QUOTA: u64 = 1 << 50;

/// Refuses a quota over [`MAX_QUOTA`].
pub fn check_quota(q: u64) -> Result<i64> {
    if q > MAX_QUOTA {
        return Err(StoreError::Invalid(format!(
            "a quota of {q} bytes is more than the largest, {MAX_QUOTA} (1 PiB)"
        )));
    }
    Ok(q as i64)
}

/// The usage at which `level` is reached in a quota of `quota` bytes.
pub fn line(level: i64, quota: i64) -> i64 {
    if level >= FULL {
        quota
    } else {
        (quota.saturating_mul(9) + 9) / 10
    }
}

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
            .store(bytes.min(MAX_QUOTA) as i64, Ordering::Relaxed);
    }

    pub fn default_quota(&self) -> i64 {
        self.default_quota.load(Ordering::Relaxed)
    }

    /// `user quota`.
    pub async fn user_quota(&self, address: &str) -> Result<Usage> {
        let addr = mailbox_address(address)?;
        let rows = self
            .lookup(
                concat!(
                    "SELECT a.id, a.address, ",
                    mailbox_cols!(),
                    ", (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = a.id)
                     FROM addresses a WHERE a.address = ? AND a.kind = 'mailbox'"
                ),
                vec![addr.clone().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such mailbox: {addr}")));
        };
        let a = account_row(r, 0)?;
        Ok(Usage {
            address: addr,
            used: a.used,
            quota: a.quota.unwrap_or(self.default_quota()),
            messages: r.i64(7)?,
        })
    }

    /// `user quota ADDRESS --set SIZE`: the mailbox's own quota (None:
    /// from its package again). A quota below the usage is allowed; new
    /// mail is refused until the mailbox fits (the caller warns).
    pub async fn user_set_quota(&self, address: &str, quota: Option<u64>) -> Result<Usage> {
        let addr = mailbox_address(address)?;
        let quota = quota.map(check_quota).transpose()?;
        self.batch(vec![Stmt::new(
            "UPDATE addresses SET quota = ? WHERE address = ? AND kind = 'mailbox'",
            vec![quota.into(), addr.clone().into()],
        )
        .must_change(StoreError::NotFound(format!("no such mailbox: {addr}")))])
            .await?;
        self.settle_mailbox(&addr).await
    }

    /// After the quota of one mailbox changed: its notice level settles
    /// to the quota that now applies; returns its usage.
    async fn settle_mailbox(&self, addr: &str) -> Result<Usage> {
        let id = self
            .lookup(
                "SELECT id FROM addresses WHERE address = ?",
                vec![addr.into()],
            )
            .await?
            .first()
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0);
        let [a, b] = settle_stmts(id, self.default_quota());
        self.batch(vec![a, b]).await?;
        self.user_quota(addr).await
    }

    /// Places a mailbox in a package (None: its domain's again); its
    /// notice level settles to the quota that now applies.
    pub async fn user_set_package(&self, address: &str, package: Option<&str>) -> Result<Usage> {
        let addr = mailbox_address(address)?;
        let package = self.package_must_exist(package).await?;
        self.batch(vec![Stmt::new(
            "UPDATE addresses SET package = ? WHERE address = ? AND kind = 'mailbox'",
            vec![package.into(), addr.clone().into()],
        )
        .must_change(StoreError::NotFound(format!("no such mailbox: {addr}")))])
            .await?;
        self.settle_mailbox(&addr).await
    }

    /// After a package's quota changed (or a domain moved to another
    /// package): lowers the notice level of its mailboxes now under a
    /// line, so that their next crossing notifies again.
    pub(crate) async fn settle_package(
        &self,
        package: Option<&str>,
        domain: Option<&str>,
    ) -> Result<()> {
        let rows = self
            .query(
                "SELECT a.id FROM addresses a
                 WHERE a.kind = 'mailbox' AND a.quota_level > 0
                   AND (a.package = ? OR a.domain_id IN (SELECT d.id FROM domains d WHERE d.package = ? OR d.name = ?))",
                vec![
                    package.unwrap_or("").into(),
                    package.unwrap_or("").into(),
                    domain.unwrap_or("").into(),
                ],
            )
            .await?;
        let mut stmts = Vec::with_capacity(rows.len() * 2);
        for r in &rows {
            stmts.extend(settle_stmts(r.i64(0)?, self.default_quota()));
        }
        if !stmts.is_empty() {
            self.batch(stmts).await?;
        }
        Ok(())
    }

    /// Mailboxes whose quota comes from package `name` (theirs or their
    /// domain's) and that use more than it: after `package set --quota`,
    /// the ones that take no new mail until they fit.
    pub async fn package_overruns(&self, name: &str) -> Result<Vec<Usage>> {
        let rows = self
            .query(
                concat!(
                    "SELECT a.id, a.address, ",
                    mailbox_cols!(),
                    " FROM addresses a
                     WHERE a.kind = 'mailbox' AND a.quota IS NULL
                       AND (a.package = ? OR a.domain_id IN (SELECT d.id FROM domains d WHERE d.package = ?))
                     ORDER BY a.address"
                ),
                vec![name.into(), name.into()],
            )
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let a = account_row(r, 0)?;
            let quota = a.quota.unwrap_or(self.default_quota());
            if a.used > quota {
                out.push(Usage {
                    address: a.address,
                    used: a.used,
                    quota,
                    messages: 0,
                });
            }
        }
        Ok(out)
    }

    /// Stores a quota notice (R-IN-3) if, and only if, the mailbox has not
    /// yet been told about `level` and uses at least `threshold` bytes
    /// ([`line`], or for a mailbox that had to refuse a message, what
    /// made it not fit): the level and the notice commit together, so a
    /// notice goes once per crossing whichever node delivered. Returns
    /// whether it was stored.
    pub async fn quota_notice(
        &self,
        mailbox: i64,
        level: i64,
        threshold: i64,
        notice: NewMessage,
    ) -> Result<bool> {
        let mut stmts = vec![Stmt::new(
            "UPDATE addresses SET quota_level = ? WHERE id = ? AND quota_level < ? AND used >= ?",
            vec![level.into(), mailbox.into(), level.into(), threshold.into()],
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

/// A guard at the end of a batch that adds mail on a user's behalf
/// (IMAP APPEND, COPY): the batch fails with `OverQuota` if the mailbox
/// is now past its quota (R-IN-3).
pub(crate) fn within_quota_stmt(mailbox: i64, default: i64) -> Stmt {
    Stmt::new(
        concat!(
            "UPDATE addresses SET used = used WHERE id = ? AND used <= ",
            effective_quota!()
        ),
        vec![mailbox.into(), default.into()],
    )
    .must_change(StoreError::OverQuota(
        "the mailbox is over its quota (R-IN-3); delete some mail first".into(),
    ))
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
