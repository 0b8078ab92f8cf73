//! Domains, mailboxes and aliases: the service layer for every admin
//! operation (the CLI calls it; the web API will). Each operation validates
//! first and then writes one atomic batch, so nothing is half-written.

use crate::address::{join, login_to_address, normalize_address, normalize_domain};
use crate::db::{Stmt, Val};
use crate::{now_ms, password, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    pub name: String,
    pub contact: String,
    pub package: Option<String>,
    pub created_at: i64,
    pub addresses: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddressInfo {
    pub address: String,
    /// "mailbox" or "alias".
    pub kind: String,
    pub suspended: bool,
    pub quota: Option<i64>,
    pub package: Option<String>,
    /// Alias targets (empty for mailboxes).
    pub targets: Vec<String>,
    pub messages: i64,
    pub bytes: i64,
    /// The quota from the mailbox or a package; None: the server default.
    pub effective_quota: Option<i64>,
}

/// A mailbox: as authenticated, or as a recipient (then with what the
/// delivery needs to know about it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Account {
    pub id: i64,
    pub address: String,
    /// Bytes stored (R-IN-3), as read at resolution.
    pub used: i64,
    /// Its quota from the mailbox, its package or its domain's package;
    /// None: the server default (`policy.quota`).
    pub quota: Option<i64>,
    /// Forwarding (R-IN-4): None for none, else whether a copy stays.
    pub forward: Option<bool>,
    /// An autoresponder is set (R-IN-5).
    pub autoreply: bool,
    /// The notice level last reached (R-IN-3): 0, 1 (past 90 %), 2 (full).
    pub quota_level: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthResult {
    Ok(Account),
    /// Right password, but the mailbox is suspended (R-ADDR-3).
    Suspended,
    /// Wrong password or no such account: indistinguishable on purpose.
    Failed,
    /// The mailbox password was right, but the mailbox signs in with a
    /// second factor, so mail clients must use an app password.
    AppPasswordRequired,
}

/// What a recipient address is, for RCPT TO.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// Deliver to these mailboxes (one for a mailbox, several for an alias;
    /// suspended alias targets are left out).
    Deliver(Vec<Account>),
    /// The address exists but is suspended (R-ADDR-3).
    Suspended,
    /// A hosted domain, but no such address (R-ADDR-6: no catch-all).
    Unknown,
    /// A cancelled address in quarantine until this time (ms since the
    /// epoch, R-ADDR-7): mail to it is refused.
    Quarantined(i64),
    /// `all@DOMAIN` (R-ADDR-5): every active mailbox of this domain
    /// ([`Store::all_members`], read once the rules let the sender use it).
    All(String),
    /// `postmaster@DOMAIN` (R-ADDR-4): delivers to the domain's contact.
    Postmaster(String),
    /// Not a domain we host.
    NotHosted,
    /// A mailing list (R-LIST-1): `list` is its address; `command` is what
    /// follows `+` in the local part ("" for a post; `subscribe`,
    /// `confirm-TOKEN`, `bounce-TOKEN`, …).
    List { list: String, command: String },
}

const MAILBOX: &str = "mailbox";
pub(crate) const ALIAS: &str = "alias";
pub(crate) const POSTMASTER: &str = "postmaster";
pub(crate) const ALL: &str = "all";
pub(crate) const LIST: &str = "list";

/// The columns of a recipient mailbox `a` that [`account_row`] reads,
/// after its id and address. The quota is the mailbox's own, its
/// package's, or its domain's package's (R-IN-3).
macro_rules! mailbox_cols {
    () => {
        "a.used, COALESCE(a.quota, (SELECT p.quota FROM packages p WHERE p.name = a.package),
           (SELECT p.quota FROM packages p JOIN domains pd ON pd.package = p.name WHERE pd.id = a.domain_id)),
         a.forward_keep, a.autoreply, a.quota_level"
    };
}
pub(crate) use mailbox_cols;

/// An [`Account`] from `id, address, mailbox_cols!()` at `at`.
pub(crate) fn account_row(r: &crate::db::Row, at: usize) -> Result<Account> {
    Ok(Account {
        id: r.i64(at)?,
        address: r.text(at + 1)?,
        used: r.i64(at + 2)?,
        quota: r.opt_i64(at + 3)?,
        forward: r.opt_i64(at + 4)?.map(|k| k != 0),
        autoreply: r.i64(at + 5)? != 0,
        quota_level: r.i64(at + 6)?,
    })
}

impl Store {
    // ---- domains ----

