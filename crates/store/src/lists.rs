//! Mailing lists (R-LIST-1..6): lists, their members, the consent ledger
//! and the throttle's schedule.
//!
//! A member's state changes and its ledger event are one transaction: the
//! ledger never claims what did not happen, and nothing happens unrecorded.

use crate::address::{join, normalize_address};
use crate::db::{Row, Stmt};
use crate::{now_ms, Result, Store, StoreError};

/// Member states (issue: `invited → pending → member → unsubscribed |
/// suppressed | disabled`).
pub mod state {
    /// The owner invited the address; nothing was confirmed.
    pub const INVITED: &str = "invited";
    /// The address asked to join (mail, web); the confirmation is out.
    pub const PENDING: &str = "pending";
    pub const MEMBER: &str = "member";
    pub const UNSUBSCRIBED: &str = "unsubscribed";
    /// Removed by a complaint or an erasure: no invitation or import may
    /// bring it back; only its own confirmed opt-in does (R-LIST-3).
    pub const SUPPRESSED: &str = "suppressed";
    /// Too many bounces: still listed, sent nothing.
    pub const DISABLED: &str = "disabled";
}

/// Posting policies.
pub const POSTING: [&str; 3] = ["members", "owner", "moderated"];

/// A list.
#[derive(Debug, Clone, PartialEq)]
pub struct MailList {
    pub id: i64,
    pub address: String,
    pub domain: String,
    pub owner: String,
    pub name: String,
    /// members | owner | moderated
    pub posting: String,
    /// dmarc (rewrite From for posters whose domain asks receivers to
    /// reject or quarantine) | always
    pub from_rewrite: String,
    pub created_at: i64,
    /// Confirmed members.
    pub members: i64,
}

/// One member (in any state) of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub address: String,
    pub state: String,
    pub updated_at: i64,
    /// In halves: a hard bounce adds 2, a soft one 1.
    pub bounce_score: i64,
    pub bounce_day: i64,
    pub bounce_at: i64,
}

/// One event of the consent ledger.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsentEvent {
    pub id: i64,
    pub list: String,
    pub address: String,
    /// invited, subscribe-requested, confirmed, unsubscribed, suppressed,
    /// disabled, bounce, complaint, refused, erasure-requested, …
    pub event: String,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The same instant in the server's policy time zone with its UTC
    /// offset, as written when it happened.
    pub at_local: String,
    pub ip: Option<String>,
    /// mail | web | invite | api | one-click | bounce | cli
    pub method: String,
    pub message_id: Option<String>,
    pub token_hash: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    /// The address is now a member.
    Joined,
    /// It already was (the same link clicked twice is not an error).
    AlreadyMember,
}

/// Bytes in a member key.
pub const MEMBER_KEY_LEN: usize = 6;

/// The key compact tokens name a member by (schema 14): the first 48 bits
/// of SHA-256 over the list id and the address, as hex. It is no secret —
/// a token's MAC is what proves it — only short and indexed; a collision
/// (about one in 2^48 per pair) just gives verification two candidates.
pub fn member_key(list_id: i64, address: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{list_id}:{}", address.to_ascii_lowercase()).as_bytes(),
    );
    d.as_ref()[..MEMBER_KEY_LEN]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn list_row(r: &Row) -> Result<MailList> {
    Ok(MailList {
        id: r.i64(0)?,
        address: r.text(1)?,
        domain: r.text(2)?,
        owner: r.text(3)?,
        name: r.text(4)?,
        posting: r.text(5)?,
        from_rewrite: r.text(6)?,
        created_at: r.i64(7)?,
        members: r.i64(8)?,
    })
}

fn member_row(r: &Row) -> Result<Member> {
    Ok(Member {
        address: r.text(0)?,
        state: r.text(1)?,
        updated_at: r.i64(2)?,
        bounce_score: r.i64(3)?,
        bounce_day: r.i64(4)?,
        bounce_at: r.i64(5)?,
    })
}

