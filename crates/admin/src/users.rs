//! Mailboxes and aliases of a domain (R-ADDR-1..3, R-ADDR-7). Only an
//! admin of the domain adds, suspends or deletes addresses (seed 002);
//! quotas and packages are the operator's (they are what is sold); a
//! mailbox user changes its own password, with the current one.

use crate::caller::{domain_of, Caller, Error, PageReq};
use crate::views::{Alias, Page, Quota, User};
use crate::{Admin, Result};
use mailhost_store::address::{join, login_to_address, normalize_address, normalize_domain};
use mailhost_store::{AuthResult, PageQuery, Store};
use serde_json::json;

/// A new mailbox.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub address: String,
    pub password: String,
    pub quota: Option<u64>,
    pub package: Option<String>,
}

/// Changes to a mailbox; None leaves a value as it is. `quota:
/// Some(None)` returns to the package's or the server's quota.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub suspended: Option<bool>,
    pub quota: Option<Option<u64>>,
    pub package: Option<Option<String>>,
}

/// `local@domain` or `local%domain` (R-ADDR-1), normalized.
pub(crate) fn address(field: &'static str, s: &str) -> Result<String> {
    let s = login_to_address(s).unwrap_or_else(|| s.to_string());
    let (l, d) = normalize_address(&s).map_err(Error::field(field))?;
    Ok(join(&l, &d))
}

impl Admin {
    /// Refuses unless the caller is an admin of the address's domain.
    pub(crate) async fn scope_admin_of(&self, c: &Caller, action: &str, addr: &str) -> Result<()> {
        self.scope_domain(c, action, domain_of(addr)).await
    }

    /// Refuses unless the caller is the address's admin or its user.
    pub(crate) async fn scope_owner(&self, c: &Caller, action: &str, addr: &str) -> Result<()> {
        if c.owns(addr) {
            Ok(())
        } else {
            Err(self.denied(c, action, addr).await)
        }
    }

    pub async fn user_add(&self, c: &Caller, u: NewUser) -> Result<User> {
        let addr = address("address", &u.address)?;
        self.scope_admin_of(c, "user.add", &addr).await?;
        if (u.quota.is_some() || u.package.is_some()) && !c.is_operator() {
            let f = if u.quota.is_some() {
                "quota"
            } else {
                "package"
            };
            return Err(Error::forbidden(format!(
                "only the operator sets a mailbox's {f}; the domain's package applies"
            ))
            .at(f));
        }
        let after = json!({"quota": u.quota, "package": u.package});
        self.audited(
            c,
            "user.add",
            &addr,
            None,
            Some(after),
            vec![],
            self.store
                .user_add(&addr, &u.password, u.quota, u.package.as_deref()),
        )
        .await
        .map_err(|e| {
            let m = e.message.to_ascii_lowercase();
            match () {
                _ if m.contains("password") => e.at("password"),
                _ if m.contains("package") => e.at("package"),
                _ if m.contains("quota") => e.at("quota"),
                _ => e.at("address"),
            }
        })?;
        self.user_get(c, &addr).await
    }

