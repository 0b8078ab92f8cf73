//! The policy engine's shared state: the evidence log (R-ABUSE-3), the
//! send log that hourly limits count over a sliding window (R-OUT-6,
//! R-OUT-7), and holds (R-ABUSE-1). All of it lives in the store, so it
//! survives restarts and holds across nodes sharing one PostgreSQL.

use crate::db::{Row, Stmt, Val};
use crate::{now_ms, Result, Store};

/// One policy decision, as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub ip: String,
    pub account: Option<String>,
    /// The SPEC rule id, e.g. "R-OUT-6".
    pub rule: String,
    /// "refuse", "hold" or "accept".
    pub decision: String,
    /// The reply the client got, e.g. "550 5.7.1 ...".
    pub reply: String,
    /// "mx", "submission", "pop3".
    pub service: String,
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
    /// The message's header section, when the decision concerned one.
    pub headers: Option<Vec<u8>>,
}

/// Filters for [`Store::evidence_search`]; None matches everything.
#[derive(Debug, Clone, Default)]
pub struct EvidenceQuery {
    pub account: Option<String>,
    pub ip: Option<String>,
    pub rule: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: usize,
    /// A page after another: records older than this (time, id).
    pub before: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub id: i64,
    pub account: String,
    pub rule: String,
    pub reason: String,
    pub started: i64,
    pub ends: i64,
}

fn evidence_row(r: &mut Row) -> Result<Evidence> {
    Ok(Evidence {
        id: r.i64(0)?,
        at: r.i64(1)?,
        ip: r.text(2)?,
        account: r.opt_text(3)?,
        rule: r.text(4)?,
        decision: r.text(5)?,
        reply: r.text(6)?,
        service: r.text(7)?,
        queue_id: r.opt_text(8)?,
        message_id: r.opt_text(9)?,
        headers: None,
    })
}

fn hold_row(r: &Row) -> Result<Hold> {
    Ok(Hold {
        id: r.i64(0)?,
        account: r.text(1)?,
        rule: r.text(2)?,
        reason: r.text(3)?,
        started: r.i64(4)?,
        ends: r.i64(5)?,
    })
}

/// The statement that records `e` (also used inside message batches).
pub(crate) fn evidence_stmt(e: &Evidence) -> Stmt {
    Stmt::new(
        "INSERT INTO evidence (at, ip, account, rule, decision, reply, service, queue_id, message_id, headers)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            (if e.at == 0 { now_ms() } else { e.at }).into(),
            e.ip.clone().into(),
            e.account.clone().into(),
            e.rule.clone().into(),
            e.decision.clone().into(),
            e.reply.clone().into(),
            e.service.clone().into(),
            e.queue_id.clone().into(),
            e.message_id.clone().into(),
            e.headers.clone().map_or(Val::NullT, Val::B),
        ],
    )
}

impl Store {
    pub async fn evidence_record(&self, e: &Evidence) -> Result<()> {
        self.batch(vec![evidence_stmt(e)]).await?;
        Ok(())
    }

    /// Newest first.
    pub async fn evidence_search(&self, q: &EvidenceQuery) -> Result<Vec<Evidence>> {
        // One static statement: a NULL filter matches everything.
        let mut rows = self
            .query(
                "SELECT id, at, ip, account, rule, decision, reply, service, queue_id, message_id FROM evidence
                 WHERE (CAST(? AS TEXT) IS NULL OR account = ?) AND (CAST(? AS TEXT) IS NULL OR ip = ?)
                   AND (CAST(? AS TEXT) IS NULL OR rule = ?)
                   AND at >= ? AND at <= ? AND (at < ? OR (at = ? AND id < ?))
                 ORDER BY at DESC, id DESC LIMIT ?",
                vec![
                    q.account.clone().into(),
                    q.account.clone().into(),
                    q.ip.clone().into(),
                    q.ip.clone().into(),
                    q.rule.clone().into(),
                    q.rule.clone().into(),
                    q.since.unwrap_or(0).into(),
                    q.until.unwrap_or(i64::MAX).into(),
                    q.before.map_or(i64::MAX, |b| b.0).into(),
                    q.before.map_or(i64::MAX, |b| b.0).into(),
                    q.before.map_or(i64::MAX, |b| b.1).into(),
                    (if q.limit == 0 { 1000 } else { q.limit } as i64).into(),
                ],
            )
            .await?;
        rows.iter_mut().map(evidence_row).collect()
    }

    /// One record with the message headers it concerned (for an abuse
    /// report).
    pub async fn evidence_get(&self, id: i64) -> Result<Option<Evidence>> {
        let mut rows = self
            .query(
                "SELECT id, at, ip, account, rule, decision, reply, service, queue_id, message_id, headers
                 FROM evidence WHERE id = ?",
                vec![id.into()],
            )
            .await?;
        let Some(r) = rows.first_mut() else {
            return Ok(None);
        };
        let mut e = evidence_row(r)?;
        let h = r.take_bytes(10)?;
        e.headers = (!h.is_empty()).then_some(h);
        Ok(Some(e))
    }

    /// Recipients sent off-server by `account` since `since_ms`, counted
    /// in whole minutes: the minute that contains `since_ms` counts whole,
    /// so the window errs by at most a minute on the strict side.
    pub async fn sent_by_account(&self, account: &str, since_ms: i64) -> Result<i64> {
        self.sent_since(&format!("acct:{account}"), since_ms).await
    }