/// The columns [`list_row`] reads, from `lists l JOIN domains d`.
macro_rules! list_select {
    ($where:literal) => {
        concat!(
            "SELECT l.id, l.address, d.name, l.owner, l.name, l.posting, l.from_rewrite, l.created_at,
               (SELECT COUNT(*) FROM list_members m WHERE m.list_id = l.id AND m.state = 'member')
             FROM lists l JOIN domains d ON d.id = l.domain_id ",
            $where
        )
    };
}

/// The ledger's insert (append only: the database refuses anything else).
pub(crate) fn consent_stmt(e: &ConsentEvent) -> Stmt {
    Stmt::new(
        "INSERT INTO list_consent (list, address, event, at, at_local, ip, method, message_id, token_hash, user_agent, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            e.list.clone().into(),
            e.address.clone().into(),
            e.event.clone().into(),
            e.at.into(),
            e.at_local.clone().into(),
            e.ip.clone().into(),
            e.method.clone().into(),
            e.message_id.clone().into(),
            e.token_hash.clone().into(),
            e.user_agent.clone().into(),
            e.detail.clone().into(),
        ],
    )
}

impl Store {
    /// The list at `address`, if there is one.
    pub async fn list_get(&self, address: &str) -> Result<Option<MailList>> {
        let Ok((l, d)) = normalize_address(address) else {
            return Ok(None);
        };
        let rows = self
            .lookup(
                list_select!("WHERE l.address = ?"),
                vec![join(&l, &d).into()],
            )
            .await?;
        rows.first().map(list_row).transpose()
    }

    /// The list with this id.
    pub async fn list_by_id(&self, id: i64) -> Result<Option<MailList>> {
        let rows = self
            .lookup(list_select!("WHERE l.id = ?"), vec![id.into()])
            .await?;
        rows.first().map(list_row).transpose()
    }

    /// The lists of a domain, by address.
    pub async fn lists_of_domain(&self, domain: &str) -> Result<Vec<MailList>> {
        let rows = self
            .query(
                list_select!("WHERE d.name = ? ORDER BY l.address"),
                vec![domain.to_ascii_lowercase().into()],
            )
            .await?;
        rows.iter().map(list_row).collect()
    }

