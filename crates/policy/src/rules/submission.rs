//! R-OUT-1, R-OUT-2: the submission ports take mail only from customers who
//! authenticated — with SMTP AUTH over TLS, or by a recent POP3 login from
//! the same IP address (POP-before-SMTP, which the session resolves into an
//! account before MAIL).

use crate::{Check, MailCtx, Refusal, Rule, Service, Verdict};
use std::time::Duration;

pub struct SubmissionNeedsAuth {
    pub pop_before_smtp: Duration,
}

impl Rule for SubmissionNeedsAuth {
    fn id(&self) -> &'static str {
        "R-OUT-2"
    }
    fn on_mail<'a>(&'a self, m: &'a MailCtx<'a>) -> Check<'a> {
        let v = if m.session.service == Service::Submission && m.session.account.is_none() {
            let minutes = self.pop_before_smtp.as_secs() / 60;
            // RFC 4954 §6: 530 5.7.0 Authentication required.
            Verdict::Refuse(Refusal::new(
                530,
                "5.7.0",
                "R-OUT-2",
                format!(
                    "authentication required: log in with AUTH over TLS, or check your mail (POP3) first, which lets this address send for {minutes} minutes"
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

    #[tokio::test]
    async fn submission_without_account_is_refused() {
        let r = SubmissionNeedsAuth {
            pop_before_smtp: Duration::from_secs(1800),
        };
        let anon = session(Service::Submission, None);
        let m = MailCtx {
            session: &anon,
            sender: "a@h.example",
            declared_size: None,
        };
        match r.on_mail(&m).await {
            Verdict::Refuse(f) => {
                assert_eq!((f.code, f.enhanced, f.rule), (530, "5.7.0", "R-OUT-2"));
                assert!(f.reason.contains("30 minutes") && f.reason.contains("POP3"));
            }
            v => panic!("{v:?}"),
        }
        let authed = session(Service::Submission, Some("a@h.example"));
        let m = MailCtx {
            session: &authed,
            sender: "a@h.example",
            declared_size: None,
        };
        assert_eq!(r.on_mail(&m).await, Verdict::Allow);
        let mx = session(Service::Mx, None);
        let m = MailCtx {
            session: &mx,
            sender: "x@y.example",
            declared_size: None,
        };
        assert_eq!(r.on_mail(&m).await, Verdict::Allow);
    }
}
