//! Hosting packages: named sets of limits that override the server's
//! `[policy]` defaults for the domains and mailboxes placed in them
//! (R-OUT-6 hourly limit, R-IN-3 quota, R-IN-4 forwards). A mailbox's own
//! package wins over its domain's; an unset limit falls through.

use crate::db::{Stmt, Val};
use crate::{now_ms, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    pub name: String,
    pub hourly_limit: Option<i64>,
    pub quota: Option<i64>,
    pub max_forwards: Option<i64>,
    pub updated_at: i64,
}

/// What a sending account's policy depends on, read once per session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SenderProfile {
    /// R-OUT-6 from the mailbox's or the domain's package; None: the
    /// server default.
    pub hourly_limit: Option<i64>,
    /// The customer: the technical contact of the account's domain. Every
    /// domain with the same contact belongs to the same customer (R-OUT-8).
    pub customer: String,
    /// The customer's hosted domains: mail to them is not bulk.
    pub customer_domains: Vec<String>,
}

/// Package names: short, lower case, safe in any report.
fn valid_name(name: &str) -> Result<String> {
    let n = name.trim().to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(n)
    } else {
        Err(StoreError::Invalid(format!(
            "package name {name:?}: use 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

impl Store {
    /// Creates a package or changes the limits given (None leaves a limit
    /// as it is).
    pub async fn package_set(
        &self,
        name: &str,
        hourly_limit: Option<i64>,
        quota: Option<i64>,
        max_forwards: Option<i64>,
    ) -> Result<Package> {
        let name = valid_name(name)?;
        for (what, v) in [
            ("--hourly-limit", hourly_limit),
            ("--quota", quota),
            ("--max-forwards", max_forwards),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(StoreError::Invalid(format!("{what} must not be negative")));
            }
        }
        if let Some(q) = quota {
            crate::quota::check_quota(q as u64)?;
        }
        self.batch(vec![Stmt::new(
            "INSERT INTO packages (name, hourly_limit, quota, max_forwards, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET
               hourly_limit = COALESCE(excluded.hourly_limit, packages.hourly_limit),
               quota = COALESCE(excluded.quota, packages.quota),
               max_forwards = COALESCE(excluded.max_forwards, packages.max_forwards),
               updated_at = excluded.updated_at",
            vec![name.clone().into(), hourly_limit.into(), quota.into(), max_forwards.into(), now_ms().into()],
        )])
        .await?;
        if quota.is_some() {
            self.settle_package(Some(&name), None).await?;
        }
        self.package_get(&name)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("package {name} vanished")))
    }

    pub async fn package_get(&self, name: &str) -> Result<Option<Package>> {
        let rows = self
            .lookup(
                "SELECT name, hourly_limit, quota, max_forwards, updated_at FROM packages WHERE name = ?",
                vec![name.trim().to_ascii_lowercase().into()],
            )
            .await?;
        rows.first().map(package_row).transpose()
    }

    pub async fn package_list(&self) -> Result<Vec<Package>> {
        let rows = self
            .query("SELECT name, hourly_limit, quota, max_forwards, updated_at FROM packages ORDER BY name", vec![])
            .await?;
        rows.iter().map(package_row).collect()
    }

    /// The package's canonical name, or an error naming how to create it:
    /// a domain or mailbox never points at a package that does not exist.
    pub(crate) async fn package_must_exist(&self, name: Option<&str>) -> Result<Option<String>> {
        let Some(name) = name else { return Ok(None) };
        match self.package_get(name).await? {
            Some(p) => Ok(Some(p.name)),
            None => Err(StoreError::NotFound(format!(
                "no such package: {name}; create it first with `mailhost package set {name}`"
            ))),
        }
    }

    /// The sending account's package limits and customer (R-OUT-6, R-OUT-8).
    pub async fn sender_profile(&self, account: &str) -> Result<SenderProfile> {
        let rows = self
            .lookup(
                "SELECT pu.hourly_limit, pd.hourly_limit, d.contact
                 FROM addresses a JOIN domains d ON d.id = a.domain_id
                 LEFT JOIN packages pu ON pu.name = a.package
                 LEFT JOIN packages pd ON pd.name = d.package
                 WHERE a.address = ?",
                vec![account.to_ascii_lowercase().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such account: {account}")));
        };
        let customer = r.text(2)?;
        let domains = self
            .lookup(
                "SELECT name FROM domains WHERE contact = ? ORDER BY name",
                vec![Val::T(customer.clone())],
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>>>()?;
        Ok(SenderProfile {
            hourly_limit: r.opt_i64(0)?.or(r.opt_i64(1)?),
            customer,
            customer_domains: domains,
        })
    }
}

fn package_row(r: &crate::db::Row) -> Result<Package> {
    Ok(Package {
        name: r.text(0)?,
        hourly_limit: r.opt_i64(1)?,
        quota: r.opt_i64(2)?,
        max_forwards: r.opt_i64(3)?,
        updated_at: r.i64(4)?,
    })
}
