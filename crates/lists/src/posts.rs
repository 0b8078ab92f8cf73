//! Posting (R-LIST-3, R-LIST-4, R-LIST-6): a post is checked (loops,
//! posting policy), held durably before the poster hears 250 — until
//! off-peak for a list over `offpeak_threshold` members — then given the
//! list's next throttle slot and expanded to the members, each copy with
//! its own List-Unsubscribe, VERP return path and DKIM signature.

use crate::headers::{self, ListHeaders};
use crate::mail;
use crate::token::{self, Claims, Purpose};
use crate::{Lists, Refusal, Result, Source, Why};
use mailhost_store::lists::state;
use mailhost_store::{
    now_ms, post_state, ListPost, MailList, MemberCopy, NewMessage, NewPost, Resolved,
};
use std::sync::Arc;
use tokio::sync::Notify;

/// What became of an accepted post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Goes out at the list's next throttle slot.
    Queued,
    /// Held until the off-peak window (R-LIST-4): when, for people.
    Held(String),
    /// Waits for the owner's approval.
    Moderation,
}

impl Lists {
    /// The RFC 2919 list identifier: `news.example.com` for news@example.com.
    pub fn list_id(address: &str) -> String {
        address.replacen('@', ".", 1)
    }

    /// A post to `list` from `sender` (end of DATA). Err names the rule.
    pub async fn accept_post(
        &self,
        list: &MailList,
        sender: &str,
        body: &[u8],
        src: &Source,
    ) -> Result<Accepted> {
        let max = self.config.lists.max_post_size.0;
        if body.len() as u64 > max {
            // Each member gets a copy: a list's size limit is its own.
            return Err(Refusal::new(
                Why::Limit,
                "R-IN-2",
                format!(
                    "a post to {} may be at most {} KB (lists.max_post_size), this one is {} KB; share large files by a link",
                    list.address,
                    max >> 10,
                    body.len() >> 10
                ),
            ));
        }
        // Loops (RFC 2919 List-Id, X-Loop): a list posting to itself, or
        // to another of our lists that posts back.
        let mut ours = Vec::new();
        for v in headers::get(body, "List-Id") {
            if let Some(id) = v.rsplit('<').next().and_then(|x| x.split('>').next()) {
                let id = id.trim().to_ascii_lowercase();
                if let Some((l, d)) = id.split_once('.') {
                    if self.store.is_list(&format!("{l}@{d}")).await? {
                        ours.push(id);
                    }
                }
            }
        }
        if let Some(why) = headers::loop_reason(
            body,
            |id| ours.iter().any(|o| o.eq_ignore_ascii_case(id.trim())),
            &list.address,
            self.config.lists.max_hops,
        ) {
            return Err(Refusal::new(Why::Forbidden, "R-LIST-3", why));
        }
        let from = headers::from_address(body).map(|(_, a)| a.to_ascii_lowercase());
        let candidates: Vec<String> = [Some(sender.to_ascii_lowercase()), from]
            .into_iter()
            .flatten()
            .filter(|a| !a.is_empty())
            .collect();
        let is_owner = candidates.contains(&list.owner);
        let mut is_member = is_owner;
        for a in &candidates {
            if let Some(m) = self.store.list_member(list.id, a).await? {
                is_member |= m.state == state::MEMBER || m.state == state::DISABLED;
            }
        }
        let poster = candidates.first().cloned().unwrap_or_default();
        let allowed = match list.posting.as_str() {
            "owner" => is_owner,
            "moderated" => true,
            _ => is_member,
        };
        if !allowed {
            return Err(Refusal::new(
                Why::Forbidden,
                "R-LIST-1",
                format!(
                    "only {} may post to {}; subscribe first at {}",
                    if list.posting == "owner" {
                        "its owner"
                    } else {
                        "its members"
                    },
                    list.address,
                    mail::command_address(&list.address, "subscribe")
                ),
            ));
        }
        let now = now_ms();
        let message_id = headers::get(body, "Message-ID")
            .into_iter()
            .next()
            .map(|m| m.trim().to_string());
        if list.posting == "moderated" && !is_owner {
            let id = self
                .store
                .list_post_add(
                    NewPost {
                        list_id: list.id,
                        body: body.to_vec(),
                        poster: poster.clone(),
                        state: post_state::MODERATION,
                        release_at: i64::MAX,
                        message_id,
                    },
                    None,
                )
                .await?;
            // The owner decides by replying to one of two addresses; the
            // keyed token names the post (purpose Moderate, a week).
            let tok = token::issue_compact(
                &self.secret,
                &Claims {
                    purpose: Purpose::Moderate,
                    list: list.address.clone(),
                    member: id.to_string(),
                    nonce: rand::random(),
                    expires: now / 1000 + 7 * 86_400,
                },
                token::post_key(id),
            );
            let note = format!(
                "A post from {poster} to {} waits for your approval.\n\nTo send it, write to {}\nTo reject it, write to {}\n",
                list.address,
                mail::command_address(&list.address, &format!("approve-{tok}")),
                mail::command_address(&list.address, &format!("reject-{tok}")),
            );
            if let Some(n) = self
                .notice_to(
                    list,
                    &list.owner,
                    &format!("Post to {} held for approval", list.address),
                    &note,
                )
                .await?
            {
                self.store.deliver(n).await?;
            }
            return Ok(Accepted::Moderation);
        }
        // R-LIST-4: a large list waits for the off-peak window.
        let (release, held) = self.release_time(list)?;
        let notice = match &held {
            Some(when) if !src.method.is_empty() => {
                let text = format!(
                    "Your post to {} is accepted and held: the list has more than {} members, so it is sent only off-peak (R-LIST-4).\nIt will be sent from {when}.\n",
                    list.address, self.config.lists.offpeak_threshold
                );
                self.notice_to(
                    list,
                    &poster,
                    &format!("Your post to {} is held until off-peak", list.address),
                    &text,
                )
                .await?
            }
            _ => None,
        };
        self.store
            .list_post_add(
                NewPost {
                    list_id: list.id,
                    body: body.to_vec(),
                    poster: poster.clone(),
                    state: post_state::HELD,
                    release_at: release,
                    message_id,
                },
                notice,
            )
            .await?;
        if let Some(w) = &self.wake {
            w.notify_one();
        }
        Ok(match held {
            Some(when) => Accepted::Held(when),
            None => Accepted::Queued,
        })
    }

