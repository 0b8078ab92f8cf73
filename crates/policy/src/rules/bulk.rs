//! R-OUT-8 bulk mail: messages of similar content sent by one customer
//! (every account of every domain with the same contact) to more than
//! `bulk_threshold` distinct recipients within `bulk_window` are bulk,
//! however the sending is split over time or accounts. Recipients in the
//! customer's own hosted domains do not count.
//!
//! At end of DATA the message's fingerprint (see [`crate::fingerprint`])
//! finds the customer's clusters of similar content through their LSH
//! band keys in the node's index ([`crate::bulk_index`]); the distinct
//! recipients of all matching clusters, with this message's, are its
//! reach. Over the threshold the message is refused, every account that
//! sent the content in the window is held for `hold_duration`, and the
//! holds are logged with the case; under it, the message is logged in the
//! window (best-matching cluster, or new content) in the message's own
//! transaction, and the index learns it once that commits.
//!
//! Sessions checking at the same instant, on one node or on several
//! (which see each other's sends within a poll, a second at most), may
//! each pass with the count just under the threshold: the overshoot is
//! bounded by the messages in flight meanwhile, and the next is refused.

use crate::bulk_index::BulkIndex;
use crate::fingerprint::{recipient_key, Fingerprint};
use crate::state::PolicyState;
use crate::{now_ms, rfc3339, Check, DataCtx, Refusal, Rule, Service, Verdict};
use mailhost_store::{new_cluster_id, BulkTrack, Evidence};
use std::sync::Arc;

pub struct BulkMail {
    pub state: Arc<PolicyState>,
    pub index: Arc<BulkIndex>,
    pub threshold: i64,
    pub window_ms: i64,
    /// Estimated Jaccard similarity from which two messages are the same
    /// content.
    pub similarity: f64,
    pub hold_ms: i64,
}

fn temp(e: impl std::fmt::Display) -> Verdict {
    Verdict::Refuse(Refusal::new(
        451,
        "4.3.0",
        "R-OUT-8",
        format!("cannot check for bulk mail now: {e}"),
    ))
}

/// "24h", "90m", "45s": the window as the operator configured it.
fn span(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s % 86_400 == 0 && s >= 86_400 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s >= 3_600 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl Rule for BulkMail {
    fn id(&self) -> &'static str {
        "R-OUT-8"
    }
    fn on_data<'a>(&'a self, d: &'a DataCtx<'a>) -> Check<'a> {
        Box::pin(async move {
            let (Service::Submission, Some(account), Some(profile)) =
                (d.session.service, &d.session.account, &d.session.profile)
            else {
                return Verdict::Allow;
            };
            let own = |rcpt: &str| {
                let dom = rcpt.rsplit_once('@').map_or("", |(_, d)| d);
                profile
                    .customer_domains
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(dom))
            };
            let rcpts: Vec<i64> = d
                .recipients
                .iter()
                .filter(|r| !own(r))
                .map(|r| recipient_key(r))
                .collect();
            if rcpts.is_empty() {
                return Verdict::Allow;
            }
            let fp = Fingerprint::of_message(d.body);
            let now = now_ms();
            let since = now - self.window_ms;
            let ids = self
                .index
                .matches(&profile.customer, &fp, self.similarity, since);
            let reach = self.index.reach(&ids, since, &rcpts);
            if reach <= self.threshold {
                let cluster = ids.first().copied().unwrap_or_else(new_cluster_id);
                let track = BulkTrack {
                    cluster,
                    intro: self.index.needs_intro(cluster, now).then(|| {
                        (
                            profile.customer.clone(),
                            crate::bulk_index::log_signature(&fp),
                        )
                    }),
                    account: account.clone(),
                    rcpts,
                    at: now,
                };
                *d.effects.bulk.lock().unwrap_or_else(|p| p.into_inner()) = Some(track);
                return Verdict::Allow;
            }
            self.refuse(d, account, &profile.customer, &ids, reach, now)
                .await
        })
    }
}

