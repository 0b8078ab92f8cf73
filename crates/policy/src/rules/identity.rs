//! R-OUT-4: an authenticated customer sends only as itself. The envelope
//! sender and every From: and Sender: address must be the account's
//! mailbox or one of its aliases; a message without From: is refused
//! (forged, missing or misrepresented sender headers, AUP 000/004).

use crate::{Check, DataCtx, MailCtx, Refusal, Rule, Verdict};

pub struct SenderIdentity;

fn refuse(what: &str, addr: &str) -> Verdict {
    Verdict::Refuse(Refusal::new(
        550,
        "5.7.1",
        "R-OUT-4",
        format!("{what} <{addr}> is not an address of your account; send from your own address or one of its aliases"),
    ))
}

impl Rule for SenderIdentity {
    fn id(&self) -> &'static str {
        "R-OUT-4"
    }
    fn on_mail<'a>(&'a self, m: &'a MailCtx<'a>) -> Check<'a> {
        let v = match &m.session.account {
            Some(_) if !m.session.owns(m.sender) => refuse("envelope sender", m.sender),
            _ => Verdict::Allow,
        };
        crate::ready(v)
    }
    fn on_data<'a>(&'a self, d: &'a DataCtx<'a>) -> Check<'a> {
        let v = if d.session.account.is_none() {
            Verdict::Allow
        } else if d.headers.from.is_empty() {
            Verdict::Refuse(Refusal::new(
                550,
                "5.7.1",
                "R-OUT-4",
                "the message has no From: header; add your address as From:",
            ))
        } else if let Some(bad) = d.headers.from.iter().find(|a| !d.session.owns(a)) {
            refuse("From:", bad)
        } else if let Some(bad) = d.headers.sender.as_ref().filter(|a| !d.session.owns(a)) {
            refuse("Sender:", bad)
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
    use crate::{HeaderFacts, Service};

    #[tokio::test]
    async fn envelope_and_headers() {
        let mut s = session(Service::Submission, Some("me@h.example"));
        s.identities.push("sales@h.example".into());
        let m = |sender| MailCtx {
            session: &s,
            sender,
            declared_size: None,
        };
        assert_eq!(
            SenderIdentity.on_mail(&m("ME@h.example")).await,
            Verdict::Allow
        );
        assert_eq!(
            SenderIdentity.on_mail(&m("sales@h.example")).await,
            Verdict::Allow
        );
        assert!(
            matches!(SenderIdentity.on_mail(&m("boss@h.example")).await, Verdict::Refuse(f) if f.rule == "R-OUT-4")
        );
        assert!(
            matches!(SenderIdentity.on_mail(&m("")).await, Verdict::Refuse(_)),
            "no null sender from customers"
        );

        let ok = HeaderFacts {
            from: vec!["me@h.example".into()],
            sender: None,
        };
        assert_eq!(check(&s, &ok).await, Verdict::Allow);
        let none = HeaderFacts::default();
        assert!(
            matches!(check(&s, &none).await, Verdict::Refuse(f) if f.reason.contains("no From"))
        );
        let forged = HeaderFacts {
            from: vec!["ceo@bank.example".into()],
            sender: None,
        };
        assert!(matches!(check(&s, &forged).await, Verdict::Refuse(_)));
        let bad_sender = HeaderFacts {
            from: vec!["me@h.example".into()],
            sender: Some("x@y.example".into()),
        };
        assert!(matches!(check(&s, &bad_sender).await, Verdict::Refuse(_)));

        // MX mail from the world is not subject to this rule
        let mx = session(Service::Mx, None);
        let v = DataCtx {
            session: &mx,
            sender: "x@y.example",
            recipients: &[],
            size: 1,
            headers: &none,
            body: b"",
            effects: &Default::default(),
        };
        assert_eq!(SenderIdentity.on_data(&v).await, Verdict::Allow);
    }

    async fn check(s: &crate::SessionInfo, h: &HeaderFacts) -> Verdict {
        let v = DataCtx {
            session: s,
            sender: "me@h.example",
            recipients: &[],
            size: 1,
            headers: h,
            body: b"",
            effects: &Default::default(),
        };
        SenderIdentity.on_data(&v).await
    }
}
