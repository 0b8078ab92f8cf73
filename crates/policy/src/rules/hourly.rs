//! Hourly sending limits, counted per recipient that leaves the server,
//! over a sliding hour, from the send log in the store (so every node sees
//! the same count):
//! - R-OUT-6 Max Hourly Emails per account (the server default, or the
//!   account's hosting package): the recipient that would
//!   exceed it places the account on hold for `hold_duration`; a hold
//!   starts the count afresh. Counts are kept per minute, so the window
//!   is the last 60 to 61 minutes.
//! - R-OUT-7 per domain (all its accounts together): mail over the limit is
//!   refused as undeliverable; mail that was queued past it anyway (two
//!   sessions that both passed the check before either committed) bounces
//!   with a DSN before delivery.

use crate::{now_ms, rfc3339, Check, QueuedCtx, RcptCtx, Refusal, Rule, Verdict};
use crate::state::PolicyState;
use mailhost_store::{Evidence, Resolved};
use std::sync::Arc;

pub struct AccountHourly {
    pub state: Arc<PolicyState>,
    pub limit: i64,
    pub hold_ms: i64,
}

fn temp(rule: &'static str, e: impl std::fmt::Display) -> Verdict {
    Verdict::Refuse(Refusal::new(451, "4.3.0", rule, format!("cannot check the sending limit now: {e}")))
}

impl Rule for AccountHourly {
    fn id(&self) -> &'static str {
        "R-OUT-6"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            let (Resolved::NotHosted, Some(account)) = (r.resolved, &r.session.account) else {
                return Verdict::Allow;
            };
            let now = now_ms();
            // A hold clears the count (Store::hold_place), so after a hold
            // the account starts afresh.
            let sent = match self.state.sent_by_account(account, now).await {
                Ok(n) => n,
                Err(e) => return temp("R-OUT-6", e),
            };
            // The account's hosting package may set its own limit.
            let limit = r.session.profile.as_ref().and_then(|p| p.hourly_limit).unwrap_or(self.limit);
            if sent + r.remote_accepted as i64 + 1 <= limit {
                return Verdict::Allow;
            }
            let reason = format!("more than {limit} recipients in an hour");
            let ends = now + self.hold_ms;
            let refusal = Refusal::new(
                451,
                "4.7.1",
                "R-OUT-6",
                format!(
                    "hourly sending limit of {} recipients reached: account {account} is on hold until {}; try again after that",
                    limit,
                    rfc3339(ends)
                ),
            );
            let evidence = Evidence {
                ip: r.session.peer.to_string(),
                account: Some(account.clone()),
                rule: "R-OUT-6".into(),
                decision: "hold".into(),
                reply: format!("{} {} {}", refusal.code, refusal.enhanced, refusal.text()),
                service: "submission".into(),
                ..Default::default()
            };
            if let Err(e) = self.state.place_hold(account, "R-OUT-6", &reason, self.hold_ms, &evidence).await {
                return temp("R-OUT-6", e);
            }
            Verdict::Refuse(Refusal { recorded: true, ..refusal })
        })
    }
}

pub struct DomainHourly {
    pub state: Arc<PolicyState>,
    pub limit: i64,
}

impl Rule for DomainHourly {
    fn id(&self) -> &'static str {
        "R-OUT-7"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            let (Resolved::NotHosted, Some(account)) = (r.resolved, &r.session.account) else {
                return Verdict::Allow;
            };
            let Some((_, domain)) = account.rsplit_once('@') else { return Verdict::Allow };
            let sent = match self.state.sent_by_domain(domain, now_ms()).await {
                Ok(n) => n,
                Err(e) => return temp("R-OUT-7", e),
            };
            if sent + r.remote_accepted as i64 + 1 <= self.limit {
                return Verdict::Allow;
            }
            Verdict::Refuse(Refusal::new(
                550,
                "5.7.1",
                "R-OUT-7",
                format!(
                    "undeliverable: {domain} has reached its limit of {} recipients per hour; send again in the next hour",
                    self.limit
                ),
            ))
        })
    }

    /// Mail already queued past the limit (the store marks each recipient
    /// by its place in the hour when the message commits) bounces: the DSN
    /// is the undeliverable error of R-OUT-7 for mail that was answered 250.
    fn before_delivery<'a>(&'a self, q: &'a QueuedCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            if !q.item.over_limit {
                return Verdict::Allow;
            }
            let domain = q.item.account.as_deref().and_then(|a| a.rsplit_once('@')).map_or("the sending domain", |(_, d)| d);
            Verdict::Refuse(Refusal::new(
                550,
                "5.7.1",
                "R-OUT-7",
                format!(
                    "undeliverable: {domain} was over its limit of {} recipients per hour when this message was accepted; send it again in the next hour",
                    self.limit
                ),
            ))
        })
    }
}