    /// The owner's decision on a held post (mail to `+approve-TOKEN@` or
    /// `+reject-TOKEN@`): approved, it is held like any post (off-peak
    /// for a large list) and sent at the list's next slot.
    pub async fn moderate(&self, tok: &str, approve: bool) -> Result<String> {
        let c = self.check(Purpose::Moderate, tok).await?.map_err(|e| {
            Refusal::new(
                Why::Forbidden,
                "R-LIST-1",
                format!("moderation refused: {e}"),
            )
        })?;
        let id: i64 = c.member.parse().map_err(|_| {
            Refusal::new(Why::Invalid, "R-LIST-1", "moderation refused: no such post")
        })?;
        let Some(list) = self.store.list_get(&c.list).await? else {
            return Err(Refusal::new(
                Why::NotFound,
                "R-LIST-1",
                "the post or its list no longer exists",
            ));
        };
        Ok(self.decide(&list, id, approve).await?.1)
    }

    /// The owner's decision on a held post, however it came (a mailed
    /// token, the panel, the API): approval releases it (off-peak rules
    /// apply, R-LIST-4), rejection drops it; a second decision changes
    /// nothing (false, and what was decided).
    pub async fn decide(&self, list: &MailList, id: i64, approve: bool) -> Result<(bool, String)> {
        let post = self.store.list_post(id).await?;
        let Some(post) = post.filter(|p| p.list_id == list.id) else {
            return Err(Refusal::new(
                Why::NotFound,
                "R-LIST-1",
                "the post or its list no longer exists",
            ));
        };
        if post.state != post_state::MODERATION {
            return Ok((false, format!("post {id} was decided already")));
        }
        if !approve {
            let moved = self
                .store
                .list_post_move(id, post_state::MODERATION, post_state::REJECTED, now_ms())
                .await?;
            return Ok((moved, format!("post {id} rejected")));
        }
        let (release, held) = self.release_time(list)?;
        let moved = self
            .store
            .list_post_move(id, post_state::MODERATION, post_state::HELD, release)
            .await?;
        if !moved {
            return Ok((false, format!("post {id} was decided already")));
        }
        if let Some(w) = &self.wake {
            w.notify_one();
        }
        Ok((
            true,
            match held {
                Some(when) => format!("post {id} approved; held until {when} (R-LIST-4)"),
                None => format!("post {id} approved"),
            },
        ))
    }

