//! The addresses every domain has (R-ADDR-4 postmaster@, R-ADDR-5 all@),
//! the domain's contact they lead to, and billing (R-ADDR-8), which
//! leaves them out.

use crate::accounts::{account_row, mailbox_cols};
use crate::address::{join, normalize_address, normalize_domain};
use crate::db::Stmt;
use crate::{Account, Result, Store, StoreError};

/// One domain's line of the billing report (R-ADDR-8).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Billing {
    pub domain: String,
    /// Mailboxes, suspended ones included.
    pub mailboxes: i64,
    /// Aliases, suspended ones included.
    pub aliases: i64,
    /// How many of those are suspended (still billable, R-ADDR-3).
    pub suspended: i64,
    /// Mailboxes + aliases; postmaster@ and all@ are not billable.
    pub billable: i64,
}

impl Store {
    /// The domain's technical contact: where postmaster@ mail goes.
    pub async fn domain_contact(&self, domain: &str) -> Result<String> {
        let rows = self
            .lookup(
                "SELECT contact FROM domains WHERE name = ?",
                vec![domain.to_ascii_lowercase().into()],
            )
            .await?;
        match rows.first() {
            Some(r) => r.text(0),
            None => Err(StoreError::NotFound(format!("no such domain: {domain}"))),
        }
    }

    /// R-ADDR-5: every active mailbox of the domain, in address order:
    /// no aliases, no suspended mailboxes, not postmaster@.
    pub async fn all_members(&self, domain: &str) -> Result<Vec<Account>> {
        let rows = self
            .query(
                concat!(
                    "SELECT a.id, a.address, ",
                    mailbox_cols!(),
                    " FROM addresses a JOIN domains d ON d.id = a.domain_id
                 WHERE d.name = ? AND a.kind = 'mailbox' AND a.suspended = 0 ORDER BY a.address"
                ),
                vec![domain.to_ascii_lowercase().into()],
            )
            .await?;
        rows.iter().map(|r| account_row(r, 0)).collect()
    }

    /// `domain set`: a new contact (where postmaster@ goes) or package.
    pub async fn domain_set(
        &self,
        name: &str,
        contact: Option<&str>,
        package: Option<&str>,
    ) -> Result<()> {
        let name = normalize_domain(name)?;
        if contact.is_none() && package.is_none() {
            return Err(StoreError::Invalid(
                "nothing to change: give --contact or --package".into(),
            ));
        }
        let contact = contact
            .map(|c| {
                normalize_address(c)
                    .map(|(l, d)| join(&l, &d))
                    .map_err(|e| StoreError::Invalid(format!("--contact: {e}")))
            })
            .transpose()?;
        if contact.as_deref() == Some(&format!("postmaster@{name}")) {
            return Err(StoreError::Invalid(format!(
                "--contact: postmaster@{name} delivers to the contact, so it cannot be the contact (R-ADDR-4)"
            )));
        }
        let package = self.package_must_exist(package).await?;
        self.batch(vec![Stmt::new(
            "UPDATE domains SET contact = COALESCE(?, contact), package = COALESCE(?, package) WHERE name = ?",
            vec![contact.into(), package.clone().into(), name.clone().into()],
        )
        .must_change(StoreError::NotFound(format!("no such domain: {name}")))])
            .await?;
        if package.is_some() {
            self.settle_package(None, Some(&name)).await?;
        }
        Ok(())
    }

    /// R-ADDR-8: per domain (or one domain), in name order.
    pub async fn billing(&self, domain: Option<&str>) -> Result<Vec<Billing>> {
        let one = domain.map(normalize_domain).transpose()?;
        if let Some(d) = &one {
            if !self.is_hosted(d).await? {
                return Err(StoreError::NotFound(format!("no such domain: {d}")));
            }
            // One domain (every panel page of it): counted on the index of
            // (domain, kind, suspended) alone, which PostgreSQL reads
            // without the table (an index-only scan).
            let rows = self
                .query(
                    "SELECT kind, suspended, COUNT(*) FROM addresses
                     WHERE domain_id = (SELECT id FROM domains WHERE name = ?)
                       AND kind IN ('mailbox', 'alias')
                     GROUP BY kind, suspended",
                    vec![d.clone().into()],
                )
                .await?;
            let mut b = Billing {
                domain: d.clone(),
                ..Default::default()
            };
            for r in &rows {
                let n = r.i64(2)?;
                match r.text(0)?.as_str() {
                    "mailbox" => b.mailboxes += n,
                    _ => b.aliases += n,
                }
                if r.i64(1)? != 0 {
                    b.suspended += n;
                }
            }
            b.billable = b.mailboxes + b.aliases;
            return Ok(vec![b]);
        }
        let rows = self
            .query(
                // One pass over the domain's addresses, on the index of
                // (domain, kind, suspended): the panels show this on
                // every page of a domain of any size.
                "SELECT d.name,
                   COALESCE(SUM(CASE WHEN a.kind = 'mailbox' THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN a.kind = 'alias' THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN a.kind IN ('mailbox', 'alias') AND a.suspended <> 0 THEN 1 ELSE 0 END), 0)
                 FROM domains d LEFT JOIN addresses a ON a.domain_id = d.id
                 WHERE (? = '' OR d.name = ?) GROUP BY d.name ORDER BY d.name",
                vec![
                    one.clone().unwrap_or_default().into(),
                    one.unwrap_or_default().into(),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let (mailboxes, aliases) = (r.i64(1)?, r.i64(2)?);
                Ok(Billing {
                    domain: r.text(0)?,
                    mailboxes,
                    aliases,
                    suspended: r.i64(3)?,
                    billable: mailboxes + aliases,
                })
            })
            .collect()
    }
}
