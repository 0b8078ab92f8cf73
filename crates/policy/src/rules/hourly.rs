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

use crate::state::PolicyState;
use crate::{now_ms, rfc3339, Check, QueuedCtx, RcptCtx, Refusal, Rule, Verdict};
use mailhost_store::{Evidence, Resolved};
use std::sync::Arc;

pub struct AccountHourly {
    pub state: Arc<PolicyState>,
    pub limit: i64,
    pub hold_ms: i64,
}

fn temp(rule: &'static str, e: impl std::fmt::Display) -> Verdict {
    Verdict::Refuse(Refusal::new(
        451,
        "4.3.0",
        rule,
        format!("cannot check the sending limit now: {e}"),
    ))
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
            let limit = r
                .session
                .profile
                .as_ref()
                .and_then(|p| p.hourly_limit)
                .unwrap_or(self.limit);
            if sent + (r.remote_accepted as i64) < limit {
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
            if let Err(e) = self
                .state
                .place_hold(account, "R-OUT-6", &reason, self.hold_ms, &evidence)
                .await
            {
                return temp("R-OUT-6", e);
            }
            Verdict::Refuse(Refusal {
                recorded: true,
                ..refusal
            })
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
            let Some((_, domain)) = account.rsplit_once('@') else {
                return Verdict::Allow;
            };
            let sent = match self.state.sent_by_domain(domain, now_ms()).await {
                Ok(n) => n,
                Err(e) => return temp("R-OUT-7", e),
            };
            if sent + (r.remote_accepted as i64) < self.limit {
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
            let domain = q
                .item
                .account
                .as_deref()
                .and_then(|a| a.rsplit_once('@'))
                .map_or("the sending domain", |(_, d)| d);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{sent, session, store};
    use crate::Service;

    fn rcpt<'a>(
        s: &'a crate::SessionInfo,
        to: &'a str,
        resolved: &'a Resolved,
        remote_accepted: usize,
    ) -> RcptCtx<'a> {
        RcptCtx {
            session: s,
            sender: "u@a.example",
            recipient: to,
            resolved,
            accepted: remote_accepted,
            remote_accepted,
        }
    }

    #[tokio::test]
    async fn account_limit_counts_remote_recipients_and_holds_at_the_excess() {
        let (store, _d) = store().await;
        let state = Arc::new(PolicyState::new(store.clone()));
        let rule = AccountHourly {
            state: state.clone(),
            limit: 5,
            hold_ms: 60_000,
        };
        let s = session(Service::Submission, Some("u@a.example"));
        sent(&store, "u@a.example", 3).await;
        // 3 sent + 1 accepted for this message + this one = 5: within.
        assert_eq!(
            rule.on_rcpt(&rcpt(&s, "x@remote.example", &Resolved::NotHosted, 1))
                .await,
            Verdict::Allow
        );
        // Local recipients do not count, however many.
        let local = store.resolve("v@a.example").await.unwrap();
        assert_eq!(
            rule.on_rcpt(&rcpt(&s, "v@a.example", &local, 9)).await,
            Verdict::Allow
        );
        // The sixth remote recipient: refused, and the account is on hold.
        let Verdict::Refuse(r) = rule
            .on_rcpt(&rcpt(&s, "y@remote.example", &Resolved::NotHosted, 2))
            .await
        else {
            panic!("allowed")
        };
        assert_eq!(
            (r.code, r.enhanced, r.rule, r.recorded),
            (451, "4.7.1", "R-OUT-6", true)
        );
        assert!(
            r.reason.contains("on hold until") && r.reason.contains("+00:00"),
            "{}",
            r.reason
        );
        let hold = store
            .active_hold("u@a.example")
            .await
            .unwrap()
            .expect("held");
        assert_eq!(hold.rule, "R-OUT-6");
        assert!(
            store.active_hold("v@a.example").await.unwrap().is_none(),
            "other accounts are not held"
        );
    }

    #[tokio::test]
    async fn a_package_sets_the_account_limit() {
        let (store, _d) = store().await;
        let rule = AccountHourly {
            state: Arc::new(PolicyState::new(store.clone())),
            limit: 300,
            hold_ms: 60_000,
        };
        let mut s = session(Service::Submission, Some("u@a.example"));
        s.profile = Some(mailhost_store::SenderProfile {
            hourly_limit: Some(2),
            ..Default::default()
        });
        sent(&store, "u@a.example", 2).await;
        assert!(
            matches!(rule.on_rcpt(&rcpt(&s, "x@remote.example", &Resolved::NotHosted, 0)).await, Verdict::Refuse(r) if r.rule == "R-OUT-6")
        );
    }

    #[tokio::test]
    async fn domain_limit_refuses_without_a_hold_and_bounces_what_was_queued_past_it() {
        let (store, _d) = store().await;
        let rule = DomainHourly {
            state: Arc::new(PolicyState::new(store.clone())),
            limit: 4,
        };
        sent(&store, "u@a.example", 2).await;
        sent(&store, "v@a.example", 2).await;
        let s = session(Service::Submission, Some("u@a.example"));
        let Verdict::Refuse(r) = rule
            .on_rcpt(&rcpt(&s, "x@remote.example", &Resolved::NotHosted, 0))
            .await
        else {
            panic!("allowed")
        };
        assert_eq!((r.code, r.enhanced, r.rule), (550, "5.7.1", "R-OUT-7"));
        assert!(
            r.reason.contains("undeliverable") && r.reason.contains("a.example"),
            "{}",
            r.reason
        );
        assert!(
            store.active_hold("u@a.example").await.unwrap().is_none(),
            "a domain limit holds no account"
        );
        // Not a submission: not counted.
        let mx = session(Service::Mx, None);
        assert_eq!(
            rule.on_rcpt(&rcpt(&mx, "x@remote.example", &Resolved::NotHosted, 0))
                .await,
            Verdict::Allow
        );
        // Before delivery: only rows marked past the limit bounce.
        let mut item = store.queue_list().await.unwrap().remove(0);
        assert_eq!(
            rule.before_delivery(&QueuedCtx { item: &item }).await,
            Verdict::Allow
        );
        item.over_limit = true;
        let Verdict::Refuse(r) = rule.before_delivery(&QueuedCtx { item: &item }).await else {
            panic!("allowed")
        };
        assert_eq!((r.code, r.enhanced, r.rule), (550, "5.7.1", "R-OUT-7"));
        assert!(
            r.reason.contains("when this message was accepted"),
            "{}",
            r.reason
        );
    }
}