    pub async fn user_get(&self, c: &Caller, address_: &str) -> Result<User> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "user.show", &addr).await?;
        self.store
            .user_get(&addr)
            .await?
            .map(|a| User::from_info(a, self.store.default_quota()))
            .ok_or_else(|| Error::not_found(format!("no such address: {addr}")))
    }

    /// A page of the domain's addresses (mailboxes, aliases, postmaster@,
    /// all@), searchable by the start of the local part.
    pub async fn user_list(&self, c: &Caller, domain: &str, p: &PageReq) -> Result<Page<User>> {
        let d = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_domain(c, "user.list", &d).await?;
        let limit = p.limit()?;
        let rows = self
            .store
            .user_page(&d, None, &page_query(p, limit))
            .await?;
        let q = self.store.default_quota();
        Ok(Page::of(
            rows.into_iter().map(|a| User::from_info(a, q)).collect(),
            limit,
            |u| u.address.clone(),
        ))
    }

    /// Sets a password. A mailbox user changing its own must give the
    /// current one; every panel session of the login ends.
    pub async fn user_passwd(
        &self,
        c: &Caller,
        address_: &str,
        password: &str,
        current: Option<&str>,
    ) -> Result<()> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "user.passwd", &addr).await?;
        if c.is_user(&addr) {
            let cur = current.ok_or_else(|| {
                Error::invalid("current", "give your current password to set a new one")
            })?;
            if !matches!(
                self.store.authenticate(&addr, cur).await?,
                AuthResult::Ok(_)
            ) {
                return Err(Error::invalid(
                    "current",
                    "the current password is not right",
                ));
            }
        }
        self.audited(
            c,
            "user.passwd",
            &addr,
            None,
            None,
            Store::end_login_stmts(&addr, false),
            self.store.user_passwd(&addr, password),
        )
        .await
        .map_err(|e| match e.kind {
            crate::Kind::Invalid => e.at("password"),
            _ => e,
        })
    }

    /// Suspends or resumes (R-ADDR-3; ends the user's sessions), or
    /// changes the quota or package (the operator's).
    pub async fn user_update(&self, c: &Caller, address_: &str, p: UserPatch) -> Result<User> {
        let addr = address("address", address_)?;
        self.scope_admin_of(c, "user.update", &addr).await?;
        if (p.quota.is_some() || p.package.is_some()) && !c.is_operator() {
            let f = if p.quota.is_some() {
                "quota"
            } else {
                "package"
            };
            return Err(self.denied(c, "user.update", &addr).await.at(f));
        }
        let before = self.user_get(c, &addr).await?;
        if let Some(s) = p.suspended {
            let action = if s { "user.suspend" } else { "user.resume" };
            // A suspended login's sessions and tokens stop working at once.
            let ends = if s {
                Store::end_login_stmts(&addr, false)
            } else {
                vec![]
            };
            self.audited(
                c,
                action,
                &addr,
                Some(json!({"suspended": before.suspended})),
                Some(json!({"suspended": s})),
                ends,
                self.store.user_set_suspended(&addr, s),
            )
            .await?;
        }
        if let Some(q) = p.quota {
            self.audited(
                c,
                "user.quota",
                &addr,
                Some(json!({"quota": before.own_quota})),
                Some(json!({"quota": q})),
                vec![],
                self.store.user_set_quota(&addr, q),
            )
            .await
            .map_err(|e| e.at("quota"))?;
        }
        if let Some(pk) = p.package {
            self.audited(
                c,
                "user.package",
                &addr,
                Some(json!({"package": before.package})),
                Some(json!({"package": pk})),
                vec![],
                self.store.user_set_package(&addr, pk.as_deref()),
            )
            .await
            .map_err(|e| e.at("package"))?;
        }
        self.user_get(c, &addr).await
    }

    /// Deletes a mailbox with its mail; the address is quarantined
    /// (R-ADDR-7) and its sessions, tokens and app passwords go.
    pub async fn user_delete(&self, c: &Caller, address_: &str) -> Result<()> {
        let addr = address("address", address_)?;
        self.scope_admin_of(c, "user.delete", &addr).await?;
        self.audited(
            c,
            "user.delete",
            &addr,
            None,
            None,
            Store::end_login_stmts(&addr, true),
            self.store
                .user_delete(&addr, self.config.policy.quarantine.std()),
        )
        .await
    }

    /// Usage and quota of a mailbox (R-IN-3).
    pub async fn user_quota(&self, c: &Caller, address_: &str) -> Result<Quota> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "user.quota", &addr).await?;
        let u = self.store.user_quota(&addr).await?;
        Ok(Quota {
            percent: crate::views::percent(u.used, u.quota),
            address: u.address,
            used: u.used,
            quota: u.quota,
            messages: u.messages,
        })
    }

    // ---- aliases (R-ADDR-2) ----

    /// A domain admin's aliases deliver only to its own domains' mailboxes.
    pub async fn alias_add(&self, c: &Caller, alias: &str, targets: &[String]) -> Result<Alias> {
        let addr = address("alias", alias)?;
        self.scope_admin_of(c, "alias.add", &addr).await?;
        if targets.is_empty() {
            return Err(Error::invalid(
                "targets",
                "an alias needs at least one target",
            ));
        }
        let mut ts = Vec::with_capacity(targets.len());
        for t in targets {
            let t = address("targets", t)?;
            if !c.manages(domain_of(&t)) {
                return Err(self.denied(c, "alias.add", &t).await.at("targets"));
            }
            ts.push(t);
        }
        self.audited(
            c,
            "alias.add",
            &addr,
            None,
            Some(json!({"targets": ts})),
            vec![],
            self.store.alias_add(&addr, &ts),
        )
        .await
        .map_err(|e| match e.message.contains(&addr) {
            true => e.at("alias"),
            false => e.at("targets"),
        })?;
        Ok(Alias {
            alias: addr,
            targets: ts,
            suspended: false,
        })
    }

    pub async fn alias_remove(&self, c: &Caller, alias: &str) -> Result<()> {
        let addr = address("alias", alias)?;
        self.scope_admin_of(c, "alias.remove", &addr).await?;
        self.audited(
            c,
            "alias.remove",
            &addr,
            None,
            None,
            vec![],
            self.store
                .alias_remove(&addr, self.config.policy.quarantine.std()),
        )
        .await
    }

    pub async fn alias_list(&self, c: &Caller, domain: &str, p: &PageReq) -> Result<Page<Alias>> {
        let d = normalize_domain(domain).map_err(Error::field("domain"))?;
        self.scope_domain(c, "alias.list", &d).await?;
        let limit = p.limit()?;
        let rows = self
            .store
            .user_page(&d, Some("alias"), &page_query(p, limit))
            .await?;
        Ok(Page::of(
            rows.into_iter()
                .map(|a| Alias {
                    alias: a.address,
                    targets: a.targets,
                    suspended: a.suspended,
                })
                .collect(),
            limit,
            |a| a.alias.clone(),
        ))
    }
}

/// One more row than the page holds: it tells whether a next page exists.
pub(crate) fn page_query(p: &PageReq, limit: usize) -> PageQuery {
    PageQuery {
        after: p.cursor.clone(),
        prefix: p.prefix.clone().map(|x| x.to_ascii_lowercase()),
        limit: limit as i64 + 1,
    }
}