    /// When a post to `list` may go: now, or for a list over
    /// `offpeak_threshold` members outside the windows, the next window's
    /// start, with that time for people (R-LIST-4).
    fn release_time(&self, list: &MailList) -> Result<(i64, Option<String>)> {
        let now = now_ms();
        let (windows, tz) = self.windows();
        if list.members > self.config.lists.offpeak_threshold as i64 {
            let ts = jiff::Timestamp::from_millisecond(now)
                .map_err(|e| Refusal::new(Why::Internal, "", e.to_string()))?;
            if !windows.contains(ts, tz) {
                if let Some(next) = windows.next_release(ts, tz) {
                    return Ok((
                        next.as_millisecond(),
                        Some(crate::offpeak::describe(next, tz)),
                    ));
                }
            }
        }
        Ok((now, None))
    }

    /// A notice from the list to `to`, addressed (None when `to` takes no mail).
    async fn notice_to(
        &self,
        list: &MailList,
        to: &str,
        subject: &str,
        text: &str,
    ) -> Result<Option<NewMessage>> {
        let body = mail::notice(self, list, to, subject, text)
            .map_err(|e| Refusal::new(Why::Internal, "", e))?;
        let mut m = NewMessage {
            body,
            ..Default::default()
        };
        Ok(self
            .store
            .address_notice(to, None, &mut m)
            .await?
            .then_some(m))
    }