    pub async fn domain_add(
        &self,
        name: &str,
        contact: &str,
        package: Option<&str>,
    ) -> Result<String> {
        let name = normalize_domain(name)?;
        let (cl, cd) = normalize_address(contact)
            .map_err(|e| StoreError::Invalid(format!("--contact: {e}")))?;
        let package = self.package_must_exist(package).await?;
        let now = now_ms();
        let mut stmts = vec![Stmt::new(
            "INSERT INTO domains (name, contact, package, created_at) VALUES (?, ?, ?, ?)",
            vec![
                name.clone().into(),
                join(&cl, &cd).into(),
                package.into(),
                now.into(),
            ],
        )];
        // R-ADDR-4, R-ADDR-5: postmaster@ and all@ exist with the domain.
        for kind in [POSTMASTER, ALL] {
            stmts.push(Stmt::new(
                "INSERT INTO addresses (address, domain_id, kind, suspended, created_at)
                 SELECT ?, d.id, ?, 0, ? FROM domains d WHERE d.name = ?",
                vec![
                    format!("{kind}@{name}").into(),
                    kind.into(),
                    now.into(),
                    name.clone().into(),
                ],
            ));
        }
        let r = self.batch(stmts).await;
        match r {
            Ok(_) => Ok(name),
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(format!(
                "domain {name} already exists"
            ))),
            Err(e) => Err(e),
        }
    }

    pub async fn domain_list(&self) -> Result<Vec<DomainInfo>> {
        let rows = self
            .query(crate::listing::domains_where!("ORDER BY d.name"), vec![])
            .await?;
        rows.iter().map(crate::listing::domain_row).collect()
    }

    /// Removes an empty domain. A domain that still has addresses is
    /// refused: deleting mailboxes (and their mail) must be explicit.
    pub async fn domain_remove(&self, name: &str) -> Result<()> {
        let name = normalize_domain(name)?;
        let d = self
            .domain_list()
            .await?
            .into_iter()
            .find(|d| d.name == name);
        let Some(d) = d else {
            return Err(StoreError::NotFound(format!("no such domain: {name}")));
        };
        if d.addresses > 0 {
            return Err(StoreError::Conflict(format!(
                "domain {name} still has {} address(es); delete them first",
                d.addresses
            )));
        }
        self.batch(vec![
            Stmt::new(
                "DELETE FROM domains WHERE name = ?
                   AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.domain_id = domains.id
                                     AND a.kind IN ('mailbox', 'alias'))",
                vec![name.clone().into()],
            )
            .must_change(StoreError::Conflict(format!(
                "domain {name} changed meanwhile; try again"
            ))),
            Stmt::new(
                "DELETE FROM addresses WHERE kind IN ('postmaster', 'all')
                   AND NOT EXISTS (SELECT 1 FROM domains d WHERE d.id = addresses.domain_id)",
                vec![],
            ),
            // Its admins no longer manage it (their logins stay).
            Stmt::new(
                "DELETE FROM admin_domains WHERE domain = ?",
                vec![name.clone().into()],
            ),
        ])
        .await?;
        Ok(())
    }

    pub async fn is_hosted(&self, domain: &str) -> Result<bool> {
        let rows = self
            .lookup(
                "SELECT 1 FROM domains WHERE name = ?",
                vec![domain.to_ascii_lowercase().into()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    // ---- mailboxes ----

    pub async fn user_add(
        &self,
        address: &str,
        password: &str,
        quota: Option<u64>,
        package: Option<&str>,
    ) -> Result<String> {
        let (l, d) = normalize_address(address)?;
        let addr = join(&l, &d);
        check_password(password)?;
        special_refusal(&addr, "made a mailbox")?;
        let quota = quota.map(crate::quota::check_quota).transpose()?;
        if !self.is_hosted(&d).await? {
            return Err(StoreError::NotFound(format!(
                "domain {d} is not hosted here; add it with `domain add`"
            )));
        }
        if self.address_exists(&addr).await? {
            return Err(StoreError::Conflict(format!(
                "address {addr} already exists"
            )));
        }
        self.check_quarantine(&addr).await?;
        let package = self.package_must_exist(package).await?;
        let hash = password::hash(password.to_string()).await?;
        let r = self
            .batch(vec![Stmt::new(
                "INSERT INTO addresses (address, domain_id, kind, password_hash, quota, package, suspended, created_at)
                 SELECT ?, d.id, 'mailbox', ?, ?, ?, 0, ? FROM domains d WHERE d.name = ?",
                vec![
                    addr.clone().into(),
                    hash.into(),
                    quota.into(),
                    package.into(),
                    now_ms().into(),
                    d.clone().into(),
                ],
            )
            .must_change(StoreError::NotFound(format!("domain {d} is not hosted here")))]
            .into_iter()
            // R-POP-5: INBOX and the special-use folders come with it.
            .chain(crate::folders::default_folder_stmts(&addr))
            .collect())
            .await;
        match r {
            Ok(_) => Ok(addr),
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(format!(
                "address {addr} already exists"
            ))),
            Err(e) => Err(e),
        }
    }

    async fn address_exists(&self, addr: &str) -> Result<bool> {
        Ok(!self
            .lookup(
                "SELECT 1 FROM addresses WHERE address = ?",
                vec![addr.into()],
            )
            .await?
            .is_empty())
    }

    pub async fn user_passwd(&self, address: &str, password: &str) -> Result<()> {
        let addr = mailbox_address(address)?;
        self.special_row_refusal(&addr, "given a password").await?;
        check_password(password)?;
        let hash = password::hash(password.to_string()).await?;
        self.batch(vec![Stmt::new(
            "UPDATE addresses SET password_hash = ? WHERE address = ? AND kind = 'mailbox'",
            vec![hash.into(), addr.clone().into()],
        )
        .must_change(StoreError::NotFound(format!("no such mailbox: {addr}")))])
            .await?;
        Ok(())
    }

    /// Suspends or resumes a mailbox or alias (R-ADDR-3).
    pub async fn user_set_suspended(&self, address: &str, suspended: bool) -> Result<()> {
        let addr = mailbox_address(address)?;
        self.special_row_refusal(&addr, "suspended").await?;
        self.batch(vec![Stmt::new(
            "UPDATE addresses SET suspended = ? WHERE address = ? AND kind IN ('mailbox', 'alias')",
            vec![(suspended as i64).into(), addr.clone().into()],
        )
        .must_change(StoreError::NotFound(format!("no such address: {addr}")))])
            .await?;
        Ok(())
    }

    /// R-ADDR-7: a cancelled address cannot be issued again while in
    /// quarantine.
    async fn check_quarantine(&self, addr: &str) -> Result<()> {
        if let Some(until) = self.quarantined_until(addr).await? {
            return Err(StoreError::Conflict(format!(
                "address {addr} was cancelled and is quarantined until {} (R-ADDR-7); it can be issued again after that",
                crate::rfc3339(until)
            )));
        }
        Ok(())
    }

    /// The end of the address's quarantine, if it is in one.
    pub async fn quarantined_until(&self, addr: &str) -> Result<Option<i64>> {
        let rows = self
            .lookup(
                "SELECT until_at FROM quarantine WHERE address = ? AND until_at > ?",
                vec![addr.into(), now_ms().into()],
            )
            .await?;
        rows.first().map(|r| r.i64(0)).transpose()
    }

    fn quarantine_stmt(addr: &str, quarantine: std::time::Duration) -> Stmt {
        Stmt::new(
            "INSERT INTO quarantine (address, until_at) VALUES (?, ?)
             ON CONFLICT (address) DO UPDATE SET until_at = excluded.until_at",
            vec![
                addr.into(),
                (now_ms() + quarantine.as_millis() as i64).into(),
            ],
        )
    }

    /// Deletes a mailbox with its mail, drops it from alias targets, and
    /// quarantines the address for `quarantine` (R-ADDR-7).
    pub async fn user_delete(&self, address: &str, quarantine: std::time::Duration) -> Result<()> {
        let addr = mailbox_address(address)?;
        self.special_row_refusal(&addr, "deleted").await?;
        let rows = self
            .lookup(
                "SELECT id FROM addresses WHERE address = ? AND kind = 'mailbox'",
                vec![addr.clone().into()],
            )
            .await?;
        let Some(id) = rows.first().map(|r| r.i64(0)).transpose()? else {
            return Err(StoreError::NotFound(format!("no such mailbox: {addr}")));
        };
        // A list needs its owner (R-LIST-1): it is deleted first, on purpose.
        let owned = self
            .lookup(
                "SELECT address FROM lists WHERE owner = ? ORDER BY address",
                vec![addr.clone().into()],
            )
            .await?;
        if !owned.is_empty() {
            let names = owned
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<Vec<_>>>()?;
            return Err(StoreError::Conflict(format!(
                "{addr} owns the list(s) {}; delete them first",
                names.join(", ")
            )));
        }
        self.batch(vec![
            Stmt::new(
                "DELETE FROM addresses WHERE id = ? AND kind = 'mailbox'",
                vec![id.into()],
            )
            .must_change(StoreError::NotFound(format!("no such mailbox: {addr}"))),
            Stmt::new("DELETE FROM alias_targets WHERE target = ?", vec![addr.clone().into()]),
            Stmt::new("DELETE FROM forwards WHERE address_id = ?", vec![id.into()]),
            Stmt::new("DELETE FROM autoreplies WHERE address_id = ?", vec![id.into()]),
            Stmt::new("DELETE FROM autoreply_sent WHERE address_id = ?", vec![id.into()]),
            Self::quarantine_stmt(&addr, quarantine),
            Stmt::new(
                "DELETE FROM blobs WHERE id IN (SELECT blob_id FROM entries WHERE mailbox_id = ?)
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id AND e.mailbox_id <> ?)
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)",
                vec![id.into(), id.into()],
            ),
            Stmt::new("DELETE FROM entries WHERE mailbox_id = ?", vec![id.into()]),
            Stmt::new(crate::folders::DROP_ORPHAN_SUMMARIES, vec![]),
        ]
        .into_iter()
        .chain(crate::folders::drop_account_stmts(id))
        .chain(Self::special_restore_stmt(&addr))
        .collect())
        .await?;
        Ok(())
    }

    pub(crate) async fn alias_targets(&self, alias_id: i64) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT target FROM alias_targets WHERE alias_id = ? ORDER BY target",
                vec![alias_id.into()],
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    // ---- aliases (R-ADDR-2) ----

    /// Creates an alias that delivers to hosted mailboxes.
    pub async fn alias_add(&self, alias: &str, targets: &[String]) -> Result<String> {
        let (l, d) = normalize_address(alias)?;
        let addr = join(&l, &d);
        special_refusal(&addr, "made an alias")?;
        if targets.is_empty() {
            return Err(StoreError::Invalid(
                "an alias needs at least one target".into(),
            ));
        }
        if !self.is_hosted(&d).await? {
            return Err(StoreError::NotFound(format!(
                "domain {d} is not hosted here"
            )));
        }
        if self.address_exists(&addr).await? {
            return Err(StoreError::Conflict(format!(
                "address {addr} already exists"
            )));
        }
        self.check_quarantine(&addr).await?;
        let mut norm = Vec::new();
        for t in targets {
            let (tl, td) = normalize_address(t)?;
            let t = join(&tl, &td);
            let rows = self
                .lookup(
                    "SELECT 1 FROM addresses WHERE address = ? AND kind = 'mailbox'",
                    vec![t.clone().into()],
                )
                .await?;
            if rows.is_empty() {
                return Err(StoreError::NotFound(format!(
                    "alias target {t} is not a hosted mailbox"
                )));
            }
            if !norm.contains(&t) {
                norm.push(t);
            }
        }
        let mut stmts = vec![Stmt::new(
            "INSERT INTO addresses (address, domain_id, kind, suspended, created_at)
             SELECT ?, d.id, 'alias', 0, ? FROM domains d WHERE d.name = ?",
            vec![addr.clone().into(), now_ms().into(), d.clone().into()],
        )
        .must_change(StoreError::NotFound(format!(
            "domain {d} is not hosted here"
        )))];
        for t in norm {
            stmts.push(Stmt::new(
                "INSERT INTO alias_targets (alias_id, target)
                 SELECT id, ? FROM addresses WHERE address = ? AND kind = 'alias'",
                vec![t.into(), addr.clone().into()],
            ));
        }
        match self.batch(stmts).await {
            Ok(_) => Ok(addr),
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(format!(
                "address {addr} already exists"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Removes an alias and quarantines its address (R-ADDR-7).
    pub async fn alias_remove(&self, alias: &str, quarantine: std::time::Duration) -> Result<()> {
        let addr = mailbox_address(alias)?;
        self.special_row_refusal(&addr, "removed").await?;
        self.batch(
            vec![
                Stmt::new(
                    "DELETE FROM alias_targets WHERE alias_id IN
                   (SELECT id FROM addresses WHERE address = ? AND kind = 'alias')",
                    vec![addr.clone().into()],
                ),
                Stmt::new(
                    "DELETE FROM addresses WHERE address = ? AND kind = 'alias'",
                    vec![addr.clone().into()],
                )
                .must_change(StoreError::NotFound(format!("no such alias: {addr}"))),
                Self::quarantine_stmt(&addr, quarantine),
            ]
            .into_iter()
            .chain(Self::special_restore_stmt(&addr))
            .collect(),
        )
        .await?;
        Ok(())
    }

    // ---- hot path ----

    /// Whether the address is a suspended mailbox (R-ADDR-3, R-ABUSE-1).
    pub async fn is_suspended(&self, address: &str) -> Result<bool> {
        let rows = self
            .lookup(
                "SELECT suspended FROM addresses WHERE address = ?",
                vec![address.to_ascii_lowercase().into()],
            )
            .await?;
        Ok(rows.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0) != 0)
    }

    /// Resolves a recipient for RCPT TO. `address` must already be
    /// syntactically valid; it is matched case-insensitively.
    pub async fn resolve(&self, address: &str) -> Result<Resolved> {
        let Ok((l, d)) = normalize_address(address) else {
            return self.resolve_long_command(address).await;
        };
        let addr = join(&l, &d);
        // One read for both questions: the address, and whether its domain
        // is ours (the common case at RCPT is a remote recipient).
        let rows = self
            .lookup(
                concat!("SELECT a.id, a.kind, a.suspended, (SELECT COUNT(*) FROM domains WHERE name = ?),
                        a.id, a.address, ", mailbox_cols!(), "
                 FROM (SELECT 1 AS one) AS one LEFT JOIN addresses a ON a.address = ?"),
                vec![d.clone().into(), addr.clone().into()],
            )
            .await?;
        let r = rows
            .first()
            .ok_or_else(|| StoreError::Backend("address lookup returned no row".into()))?;
        let Some(id) = r.opt_i64(0)? else {
            if r.i64(3)? == 0 {
                return Ok(Resolved::NotHosted);
            }
            // A list's command address: `news+subscribe@`, `news+bounce-…@`.
            if let Some((base, command)) = l.split_once('+') {
                let list = join(base, &d);
                if self.list_exists(&list).await? {
                    return Ok(Resolved::List {
                        list,
                        command: command.to_string(),
                    });
                }
            }
            return Ok(match self.quarantined_until(&addr).await? {
                Some(until) => Resolved::Quarantined(until),
                None => Resolved::Unknown,
            });
        };
        if r.i64(2)? != 0 {
            return Ok(Resolved::Suspended);
        }
        match r.text(1)?.as_str() {
            MAILBOX => return Ok(Resolved::Deliver(vec![account_row(r, 4)?])),
            POSTMASTER => return Ok(Resolved::Postmaster(self.domain_contact(&d).await?)),
            ALL => return Ok(Resolved::All(d)),
            LIST => {
                return Ok(Resolved::List {
                    list: addr,
                    command: String::new(),
                })
            }
            _ => {}
        }
        let rows = self
            .lookup(
                concat!("SELECT a.id, a.address, ", mailbox_cols!(), "
                 FROM alias_targets t JOIN addresses a ON a.address = t.target
                 WHERE t.alias_id = ? AND a.kind = 'mailbox' AND a.suspended = 0 ORDER BY a.address"),
                vec![id.into()],
            )
            .await?;
        let targets = rows
            .iter()
            .map(|r| account_row(r, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok(if targets.is_empty() {
            Resolved::Suspended
        } else {
            Resolved::Deliver(targets)
        })
    }

    /// A list's command address whose token makes the local part longer
    /// than the 64 octets RFC 5321 §4.5.3.1.1 sets (a confirmation, a
    /// VERP bounce): accepted when the part before `+` is one of our
    /// lists and the rest is token characters (RFC 5321 §4.5.3.1 asks
    /// receivers not to limit lengths where they can avoid it).
    async fn resolve_long_command(&self, address: &str) -> Result<Resolved> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Ok(Resolved::Unknown);
        };
        let Some((base, command)) = local.split_once('+') else {
            return Ok(Resolved::Unknown);
        };
        if command.is_empty()
            || command.len() > 1100
            || !command
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Ok(Resolved::Unknown);
        }
        let Ok((l, d)) = normalize_address(&format!("{base}@{domain}")) else {
            return Ok(Resolved::Unknown);
        };
        let list = join(&l, &d);
        Ok(if self.list_exists(&list).await? {
            Resolved::List {
                list,
                command: command.to_ascii_lowercase(),
            }
        } else {
            Resolved::Unknown
        })
    }

    /// The addresses a mailbox may send as (R-OUT-4): itself and the active
    /// aliases that deliver to it.
    pub async fn identities(&self, mailbox: &str) -> Result<Vec<String>> {
        let rows = self
            .lookup(
                "SELECT a.address FROM addresses a JOIN alias_targets t ON t.alias_id = a.id
                 WHERE t.target = ? AND a.kind = 'alias' AND a.suspended = 0 ORDER BY a.address",
                vec![mailbox.into()],
            )
            .await?;
        let mut out = vec![mailbox.to_string()];
        for r in &rows {
            out.push(r.text(0)?);
        }
        Ok(out)
    }

    /// Checks a login (`local%domain` or `local@domain`) and password.
    /// Absent accounts cost the same Argon2 verification as real ones.
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<AuthResult> {
        let addr = login_to_address(login);
        let row = match &addr {
            Some(a) => self
                .lookup(
                    "SELECT id, password_hash, suspended FROM addresses WHERE address = ? AND kind = 'mailbox'",
                    vec![Val::T(a.clone())],
                )
                .await?
                .into_iter()
                .next(),
            None => None,
        };
        let stored = row.as_ref().map(|r| r.opt_text(1)).transpose()?.flatten();
        if !password::verify(password.to_string(), stored).await {
            return Ok(AuthResult::Failed);
        }
        let (Some(r), Some(address)) = (row, addr) else {
            return Ok(AuthResult::Failed);
        };
        if r.i64(2)? != 0 {
            return Ok(AuthResult::Suspended);
        }
        Ok(AuthResult::Ok(Account {
            id: r.i64(0)?,
            address,
            ..Default::default()
        }))
    }
}

impl Store {
    /// [`special_refusal`] for an address that exists: by its kind, so
    /// that a postmaster@ mailbox or alias made before these addresses
    /// existed (migration 9 leaves it alone) can still be managed, and
    /// removed.
    async fn special_row_refusal(&self, addr: &str, action: &str) -> Result<()> {
        let rows = self
            .lookup(
                "SELECT kind FROM addresses WHERE address = ?",
                vec![addr.into()],
            )
            .await?;
        match rows.first().map(|r| r.text(0)).transpose()?.as_deref() {
            Some(POSTMASTER) | Some(ALL) => special_refusal(addr, action),
            _ => Ok(()),
        }
    }

    /// After a legacy postmaster@ or all@ row goes, the server's own takes
    /// its place, in the same batch.
    fn special_restore_stmt(addr: &str) -> Option<Stmt> {
        let (local, domain) = addr.rsplit_once('@')?;
        let kind = [POSTMASTER, ALL].into_iter().find(|k| local == *k)?;
        Some(Stmt::new(
            "INSERT INTO addresses (address, domain_id, kind, suspended, created_at)
             SELECT ?, d.id, ?, 0, ? FROM domains d WHERE d.name = ?
               AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.address = ?)",
            vec![
                addr.into(),
                kind.into(),
                now_ms().into(),
                domain.into(),
                addr.into(),
            ],
        ))
    }
}

/// R-ADDR-4, R-ADDR-5: postmaster@ and all@ of every domain are the
/// server's, never a mailbox or alias of the customer's.
pub(crate) fn special_refusal(addr: &str, action: &str) -> Result<()> {
    let local = addr.rsplit_once('@').map_or(addr, |(l, _)| l);
    if local.eq_ignore_ascii_case(POSTMASTER) {
        return Err(StoreError::Invalid(format!(
            "{addr} cannot be {action}: it exists for every domain and delivers to the domain's contact (R-ADDR-4); change the contact with `domain set DOMAIN --contact EMAIL`"
        )));
    }
    if local.eq_ignore_ascii_case(ALL) {
        return Err(StoreError::Invalid(format!(
            "{addr} cannot be {action}: it exists for every domain and delivers to every active mailbox (R-ADDR-5)"
        )));
    }
    Ok(())
}

pub(crate) fn mailbox_address(s: &str) -> Result<String> {
    let (l, d) = normalize_address(s)?;
    Ok(join(&l, &d))
}

pub(crate) fn check_password(pw: &str) -> Result<()> {
    if pw.is_empty() {
        return Err(StoreError::Invalid("the password must not be empty".into()));
    }
    if pw.len() > 1024 {
        return Err(StoreError::Invalid(
            "the password is longer than 1024 bytes".into(),
        ));
    }
    if pw.chars().any(|c| c.is_control()) {
        return Err(StoreError::Invalid(
            "the password must not contain control characters".into(),
        ));
    }
    Ok(())
}
