//! Where mail for a recipient goes (R-IN-4, R-ADDR-4, R-ADDR-5): its
//! mailboxes, followed through forwarding, local destinations included,
//! with the remote destinations that forwarding adds.
//!
//! A local chain is followed at most [`MAX_CHAIN`] deep and each mailbox
//! once, so a cycle that slipped past `forward set` (two changes racing)
//! ends instead of looping; a mailbox in a cycle without a kept copy then
//! simply receives nothing from that branch.

use mailhost_store::{Account, Resolved, Result, Store, MAX_CHAIN};

/// The delivery plan for one recipient.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    /// Mailboxes that store a copy.
    pub local: Vec<Account>,
    /// Remote destinations, each with the forwarding address that sends
    /// it there (the SRS domain and the Delivered-To of the copy).
    pub remote: Vec<Forward>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    pub via: String,
    pub dest: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.remote.is_empty()
    }
}

/// Follows forwarding from `accounts`.
pub async fn expand(store: &Store, accounts: Vec<Account>) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut seen: Vec<i64> = Vec::new();
    let mut level = accounts;
    for depth in 0..=MAX_CHAIN {
        let mut next = Vec::new();
        for a in level {
            if seen.contains(&a.id) {
                continue;
            }
            seen.push(a.id);
            let Some(keep) = a.forward else {
                plan.local.push(a);
                continue;
            };
            for dest in store.forward_dests(a.id).await? {
                follow(store, &a.address, &dest, &mut plan, &mut next).await?;
            }
            if keep {
                plan.local.push(a);
            }
        }
        if next.is_empty() {
            break;
        }
        if depth == MAX_CHAIN {
            // Deeper than any chain `forward set` allows: the mail stays
            // where the chain was cut rather than being lost.
            for a in next {
                tracing::warn!(mailbox = %a.address, "forwarding chain longer than {MAX_CHAIN}: kept here");
                if !seen.contains(&a.id) {
                    seen.push(a.id);
                    plan.local.push(a);
                }
            }
            break;
        }
        level = next;
    }
    Ok(plan)
}

/// The plan for postmaster@ of a domain: its contact, local or remote.
pub async fn postmaster(store: &Store, postmaster: &str, contact: &str) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut next = Vec::new();
    follow(store, postmaster, contact, &mut plan, &mut next).await?;
    let more = expand(store, next).await?;
    plan.local.extend(more.local);
    plan.remote.extend(more.remote);
    Ok(plan)
}

/// One destination `dest` of forwarding address `via`.
async fn follow(
    store: &Store,
    via: &str,
    dest: &str,
    plan: &mut Plan,
    next: &mut Vec<Account>,
) -> Result<()> {
    match store.resolve(dest).await? {
        Resolved::Deliver(accts) => next.extend(accts),
        Resolved::NotHosted => {
            if !plan
                .remote
                .iter()
                .any(|f| f.dest.eq_ignore_ascii_case(dest))
            {
                plan.remote.push(Forward {
                    via: via.to_string(),
                    dest: dest.to_string(),
                });
            }
        }
        Resolved::Postmaster(contact) => {
            // A contact that is itself a postmaster@ would chain; one
            // step is enough. A hosted contact that takes no mail is
            // nobody's to send to.
            match store.resolve(&contact).await? {
                Resolved::Deliver(accts) => next.extend(accts),
                Resolved::NotHosted => plan.remote.push(Forward {
                    via: via.to_string(),
                    dest: contact,
                }),
                other => tracing::warn!(via, contact, ?other, "the contact takes no mail"),
            }
        }
        other => {
            tracing::info!(
                via,
                dest,
                ?other,
                "forwarding destination takes no mail; skipped"
            );
        }
    }
    Ok(())
}
