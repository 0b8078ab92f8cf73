//! R-IN-2: message size limit per server, advertised with SIZE (RFC 1870)
//! and enforced on mail received and sent.

use crate::{Check, DataCtx, MailCtx, Refusal, Rule, Verdict};

pub struct MessageSize {
    pub max: u64,
}

impl MessageSize {
    fn refuse(&self, size: u64) -> Verdict {
        // RFC 1870 §6.1: 552 for a size over the fixed maximum.
        Verdict::Refuse(Refusal::new(
            552,
            "5.3.4",
            "R-IN-2",
            format!("message size {size} exceeds the limit of {} bytes; send a smaller message or share large files another way", self.max),
        ))
    }
}

impl Rule for MessageSize {
    fn id(&self) -> &'static str {
        "R-IN-2"
    }
    fn on_mail<'a>(&'a self, m: &'a MailCtx<'a>) -> Check<'a> {
        let v = match m.declared_size {
            Some(s) if s > self.max => self.refuse(s),
            _ => Verdict::Allow,
        };
        crate::ready(v)
    }
    fn on_data<'a>(&'a self, d: &'a DataCtx<'a>) -> Check<'a> {
        let v = if d.size > self.max {
            self.refuse(d.size)
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

    #[tokio::test]
    async fn declared_and_actual_size() {
        let r = MessageSize { max: 1000 };
        let s = session(Service::Mx, None);
        let m = |size| MailCtx {
            session: &s,
            sender: "a@b.example",
            declared_size: size,
        };
        assert_eq!(r.on_mail(&m(Some(1000))).await, Verdict::Allow);
        assert_eq!(r.on_mail(&m(None)).await, Verdict::Allow);
        match r.on_mail(&m(Some(1001))).await {
            Verdict::Refuse(f) => {
                assert_eq!((f.code, f.enhanced, f.rule), (552, "5.3.4", "R-IN-2"))
            }
            v => panic!("{v:?}"),
        }
        let h = crate::HeaderFacts::default();
        let d = DataCtx {
            session: &s,
            sender: "",
            recipients: &[],
            size: 1001,
            headers: &h,
            body: b"",
            effects: &Default::default(),
        };
        assert!(matches!(r.on_data(&d).await, Verdict::Refuse(_)));
    }
}
