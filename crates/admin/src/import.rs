//! CSV import of a domain's mailboxes (R-WEB-1), with a dry run that says
//! what would change. Each row is `address,password[,quota]` (RFC 4180,
//! header optional); a bare local part is of the domain. Rows are
//! checked first, then each new mailbox is added through `user_add`, so
//! the rules, scope and audit of a single addition apply to each.

use crate::caller::{domain_of, Caller, Error};
use crate::users::address;
use crate::{Admin, NewUser, Result};
use serde::Serialize;
use utoipa::ToSchema;

/// At most this many rows per import; more is refused before any change.
pub const MAX_IMPORT_ROWS: usize = 5000;

/// What an import did, or would do, with one row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ImportRow {
    /// 1-based, counting the header if there is one.
    pub line: u64,
    pub address: String,
    /// `add` (added, or would be), `exists` (left as it is) or `error`.
    pub action: String,
    pub message: Option<String>,
}

impl Admin {
    pub async fn import_users(
        &self,
        c: &Caller,
        domain: &str,
        csv_text: &str,
        dry_run: bool,
    ) -> Result<Vec<ImportRow>> {
        let d =
            mailhost_store::address::normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_domain(c, "user.import", &d).await?;
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(csv_text.as_bytes());
        // Every row is read before any is acted on, so a malformed or
        // oversize file changes nothing.
        let mut records = Vec::new();
        for (i, rec) in rd.records().enumerate() {
            if records.len() >= MAX_IMPORT_ROWS {
                return Err(Error::invalid(
                    "csv",
                    format!("at most {MAX_IMPORT_ROWS} rows per import"),
                ));
            }
            let line = i as u64 + 1;
            records.push((
                line,
                rec.map_err(|e| Error::invalid("csv", format!("line {line}: {e}")))?,
            ));
        }
        let mut rows = Vec::new();
        for (line, rec) in records {
            let field = |n: usize| rec.get(n).unwrap_or("").to_string();
            let (addr, pw, quota) = (field(0), field(1), field(2));
            if line == 1 && addr.eq_ignore_ascii_case("address") {
                continue;
            }
            if addr.is_empty() && pw.is_empty() {
                continue;
            }
            let full = if addr.contains(['@', '%']) {
                addr.clone()
            } else {
                format!("{addr}@{d}")
            };
            let mut row = ImportRow {
                line,
                address: full.clone(),
                action: "add".into(),
                message: None,
            };
            let checked = async {
                let a = address("address", &full)?;
                if domain_of(&a) != d {
                    return Err(Error::invalid("address", format!("{a} is not of {d}")));
                }
                if pw.is_empty() {
                    return Err(Error::invalid("password", "no password"));
                }
                let quota = if quota.is_empty() {
                    None
                } else {
                    Some(
                        mailhost_config::Size::parse(&quota)
                            .map_err(|m| Error::invalid("quota", m))?
                            .0,
                    )
                };
                Ok((a, quota))
            }
            .await;
            match checked {
                Err(e) => {
                    row.action = "error".into();
                    row.message = Some(e.message);
                }
                Ok((a, quota)) => {
                    row.address = a.clone();
                    if self.store.user_get(&a).await?.is_some() {
                        row.action = "exists".into();
                    } else if let Some(until) = self.store.quarantined_until(&a).await? {
                        row.action = "error".into();
                        row.message = Some(format!(
                            "{a} was cancelled and is quarantined until {} (R-ADDR-7)",
                            mailhost_store::rfc3339(until)
                        ));
                    } else if !dry_run {
                        let r = self
                            .user_add(
                                c,
                                NewUser {
                                    address: a,
                                    password: pw,
                                    quota,
                                    package: None,
                                },
                            )
                            .await;
                        if let Err(e) = r {
                            row.action = "error".into();
                            row.message = Some(e.message);
                        }
                    } else if quota.is_some() && !c.is_operator() {
                        row.action = "error".into();
                        row.message = Some("only the operator sets a mailbox's quota".into());
                    }
                }
            }
            rows.push(row);
        }
        Ok(rows)
    }
}
