//! Recipient rules at RCPT:
//! - R-ADDR-6: no catch-all — an unknown address in a hosted domain is
//!   refused with 550 5.1.1, and no setting changes that.
//! - R-ADDR-3: a suspended address refuses mail but keeps existing.
//! - R-OUT-5: at most `max_recipients` recipients per message; the excess
//!   gets 452 4.5.3 (RFC 5321 §4.5.3.1.10: the client sends the rest in
//!   another transaction).

use crate::{Check, RcptCtx, Refusal, Rule, Verdict};
use mailhost_store::Resolved;

pub struct KnownRecipient;

impl Rule for KnownRecipient {
    fn id(&self) -> &'static str {
        "R-ADDR-6"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        let v = match r.resolved {
            Resolved::Unknown => Verdict::Refuse(Refusal::new(
                550,
                "5.1.1",
                "R-ADDR-6",
                format!("no such mailbox: {}; check the address with its owner", r.recipient),
            )),
            Resolved::Quarantined(until) => Verdict::Refuse(Refusal::new(
                550,
                "5.1.1",
                "R-ADDR-7",
                format!(
                    "{} was cancelled and takes no mail (quarantined until {}); check the address with its owner",
                    r.recipient,
                    crate::rfc3339(*until)
                ),
            )),
            Resolved::Suspended => Verdict::Refuse(Refusal::new(
                550,
                "5.2.1",
                "R-ADDR-3",
                format!("mailbox {} is suspended and accepts no mail", r.recipient),
            )),
            _ => Verdict::Allow,
        };
        crate::ready(v)
    }
}

pub struct MaxRecipients {
    pub max: usize,
}

impl Rule for MaxRecipients {
    fn id(&self) -> &'static str {
        "R-OUT-5"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        let v = if r.accepted >= self.max {
            Verdict::Refuse(Refusal::new(
                452,
                "4.5.3",
                "R-OUT-5",
                format!(
                    "too many recipients: at most {} per message; send the rest in another message",
                    self.max
                ),
            ))
        } else {
            Verdict::Allow
        };
        crate::ready(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::session;
    use crate::Service;
    use mailhost_store::Account;

    #[tokio::test]
    async fn unknown_and_suspended() {
        let s = session(Service::Mx, None);
        let ctx = |res| RcptCtx {
            session: &s,
            sender: "",
            recipient: "x@h.example",
            resolved: res,
            accepted: 0,
            remote_accepted: 0,
        };
        let code = |v: Verdict| match v {
            Verdict::Refuse(f) => (f.code, f.enhanced),
            Verdict::Allow => (250, ""),
        };
        assert_eq!(
            code(KnownRecipient.on_rcpt(&ctx(&Resolved::Unknown)).await),
            (550, "5.1.1")
        );
        assert_eq!(
            code(KnownRecipient.on_rcpt(&ctx(&Resolved::Suspended)).await),
            (550, "5.2.1")
        );
        let ok = Resolved::Deliver(vec![Account {
            id: 1,
            address: "x@h.example".into(),
            ..Default::default()
        }]);
        assert_eq!(code(KnownRecipient.on_rcpt(&ctx(&ok)).await), (250, ""));
    }

    #[tokio::test]
    async fn cap_counts_accepted() {
        let s = session(Service::Mx, None);
        let ok = Resolved::Deliver(vec![]);
        let r = MaxRecipients { max: 2 };
        let ctx = |n| RcptCtx {
            session: &s,
            sender: "",
            recipient: "x@h.example",
            resolved: &ok,
            accepted: n,
            remote_accepted: 0,
        };
        assert_eq!(r.on_rcpt(&ctx(1)).await, Verdict::Allow);
        match r.on_rcpt(&ctx(2)).await {
            Verdict::Refuse(f) => {
                assert_eq!((f.code, f.enhanced, f.rule), (452, "4.5.3", "R-OUT-5"))
            }
            v => panic!("{v:?}"),
        }
    }
}