impl BulkMail {
    /// Refuses the message and holds every account that sent the content.
    async fn refuse(
        &self,
        d: &DataCtx<'_>,
        account: &str,
        customer: &str,
        ids: &[i64],
        reach: i64,
        now: i64,
    ) -> Verdict {
        let mut accounts = self.index.senders(ids, now - self.window_ms);
        if !accounts.iter().any(|a| a == account) {
            accounts.push(account.to_string());
            accounts.sort();
        }
        let ends = rfc3339(now + self.hold_ms);
        let case = format!(
            "similar messages from {customer}'s accounts ({}) would reach {reach} recipients within {}, over the limit of {}",
            accounts.join(", "),
            span(self.window_ms),
            self.threshold
        );
        for a in &accounts {
            let e = Evidence {
                ip: d.session.peer.to_string(),
                account: Some(a.clone()),
                rule: "R-OUT-8".into(),
                decision: "hold".into(),
                reply: format!("held until {ends}: bulk mail case: {case}"),
                service: "submission".into(),
                ..Default::default()
            };
            if let Err(err) = self
                .state
                .place_hold(
                    a,
                    "R-OUT-8",
                    &format!("bulk mail: {case}"),
                    self.hold_ms,
                    &e,
                )
                .await
            {
                return temp(err);
            }
        }
        Verdict::Refuse(Refusal::new(
            550,
            "5.7.1",
            "R-OUT-8",
            format!(
                "bulk mail refused: {case}; sending is on hold until {ends}. Send newsletters and announcements through a mailing list, or ask your provider"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::session;
    use crate::{Effects, HeaderFacts};
    use mailhost_store::{NewMessage, Resolved, Store};

    struct World {
        store: Store,
        _dir: tempfile::TempDir,
        mailbox: i64,
    }

    async fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        store
            .domain_add("corp.example", "boss@corp.example", None)
            .await
            .unwrap();
        store
            .domain_add("shop.example", "boss@corp.example", None)
            .await
            .unwrap();
        for u in ["a@corp.example", "b@corp.example", "c@shop.example"] {
            store.user_add(u, "pw-123456", None, None).await.unwrap();
        }
        let Resolved::Deliver(m) = store.resolve("a@corp.example").await.unwrap() else {
            panic!()
        };
        World {
            store,
            _dir: dir,
            mailbox: m[0].id,
        }
    }

    fn rule(store: &Store, threshold: i64) -> BulkMail {
        let index = Arc::new(BulkIndex::new(std::time::Duration::from_secs(3600)));
        let state = Arc::new(PolicyState::new(store.clone()));
        BulkMail {
            state,
            index,
            threshold,
            window_ms: 3_600_000,
            similarity: 0.5,
            hold_ms: 60_000,
        }
    }

    fn letter(name: &str, n: usize) -> Vec<u8> {
        format!(
            "From: x@corp.example\r\nSubject: Our spring offer for {name}\r\n\r\nHello {name},\r\n\r\n\
             Spring is here and so is our new range of garden furniture, made from sustainably grown oak and \
             finished by hand in our workshop. Order before the end of the month and we deliver for free, \
             anywhere in the country, and take your old furniture away. Your customer number is {n}.\r\n\
             See https://shop.example/spring?c={n}x{n}\r\n"
        )
        .into_bytes()
    }

    /// Runs the rule as end of DATA would, and commits an accepted message
    /// with its effects like the SMTP session does.
    async fn send(
        w: &World,
        r: &BulkMail,
        account: &str,
        body: &[u8],
        rcpts: &[String],
    ) -> Verdict {
        let mut s = session(Service::Submission, Some(account));
        s.profile = Some(w.store.sender_profile(account).await.unwrap());
        let effects = Effects::default();
        let h = HeaderFacts::default();
        let ctx = DataCtx {
            session: &s,
            sender: account,
            recipients: rcpts,
            size: 0,
            headers: &h,
            body,
            effects: &effects,
        };
        let v = r.on_data(&ctx).await;
        if v == Verdict::Allow {
            let bulk = effects.bulk.lock().unwrap().take();
            let msg = NewMessage {
                body: body.to_vec(),
                deliveries: vec![(w.mailbox, vec![])],
                bulk: bulk.clone(),
                ..Default::default()
            };
            w.store.deliver(msg).await.unwrap();
            if let Some(t) = bulk {
                r.index.learn(&t);
            }
        }
        v
    }

    fn rcpts(from: usize, n: usize) -> Vec<String> {
        (from..from + n)
            .map(|i| format!("person{i}@world.example"))
            .collect()
    }

    #[tokio::test]
    async fn campaign_across_accounts_is_caught_at_the_threshold() {
        let w = world().await;
        let r = rule(&w.store, 20);
        // Three accounts of one customer, in two domains, 5 recipients a
        // message: 20 distinct recipients pass.
        for (i, acct) in [
            "a@corp.example",
            "b@corp.example",
            "c@shop.example",
            "a@corp.example",
        ]
        .iter()
        .enumerate()
        {
            let v = send(
                &w,
                &r,
                acct,
                &letter(&format!("Name{i}"), i * 7),
                &rcpts(i * 5, 5),
            )
            .await;
            assert_eq!(v, Verdict::Allow, "message {i}");
        }
        // Repeating recipients does not count them twice.
        assert_eq!(
            send(&w, &r, "b@corp.example", &letter("Zed", 99), &rcpts(0, 5)).await,
            Verdict::Allow
        );
        // The 21st distinct recipient crosses it.
        let v = send(
            &w,
            &r,
            "c@shop.example",
            &letter("Olga", 1234),
            &rcpts(20, 1),
        )
        .await;
        let Verdict::Refuse(f) = v else {
            panic!("{v:?}")
        };
        assert_eq!((f.code, f.enhanced, f.rule), (550, "5.7.1", "R-OUT-8"));
        assert!(f.reason.contains("21 recipients"), "{}", f.reason);
        for a in ["a@corp.example", "b@corp.example", "c@shop.example"] {
            let h = w
                .store
                .active_hold(a)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{a} not held"));
            assert_eq!(h.rule, "R-OUT-8");
        }
    }

    #[tokio::test]
    async fn own_domains_and_different_content_do_not_count() {
        let w = world().await;
        let r = rule(&w.store, 15);
        // Mail to the customer's own domains is never bulk.
        let own: Vec<String> = (0..30).map(|i| format!("staff{i}@shop.example")).collect();
        assert_eq!(
            send(&w, &r, "a@corp.example", &letter("Team", 1), &own).await,
            Verdict::Allow
        );
        assert_eq!(r.index.size(), (0, 0), "nothing tracked");
        // Twelve different messages to twelve recipients each (144 in
        // all): no cluster grows past its own recipients.
        let topics = [
            "the quarterly budget review moved to the large meeting room on the second floor",
            "your invoice for the repair of the delivery van is attached as requested",
            "we would like to invite you to speak at our conference about urban gardening",
            "the printer on the third floor is out of toner again and needs a technician",
            "thank you for your application; we will contact you about an interview soon",
            "please find the signed contract for the office lease enclosed with this note",
            "our server maintenance window is tonight between two and four in the morning",
            "the catering order for the annual party needs a final number of vegetarian meals",
            "i reviewed the architecture proposal and have several questions about caching",
            "the museum tour for the visiting students starts at the main entrance at nine",
            "can you send me the photographs from the product shoot before friday afternoon",
            "the insurance claim for the water damage in the archive has finally been approved",
        ];
        for (i, t) in topics.iter().enumerate() {
            let body = format!("Subject: note {i}\r\n\r\nHi,\r\n\r\n{t}. Let me know what you think.\r\n\r\nRegards\r\n");
            assert_eq!(
                send(
                    &w,
                    &r,
                    "a@corp.example",
                    body.as_bytes(),
                    &rcpts(i * 12, 12)
                )
                .await,
                Verdict::Allow,
                "{t}"
            );
        }
        assert!(w
            .store
            .active_hold("a@corp.example")
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn customers_are_counted_apart() {
        let w = world().await;
        w.store
            .domain_add("other.example", "someone@else.example", None)
            .await
            .unwrap();
        w.store
            .user_add("z@other.example", "pw-123456", None, None)
            .await
            .unwrap();
        let r = rule(&w.store, 8);
        assert_eq!(
            send(&w, &r, "a@corp.example", &letter("A", 1), &rcpts(0, 8)).await,
            Verdict::Allow
        );
        assert_eq!(
            send(&w, &r, "z@other.example", &letter("B", 2), &rcpts(8, 8)).await,
            Verdict::Allow
        );
        assert!(matches!(
            send(&w, &r, "a@corp.example", &letter("C", 3), &rcpts(16, 1)).await,
            Verdict::Refuse(_)
        ));
        assert!(
            w.store
                .active_hold("z@other.example")
                .await
                .unwrap()
                .is_none(),
            "another customer is not held"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(span(86_400_000), "1d");
        assert_eq!(span(3_600_000), "1h");
        assert_eq!(span(90_000), "90s");
        assert_eq!(span(120_000), "2m");
    }
}
