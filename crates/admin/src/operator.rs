//! The operator's work (R-WEB-3): packages, holds (which domain admins
//! see and lift for their own accounts), the evidence log (R-ABUSE-3),
//! the queue, the notice board (R-ABUSE-5) and the audit log.

use crate::caller::{domain_of, Caller, Error, PageReq, Role};
use crate::views::{Audit, Evidence, Hold, Notice, Package, Page, QueueItem};
use crate::{Admin, Result};
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mailhost_store::{now_ms, rfc3339, AuditQuery, EvidenceQuery, NewMessage, Store};
use serde_json::json;

/// Evidence search (all optional); times in ms since the epoch.
#[derive(Debug, Clone, Default)]
pub struct EvidenceFilter {
    pub account: Option<String>,
    pub ip: Option<String>,
    pub rule: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A cursor of two numbers, `A.B`.
fn pair(field: &'static str, s: &str) -> Result<(i64, i64)> {
    s.split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| Error::invalid(field, format!("cursor {s:?} is not one this server gave")))
}

fn id_cursor(p: &PageReq) -> Result<Option<i64>> {
    p.cursor
        .as_deref()
        .map(|c| {
            c.parse().map_err(|_| {
                Error::invalid(
                    "cursor",
                    format!("cursor {c:?} is not one this server gave"),
                )
            })
        })
        .transpose()
}

/// The largest package limits: beyond them a number is a typing error.
const MAX_HOURLY: u32 = 1_000_000_000;
const MAX_FORWARDS: u32 = 1000;

/// The longest notice body, and title.
const MAX_NOTICE_BODY: usize = 64 << 10;
const MAX_NOTICE_TITLE: usize = 200;

impl Admin {
    pub async fn package_set(
        &self,
        c: &Caller,
        name: &str,
        hourly_limit: Option<u32>,
        quota: Option<u64>,
        max_forwards: Option<u32>,
    ) -> Result<(Package, Vec<mailhost_store::Usage>)> {
        self.scope_operator(c, "package.set", name).await?;
        if hourly_limit.is_some_and(|h| h > MAX_HOURLY) {
            return Err(Error::invalid(
                "hourly_limit",
                format!("an hourly limit is at most {MAX_HOURLY}"),
            ));
        }
        if max_forwards.is_some_and(|m| m > MAX_FORWARDS) {
            return Err(Error::invalid(
                "max_forwards",
                format!("a mailbox forwards to at most {MAX_FORWARDS} destinations"),
            ));
        }
        let quota = quota
            .map(mailhost_store::quota::check_quota)
            .transpose()
            .map_err(Error::field("quota"))?;
        let before = self.store.package_get(name).await.ok().flatten();
        let p = self
            .audited(
                c,
                "package.set",
                name,
                before.map(|p| json!(Package::from(p))),
                Some(json!({"hourly_limit": hourly_limit, "quota": quota, "max_forwards": max_forwards})),
                vec![],
                self.store.package_set(
                    name,
                    hourly_limit.map(i64::from),
                    quota,
                    max_forwards.map(i64::from),
                ),
            )
            .await
            .map_err(|e| e.at("name"))?;
        // Allowed, but those mailboxes take no new mail until they fit.
        let over = if quota.is_some() {
            self.store.package_overruns(&p.name).await?
        } else {
            vec![]
        };
        Ok((p.into(), over))
    }

    pub async fn package_list(&self, c: &Caller) -> Result<Vec<Package>> {
        self.scope_operator(c, "package.list", "packages").await?;
        Ok(self
            .store
            .package_list()
            .await?
            .into_iter()
            .map(Package::from)
            .collect())
    }