    /// Every copy of one post, committed together with the post marked sent.
    pub async fn expand(&self, post: &ListPost) -> Result<usize> {
        let Some(list) = self.store.list_by_id(post.list_id).await? else {
            // The list went meanwhile: nothing to send.
            self.store
                .list_post_move(
                    post.id,
                    post_state::SCHEDULED,
                    post_state::REJECTED,
                    post.release_at,
                )
                .await?;
            return Ok(0);
        };
        let raw = self.store.queue_body(&post.blob_id).await?;
        let mut body = headers::strip(&raw, headers::is_list_managed);
        if self.rewrites_from(&list, &body).await {
            body = headers::rewrite_from(&body, &list.address, &list.name);
        }
        let (local, domain) = list.address.rsplit_once('@').unwrap_or((&list.address, ""));
        let list_id = Self::list_id(&list.address);
        let base = self.base_url();
        let post_addr = list.address.clone();
        let owner = mail::command_address(&list.address, "owner");
        let help = format!("{base}/lists/{}", list.address);
        let mut members = Vec::new();
        let mut after = String::new();
        loop {
            let page = self
                .store
                .list_members(list.id, &[state::MEMBER], &after, 1000)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.address.clone();
            members.extend(page.into_iter().map(|m| m.address));
        }
        // R-LIST-6: copies past the domain's hourly limit wait for a later hour.
        let limit = self.config.policy.domain_hourly_limit.max(1) as i64;
        let now = now_ms();
        let slot = post.release_at.max(now);
        let used = self
            .store
            .sent_by_domain_from(domain, slot - 3_600_000, slot + 60_000)
            .await?;
        let mut budget = (limit - used).max(0);
        let mut hour = 0i64;
        let mut deliveries = Vec::new();
        let mut remote = Vec::new();
        for m in &members {
            let unsub = self.unsubscribe_token(&list, m);
            let url = format!("{base}/lists/unsubscribe?t={unsub}");
            let mailto = format!("{local}+unsubscribe-{unsub}@{domain}");
            let fields = headers::render(&ListHeaders {
                list_address: &list.address,
                list_name: &list.name,
                list_id: &list_id,
                help_url: &help,
                post: Some(&post_addr),
                owner: &owner,
                unsubscribe_url: &url,
                unsubscribe_mailto: &mailto,
                hops: 0,
            });
            let verp_token = self.member_token(&list, m, Purpose::Bounce, post.id as u64, 0);
            let verp = format!("{local}+bounce-{verp_token}@{domain}");
            let mut prefix = fields.into_bytes();
            if let Some(signer) = &self.signer {
                let mut whole = prefix.clone();
                whole.extend_from_slice(&body);
                match signer.sign(domain, &whole).await {
                    Ok(Some(sig)) => {
                        let mut p = sig;
                        p.extend_from_slice(&prefix);
                        prefix = p;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(list = %list.address, "DKIM signing a list copy: {e}"),
                }
            }
            match self.store.resolve(m).await? {
                Resolved::Deliver(accts) => {
                    for a in accts {
                        let mut p =
                            format!("Return-Path: <{verp}>\r\nDelivered-To: {}\r\n", a.address)
                                .into_bytes();
                        p.extend_from_slice(&prefix);
                        deliveries.push((a.id, p));
                    }
                }
                Resolved::NotHosted => {
                    if budget == 0 {
                        hour += 1;
                        budget = limit;
                    }
                    budget -= 1;
                    remote.push(MemberCopy {
                        sender: verp,
                        rcpt: m.clone(),
                        prefix,
                        not_before: slot + hour * 3_600_000,
                    });
                }
                _ => {}
            }
        }
        let n = deliveries.len() + remote.len();
        let local_msg = NewMessage {
            body: body.clone(),
            deliveries,
            ..Default::default()
        };
        let copies = remote.len();
        match self
            .store
            .list_expand(
                post,
                local_msg,
                &remote,
                Some((list.owner.clone(), domain.to_string())),
                self.config.lists.throttle.std().as_millis() as i64,
            )
            .await
        {
            Ok(()) => {}
            Err(mailhost_store::StoreError::Conflict(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        if copies > 0 {
            if let Some(w) = &self.delivery_wake {
                w.notify_one();
            }
        }
        tracing::info!(list = %list.address, post = post.id, copies = n, later_hours = hour, "list post sent");
        Ok(n)
    }

    /// Wakes the worker (a post was accepted on this node).
    pub fn with_wake(mut self, wake: Arc<Notify>, delivery: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self.delivery_wake = Some(delivery);
        self
    }

    /// Signs each member's copy (RFC 8058 §4: h= covers the list fields).
    /// DMARC-safe From (issue item 10): `always` (the setting, or the
    /// list's own), else only for an author whose domain asks receivers
    /// to reject or quarantine mail failing DMARC — the list changes the
    /// message, so the author's signature may no longer verify — or when
    /// DNS cannot tell. A post from the list's own domain keeps its From
    /// (the list's signature aligns with it).
    async fn rewrites_from(&self, list: &MailList, body: &[u8]) -> bool {
        if self.config.lists.from_rewrite == "always" || list.from_rewrite == "always" {
            return true;
        }
        let Some((_, author)) = headers::from_address(body) else {
            return false;
        };
        let domain = author.rsplit_once('@').map_or("", |(_, d)| d);
        if domain.is_empty() || domain.eq_ignore_ascii_case(&list.domain) {
            return false;
        }
        match &self.dmarc {
            Some(v) => {
                let budget = self.config.delivery.verify_timeout.std();
                let asks = v.dmarc_asks(domain, budget).await;
                tracing::debug!(post_from = domain, "DMARC for the list's From: {asks:?}");
                asks.rewrite()
            }
            None => false,
        }
    }

    /// Asks authors' DMARC records for `from_rewrite = "dmarc"`.
    pub fn with_dmarc(mut self, v: Arc<mailhost_mailauth::Verifier>) -> Self {
        self.dmarc = Some(v);
        self
    }

    pub fn with_signer(mut self, signer: Arc<mailhost_mailauth::Signer>) -> Self {
        self.signer = Some(signer);
        self
    }
}
