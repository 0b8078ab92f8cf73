//! Forwarding set by the user (R-IN-4): destinations in order, with or
//! without a copy kept. A mailbox's `forward_keep` column says whether it
//! forwards at all, so resolving a recipient needs no second read unless
//! it does.

use crate::accounts::mailbox_address;
use crate::address::{join, normalize_address};
use crate::db::Stmt;
use crate::{Resolved, Result, Store, StoreError};

/// A mailbox's forwarding.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forwarding {
    pub destinations: Vec<String>,
    pub keep_copy: bool,
}

/// What `forward set` did.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardSet {
    pub address: String,
    pub forwarding: Forwarding,
    /// Set when `force` let more destinations through than the limit.
    pub warning: Option<String>,
}

/// How many local hops the cycle check follows: deeper chains are refused
/// too, since delivery stops following them at the same depth.
pub const MAX_CHAIN: usize = 8;

impl Store {
    /// The mailbox's id and its max_forwards from its package or its
    /// domain's package (None: the server default).
    async fn forward_owner(&self, addr: &str) -> Result<(i64, Option<i64>)> {
        let rows = self
            .lookup(
                "SELECT a.id, COALESCE((SELECT p.max_forwards FROM packages p WHERE p.name = a.package),
                   (SELECT p.max_forwards FROM packages p JOIN domains d ON d.package = p.name WHERE d.id = a.domain_id))
                 FROM addresses a WHERE a.address = ? AND a.kind = 'mailbox'",
                vec![addr.into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such mailbox: {addr}")));
        };
        Ok((r.i64(0)?, r.opt_i64(1)?))
    }

    /// `forward set`: replaces the destinations. More than the package's
    /// `max_forwards` (else `default_max`) needs `force`, and then warns.
    pub async fn forward_set(
        &self,
        address: &str,
        destinations: &[String],
        keep_copy: bool,
        force: bool,
        default_max: u32,
    ) -> Result<ForwardSet> {
        let addr = mailbox_address(address)?;
        let (id, max) = self.forward_owner(&addr).await?;
        if destinations.is_empty() {
            return Err(StoreError::Invalid(
                "give at least one destination (or use `forward clear`)".into(),
            ));
        }
        let mut dests: Vec<String> = Vec::new();
        for d in destinations {
            let dest = self.forward_destination(&addr, d).await?;
            if !dests.contains(&dest) {
                dests.push(dest);
            }
        }
        let max = max.unwrap_or(i64::from(default_max));
        let mut warning = None;
        if dests.len() as i64 > max {
            let msg = format!(
                "{} destinations exceed the limit of {max} (max_forwards, R-IN-4)",
                dests.len()
            );
            if !force {
                return Err(StoreError::Invalid(format!(
                    "{msg}; use --force to set them anyway"
                )));
            }
            warning = Some(format!("{msg}; set anyway because of --force"));
        }
        let mut stmts = vec![
            Stmt::new("DELETE FROM forwards WHERE address_id = ?", vec![id.into()]),
            Stmt::new(
                "UPDATE addresses SET forward_keep = ? WHERE id = ? AND kind = 'mailbox'",
                vec![(keep_copy as i64).into(), id.into()],
            )
            .must_change(StoreError::NotFound(format!("no such mailbox: {addr}"))),
        ];
        for (i, d) in dests.iter().enumerate() {
            stmts.push(Stmt::new(
                "INSERT INTO forwards (address_id, position, dest) VALUES (?, ?, ?)",
                vec![id.into(), (i as i64).into(), d.clone().into()],
            ));
        }
        self.batch(stmts).await?;
        Ok(ForwardSet {
            address: addr,
            forwarding: Forwarding {
                destinations: dests,
                keep_copy,
            },
            warning,
        })
    }