    /// Holds in force (R-ABUSE-1): all for the operator, its domains'
    /// for a domain admin.
    pub async fn hold_list(&self, c: &Caller, p: &PageReq) -> Result<Page<Hold>> {
        if matches!(c.role, Role::User(_)) {
            return Err(self.denied(c, "hold.list", "holds").await);
        }
        let limit = p.limit()?;
        let mut holds: Vec<Hold> = self
            .store
            .hold_list()
            .await?
            .into_iter()
            .filter(|h| c.manages(domain_of(&h.account)))
            .filter(|h| p.cursor.as_ref().is_none_or(|cur| &h.account > cur))
            .filter(|h| {
                p.prefix
                    .as_ref()
                    .is_none_or(|x| h.account.starts_with(x.as_str()))
            })
            .map(|h| Hold {
                account: h.account,
                rule: h.rule,
                reason: h.reason,
                started: rfc3339(h.started),
                ends: rfc3339(h.ends),
            })
            .collect();
        holds.sort_by(|a, b| a.account.cmp(&b.account).then(a.ends.cmp(&b.ends)));
        // The cursor is an account, so a page holds all of an account's
        // holds: it may run past `limit` by the last account's others.
        let mut n = holds.len().min(limit);
        while n > 0 && n < holds.len() && holds[n].account == holds[n - 1].account {
            n += 1;
        }
        let next = (n < holds.len()).then(|| holds[n - 1].account.clone());
        holds.truncate(n);
        Ok(Page { items: holds, next })
    }

    pub async fn hold_release(&self, c: &Caller, address: &str) -> Result<u64> {
        let addr = crate::users::address("address", address)?;
        self.scope_admin_of(c, "hold.release", &addr).await?;
        let n = self
            .audited(
                c,
                "hold.release",
                &addr,
                None,
                None,
                vec![],
                self.store.hold_release(&addr),
            )
            .await?;
        if n == 0 {
            return Err(Error::not_found(format!("{addr} is not on hold")));
        }
        Ok(n)
    }

    /// Suspended addresses of every domain (R-ADDR-3), the operator's.
    pub async fn suspended_list(&self, c: &Caller, p: &PageReq) -> Result<Page<String>> {
        self.scope_operator(c, "suspended.list", "suspensions")
            .await?;
        let limit = p.limit()?;
        let rows = self
            .store
            .suspended_page(p.cursor.as_deref().unwrap_or(""), limit as i64 + 1)
            .await?;
        Ok(Page::of(rows, limit, String::clone))
    }

    /// The evidence log, newest first (R-ABUSE-3): the operator's.
    pub async fn evidence_search(
        &self,
        c: &Caller,
        f: &EvidenceFilter,
        p: &PageReq,
    ) -> Result<Page<Evidence>> {
        self.scope_operator(c, "evidence.search", "evidence")
            .await?;
        let limit = p.limit()?;
        let before = p.cursor.as_deref().map(|s| pair("cursor", s)).transpose()?;
        let rows = self
            .store
            .evidence_search(&EvidenceQuery {
                account: f.account.as_ref().map(|a| a.to_ascii_lowercase()),
                ip: f.ip.clone(),
                rule: f.rule.clone(),
                since: f.since,
                until: f.until,
                limit: limit + 1,
                before,
            })
            .await?;
        let next_key: Vec<(i64, i64)> = rows.iter().map(|r| (r.at, r.id)).collect();
        let items: Vec<Evidence> = rows.into_iter().map(Evidence::from).collect();
        let mut page = Page::of(items, limit, |_| String::new());
        if page.next.is_some() {
            let (at, id) = next_key[limit - 1];
            page.next = Some(format!("{at}.{id}"));
        }
        Ok(page)
    }

    /// The full headers of the message behind a decision.
    pub async fn evidence_export(&self, c: &Caller, id: i64) -> Result<Vec<u8>> {
        self.scope_operator(c, "evidence.export", &id.to_string())
            .await?;
        let Some(ev) = self.store.evidence_get(id).await? else {
            return Err(Error::not_found(format!("no evidence record {id}")));
        };
        ev.headers
            .ok_or_else(|| Error::not_found(format!("evidence record {id} concerns no message")))
    }

    pub async fn queue_list(&self, c: &Caller) -> Result<Vec<QueueItem>> {
        self.scope_operator(c, "queue.list", "queue").await?;
        let now = now_ms();
        Ok(self
            .store
            .queue_list()
            .await?
            .into_iter()
            .map(|i| QueueItem {
                id: i.id,
                age_seconds: (now - i.created_at) / 1000,
                attempts: i.attempts,
                sender: i.sender,
                rcpt: i.rcpt,
                last_error: i.last_error,
            })
            .collect())
    }

