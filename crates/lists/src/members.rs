//! The subscription life cycle (R-LIST-1, R-LIST-2, R-LIST-3, R-LIST-5):
//! invitations and requests send a confirmation with a single-use,
//! expiring token; only the confirmation makes a member; unsubscribing is
//! immediate and permanent. Each change and its consent-ledger event are
//! one transaction with the mail it sends.

use crate::mail;
use crate::token::{self, Claims, Purpose};
use crate::{Lists, Refusal, Result, Source, Why};
use mailhost_store::address::{join, normalize_address};
use mailhost_store::lists::state;
use mailhost_store::{now_ms, Confirmed, ConsentEvent, MailList, NewMessage, Store, StoreError};

/// What an invitation or a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A confirmation went out.
    Sent,
    /// The address is a member already; nothing was sent.
    AlreadyMember,
}

/// Who asks for a confirmation: the owner (an invitation) or the address
/// itself (a request by mail or on the web).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    Owner,
    Address,
}

impl Lists {
    /// A ledger event of `list` about `address`, now.
    pub fn event(&self, list: &str, address: &str, event: &str, src: &Source) -> ConsentEvent {
        let at = now_ms();
        ConsentEvent {
            list: list.to_string(),
            address: address.to_string(),
            event: event.to_string(),
            at,
            at_local: self.local_time(at),
            ip: src.ip.clone(),
            method: src.method.to_string(),
            message_id: src.message_id.clone(),
            user_agent: src.user_agent.clone(),
            ..Default::default()
        }
    }

    /// A member address: valid, and not a list of ours (lists do not
    /// nest: a list posting to a list is how loops start).
    pub async fn member_address(&self, address: &str) -> Result<String> {
        let (l, d) = normalize_address(address.trim())
            .map_err(|e| Refusal::new(Why::Invalid, "R-LIST-1", format!("{address}: {e}")))?;
        let addr = join(&l, &d);
        let base = match l.split_once('+') {
            Some((b, _)) => join(b, &d),
            None => addr.clone(),
        };
        if self.store.is_list(&addr).await? || self.store.is_list(&base).await? {
            return Err(Refusal::new(
                Why::Forbidden,
                "R-LIST-1",
                format!("{addr} is a mailing list here; a list cannot be a member of a list"),
            ));
        }
        Ok(addr)
    }

    /// The owner's invitation (R-LIST-2): it only sends a confirmation;
    /// the address joins when it confirms. Addresses that left or were
    /// suppressed are not invited again (R-LIST-3: permanent).
    pub async fn invite(&self, list: &MailList, address: &str, src: &Source) -> Result<Asked> {
        self.ask(list, address, src, Asker::Owner).await
    }

    /// The address asks to join (mail to `list+subscribe@`, the web form):
    /// a confirmation goes to it. Its own confirmed opt-in is also the one
    /// way back for an address that left or was suppressed.
    pub async fn request(&self, list: &MailList, address: &str, src: &Source) -> Result<Asked> {
        self.ask(list, address, src, Asker::Address).await
    }

