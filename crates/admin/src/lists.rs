//! Mailing lists (R-LIST-1..6): create, delete, show, invite, the
//! consent export. A domain's admin manages its lists; a list's owner
//! (a mailbox user) may show it, invite to it and export its ledger.
//! Invitations only ever send confirmations (R-LIST-2).

use crate::caller::PageReq;
use crate::caller::{Caller, Error, Kind};
use crate::users::address;
use crate::views::{ConsentRecord, HeldPost, ListInvite, ListMember, MailingList, Page};
use crate::{Admin, Result};
use mailhost_lists::members::Asked;
use mailhost_lists::{Lists, Refusal, Source, Why};
use mailhost_store::lists::state;
use mailhost_store::{ConsentEvent, MailList};
use serde_json::json;

/// How many addresses one invitation call may name.
pub const MAX_INVITE: usize = 1000;

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        let text = r.text();
        match r.why {
            Why::Invalid => Error::bad_input(text),
            Why::NotFound => Error::not_found(text),
            Why::Forbidden => Error::forbidden(text),
            Why::Conflict | Why::Limit | Why::TryLater => Error::conflict(text),
            Why::Internal => Error::internal(text),
        }
    }
}

/// Which surface acts, for the consent ledger's `method`.
fn method(c: &Caller) -> &'static str {
    if c.login == "cli" {
        "cli"
    } else {
        "api"
    }
}

fn view(l: &MailList) -> MailingList {
    MailingList {
        address: l.address.clone(),
        owner: l.owner.clone(),
        name: l.name.clone(),
        posting: l.posting.clone(),
        members: l.members,
        created: mailhost_store::rfc3339(l.created_at),
    }
}

impl Admin {
    /// The list engine, made at first use (it reads the token key).
    pub async fn lists(&self) -> Result<&Lists> {
        self.lists
            .get_or_try_init(|| Lists::new(self.store.clone(), self.config.clone()))
            .await
            .map_err(Error::internal)
    }

    /// The list, if the caller may see it: its domain's admin or its owner.
    async fn list_scoped(&self, c: &Caller, action: &str, list: &str) -> Result<MailList> {
        let addr = address("list", list)?;
        let l = self.store.list_get(&addr).await?;
        match l {
            Some(l) if c.manages(&l.domain) || c.is_user(&l.owner) => Ok(l),
            Some(_) => Err(self.denied(c, action, &addr).await),
            None if c.manages(crate::caller::domain_of(&addr)) => {
                Err(Error::not_found(format!("no such list: {addr}")).at("list"))
            }
            None => Err(self.denied(c, action, &addr).await),
        }
    }

    pub async fn list_create(
        &self,
        c: &Caller,
        list: &str,
        owner: &str,
        name: &str,
    ) -> Result<MailingList> {
        let addr = address("list", list)?;
        self.scope_admin_of(c, "list.create", &addr).await?;
        let owner = address("owner", owner)?;
        let domain = crate::caller::domain_of(&addr);
        if crate::caller::domain_of(&owner) != domain {
            return Err(Error::invalid(
                "owner",
                format!("the owner must be a mailbox of {domain}"),
            ));
        }
        let l = self
            .audited(
                c,
                "list.create",
                &addr,
                None,
                Some(json!({"owner": owner, "name": name})),
                vec![],
                self.store.list_create(&addr, &owner, name),
            )
            .await
            // Each refusal next to the field it is about (the forms show it there).
            .map_err(|e| match e.kind {
                Kind::NotFound if e.message.contains("mailbox") => {
                    Error::invalid("owner", e.message)
                }
                _ if e.field.is_none() => e.at("list"),
                _ => e,
            })?;
        Ok(view(&l))
    }

    /// Who may post: `members`, `owner` or `moderated` (held posts wait
    /// for the owner's approval).
    pub async fn list_set_posting(
        &self,
        c: &Caller,
        list: &str,
        posting: &str,
    ) -> Result<MailingList> {
        let l = self.list_scoped(c, "list.set", list).await?;
        let addr = l.address.clone();
        let before = Some(json!(view(&l)));
        self.audited(
            c,
            "list.set",
            &addr,
            before,
            Some(json!({"posting": posting})),
            vec![],
            self.store.list_set_posting(&addr, posting),
        )
        .await
        .map_err(|e| e.at("posting"))?;
        let l = self
            .store
            .list_get(&addr)
            .await?
            .ok_or_else(|| Error::not_found(format!("no such list: {addr}")))?;
        Ok(view(&l))
    }

