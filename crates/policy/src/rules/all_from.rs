//! R-ADDR-5: all@DOMAIN reaches every mailbox of the domain, so only
//! the senders `policy.all_from` names may use it: authenticated
//! accounts of the same domain (the default), anyone, or only the
//! domain's technical contact.

use crate::{Check, RcptCtx, Refusal, Rule, Verdict};
use mailhost_config::AllFrom;
use mailhost_store::{Resolved, Store};

pub struct AllFromRule {
    pub who: AllFrom,
    pub store: Store,
}

impl Rule for AllFromRule {
    fn id(&self) -> &'static str {
        "R-ADDR-5"
    }
    fn on_rcpt<'a>(&'a self, r: &'a RcptCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            if !matches!(r.resolved, Resolved::All(_)) || self.who == AllFrom::Anyone {
                return Verdict::Allow;
            }
            let domain = r.recipient.rsplit_once('@').map_or("", |(_, d)| d);
            let account = r.session.account.as_deref().unwrap_or("");
            let allowed = match self.who {
                AllFrom::Anyone => true,
                AllFrom::Domain => account
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)),
                AllFrom::Admin => match self.store.domain_contact(domain).await {
                    Ok(c) => !account.is_empty() && c.eq_ignore_ascii_case(account),
                    Err(_) => false,
                },
            };
            if allowed {
                return Verdict::Allow;
            }
            let who = match self.who {
                AllFrom::Admin => format!("the technical contact of {domain}, authenticated"),
                _ => format!("authenticated senders of {domain}"),
            };
            Verdict::Refuse(Refusal::new(
                550,
                "5.7.1",
                "R-ADDR-5",
                format!("{} takes mail only from {who}", r.recipient),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{session, store};
    use crate::Service;

    async fn verdict(who: AllFrom, account: Option<&str>, resolved: &Resolved) -> Verdict {
        let (store, _dir) = store().await;
        let s = session(Service::Submission, account);
        let rule = AllFromRule { who, store };
        rule.on_rcpt(&RcptCtx {
            session: &s,
            sender: account.unwrap_or("x@o.example"),
            recipient: "all@a.example",
            resolved,
            accepted: 0,
            remote_accepted: 0,
        })
        .await
    }

    #[tokio::test]
    async fn only_the_domains_own_senders_by_default() {
        let all = Resolved::All("a.example".into());
        assert_eq!(
            verdict(AllFrom::Domain, Some("u@a.example"), &all).await,
            Verdict::Allow
        );
        for who in [None, Some("x@b.example")] {
            match verdict(AllFrom::Domain, who, &all).await {
                Verdict::Refuse(r) => assert_eq!((r.code, r.rule), (550, "R-ADDR-5")),
                v => panic!("{v:?}"),
            }
        }
        assert_eq!(verdict(AllFrom::Anyone, None, &all).await, Verdict::Allow);
        // Only the contact (boss@a.example) in admin mode.
        assert!(matches!(
            verdict(AllFrom::Admin, Some("u@a.example"), &all).await,
            Verdict::Refuse(_)
        ));
        assert_eq!(
            verdict(AllFrom::Admin, Some("boss@a.example"), &all).await,
            Verdict::Allow
        );
        // Other recipients are not this rule's business.
        let one = Resolved::Deliver(vec![]);
        assert_eq!(verdict(AllFrom::Domain, None, &one).await, Verdict::Allow);
    }
}
