//! R-ABUSE-1: an account on hold sends nothing until the hold ends by
//! itself or the operator lifts it; the refusal names the rule that placed
//! the hold and when it ends.

use crate::{rfc3339, Check, MailCtx, Refusal, Rule, Service, Verdict};
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