    pub async fn list_delete(&self, c: &Caller, list: &str) -> Result<()> {
        let addr = address("list", list)?;
        self.scope_admin_of(c, "list.delete", &addr).await?;
        let Some(l) = self.store.list_get(&addr).await? else {
            return Err(Error::not_found(format!("no such list: {addr}")).at("list"));
        };
        let lists = self.lists().await?;
        let src = Source {
            ip: c.ip.clone(),
            method: method(c),
            ..Default::default()
        };
        let mut ev: ConsentEvent = lists.event(&l.address, &l.owner, "list-deleted", &src);
        ev.detail = Some(format!("by {}; {} members", c.login, l.members));
        self.audited(
            c,
            "list.delete",
            &addr,
            Some(json!(view(&l))),
            None,
            vec![],
            self.store.list_delete(&addr, &ev),
        )
        .await
    }

    /// One list, if the caller may see it.
    pub async fn list_info(&self, c: &Caller, list: &str) -> Result<MailingList> {
        Ok(view(&self.list_scoped(c, "list.show", list).await?))
    }

    pub async fn list_show(
        &self,
        c: &Caller,
        list: &str,
    ) -> Result<(MailingList, Vec<(String, String)>)> {
        let l = self.list_scoped(c, "list.show", list).await?;
        let mut members = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.store.list_members(l.id, &[], &after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.address.clone();
            members.extend(page.into_iter().map(|m| (m.address, m.state)));
        }
        Ok((view(&l), members))
    }

    /// Invites each address (R-LIST-2): a confirmation goes to it; it
    /// joins only when it confirms. Each address gets its own outcome.
    pub async fn list_invite(
        &self,
        c: &Caller,
        list: &str,
        addrs: &[String],
    ) -> Result<Vec<ListInvite>> {
        let l = self.list_scoped(c, "list.invite", list).await?;
        if addrs.is_empty() || addrs.len() > MAX_INVITE {
            return Err(Error::invalid(
                "addresses",
                format!("name 1 to {MAX_INVITE} addresses"),
            ));
        }
        let lists = self.lists().await?;
        let src = Source {
            ip: c.ip.clone(),
            method: "invite",
            ..Default::default()
        };
        let mut out = Vec::with_capacity(addrs.len());
        for a in addrs {
            let r = lists.invite(&l, a, &src).await;
            let (status, message) = match r {
                Ok(Asked::Sent) => ("invited", "a confirmation request was sent".to_string()),
                Ok(Asked::AlreadyMember) => ("member", "already a member".to_string()),
                Err(e) if e.why == Why::Internal => return Err(e.into()),
                Err(e) => ("refused", e.text()),
            };
            out.push(ListInvite {
                address: a.clone(),
                status: status.into(),
                message,
            });
        }
        self.audited(
            c,
            "list.invite",
            &l.address,
            None,
            Some(json!({"invited": out.iter().filter(|o| o.status == "invited").count()})),
            vec![],
            async { Ok(()) },
        )
        .await?;
        Ok(out)
    }

    /// Unsubscribes an address on the owner's behalf (an erasure request
    /// reaching the owner, say): recorded, and permanent (R-LIST-3).
    pub async fn list_remove(&self, c: &Caller, list: &str, member: &str) -> Result<bool> {
        let l = self.list_scoped(c, "list.remove", list).await?;
        let lists = self.lists().await?;
        let src = Source {
            ip: c.ip.clone(),
            method: method(c),
            ..Default::default()
        };
        Ok(lists.unsubscribe(&l, member, &src, true).await?)
    }