    /// Lists by address after `after`, starting with `prefix`, of one
    /// domain and/or one owner (the panels' and the API's pages).
    pub async fn lists_page(
        &self,
        domain: Option<&str>,
        owner: Option<&str>,
        prefix: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<MailList>> {
        let (d, o) = (
            domain.unwrap_or("").to_ascii_lowercase(),
            owner.unwrap_or("").to_ascii_lowercase(),
        );
        let prefix = prefix.to_ascii_lowercase();
        let rows = self
            .query(
                list_select!(
                    "WHERE (? = '' OR d.name = ?) AND (? = '' OR l.owner = ?)
                       AND substr(l.address, 1, length(?)) = ? AND l.address > ?
                     ORDER BY l.address LIMIT ?"
                ),
                vec![
                    d.clone().into(),
                    d.into(),
                    o.clone().into(),
                    o.into(),
                    prefix.clone().into(),
                    prefix.into(),
                    after.to_ascii_lowercase().into(),
                    limit.into(),
                ],
            )
            .await?;
        rows.iter().map(list_row).collect()
    }

    /// `list create`: a list address in a hosted domain, free, owned by a
    /// mailbox of the same domain (R-LIST-1).
    pub async fn list_create(&self, address: &str, owner: &str, name: &str) -> Result<MailList> {
        let (l, d) = normalize_address(address)
            .map_err(|e| StoreError::Invalid(format!("list address: {e}")))?;
        if l.contains('+') {
            return Err(StoreError::Invalid(
                "a list address cannot contain '+': list+subscribe@ and the like are its command addresses"
                    .into(),
            ));
        }
        let addr = join(&l, &d);
        let (ol, od) =
            normalize_address(owner).map_err(|e| StoreError::Invalid(format!("owner: {e}")))?;
        let owner = join(&ol, &od);
        if od != d {
            return Err(StoreError::Invalid(format!(
                "the owner must be a mailbox of {d}"
            )));
        }
        let rows = self
            .query(
                "SELECT d.id, (SELECT COUNT(*) FROM addresses a WHERE a.address = ? AND a.kind = 'mailbox')
                 FROM domains d WHERE d.name = ?",
                vec![owner.clone().into(), d.clone().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(format!("no such domain: {d}")));
        };
        let domain_id = r.i64(0)?;
        if r.i64(1)? == 0 {
            return Err(StoreError::NotFound(format!("no such mailbox: {owner}")));
        }
        let now = now_ms();
        let name = if name.trim().is_empty() {
            l.clone()
        } else {
            name.trim().chars().take(200).collect()
        };
        self.batch(vec![
            Stmt::new(
                "INSERT INTO addresses (address, domain_id, kind, suspended, created_at) VALUES (?, ?, 'list', 0, ?)",
                vec![addr.clone().into(), domain_id.into(), now.into()],
            ),
            Stmt::new(
                "INSERT INTO lists (address, domain_id, owner, name, created_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    addr.clone().into(),
                    domain_id.into(),
                    owner.into(),
                    name.into(),
                    now.into(),
                ],
            ),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("{addr} already exists")),
            e => e,
        })?;
        self.list_get(&addr)
            .await?
            .ok_or_else(|| StoreError::Backend("the new list vanished".into()))
    }

    /// Sets a list's posting policy (`members`, `owner`, `moderated`).
    pub async fn list_set_posting(&self, address: &str, posting: &str) -> Result<()> {
        if !POSTING.contains(&posting) {
            return Err(StoreError::Invalid(format!(
                "posting: {posting}; one of {}",
                POSTING.join(", ")
            )));
        }
        self.batch(vec![Stmt::new(
            "UPDATE lists SET posting = ? WHERE address = ?",
            vec![posting.into(), address.to_ascii_lowercase().into()],
        )
        .must_change(StoreError::NotFound(format!("no such list: {address}")))])
            .await?;
        Ok(())
    }

    /// `list delete`: the list, its members and held posts go; the consent
    /// ledger stays (it is the proof, and append only), with the deletion
    /// recorded in it.
    pub async fn list_delete(&self, address: &str, event: &ConsentEvent) -> Result<()> {
        let Some(list) = self.list_get(address).await? else {
            return Err(StoreError::NotFound(format!("no such list: {address}")));
        };
        self.batch(vec![
            Stmt::new("DELETE FROM lists WHERE id = ?", vec![list.id.into()])
                .must_change(StoreError::NotFound(format!("no such list: {address}"))),
            Stmt::new(
                "DELETE FROM addresses WHERE address = ? AND kind = 'list'",
                vec![list.address.clone().into()],
            ),
            Stmt::new(
                "DELETE FROM list_members WHERE list_id = ?",
                vec![list.id.into()],
            ),
            Stmt::new(
                "DELETE FROM blobs WHERE id IN (SELECT blob_id FROM list_posts WHERE list_id = ?)
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id)
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)",
                vec![list.id.into()],
            ),
            Stmt::new(
                "DELETE FROM list_posts WHERE list_id = ?",
                vec![list.id.into()],
            ),
            consent_stmt(event),
        ])
        .await?;
        Ok(())
    }

    /// Whether `address` is one of our lists (a member address that is a
    /// list of ours is refused: lists do not nest).
    pub async fn is_list(&self, address: &str) -> Result<bool> {
        let Ok((l, d)) = normalize_address(address) else {
            return Ok(false);
        };
        self.list_exists(&join(&l, &d)).await
    }

    /// Whether the normalized `address` is a list's.
    pub(crate) async fn list_exists(&self, address: &str) -> Result<bool> {
        let rows = self
            .lookup(
                "SELECT 1 FROM addresses WHERE address = ? AND kind = 'list'",
                vec![address.into()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Members of a list in `states` (every state when empty), by address,
    /// from `after` on (paging).
    pub async fn list_members(
        &self,
        list_id: i64,
        states: &[&str],
        after: &str,
        limit: i64,
    ) -> Result<Vec<Member>> {
        let all = i64::from(states.is_empty());
        let mut s: Vec<String> = states.iter().map(|x| x.to_string()).collect();
        s.resize(6, String::new());
        let rows = self
            .query(
                "SELECT address, state, updated_at, bounce_score, bounce_day, bounce_at FROM list_members
                 WHERE list_id = ? AND address > ? AND (? = 1 OR state IN (?, ?, ?, ?, ?, ?))
                 ORDER BY address LIMIT ?",
                vec![
                    list_id.into(),
                    after.into(),
                    all.into(),
                    s[0].clone().into(),
                    s[1].clone().into(),
                    s[2].clone().into(),
                    s[3].clone().into(),
                    s[4].clone().into(),
                    s[5].clone().into(),
                    limit.into(),
                ],
            )
            .await?;
        rows.iter().map(member_row).collect()
    }

    /// (list address, member address) of the members with this key
    /// (normally one; see [`member_key`]).
    pub async fn list_members_by_key(&self, key: &str) -> Result<Vec<(String, String)>> {
        let rows = self
            .query(
                "SELECT l.address, m.address FROM list_members m JOIN lists l ON l.id = m.list_id
                 WHERE m.tkey = ? ORDER BY l.id, m.address LIMIT 64",
                vec![key.into()],
            )
            .await?;
        rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
    }

    /// Gives members kept before schema 14 their keys, a page at a time;
    /// returns how many it filled.
    pub async fn list_fill_keys(&self) -> Result<usize> {
        let mut filled = 0;
        loop {
            let rows = self
                .query(
                    "SELECT list_id, address FROM list_members WHERE tkey IS NULL LIMIT 500",
                    vec![],
                )
                .await?;
            if rows.is_empty() {
                return Ok(filled);
            }
            let mut stmts = Vec::with_capacity(rows.len());
            for r in &rows {
                let (id, addr) = (r.i64(0)?, r.text(1)?);
                stmts.push(Stmt::new(
                    "UPDATE list_members SET tkey = ? WHERE list_id = ? AND address = ?",
                    vec![member_key(id, &addr).into(), id.into(), addr.into()],
                ));
            }
            filled += stmts.len();
            self.batch(stmts).await?;
        }
    }

    /// One member of a list, in whatever state.
    pub async fn list_member(&self, list_id: i64, address: &str) -> Result<Option<Member>> {
        let rows = self
            .lookup(
                "SELECT address, state, updated_at, bounce_score, bounce_day, bounce_at FROM list_members
                 WHERE list_id = ? AND address = ?",
                vec![list_id.into(), address.to_ascii_lowercase().into()],
            )
            .await?;
        rows.first().map(member_row).transpose()
    }

    /// The statements that move `address` from `current` (None: not on
    /// the list) to `to` with its ledger event, failing with `Conflict` if
    /// its state changed meanwhile: for a caller that commits them with
    /// something else (the confirmation mail, through `audit::with_extra`).
    pub fn list_transition_stmts(
        list_id: i64,
        address: &str,
        current: Option<&str>,
        to: &str,
        event: &ConsentEvent,
    ) -> Vec<Stmt> {
        let addr = address.to_ascii_lowercase();
        let change = match current {
            None => Stmt::new(
                "INSERT INTO list_members (list_id, address, state, updated_at, tkey) VALUES (?, ?, ?, ?, ?)",
                vec![
                    list_id.into(),
                    addr.clone().into(),
                    to.into(),
                    event.at.into(),
                    member_key(list_id, &addr).into(),
                ],
            ),
            Some(cur) => Stmt::new(
                "UPDATE list_members SET state = ?, updated_at = ?
                 WHERE list_id = ? AND address = ? AND state = ?",
                vec![
                    to.into(),
                    event.at.into(),
                    list_id.into(),
                    addr.into(),
                    cur.into(),
                ],
            )
            .must_change(StoreError::Conflict("changed meanwhile".into())),
        };
        vec![change, consent_stmt(event)]
    }

    /// Moves a member from one of `from` ("" = not on the list yet) to
    /// `to`, with its ledger event, atomically. Ok(false) when its state
    /// was none of `from` (nothing changed, nothing recorded).
    pub async fn list_transition(
        &self,
        list_id: i64,
        address: &str,
        from: &[&str],
        to: &str,
        event: &ConsentEvent,
    ) -> Result<bool> {
        let current = self.list_member(list_id, address).await?;
        let cur = match &current {
            None if from.contains(&"") => None,
            Some(m) if from.contains(&m.state.as_str()) => Some(m.state.as_str()),
            _ => return Ok(false),
        };
        // From the state read only: a concurrent change wins and this one
        // reports that nothing happened.
        let stmts = Self::list_transition_stmts(list_id, address, cur, to, event);
        match self.batch(stmts).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A confirmation (R-LIST-1): the token is spent, the address becomes
    /// a member and the ledger says so, in one transaction; with the
    /// distinct confirmed members of all the owner's lists kept within
    /// `cap` inside that transaction (R-LIST-5), so that confirmations
    /// racing on several nodes cannot pass it together.
    ///
    /// `Conflict` when the token was used before; `LimitReached` when the
    /// cap would be passed.
    pub async fn list_confirm(
        &self,
        list: &MailList,
        address: &str,
        token_hash: &str,
        cap: i64,
        event: &ConsentEvent,
    ) -> Result<Confirmed> {
        let addr = address.to_ascii_lowercase();
        if let Some(m) = self.list_member(list.id, &addr).await? {
            if m.state == state::MEMBER {
                return Ok(Confirmed::AlreadyMember);
            }
        }
        let now = event.at;
        let stmts = vec![
            // First: lock every list of the owner (PostgreSQL row locks),
            // so the count below sees any confirmation committed before.
            Stmt::new(
                "UPDATE lists SET owner = owner WHERE owner = ?",
                vec![list.owner.clone().into()],
            ),
            Stmt::new(
                "INSERT INTO list_tokens_used (token_hash, used_at) VALUES (?, ?)",
                vec![token_hash.into(), now.into()],
            ),
            Stmt::new(
                "DELETE FROM list_members WHERE list_id = ? AND address = ?",
                vec![list.id.into(), addr.clone().into()],
            ),
            Stmt::new(
                "INSERT INTO list_members (list_id, address, state, updated_at, tkey) VALUES (?, ?, 'member', ?, ?)",
                vec![
                    list.id.into(),
                    addr.clone().into(),
                    now.into(),
                    member_key(list.id, &addr).into(),
                ],
            ),
            Stmt::new(
                "UPDATE lists SET owner = owner WHERE id = ?
                   AND (SELECT COUNT(DISTINCT m.address) FROM list_members m JOIN lists o ON o.id = m.list_id
                        WHERE o.owner = ? AND m.state = 'member') <= ?",
                vec![list.id.into(), list.owner.clone().into(), cap.into()],
            )
            .must_change(StoreError::LimitReached(format!(
                "the lists of {} would have more than {cap} members",
                list.owner
            ))),
            consent_stmt(event),
        ];
        match self.batch(stmts).await {
            Ok(_) => Ok(Confirmed::Joined),
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(
                "this confirmation link was already used".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Whether a single-use token was spent.
    pub async fn list_token_used(&self, token_hash: &str) -> Result<bool> {
        let rows = self
            .lookup(
                "SELECT 1 FROM list_tokens_used WHERE token_hash = ?",
                vec![token_hash.into()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Distinct confirmed members across every list of `owner` (R-LIST-5).
    pub async fn owner_member_count(&self, owner: &str) -> Result<i64> {
        let rows = self
            .query(
                "SELECT COUNT(DISTINCT m.address) FROM list_members m JOIN lists l ON l.id = m.list_id
                 WHERE l.owner = ? AND m.state = 'member'",
                vec![owner.to_ascii_lowercase().into()],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }

    /// Counts a bounce of a member (Mailman's scoring): `halves` (2 for a
    /// hard bounce, 1 for a soft one) at most once per `day`, the score
    /// starting afresh when the last bounce is older than `stale_ms`.
    /// Returns the new score, or None when nothing was counted (not a
    /// member, or already counted today).
    pub async fn list_bounce(
        &self,
        list_id: i64,
        address: &str,
        halves: i64,
        day: i64,
        now: i64,
        stale_ms: i64,
    ) -> Result<Option<i64>> {
        let r = self
            .batch(vec![Stmt::new(
                "UPDATE list_members SET
                   bounce_score = CASE WHEN bounce_at < ? THEN ? ELSE bounce_score + ? END,
                   bounce_day = ?, bounce_at = ?
                 WHERE list_id = ? AND address = ? AND state = 'member' AND bounce_day <> ?
                 RETURNING bounce_score",
                vec![
                    (now - stale_ms).into(),
                    halves.into(),
                    halves.into(),
                    day.into(),
                    now.into(),
                    list_id.into(),
                    address.to_ascii_lowercase().into(),
                    day.into(),
                ],
            )
            .returning()])
            .await?;
        Ok(r.first().copied().filter(|&v| v > 0).map(|v| v as i64))
    }

    /// Appends an event to the consent ledger.
    pub async fn consent_append(&self, e: &ConsentEvent) -> Result<()> {
        self.batch(vec![consent_stmt(e)]).await?;
        Ok(())
    }

    /// The ledger of `list`, oldest first, after event `after` (paging:
    /// the export reads it in pages and never holds it all).
    pub async fn consent_page(
        &self,
        list: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ConsentEvent>> {
        self.consent_page_since(list, 0, after, limit).await
    }

    /// The ledger's events from `since_ms` on (a list's owner sees only
    /// its own list's, not those of an earlier list at the same address).
    pub async fn consent_page_since(
        &self,
        list: &str,
        since_ms: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ConsentEvent>> {
        let rows = self
            .query(
                "SELECT id, list, address, event, at, at_local, ip, method, message_id, token_hash, user_agent, detail
                 FROM list_consent WHERE list = ? AND id > ? AND at >= ? ORDER BY id LIMIT ?",
                vec![
                    list.to_ascii_lowercase().into(),
                    after.into(),
                    since_ms.into(),
                    limit.into(),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ConsentEvent {
                    id: r.i64(0)?,
                    list: r.text(1)?,
                    address: r.text(2)?,
                    event: r.text(3)?,
                    at: r.i64(4)?,
                    at_local: r.text(5)?,
                    ip: r.opt_text(6)?,
                    method: r.text(7)?,
                    message_id: r.opt_text(8)?,
                    token_hash: r.opt_text(9)?,
                    user_agent: r.opt_text(10)?,
                    detail: r.opt_text(11)?,
                })
            })
            .collect()
    }

    /// Takes the list's next send slot (R-LIST-6): the later of `now` and
    /// the schedule, which moves on by `spacing_ms` in the same statement,
    /// so two nodes never take the same slot.
    pub async fn list_take_slot(&self, list_id: i64, now: i64, spacing_ms: i64) -> Result<i64> {
        let r = self
            .batch(vec![Stmt::new(
                "UPDATE lists SET next_send_at = CASE WHEN next_send_at > ? THEN next_send_at ELSE ? END + ?
                 WHERE id = ? RETURNING next_send_at",
                vec![now.into(), now.into(), spacing_ms.into(), list_id.into()],
            )
            .returning()
            .must_change(StoreError::NotFound("no such list".into()))])
            .await?;
        Ok(r[0] as i64 - spacing_ms)
    }
}
