//! Lists for people: domains and the addresses of a domain, a page at a
//! time in name order (the API and panels page with the last name seen
//! as the cursor), with a prefix search. A page reads at most `limit`
//! rows through an index, however large the domain.

use crate::accounts::{account_row, mailbox_cols, ALIAS, POSTMASTER};
use crate::address::normalize_domain;
use crate::db::Val;
use crate::{AddressInfo, DomainInfo, Result, Store, StoreError};

/// The columns [`domain_row`] reads (with the billable address count),
/// then the rest of the query.
macro_rules! domains_where {
    ($rest:literal) => {
        concat!(
            "SELECT d.name, d.contact, d.package, d.created_at,
                    (SELECT COUNT(*) FROM addresses a WHERE a.domain_id = d.id
                       AND a.kind IN ('mailbox', 'alias'))
             FROM domains d ",
            $rest
        )
    };
}
pub(crate) use domains_where;

/// A page of a domain's addresses; `$range` bounds the address.
macro_rules! user_page_sql {
    ($range:literal) => {
        concat!(
            "SELECT a.address, a.kind, a.suspended, a.quota, a.package,
                (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = a.id),
                a.id, a.address, ",
            mailbox_cols!(),
            "
             FROM addresses a
             WHERE a.domain_id = (SELECT id FROM domains WHERE name = ?)
               AND (? = '' OR a.kind = ?) AND ",
            $range,
            " LIMIT ?"
        )
    };
}

/// Which page of a list: names after `after`, starting with `prefix`.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub after: Option<String>,
    pub prefix: Option<String>,
    pub limit: i64,
}

impl PageQuery {
    fn bind(&self) -> [Val; 4] {
        let p = self.prefix.clone().unwrap_or_default();
        [
            Val::T(self.after.clone().unwrap_or_default()),
            Val::I(p.chars().count() as i64),
            Val::T(p),
            Val::I(self.limit.max(1)),
        ]
    }
}

impl Store {
    /// One domain, with its billable address count.
    pub async fn domain_get(&self, name: &str) -> Result<Option<DomainInfo>> {
        let name = normalize_domain(name)?;
        let rows = self
            .query(domains_where!("WHERE d.name = ?"), vec![name.into()])
            .await?;
        rows.first().map(domain_row).transpose()
    }

    /// Suspended addresses of every domain (R-ADDR-3), in address order.
    pub async fn suspended_page(&self, after: &str, limit: i64) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT address FROM addresses WHERE suspended = 1 AND address > ? ORDER BY address LIMIT ?",
                vec![after.into(), limit.into()],
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    /// Domains in name order.
    pub async fn domain_page(&self, q: &PageQuery) -> Result<Vec<DomainInfo>> {
        let [after, plen, prefix, limit] = q.bind();
        let rows = self
            .query(
                domains_where!(
                    "WHERE d.name > ? AND substr(d.name, 1, ?) = ? ORDER BY d.name LIMIT ?"
                ),
                vec![after, plen, prefix, limit],
            )
            .await?;
        rows.iter().map(domain_row).collect()
    }

    /// Every address of a domain, in name order (the CLI's `user list`).
    pub async fn user_list(&self, domain: &str) -> Result<Vec<AddressInfo>> {
        self.user_page(
            domain,
            None,
            &PageQuery {
                limit: i64::MAX,
                ..Default::default()
            },
        )
        .await
    }

    /// A page of a domain's addresses; `kind`: only mailboxes or only
    /// aliases. A prefix matches the local part.
    pub async fn user_page(
        &self,
        domain: &str,
        kind: Option<&str>,
        q: &PageQuery,
    ) -> Result<Vec<AddressInfo>> {
        let d = normalize_domain(domain)?;
        if !self.is_hosted(&d).await? {
            return Err(StoreError::NotFound(format!("no such domain: {d}")));
        }
        let [after, _, prefix, limit] = q.bind();
        let kind = kind.unwrap_or("");
        // The prefix as a range of the (domain, address) index: the
        // addresses from the prefix up to it followed by the last code
        // point, in byte order (SQLite's BINARY; PostgreSQL's "C",
        // whatever the database's collation).
        let Val::T(p) = prefix else {
            return Err(StoreError::Backend("prefix".into()));
        };
        let upper = format!("{p}\u{10FFFF}");
        let sql = if self.backend_name() == "sqlite" {
            user_page_sql!("a.address > ? AND a.address >= ? AND a.address < ? ORDER BY a.address")
        } else {
            user_page_sql!(
                "a.address COLLATE \"C\" > ? AND a.address COLLATE \"C\" >= ?
                 AND a.address COLLATE \"C\" < ? ORDER BY a.address COLLATE \"C\""
            )
        };
        let rows = self
            .query(
                sql,
                vec![
                    d.clone().into(),
                    kind.into(),
                    kind.into(),
                    after,
                    p.into(),
                    upper.into(),
                    limit,
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind = r.text(1)?;
            let a = account_row(r, 6)?;
            let targets = if kind == ALIAS {
                self.alias_targets(a.id).await?
            } else if kind == POSTMASTER {
                vec![self.domain_contact(&d).await?]
            } else {
                vec![]
            };
            out.push(AddressInfo {
                address: r.text(0)?,
                kind,
                suspended: r.i64(2)? != 0,
                quota: r.opt_i64(3)?,
                package: r.opt_text(4)?,
                targets,
                messages: r.i64(5)?,
                bytes: a.used,
                effective_quota: a.quota,
            });
        }
        Ok(out)
    }

    /// One address, as [`Store::user_page`] lists it.
    pub async fn user_get(&self, address: &str) -> Result<Option<AddressInfo>> {
        let (l, d) = crate::address::normalize_address(address)?;
        let addr = crate::address::join(&l, &d);
        if !self.is_hosted(&d).await? {
            return Ok(None);
        }
        let page = self
            .user_page(
                &d,
                None,
                &PageQuery {
                    after: None,
                    prefix: Some(addr.clone()),
                    limit: 2,
                },
            )
            .await?;
        Ok(page.into_iter().find(|a| a.address == addr))
    }
}

pub(crate) fn domain_row(r: &crate::db::Row) -> Result<DomainInfo> {
    Ok(DomainInfo {
        name: r.text(0)?,
        contact: r.text(1)?,
        package: r.opt_text(2)?,
        created_at: r.i64(3)?,
        addresses: r.i64(4)?,
    })
}