    pub async fn queue_flush(&self, c: &Caller) -> Result<u64> {
        self.scope_operator(c, "queue.flush", "queue").await?;
        let n = self
            .audited(
                c,
                "queue.flush",
                "queue",
                None,
                None,
                vec![],
                self.store.queue_flush(),
            )
            .await?;
        Ok(n)
    }

    /// Publishes a policy amendment (R-ABUSE-5): it goes on every panel's
    /// notice board and is mailed once to every domain's postmaster@
    /// (so, its technical contact), in the same transaction.
    pub async fn notice_publish(&self, c: &Caller, title: &str, body: &str) -> Result<Notice> {
        self.scope_operator(c, "notice.publish", "notices").await?;
        let title = title.trim();
        if title.is_empty() || title.len() > MAX_NOTICE_TITLE || title.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "title",
                format!("a title is 1 to {MAX_NOTICE_TITLE} characters on one line"),
            ));
        }
        if body.trim().is_empty() || body.len() > MAX_NOTICE_BODY {
            return Err(Error::invalid(
                "body",
                format!(
                    "the text must not be empty nor longer than {} KB",
                    MAX_NOTICE_BODY >> 10
                ),
            ));
        }
        let now = now_ms();
        let mut contacts: Vec<String> = Vec::new();
        for d in self.store.domain_list().await? {
            let ct = d.contact.to_ascii_lowercase();
            if !contacts.contains(&ct) {
                contacts.push(ct);
            }
        }
        let host = &self.config.server.hostname;
        let id: u128 = rand::random();
        let mail = MessageBuilder::new()
            .from(("Mail System", format!("postmaster@{host}").as_str()))
            // Each domain's contact receives it as its postmaster@.
            .to(("Postmasters", format!("postmaster@{host}").as_str()))
            .subject(format!("[Notice] {title}"))
            .message_id(format!("{id:032x}.notice@{host}"))
            .header("Auto-Submitted", Raw::new("auto-generated"))
            .text_body(format!(
                "{body}\r\n\r\n-- \r\nPublished {} on the notice board of {host}.\r\n",
                rfc3339(now)
            ))
            .write_to_vec()
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut msg = NewMessage {
            body: mail,
            ..Default::default()
        };
        for ct in &contacts {
            self.store.address_notice(ct, None, &mut msg).await?;
        }
        let publish = Store::notice_stmt(title, body, &c.login, now);
        let sent = msg.deliveries.len() + msg.outbound.len();
        let deliver = async {
            if sent == 0 {
                return Ok(vec![]);
            }
            self.store.deliver(msg).await.map(|_| vec![])
        };
        let _: Vec<()> = self
            .audited(
                c,
                "notice.publish",
                title,
                None,
                Some(json!({"recipients": sent})),
                vec![publish],
                deliver,
            )
            .await?;
        tracing::info!(
            title,
            recipients = sent,
            rule = "R-ABUSE-5",
            "notice published"
        );
        let n = self.store.notice_list(None, 1).await?;
        n.into_iter()
            .next()
            .map(Notice::from)
            .ok_or_else(|| Error::internal("the notice vanished"))
    }

    /// The notice board, newest first: every signed-in role reads it.
    pub async fn notice_list(&self, _c: &Caller, p: &PageReq) -> Result<Page<Notice>> {
        let limit = p.limit()?;
        let rows = self
            .store
            .notice_list(id_cursor(p)?, limit as i64 + 1)
            .await?;
        Ok(Page::of(
            rows.into_iter().map(Notice::from).collect(),
            limit,
            |n| n.id.to_string(),
        ))
    }

    /// Every admin action, newest first (R-WEB-3).
    pub async fn audit_list(
        &self,
        c: &Caller,
        actor: Option<&str>,
        object: Option<&str>,
        p: &PageReq,
    ) -> Result<Page<Audit>> {
        self.scope_operator(c, "audit.list", "audit").await?;
        let limit = p.limit()?;
        let rows = self
            .store
            .audit_list(&AuditQuery {
                actor: actor.map(str::to_string),
                object: object.map(str::to_string),
                before_id: id_cursor(p)?,
                limit: limit as i64 + 1,
            })
            .await?;
        Ok(Page::of(
            rows.into_iter().map(Audit::from).collect(),
            limit,
            |a| a.id.to_string(),
        ))
    }
}
