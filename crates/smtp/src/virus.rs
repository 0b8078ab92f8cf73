//! Virus checking at the end of DATA (R-AV-1, R-AV-5): every message, on
//! port 25 and on submission, is checked once, before it is stored or
//! queued and so before alias, all@ and forward fan-out. An infected part
//! is replaced by `DELETED<n>.TXT` (R-AV-3) and the removal goes to the
//! evidence log; repeated infected submissions from one account put it on
//! hold (R-ABUSE-1).

use std::sync::Arc;

use mailhost_antivirus::{Removal, Verdict};
use mailhost_policy::Service;

use crate::reply::Reply;
use crate::session::Session;

/// What the check changed, for the evidence log.
pub(crate) struct Checked {
    /// Bytes of `X-Virus-Scanned` now at the top: the trace grew by this.
    pub header_len: usize,
    pub removed: Vec<Removal>,
    pub signature_broken: bool,
}

impl Checked {
    /// The evidence line for a message that lost parts.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .removed
            .iter()
            .map(|r| {
                let what = r
                    .signature
                    .clone()
                    .or_else(|| r.unscannable.clone())
                    .unwrap_or_default();
                let inside = if r.inside.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", r.inside.join("/"))
                };
                format!("DELETED{}.TXT replaces {:?}{inside}: {what}", r.n, r.file)
            })
            .collect();
        let mut t = parts.join("; ");
        if self.signature_broken {
            t.push_str("; the message was signed and its signature no longer verifies");
        }
        t
    }
}

/// Checks a message this server writes on a customer's behalf (an
/// autoresponder's reply, R-AV-5) before it is stored or queued: the
/// checked message with its `X-Virus-Scanned` first, or `None` when it
/// must not go (infected parts are cut as in any message; a scanner that
/// cannot answer means no reply, which is better than an unchecked one).
pub(crate) async fn check_generated(
    scanner: &mailhost_antivirus::Scanner,
    body: Vec<u8>,
    what: &str,
) -> Option<Vec<u8>> {
    let body = Arc::new(body);
    match scanner.scan(body.clone(), 0).await {
        Verdict::Deliver {
            body: new, header, ..
        } => {
            let mut out = header.into_bytes();
            out.extend_from_slice(new.as_deref().unwrap_or(&body));
            Some(out)
        }
        Verdict::TempFail(why) | Verdict::Refuse(why) => {
            tracing::warn!(what, "not sent: the virus check failed: {why} (R-AV-5)");
            None
        }
    }
}

impl Session {
    /// Checks `body[trace_len..]`, rewriting `body` when parts go, and
    /// prepends `X-Virus-Scanned`. An error is the reply to give instead
    /// of accepting the message.
    pub(crate) async fn virus_check(
        &self,
        body: &mut Vec<u8>,
        trace_len: usize,
        qid: &str,
    ) -> Result<Checked, Reply> {
        let Some(scanner) = &self.ctx.scanner else {
            return Ok(Checked {
                header_len: 0,
                removed: Vec::new(),
                signature_broken: false,
            });
        };
        let forged =
            mailhost_antivirus::rewrite::strip_forged(body, trace_len, &scanner.settings.host);
        if forged > 0 {
            tracing::info!(qid, peer = %self.conn.peer, forged, "forged X-Virus-Scanned fields removed");
        }
        let shared = Arc::new(std::mem::take(body));
        let verdict = scanner.scan(shared.clone(), trace_len).await;
        *body = Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone());
        match verdict {
            Verdict::Deliver {
                body: new,
                header,
                removed,
                unchecked,
                signature_broken,
            } => {
                if let Some(new) = new {
                    body.truncate(trace_len);
                    body.extend_from_slice(&new);
                }
                let header_len = header.len();
                body.splice(0..0, header.into_bytes());
                if !removed.is_empty() {
                    tracing::info!(qid, peer = %self.conn.peer, account = self.info.account.as_deref().unwrap_or(""),
                        removed = removed.len(), rule = "R-AV-3", "infected parts removed");
                }
                if !unchecked.is_empty() {
                    tracing::info!(qid, unchecked = ?unchecked, rule = "R-AV-4", "content passed unchecked");
                }
                Ok(Checked {
                    header_len,
                    removed,
                    signature_broken,
                })
            }
            Verdict::TempFail(why) => {
                tracing::warn!(qid, peer = %self.conn.peer, "virus check failed, message deferred: {why}");
                Err(Reply::new(
                    451,
                    "4.3.0",
                    format!("{why}; try again later (R-AV-1)"),
                ))
            }
            Verdict::Refuse(why) => {
                tracing::info!(qid, peer = %self.conn.peer, "message cannot be checked for viruses: {why}");
                Err(Reply::new(
                    554,
                    "5.6.0",
                    format!("this message cannot be checked for viruses: {why} (R-AV-2)"),
                ))
            }
        }
    }

    /// R-ABUSE-1: an account that submitted `antivirus.infected_hold`
    /// infected messages within an hour is put on hold ("we may suspend
    /// you if you are distributing a virus, even unknowingly"). The count
    /// is read from the evidence log, so it holds across nodes.
    pub(crate) async fn infected_submissions(&self, account: &str) {
        let limit = self.ctx.config.antivirus.infected_hold;
        if self.ctx.service != Service::Submission || limit == 0 {
            return;
        }
        let now = mailhost_store::now_ms();
        let q = mailhost_store::EvidenceQuery {
            account: Some(account.to_string()),
            rule: Some("R-AV-3".into()),
            since: Some(now - 3_600_000),
            limit: limit as usize,
            ..Default::default()
        };
        let n = match self.ctx.store.evidence_search(&q).await {
            Ok(rows) => rows.iter().filter(|e| e.service == "submission").count(),
            Err(e) => {
                tracing::warn!(account, "counting infected submissions: {e}");
                return;
            }
        };
        if n < limit as usize {
            return;
        }
        let p = &self.ctx.config.policy;
        let reason = format!("{n} messages with viruses submitted within an hour");
        let ev = mailhost_store::Evidence {
            ip: self.conn.peer.ip().to_string(),
            account: Some(account.to_string()),
            rule: "R-ABUSE-1".into(),
            decision: "hold".into(),
            reply: reason.clone(),
            service: "submission".into(),
            ..Default::default()
        };
        match self
            .ctx
            .policy
            .state
            .place_hold(
                account,
                "R-ABUSE-1",
                &reason,
                p.hold_duration.std().as_millis() as i64,
                &ev,
            )
            .await
        {
            Ok(_) => tracing::warn!(account, rule = "R-ABUSE-1", "account held: {reason}"),
            Err(e) => tracing::warn!(account, "placing a hold: {e}"),
        }
    }
}