    async fn ask(&self, list: &MailList, address: &str, src: &Source, who: Asker) -> Result<Asked> {
        let addr = self.member_address(address).await?;
        let current = self.store.list_member(list.id, &addr).await?;
        let cur = current.as_ref().map(|m| m.state.as_str());
        let (to, event) = match (who, cur) {
            (_, Some(state::MEMBER)) => return Ok(Asked::AlreadyMember),
            (Asker::Owner, Some(state::DISABLED)) => return Ok(Asked::AlreadyMember),
            (Asker::Owner, Some(s @ (state::UNSUBSCRIBED | state::SUPPRESSED))) => {
                return Err(Refusal::new(
                    Why::Forbidden,
                    "R-LIST-3",
                    format!(
                        "{addr} is {s}: it cannot be invited or added again; only its own confirmed subscription brings it back"
                    ),
                ))
            }
            (Asker::Owner, None | Some(state::INVITED)) => (state::INVITED, "invited"),
            (Asker::Owner, Some(_)) => (state::PENDING, "invited"),
            (Asker::Address, _) => (state::PENDING, "subscribe-requested"),
        };
        self.confirm_budget(&addr, src.ip.as_deref()).await?;
        let now = now_ms();
        let expires = now / 1000 + self.config.lists.confirm_expiry.as_secs() as i64;
        let tok = self.member_token(list, &addr, Purpose::Confirm, rand::random(), expires);
        let (body, message_id) =
            mail::confirmation(self, list, &addr, &tok, expires, who == Asker::Owner, src)
                .map_err(|e| Refusal::new(Why::Internal, "", e))?;
        let mut ev = self.event(&list.address, &addr, event, src);
        // The ledger keeps the confirmation mail's Message-ID and the
        // token's hash: the confirmation event carries the same hash.
        ev.message_id = Some(message_id);
        ev.token_hash = Some(token::hash(&tok));
        ev.detail = src
            .message_id
            .as_ref()
            .map(|m| format!("asked by mail {m}"));
        let mut msg = NewMessage {
            body,
            ..Default::default()
        };
        if !self.store.address_notice(&addr, None, &mut msg).await? {
            return Err(Refusal::new(
                Why::NotFound,
                "R-LIST-1",
                format!("{addr} takes no mail here"),
            ));
        }
        let stmts = Store::list_transition_stmts(list.id, &addr, cur, to, &ev);
        let (out, _) = mailhost_store::audit::with_extra(stmts, self.store.deliver(msg)).await;
        match out {
            Ok(_) => Ok(Asked::Sent),
            Err(StoreError::Conflict(_)) => Err(Refusal::new(
                Why::TryLater,
                "",
                format!("{addr} changed meanwhile; try again"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// No list may mail-bomb a victim: confirmations per address per day
    /// and per client IP per hour, across every list of the server.
    async fn confirm_budget(&self, addr: &str, ip: Option<&str>) -> Result<()> {
        let now = now_ms();
        let per_addr = self.config.lists.confirm_per_address as i64;
        let per_ip = self.config.lists.confirm_per_ip as i64;
        let akey = format!("list-confirm:{addr}");
        if self
            .store
            .auth_events_since(&akey, "list-confirm", now - 86_400_000)
            .await?
            >= per_addr
        {
            return Err(Refusal::new(
                Why::TryLater,
                "R-LIST-1",
                format!("{addr} was sent {per_addr} confirmation requests in the last day; try again tomorrow"),
            ));
        }
        let mut keys = vec![akey];
        if let Some(ip) = ip {
            let ikey = format!("list-confirm-ip:{ip}");
            if self
                .store
                .auth_events_since(&ikey, "list-confirm", now - 3_600_000)
                .await?
                >= per_ip
            {
                return Err(Refusal::new(
                    Why::TryLater,
                    "R-LIST-1",
                    format!("too many subscription requests from {ip}; try again in an hour"),
                ));
            }
            keys.push(ikey);
        }
        self.store.auth_event(&keys, "list-confirm").await?;
        Ok(())
    }

    /// A confirmation (mail to `list+confirm-TOKEN@`, the web link): the
    /// token must be genuine, unexpired, for confirming and unused; the
    /// member cap of the owner's lists holds (R-LIST-5).
    pub async fn confirm(&self, tok: &str, src: &Source) -> Result<(MailList, String, Confirmed)> {
        let c = self.check(Purpose::Confirm, tok).await?.map_err(|e| {
            Refusal::new(
                Why::Forbidden,
                "R-LIST-1",
                format!("confirmation refused: {e}"),
            )
        })?;
        let Some(list) = self.store.list_get(&c.list).await? else {
            return Err(Refusal::new(
                Why::NotFound,
                "R-LIST-1",
                format!("the list {} no longer exists", c.list),
            ));
        };
        let hash = token::hash(tok);
        let mut ev = self.event(&list.address, &c.member, "confirmed", src);
        ev.token_hash = Some(hash.clone());
        let cap = self.config.lists.max_members as i64;
        match self
            .store
            .list_confirm(&list, &c.member, &hash, cap, &ev)
            .await
        {
            Ok(r) => Ok((list, c.member, r)),
            Err(StoreError::Conflict(_)) => Err(Refusal::new(
                Why::Conflict,
                "R-LIST-1",
                "confirmation refused: this link was already used",
            )),
            Err(StoreError::LimitReached(_)) => {
                let mut refused = self.event(&list.address, &c.member, "refused", src);
                refused.token_hash = Some(hash);
                refused.detail = Some(format!("R-LIST-5: over {cap} members"));
                self.store.consent_append(&refused).await?;
                Err(Refusal::new(
                    Why::Limit,
                    "R-LIST-5",
                    format!(
                        "the lists of {} have reached {cap} members together; any mailing list larger than {cap} requires a dedicated hosting solution",
                        list.owner
                    ),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Unsubscribes `address` at once (R-LIST-3). With `suppress` (a
    /// complaint, a one-click unsubscribe) the address is suppressed: no
    /// invitation or import may bring it back. Ok(false) when it was not
    /// on the list (idempotent: not an error).
    pub async fn unsubscribe(
        &self,
        list: &MailList,
        address: &str,
        src: &Source,
        suppress: bool,
    ) -> Result<bool> {
        let addr = address.trim().to_ascii_lowercase();
        let (to, event) = if suppress {
            (state::SUPPRESSED, "suppressed")
        } else {
            (state::UNSUBSCRIBED, "unsubscribed")
        };
        let from: &[&str] = if suppress {
            &[
                state::MEMBER,
                state::DISABLED,
                state::PENDING,
                state::INVITED,
                state::UNSUBSCRIBED,
            ]
        } else {
            &[
                state::MEMBER,
                state::DISABLED,
                state::PENDING,
                state::INVITED,
            ]
        };
        let ev = self.event(&list.address, &addr, event, src);
        Ok(self
            .store
            .list_transition(list.id, &addr, from, to, &ev)
            .await?)
    }

    /// An erasure request for `address` (the member asked the owner to
    /// forget it): the request is itself a ledger event — the ledger is
    /// append-only proof and is never rewritten — and the address is
    /// suppressed, so that nothing is sent to it again and no invitation
    /// or import brings it back (R-LIST-1, R-LIST-3). Ok(false) when it
    /// was suppressed already.
    pub async fn erase(&self, list: &MailList, address: &str, src: &Source) -> Result<bool> {
        let addr = address.trim().to_ascii_lowercase();
        if !addr.contains('@') {
            return Err(Refusal::new(
                Why::Invalid,
                "R-LIST-1",
                format!("{address:?} is not an address"),
            ));
        }
        let mut ev = self.event(&list.address, &addr, "erasure-requested", src);
        ev.detail = Some("the member's data is kept only as this ledger's proof".into());
        self.store.consent_append(&ev).await?;
        // Suppressed whatever its state, even if it was never on the list:
        // nothing may bring the address back but its own opt-in.
        let from = [
            "",
            state::MEMBER,
            state::DISABLED,
            state::PENDING,
            state::INVITED,
            state::UNSUBSCRIBED,
        ];
        let sup = self.event(&list.address, &addr, "suppressed", src);
        Ok(self
            .store
            .list_transition(list.id, &addr, &from, state::SUPPRESSED, &sup)
            .await?)
    }

    /// The per-member unsubscribe token of List-Unsubscribe (RFC 8058 §3.1:
    /// the URI identifies the recipient and the list). It does not
    /// expire: a link in an old message must still work.
    pub fn unsubscribe_token(&self, list: &MailList, member: &str) -> String {
        self.member_token(list, member, Purpose::Unsubscribe, 0, 0)
    }

    /// A compact token (it fits a mail address) for a member of `list`.
    pub(crate) fn member_token(
        &self,
        list: &MailList,
        member: &str,
        purpose: Purpose,
        nonce: u64,
        expires: i64,
    ) -> String {
        let key = token::key_from_hex(&mailhost_store::lists::member_key(list.id, member))
            .unwrap_or_default();
        let claims = Claims {
            purpose,
            list: list.address.clone(),
            member: member.to_ascii_lowercase(),
            nonce,
            expires,
        };
        token::issue_compact(&self.secret, &claims, key)
    }

    /// Checks a token of either form for `purpose`: a compact one by the
    /// member (or post) its key names. The outer error: the store failed.
    pub(crate) async fn check(
        &self,
        purpose: Purpose,
        tok: &str,
    ) -> Result<std::result::Result<Claims, token::TokenError>> {
        let now = now_ms() / 1000;
        let Some(c) = token::parse_compact(tok) else {
            return Ok(token::verify(&self.secret, purpose, tok, now));
        };
        let candidates = if c.purpose == Purpose::Moderate {
            let id = c.post_id();
            let list = match self.store.list_post(id).await? {
                Some(p) => self.store.list_by_id(p.list_id).await?,
                None => None,
            };
            list.map(|l| (l.address, id.to_string()))
                .into_iter()
                .collect()
        } else {
            self.store.list_members_by_key(&c.key_hex()).await?
        };
        let mut verdict = Err(token::TokenError::Forged);
        for (list, member) in candidates {
            verdict = token::verify_compact(&self.secret, purpose, &c, &list, &member, now);
            if verdict.is_ok() {
                break;
            }
        }
        Ok(verdict)
    }

    /// One-click (RFC 8058) or the mailto unsubscribe with a token:
    /// removes and suppresses the member the token names.
    pub async fn unsubscribe_by_token(
        &self,
        tok: &str,
        src: &Source,
    ) -> Result<(MailList, String, bool)> {
        let c = self.check(Purpose::Unsubscribe, tok).await?.map_err(|e| {
            Refusal::new(
                Why::Forbidden,
                "R-LIST-3",
                format!("unsubscribe refused: {e}"),
            )
        })?;
        let Some(list) = self.store.list_get(&c.list).await? else {
            return Err(Refusal::new(
                Why::NotFound,
                "R-LIST-3",
                format!("the list {} no longer exists", c.list),
            ));
        };
        let mut ev_src = src.clone();
        if ev_src.method.is_empty() {
            ev_src.method = "one-click";
        }
        let changed = self.unsubscribe(&list, &c.member, &ev_src, true).await?;
        Ok((list, c.member, changed))
    }

    /// What the token says, once verified (for a page that asks before
    /// acting: a GET never unsubscribes).
    pub async fn peek(&self, purpose: Purpose, tok: &str) -> Result<Claims> {
        self.check(purpose, tok)
            .await?
            .map_err(|e| Refusal::new(Why::Forbidden, "R-LIST-3", e.to_string()))
    }
}