    /// Checks one destination of `owner`'s forwarding and normalises it.
    async fn forward_destination(&self, owner: &str, d: &str) -> Result<String> {
        let bad = |why: String| Err(StoreError::Invalid(format!("destination {d:?}: {why}")));
        if !d.is_ascii() {
            // RFC 6531: a non-ASCII address needs SMTPUTF8 all the way,
            // which a forwarded message cannot count on.
            return bad(
                "non-ASCII addresses need SMTPUTF8, which forwarding cannot promise".into(),
            );
        }
        let dest = match normalize_address(d) {
            Ok((l, dom)) => join(&l, &dom),
            Err(e) => return bad(e.to_string()),
        };
        if dest == owner {
            return bad("a mailbox cannot forward to itself".into());
        }
        match self.resolve(&dest).await? {
            Resolved::NotHosted => {}
            Resolved::Unknown | Resolved::Quarantined(_) => {
                return bad("no such address here".into());
            }
            Resolved::Suspended => return bad("that address is suspended".into()),
            Resolved::All(_) => {
                return bad("all@ cannot be a forwarding destination (R-ADDR-5)".into())
            }
            Resolved::Postmaster(_) => {}
            Resolved::List { .. } => {
                return bad(
                    "a mailing list cannot be a forwarding destination: subscribe to it instead"
                        .into(),
                )
            }
            Resolved::Deliver(accts) => {
                // A local chain that leads back here would loop.
                for a in accts {
                    if self.forwards_reach(a.id, a.address.as_str(), owner).await? {
                        return bad(format!(
                            "{} forwards back to {owner}: that would be a loop (R-IN-4)",
                            a.address
                        ));
                    }
                }
            }
        }
        Ok(dest)
    }

    /// Whether following local forwarding from mailbox `start` reaches
    /// `target` (or goes deeper than [`MAX_CHAIN`]).
    async fn forwards_reach(&self, start: i64, start_addr: &str, target: &str) -> Result<bool> {
        let mut seen = vec![start_addr.to_string()];
        let mut level = vec![start];
        for _ in 0..MAX_CHAIN {
            let mut next = Vec::new();
            for id in level {
                for dest in self.forward_dests(id).await? {
                    if dest == target {
                        return Ok(true);
                    }
                    if seen.contains(&dest) {
                        continue;
                    }
                    seen.push(dest.clone());
                    match self.resolve(&dest).await? {
                        Resolved::Deliver(accts) => {
                            for a in accts {
                                if a.address == target {
                                    return Ok(true);
                                }
                                if a.forward.is_some() {
                                    next.push(a.id);
                                }
                            }
                        }
                        Resolved::Postmaster(c) if c == target => return Ok(true),
                        _ => {}
                    }
                }
            }
            if next.is_empty() {
                return Ok(false);
            }
            level = next;
        }
        Ok(true)
    }

    /// The destinations of a mailbox, in order.
    pub async fn forward_dests(&self, mailbox: i64) -> Result<Vec<String>> {
        let rows = self
            .lookup(
                "SELECT dest FROM forwards WHERE address_id = ? ORDER BY position",
                vec![mailbox.into()],
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    /// `forward show`: None when the mailbox does not forward.
    pub async fn forward_show(&self, address: &str) -> Result<Option<Forwarding>> {
        let addr = mailbox_address(address)?;
        let rows = self
            .lookup(
                "SELECT id, forward_keep FROM addresses WHERE address = ? AND kind = 'mailbox'",
                vec![addr.clone().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such mailbox: {addr}")));
        };
        let Some(keep) = r.opt_i64(1)? else {
            return Ok(None);
        };
        Ok(Some(Forwarding {
            destinations: self.forward_dests(r.i64(0)?).await?,
            keep_copy: keep != 0,
        }))
    }

    /// `forward clear`: mail stays in the mailbox again.
    pub async fn forward_clear(&self, address: &str) -> Result<()> {
        let addr = mailbox_address(address)?;
        let (id, _) = self.forward_owner(&addr).await?;
        self.batch(vec![
            Stmt::new("DELETE FROM forwards WHERE address_id = ?", vec![id.into()]),
            Stmt::new(
                "UPDATE addresses SET forward_keep = NULL WHERE id = ?",
                vec![id.into()],
            ),
        ])
        .await?;
        Ok(())
    }
}
