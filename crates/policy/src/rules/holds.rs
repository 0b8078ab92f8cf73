//! R-ABUSE-1: an account on hold sends nothing until the hold ends by
//! itself or the operator lifts it; the refusal names the rule that placed
//! the hold and when it ends. A suspended account (the operator's action)
//! is refused everywhere: its mail already queued waits until it is lifted
//! (a hold only stops new submissions: what was queued was within the
//! limits when it was accepted).

use crate::{rfc3339, Check, MailCtx, QueuedCtx, Refusal, Rule, Service, Verdict};
use crate::state::PolicyState;
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
            let (Service::Submission, Some(account)) = (m.session.service, &m.session.account) else {
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
            let Some(account) = &q.item.account else { return Verdict::Allow };
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