    /// The consent ledger a page at a time, oldest first (R-LIST-1: the
    /// proof a customer hands over). Read in pages so a large ledger is
    /// never held whole.
    pub async fn list_consent(
        &self,
        c: &Caller,
        list: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ConsentRecord>> {
        let addr = address("list", list)?;
        // The ledger outlives its list: the domain's admin can still read
        // it. A list's owner reads its own list's events only, not those
        // of an earlier list at the same address.
        let since = match self.store.list_get(&addr).await? {
            Some(l) if c.manages(&l.domain) => 0,
            Some(l) if c.is_user(&l.owner) => l.created_at,
            None if c.manages(crate::caller::domain_of(&addr)) => 0,
            _ => return Err(self.denied(c, "list.consent", &addr).await),
        };
        let page = self
            .store
            .consent_page_since(&addr, since, after, limit.clamp(1, 10_000))
            .await?;
        Ok(page.into_iter().map(ConsentRecord::from).collect())
    }

    /// Confirmed members across the owner's lists, for a warning before
    /// the cap (R-LIST-5).
    pub async fn list_owner_members(&self, c: &Caller, list: &str) -> Result<i64> {
        let l = self.list_scoped(c, "list.show", list).await?;
        Ok(self.store.owner_member_count(&l.owner).await?)
    }

    /// A domain's lists (its admin), or the lists the caller owns (a
    /// mailbox user, `domain` None), a page at a time.
    pub async fn list_list(
        &self,
        c: &Caller,
        domain: Option<&str>,
        p: &PageReq,
    ) -> Result<Page<MailingList>> {
        let limit = p.limit()?;
        let owner = match (domain, &c.role) {
            (Some(d), _) => {
                let d =
                    mailhost_store::address::normalize_domain(d).map_err(Error::field("domain"))?;
                self.scope_domain(c, "list.list", &d).await?;
                return self.list_page(Some(&d), None, p, limit).await;
            }
            (None, crate::caller::Role::User(a)) => a.clone(),
            (None, _) => {
                return Err(Error::forbidden(
                    "only mailbox users own lists; a domain's lists are at /api/v1/domains/DOMAIN/lists",
                ))
            }
        };
        self.list_page(None, Some(&owner), p, limit).await
    }

    async fn list_page(
        &self,
        domain: Option<&str>,
        owner: Option<&str>,
        p: &PageReq,
        limit: usize,
    ) -> Result<Page<MailingList>> {
        let after = p.cursor.clone().unwrap_or_default();
        let prefix = p.prefix.clone().unwrap_or_default();
        let rows = self
            .store
            .lists_page(domain, owner, &prefix, &after, limit as i64 + 1)
            .await?;
        let items = rows.iter().map(view).collect();
        Ok(Page::of(items, limit, |l| l.address.clone()))
    }

    /// A list's addresses in every state (or one), a page at a time.
    pub async fn list_members(
        &self,
        c: &Caller,
        list: &str,
        only: Option<&str>,
        p: &PageReq,
    ) -> Result<Page<ListMember>> {
        let l = self.list_scoped(c, "list.show", list).await?;
        let limit = p.limit()?;
        let states: Vec<&str> = match only {
            None => vec![],
            Some(s) if Self::list_states().contains(&s) => vec![s],
            Some(s) => {
                return Err(Error::invalid(
                    "state",
                    format!(
                        "no member state {s:?}: one of {}",
                        Self::list_states().join(", ")
                    ),
                ))
            }
        };
        let after = p.cursor.clone().unwrap_or_default();
        let rows = self
            .store
            .list_members(l.id, &states, &after, limit as i64 + 1)
            .await?;
        let items = rows
            .into_iter()
            .map(|m| ListMember {
                since: mailhost_store::rfc3339(m.updated_at),
                bounce_score: m.bounce_score as f64 / 2.0,
                address: m.address,
                state: m.state,
            })
            .collect();
        Ok(Page::of(items, limit, |m| m.address.clone()))
    }

    /// Posts waiting for the owner's decision (posting `moderated`).
    pub async fn list_held(&self, c: &Caller, list: &str) -> Result<Vec<HeldPost>> {
        use mailhost_store::post_state;
        let l = self.list_scoped(c, "list.show", list).await?;
        let posts = self
            .store
            .list_posts_in(l.id, post_state::MODERATION, crate::caller::MAX_PAGE as i64)
            .await?;
        let mut out = Vec::with_capacity(posts.len());
        for p in posts {
            // The header, not the whole post (posts may be megabytes).
            let (head, size) = self.store.body_head(&p.blob_id, 64 * 1024).await?;
            let subject = mailhost_lists::headers::get(&head, "Subject")
                .into_iter()
                .next()
                .unwrap_or_default();
            out.push(HeldPost {
                id: p.id,
                poster: p.poster,
                subject: subject.trim().to_string(),
                received: mailhost_store::rfc3339(p.created_at),
                size: size as usize,
            });
        }
        Ok(out)
    }

    /// Approves or rejects a held post (as the mailed token does).
    pub async fn list_moderate(
        &self,
        c: &Caller,
        list: &str,
        post: i64,
        approve: bool,
    ) -> Result<(bool, String)> {
        let l = self.list_scoped(c, "list.moderate", list).await?;
        let lists = self.lists().await?;
        let action = if approve {
            "list.approve"
        } else {
            "list.reject"
        };
        let outcome = lists.decide(&l, post, approve).await?;
        self.audited(
            c,
            action,
            &l.address,
            None,
            Some(json!({"post": post, "outcome": outcome.1})),
            vec![],
            async { Ok(()) },
        )
        .await?;
        Ok(outcome)
    }

    /// An erasure request (the member asked to be forgotten): recorded in
    /// the ledger, and the address suppressed.
    pub async fn list_erase(&self, c: &Caller, list: &str, member: &str) -> Result<bool> {
        let l = self.list_scoped(c, "list.erase", list).await?;
        let lists = self.lists().await?;
        let src = Source {
            ip: c.ip.clone(),
            method: method(c),
            ..Default::default()
        };
        Ok(lists.erase(&l, member, &src).await?)
    }

    /// The states a member may be in, for the panels.
    pub fn list_states() -> [&'static str; 6] {
        [
            state::INVITED,
            state::PENDING,
            state::MEMBER,
            state::UNSUBSCRIBED,
            state::SUPPRESSED,
            state::DISABLED,
        ]
    }
}