    /// Recipients sent off-server by every account of `domain` since `since_ms`.
    pub async fn sent_by_domain(&self, domain: &str, since_ms: i64) -> Result<i64> {
        self.sent_since(&format!("dom:{domain}"), since_ms).await
    }

    async fn sent_since(&self, key: &str, since_ms: i64) -> Result<i64> {
        let rows = self
            .lookup(
                "SELECT CAST(COALESCE(SUM(rcpts), 0) AS BIGINT) FROM send_counts WHERE key = ? AND minute >= ?",
                vec![key.into(), since_ms.div_euclid(60_000).into()],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }

    /// The hold in force on `account`, if any.
    pub async fn active_hold(&self, account: &str) -> Result<Option<Hold>> {
        let rows = self
            .lookup(
                "SELECT id, account, rule, reason, started, ends FROM holds
                 WHERE account = ? AND released IS NULL AND ends > ? ORDER BY ends DESC LIMIT 1",
                vec![account.into(), now_ms().into()],
            )
            .await?;
        rows.first().map(hold_row).transpose()
    }

    /// Places a hold and records the decision, in one transaction. The
    /// account's hourly count starts afresh: the hold is its penalty.
    pub async fn hold_place(
        &self,
        account: &str,
        rule: &str,
        reason: &str,
        duration_ms: i64,
        evidence: &Evidence,
    ) -> Result<Hold> {
        let started = now_ms();
        let ends = started + duration_ms;
        self.batch(vec![
            Stmt::new(
                "INSERT INTO holds (account, rule, reason, started, ends) VALUES (?, ?, ?, ?, ?)",
                vec![
                    account.into(),
                    rule.into(),
                    reason.into(),
                    started.into(),
                    ends.into(),
                ],
            ),
            Stmt::new(
                "DELETE FROM send_counts WHERE key = ?",
                vec![format!("acct:{account}").into()],
            ),
            evidence_stmt(evidence),
        ])
        .await?;
        Ok(self.active_hold(account).await?.unwrap_or(Hold {
            id: 0,
            account: account.into(),
            rule: rule.into(),
            reason: reason.into(),
            started,
            ends,
        }))
    }

    /// Holds in force, soonest end first.
    pub async fn hold_list(&self) -> Result<Vec<Hold>> {
        let rows = self
            .lookup(
                "SELECT id, account, rule, reason, started, ends FROM holds
                 WHERE released IS NULL AND ends > ? ORDER BY ends",
                vec![now_ms().into()],
            )
            .await?;
        rows.iter().map(hold_row).collect()
    }

    /// Lifts every hold on `account`; returns how many there were.
    pub async fn hold_release(&self, account: &str) -> Result<u64> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE holds SET released = ? WHERE account = ? AND released IS NULL AND ends > ?",
                vec![now_ms().into(), account.into(), now_ms().into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0))
    }

    /// Records a login event (`kind`: "fail", "pop") for each key, and
    /// forgets events older than a day so the table stays small.
    pub async fn auth_event(&self, keys: &[String], kind: &str) -> Result<()> {
        let now = now_ms();
        let mut stmts: Vec<Stmt> = keys
            .iter()
            .map(|k| {
                Stmt::new(
                    "INSERT INTO auth_events (key, kind, at) VALUES (?, ?, ?)",
                    vec![k.into(), kind.into(), now.into()],
                )
            })
            .collect();
        for k in keys {
            stmts.push(Stmt::new(
                "DELETE FROM auth_events WHERE key = ? AND at < ?",
                vec![k.into(), (now - 86_400_000).into()],
            ));
        }
        self.batch(stmts).await?;
        Ok(())
    }

    pub async fn auth_events_since(&self, key: &str, kind: &str, since_ms: i64) -> Result<i64> {
        let rows = self
            .lookup(
                "SELECT COUNT(*) FROM auth_events WHERE key = ? AND kind = ? AND at > ?",
                vec![key.into(), kind.into(), since_ms.into()],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }

    pub async fn auth_events_clear(&self, key: &str, kind: &str) -> Result<()> {
        self.batch(vec![Stmt::new(
            "DELETE FROM auth_events WHERE key = ? AND kind = ?",
            vec![key.into(), kind.into()],
        )])
        .await?;
        Ok(())
    }

    /// Locks `key` out until `until_ms`, recording the decision.
    pub async fn lockout_set(
        &self,
        key: &str,
        rule: &str,
        until_ms: i64,
        evidence: &Evidence,
    ) -> Result<()> {
        self.batch(vec![
            Stmt::new(
                "INSERT INTO lockouts (key, rule, until_at) VALUES (?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET rule = excluded.rule, until_at = excluded.until_at",
                vec![key.into(), rule.into(), until_ms.into()],
            ),
            evidence_stmt(evidence),
        ])
        .await?;
        Ok(())
    }

    /// The end of a lockout in force on `key`, if any.
    pub async fn lockout_until(&self, key: &str) -> Result<Option<i64>> {
        let rows = self
            .lookup(
                "SELECT until_at FROM lockouts WHERE key = ? AND until_at > ?",
                vec![key.into(), now_ms().into()],
            )
            .await?;
        rows.first().map(|r| r.i64(0)).transpose()
    }
}
