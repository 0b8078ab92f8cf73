//! R-IN-1: port 25 accepts mail only for hosted domains and never relays
//! for unauthenticated clients.

use crate::{Check, RcptCtx, Refusal, Rule, Verdict};
use mailhost_store::Resolved;

pub struct NoRelay;

impl Rule for NoRelay {
    fn id(&self) -> &'static str {
        "R-IN-1"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        let v = match (r.resolved, &r.session.account) {
            (Resolved::NotHosted, None) => Verdict::Refuse(Refusal::new(
                554,
                "5.7.1",
                "R-IN-1",
                format!(
                    "relay access denied: {} is not hosted here; customers send through the submission port 587 with authentication",
                    r.recipient
                ),
            )),
            _ => Verdict::Allow,
        };
        crate::ready(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::session;
    use crate::Service;

    #[tokio::test]
    async fn refuses_unauthenticated_relay_only() {
        let anon = session(Service::Mx, None);
        let authed = session(Service::Submission, Some("a@hosted.example"));
        let ctx = |s, res| RcptCtx {
            session: s,
            sender: "x@y.example",
            recipient: "r@elsewhere.example",
            resolved: res,
            accepted: 0,
            remote_accepted: 0,
        };
        match NoRelay.on_rcpt(&ctx(&anon, &Resolved::NotHosted)).await {
            Verdict::Refuse(f) => assert_eq!((f.code, f.enhanced), (554, "5.7.1")),
            v => panic!("{v:?}"),
        }
        assert_eq!(
            NoRelay.on_rcpt(&ctx(&authed, &Resolved::NotHosted)).await,
            Verdict::Allow
        );
        assert_eq!(
            NoRelay.on_rcpt(&ctx(&anon, &Resolved::Unknown)).await,
            Verdict::Allow
        );
    }
}
