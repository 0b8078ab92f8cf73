//! The autoresponder (R-IN-5): its text and window per mailbox, and whom
//! it answered when, so that a sender gets at most one reply per
//! interval whichever node took the mail.

use crate::accounts::mailbox_address;
use crate::db::Stmt;
use crate::{now_ms, NewMessage, Result, Store, StoreError};

/// The body's limit: a reply is a short note, not a newsletter.
pub const AUTOREPLY_MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Autoreply {
    /// None: "Re: " and the original subject.
    pub subject: Option<String>,
    pub body: String,
    /// Active from, until (ms since the epoch); None: open-ended.
    pub from: Option<i64>,
    pub until: Option<i64>,
}

impl Autoreply {
    /// Whether it answers at `now`.
    pub fn active(&self, now: i64) -> bool {
        self.from.is_none_or(|f| now >= f) && self.until.is_none_or(|u| now < u)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(StoreError::Invalid(m));
        if self.body.len() > AUTOREPLY_MAX_BODY {
            return bad(format!(
                "--body: {} bytes is more than the limit of {AUTOREPLY_MAX_BODY} (64 KB)",
                self.body.len()
            ));
        }
        if self.body.trim().is_empty() {
            return bad("--body must not be empty".into());
        }
        if self
            .body
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return bad("--body must not contain control characters".into());
        }
        if let Some(s) = &self.subject {
            // RFC 5322 §2.1.1: one header line stays under 998 octets.
            if s.len() > 900 || s.chars().any(char::is_control) {
                return bad("--subject must be one line of at most 900 bytes".into());
            }
        }
        if let (Some(f), Some(u)) = (self.from, self.until) {
            if u <= f {
                return bad("--until must be after --from".into());
            }
        }
        Ok(())
    }
}

impl Store {
    async fn autoreply_owner(&self, addr: &str) -> Result<i64> {
        let rows = self
            .lookup(
                "SELECT id FROM addresses WHERE address = ? AND kind = 'mailbox'",
                vec![addr.into()],
            )
            .await?;
        match rows.first() {
            Some(r) => r.i64(0),
            None => Err(StoreError::NotFound(format!("no such mailbox: {addr}"))),
        }
    }

    /// `autoreply set`: replaces the mailbox's autoresponder; senders
    /// answered by the old one may be answered again.
    pub async fn autoreply_set(&self, address: &str, a: &Autoreply) -> Result<String> {
        let addr = mailbox_address(address)?;
        a.check()?;
        let id = self.autoreply_owner(&addr).await?;
        self.batch(vec![
            Stmt::new(
                "INSERT INTO autoreplies (address_id, subject, body, from_at, until_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (address_id) DO UPDATE SET subject = excluded.subject, body = excluded.body,
                   from_at = excluded.from_at, until_at = excluded.until_at, updated_at = excluded.updated_at",
                vec![
                    id.into(),
                    a.subject.clone().into(),
                    a.body.clone().into(),
                    a.from.into(),
                    a.until.into(),
                    now_ms().into(),
                ],
            ),
            Stmt::new("DELETE FROM autoreply_sent WHERE address_id = ?", vec![id.into()]),
            Stmt::new(
                "UPDATE addresses SET autoreply = 1 WHERE id = ? AND kind = 'mailbox'",
                vec![id.into()],
            )
            .must_change(StoreError::NotFound(format!("no such mailbox: {addr}"))),
        ])
        .await?;
        Ok(addr)
    }

    pub async fn autoreply_clear(&self, address: &str) -> Result<()> {
        let addr = mailbox_address(address)?;
        let id = self.autoreply_owner(&addr).await?;
        self.batch(vec![
            Stmt::new(
                "DELETE FROM autoreplies WHERE address_id = ?",
                vec![id.into()],
            ),
            Stmt::new(
                "DELETE FROM autoreply_sent WHERE address_id = ?",
                vec![id.into()],
            ),
            Stmt::new(
                "UPDATE addresses SET autoreply = 0 WHERE id = ?",
                vec![id.into()],
            ),
        ])
        .await?;
        Ok(())
    }

    pub async fn autoreply_show(&self, address: &str) -> Result<Option<Autoreply>> {
        let addr = mailbox_address(address)?;
        let id = self.autoreply_owner(&addr).await?;
        self.autoreply_get(id).await
    }

    /// The mailbox's autoresponder, if it has one.
    pub async fn autoreply_get(&self, mailbox: i64) -> Result<Option<Autoreply>> {
        let rows = self
            .lookup(
                "SELECT subject, body, from_at, until_at FROM autoreplies WHERE address_id = ?",
                vec![mailbox.into()],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(Autoreply {
                    subject: r.opt_text(0)?,
                    body: r.text(1)?,
                    from: r.opt_i64(2)?,
                    until: r.opt_i64(3)?,
                })
            })
            .transpose()
    }

    /// Stores `reply` if `sender` has had no reply from `mailbox` within
    /// `interval`: the record and the reply commit together. Returns
    /// whether it was stored.
    pub async fn autoreply_send(
        &self,
        mailbox: i64,
        sender: &str,
        interval: std::time::Duration,
        reply: NewMessage,
    ) -> Result<bool> {
        let now = now_ms();
        let mut stmts = vec![Stmt::new(
            "INSERT INTO autoreply_sent (address_id, sender, at) VALUES (?, ?, ?)
             ON CONFLICT (address_id, sender) DO UPDATE SET at = excluded.at
             WHERE autoreply_sent.at <= ?",
            vec![
                mailbox.into(),
                sender.to_ascii_lowercase().into(),
                now.into(),
                (now - interval.as_millis() as i64).into(),
            ],
        )
        .must_change(StoreError::Conflict("answered lately".into()))];
        stmts.extend(crate::messages::message_stmts(reply)?.0);
        self.batch_guarded(stmts).await
    }

    /// Forgets answers older than `interval`: they no longer hold a reply
    /// back.
    pub async fn autoreply_forget(&self, interval: std::time::Duration) -> Result<u64> {
        let n = self
            .batch(vec![Stmt::new(
                "DELETE FROM autoreply_sent WHERE at < ?",
                vec![(now_ms() - interval.as_millis() as i64).into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0))
    }
}
