//! The audit log of admin actions (who, what, before → after, from where)
//! and the notice board (R-ABUSE-5).
//!
//! An action's audit record commits in the same transaction as the
//! action: [`with_extra`] runs the action with statements that the first
//! write batch inside it carries along ([`Store::batch`]), so a crash
//! leaves both or neither.

use crate::db::{Row, Stmt, Val};
use crate::{now_ms, Result, Store};
use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static EXTRA: RefCell<Vec<Stmt>>;
}

/// Runs `f` so that its first write batch also applies `stmts`; returns
/// its output and the statements no batch took (nothing was written, or
/// the batch failed before them).
pub async fn with_extra<F: Future>(stmts: Vec<Stmt>, f: F) -> (F::Output, Vec<Stmt>) {
    EXTRA
        .scope(RefCell::new(stmts), async move {
            let out = f.await;
            let left = EXTRA.with(|e| std::mem::take(&mut *e.borrow_mut()));
            (out, left)
        })
        .await
}

/// The statements [`with_extra`] holds for this task's next batch.
pub(crate) fn take_extra() -> Vec<Stmt> {
    EXTRA
        .try_with(|e| std::mem::take(&mut *e.borrow_mut()))
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// The login that acted (`cli` for the command line).
    pub actor: String,
    pub ip: Option<String>,
    /// What was done: `user.suspend`, `domain.add`, …
    pub action: String,
    /// What it was done to: an address, a domain, a login.
    pub object: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Which audit records to list: newest first, before `before_id`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub object: Option<String>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub published_at: i64,
}

fn audit_row(r: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.i64(0)?,
        at: r.i64(1)?,
        actor: r.text(2)?,
        ip: r.opt_text(3)?,
        action: r.text(4)?,
        object: r.text(5)?,
        before: r.opt_text(6)?,
        after: r.opt_text(7)?,
    })
}

impl AuditEntry {
    /// The statement that records this entry (its id and time are the
    /// store's).
    pub fn stmt(&self) -> Stmt {
        Stmt::new(
            "INSERT INTO audit (at, actor, ip, action, object, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                now_ms().into(),
                self.actor.clone().into(),
                self.ip.clone().into(),
                self.action.clone().into(),
                self.object.clone().into(),
                self.before.clone().into(),
                self.after.clone().into(),
            ],
        )
    }
}

impl Store {
    pub async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let rows = self
            .query(
                "SELECT id, at, actor, ip, action, object, before, after FROM audit
                 WHERE (? = '' OR actor = ?) AND (? = '' OR object = ?) AND id < ?
                 ORDER BY id DESC LIMIT ?",
                vec![
                    q.actor.clone().unwrap_or_default().into(),
                    q.actor.clone().unwrap_or_default().into(),
                    q.object.clone().unwrap_or_default().into(),
                    q.object.clone().unwrap_or_default().into(),
                    Val::I(q.before_id.unwrap_or(i64::MAX)),
                    Val::I(q.limit.clamp(1, 1000)),
                ],
            )
            .await?;
        rows.iter().map(audit_row).collect()
    }

    /// The statement that publishes a notice.
    pub fn notice_stmt(title: &str, body: &str, author: &str, at: i64) -> Stmt {
        Stmt::new(
            "INSERT INTO notices (title, body, author, published_at) VALUES (?, ?, ?, ?)",
            vec![title.into(), body.into(), author.into(), at.into()],
        )
    }

    /// Notices, newest first, before `before_id`.
    pub async fn notice_list(&self, before_id: Option<i64>, limit: i64) -> Result<Vec<Notice>> {
        let rows = self
            .query(
                "SELECT id, title, body, author, published_at FROM notices WHERE id < ?
                 ORDER BY id DESC LIMIT ?",
                vec![
                    Val::I(before_id.unwrap_or(i64::MAX)),
                    Val::I(limit.clamp(1, 1000)),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Notice {
                    id: r.i64(0)?,
                    title: r.text(1)?,
                    body: r.text(2)?,
                    author: r.text(3)?,
                    published_at: r.i64(4)?,
                })
            })
            .collect()
    }
}
