//! R-ABUSE-1: an account on hold sends nothing until the hold ends by
//! itself or the operator lifts it; the refusal names the rule that placed
//! the hold and when it ends. A suspended account (the operator's action)
//! is refused everywhere: its mail already queued waits until it is lifted
//! (a hold only stops new submissions: what was queued was within the
//! limits when it was accepted).

use crate::state::PolicyState;
use crate::{rfc3339, Check, MailCtx, QueuedCtx, Refusal, Rule, Service, Verdict};
use std::sync::Arc;

pub struct NotOnHold {
    pub state: Arc<PolicyState>,
}

impl Rule for NotOnHold {
    fn id(&self) -> &'static str {
        "R-ABUSE-1"
    }
    fn on_mail<'a>(&'a self, m: &'a MailCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            let (Service::Submission, Some(account)) = (m.session.service, &m.session.account)
            else {
                return Verdict::Allow;
            };
            match self.state.active_hold(account).await {
                Ok(Some(h)) => Verdict::Refuse(Refusal::new(
                    451,
                    "4.7.1",
                    "R-ABUSE-1",
                    format!(
                        "account {account} is on hold until {} ({}: {}); sending resumes by itself then, or ask your provider",
                        rfc3339(h.ends),
                        h.rule,
                        h.reason
                    ),
                )),
                Ok(None) => Verdict::Allow,
                // A store failure is a temporary refusal, not a pass.
                Err(e) => Verdict::Refuse(Refusal::new(451, "4.3.0", "R-ABUSE-1", format!("cannot check holds now: {e}"))),
            }
        })
    }
}

pub struct SuspendedSender {
    pub state: Arc<PolicyState>,
}

impl Rule for SuspendedSender {
    fn id(&self) -> &'static str {
        "R-ABUSE-1"
    }
    fn before_delivery<'a>(&'a self, q: &'a QueuedCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            let Some(account) = &q.item.account else {
                return Verdict::Allow;
            };
            match self.state.is_suspended(account).await {
                Ok(false) => Verdict::Allow,
                Ok(true) => Verdict::Refuse(Refusal::new(
                    451,
                    "4.7.1",
                    "R-ABUSE-1",
                    format!("the sending account {account} is suspended; delivery waits until the suspension is lifted"),
                )),
                Err(e) => Verdict::Refuse(Refusal::new(451, "4.3.0", "R-ABUSE-1", format!("cannot check the sender now: {e}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{sent, session, store};
    use mailhost_store::Evidence;

    fn not_on_hold(store: &mailhost_store::Store) -> NotOnHold {
        NotOnHold {
            state: Arc::new(PolicyState::new(store.clone())),
        }
    }

    fn mail<'a>(s: &'a crate::SessionInfo) -> MailCtx<'a> {
        MailCtx {
            session: s,
            sender: "u@a.example",
            declared_size: None,
        }
    }

    #[tokio::test]
    async fn a_hold_refuses_submission_until_released() {
        let (store, _d) = store().await;
        let rule = not_on_hold(&store);
        let s = session(Service::Submission, Some("u@a.example"));
        store
            .hold_place(
                "u@a.example",
                "R-OUT-8",
                "bulk mail",
                60_000,
                &Evidence::default(),
            )
            .await
            .unwrap();
        let Verdict::Refuse(r) = rule.on_mail(&mail(&s)).await else {
            panic!("allowed")
        };
        assert_eq!((r.code, r.enhanced, r.rule), (451, "4.7.1", "R-ABUSE-1"));
        assert!(
            r.reason.contains("R-OUT-8")
                && r.reason.contains("bulk mail")
                && r.reason.contains("+00:00"),
            "{}",
            r.reason
        );
        // Mail to the account arriving on port 25 is not affected.
        assert_eq!(
            rule.on_mail(&mail(&session(Service::Mx, None))).await,
            Verdict::Allow
        );
        assert_eq!(
            rule.on_mail(&mail(&session(Service::Submission, Some("v@a.example"))))
                .await,
            Verdict::Allow
        );
        store.hold_release("u@a.example").await.unwrap();
        assert_eq!(
            rule.on_mail(&mail(&s)).await,
            Verdict::Allow,
            "a released hold is seen at once"
        );
    }

    #[tokio::test]
    async fn a_hold_ends_by_itself() {
        let (store, _d) = store().await;
        let rule = not_on_hold(&store);
        let s = session(Service::Submission, Some("u@a.example"));
        store
            .hold_place("u@a.example", "R-OUT-6", "limit", 50, &Evidence::default())
            .await
            .unwrap();
        assert!(matches!(rule.on_mail(&mail(&s)).await, Verdict::Refuse(_)));
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        assert_eq!(rule.on_mail(&mail(&s)).await, Verdict::Allow);
    }

    #[tokio::test]
    async fn a_suspended_senders_queued_mail_waits() {
        let (store, _d) = store().await;
        sent(&store, "u@a.example", 1).await;
        let item = store.queue_list().await.unwrap().remove(0);
        store.user_set_suspended("u@a.example", true).await.unwrap();
        let rule = SuspendedSender {
            state: Arc::new(PolicyState::new(store.clone())),
        };
        let Verdict::Refuse(r) = rule.before_delivery(&QueuedCtx { item: &item }).await else {
            panic!("allowed")
        };
        assert_eq!(
            (r.code, r.enhanced, r.rule),
            (451, "4.7.1", "R-ABUSE-1"),
            "deferred, not bounced"
        );
        let bounce = mailhost_store::QueueItem {
            account: None,
            ..item
        };
        assert_eq!(
            rule.before_delivery(&QueuedCtx { item: &bounce }).await,
            Verdict::Allow,
            "a bounce has no sending account"
        );
    }
}
