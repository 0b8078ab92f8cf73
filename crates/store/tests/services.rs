//! The store's mailbox services on both backends: postmaster@ and all@
//! (R-ADDR-4, R-ADDR-5), billing (R-ADDR-8), forwarding (R-IN-4), quota
//! usage and notices (R-IN-3), the autoresponder's once-per-interval
//! record (R-IN-5), read-mail retention (R-POP-2).

#[macro_use]
mod common;

use mailhost_store::{Autoreply, NewMessage, Resolved, Store, StoreError};
use std::time::Duration;

both!(
    special_addresses,
    billing_counts,
    forwarding_rules,
    usage_and_notices,
    autoreply_once_per_interval,
    retention_purge
);

async fn setup(s: &Store) {
    s.domain_add("a.example", "boss@b.example", None)
        .await
        .unwrap();
    for u in ["one@a.example", "two@a.example", "three@a.example"] {
        s.user_add(u, "pw", None, None).await.unwrap();
    }
}

async fn mailbox(s: &Store, a: &str) -> mailhost_store::Account {
    match s.resolve(a).await.unwrap() {
        Resolved::Deliver(v) => v[0].clone(),
        r => panic!("{a}: {r:?}"),
    }
}

async fn special_addresses(s: Store) {
    setup(&s).await;
    assert_eq!(
        s.resolve("Postmaster@A.example").await.unwrap(),
        Resolved::Postmaster("boss@b.example".into())
    );
    s.user_set_suspended("three@a.example", true).await.unwrap();
    s.alias_add("sales@a.example", &["one@a.example".into()])
        .await
        .unwrap();
    assert_eq!(
        s.resolve("all@a.example").await.unwrap(),
        Resolved::All("a.example".into())
    );
    let m = s.all_members("a.example").await.unwrap();
    assert_eq!(
        m.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(),
        ["one@a.example", "two@a.example"],
        "active mailboxes only: no alias, no suspended, no postmaster"
    );
    for r in [
        s.user_delete("postmaster@a.example", Duration::from_secs(1))
            .await,
        s.user_set_suspended("postmaster@a.example", true).await,
        s.user_add("postmaster@a.example", "pw", None, None)
            .await
            .map(|_| ()),
        s.alias_remove("all@a.example", Duration::from_secs(1))
            .await,
        s.user_passwd("postmaster@a.example", "pw").await,
    ] {
        match r {
            Err(StoreError::Invalid(m)) => assert!(m.contains("R-ADDR-"), "{m}"),
            r => panic!("{r:?}"),
        }
    }
    s.domain_set("a.example", Some("two@a.example"), None)
        .await
        .unwrap();
    assert_eq!(
        s.resolve("postmaster@a.example").await.unwrap(),
        Resolved::Postmaster("two@a.example".into())
    );
    assert!(s
        .domain_set("a.example", Some("postmaster@a.example"), None)
        .await
        .is_err());
    assert!(s
        .domain_set("a.example", Some("not an address"), None)
        .await
        .is_err());
    assert!(matches!(
        s.domain_set("nohost.example", Some("x@y.example"), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    // A domain with only its own addresses left can go, and takes them.
    s.domain_add("c.example", "boss@b.example", None)
        .await
        .unwrap();
    s.domain_remove("c.example").await.unwrap();
    assert_eq!(
        s.resolve("postmaster@c.example").await.unwrap(),
        Resolved::NotHosted
    );
    s.domain_add("c.example", "boss@b.example", None)
        .await
        .unwrap();
    assert!(matches!(
        s.resolve("postmaster@c.example").await.unwrap(),
        Resolved::Postmaster(_)
    ));
}

async fn billing_counts(s: Store) {
    setup(&s).await;
    s.domain_add("z.example", "boss@b.example", None)
        .await
        .unwrap();
    s.user_set_suspended("three@a.example", true).await.unwrap();
    s.alias_add("sales@a.example", &["one@a.example".into()])
        .await
        .unwrap();
    let b = s.billing(None).await.unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(
        (
            b[0].domain.as_str(),
            b[0].mailboxes,
            b[0].aliases,
            b[0].suspended,
            b[0].billable
        ),
        ("a.example", 3, 1, 1, 4)
    );
    assert_eq!((b[1].domain.as_str(), b[1].billable), ("z.example", 0));
    assert_eq!(s.billing(Some("Z.example")).await.unwrap().len(), 1);
    assert!(matches!(
        s.billing(Some("no.example")).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn forwarding_rules(s: Store) {
    setup(&s).await;
    let set = |a: &'static str, d: &[&str], force: bool| {
        let d: Vec<String> = d.iter().map(|x| x.to_string()).collect();
        let s = s.clone();
        async move { s.forward_set(a, &d, false, force, 2).await }
    };
    let r = set(
        "one@a.example",
        &["two@a.example", "x@remote.example", "X@Remote.example"],
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        r.forwarding.destinations,
        ["two@a.example", "x@remote.example"]
    );
    assert!(r.warning.is_none());
    assert_eq!(mailbox(&s, "one@a.example").await.forward, Some(false));
    // A cycle back to one, directly or through an alias, is refused.
    for d in ["one@a.example"] {
        assert!(set("two@a.example", &[d], false).await.is_err());
    }
    s.alias_add("team@a.example", &["one@a.example".into()])
        .await
        .unwrap();
    assert!(set("two@a.example", &["team@a.example"], false)
        .await
        .is_err());
    assert!(
        set("three@a.example", &["two@a.example"], false)
            .await
            .is_ok(),
        "a chain is fine"
    );
    for bad in [
        "three@a.example",
        "nobody@a.example",
        "all@a.example",
        "ü@x.example",
        "a@b@c",
        "x",
    ] {
        assert!(
            matches!(
                set("three@a.example", &[bad], false).await,
                Err(StoreError::Invalid(_)) | Err(StoreError::NotFound(_))
            ),
            "{bad}"
        );
    }
    // The limit: more needs force, and then warns.
    let many = ["a@r.example", "b@r.example", "c@r.example"];
    match set("three@a.example", &many, false).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("limit of 2"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(
        s.forward_show("three@a.example")
            .await
            .unwrap()
            .unwrap()
            .destinations,
        ["two@a.example"],
        "nothing half-written"
    );
    assert!(set("three@a.example", &many, true)
        .await
        .unwrap()
        .warning
        .is_some());
    s.package_set("wide", None, None, Some(5)).await.unwrap();
    s.user_add("four@a.example", "pw", None, Some("wide"))
        .await
        .unwrap();
    assert!(
        set("four@a.example", &many, false).await.is_ok(),
        "the package's limit"
    );
    s.forward_clear("one@a.example").await.unwrap();
    assert_eq!(s.forward_show("one@a.example").await.unwrap(), None);
    assert_eq!(mailbox(&s, "one@a.example").await.forward, None);
}

async fn ids_of(s: &Store, mailbox: i64) -> Vec<i64> {
    s.list_messages(mailbox)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect()
}

fn message(id: i64, size: usize) -> NewMessage {
    NewMessage {
        body: vec![b'x'; size],
        deliveries: vec![(id, vec![])],
        ..Default::default()
    }
}

async fn usage_and_notices(s: Store) {
    setup(&s).await;
    s.set_default_quota(1000);
    let one = mailbox(&s, "one@a.example").await;
    assert_eq!((one.used, one.quota), (0, None));
    s.deliver(message(one.id, 600)).await.unwrap();
    s.deliver(message(one.id, 300)).await.unwrap();
    let u = s.user_quota("one@a.example").await.unwrap();
    assert_eq!((u.used, u.quota, u.messages), (900, 1000, 2));
    // Past 90 %: one notice, however many deliveries try.
    let notice = |to: i64| message(to, 10);
    assert!(s
        .quota_notice(one.id, 1, 900, notice(one.id))
        .await
        .unwrap());
    assert!(!s
        .quota_notice(one.id, 1, 900, notice(one.id))
        .await
        .unwrap());
    // Not full yet: no "exceeded" notice (the store checks the usage).
    assert!(!s
        .quota_notice(one.id, 2, 1000, notice(one.id))
        .await
        .unwrap());
    let used = s.user_quota("one@a.example").await.unwrap().used;
    assert_eq!(used, 910, "the notice itself is stored, and counted");
    // Deleting below 90 % lowers the level: the next crossing notifies.
    let ids = ids_of(&s, one.id).await;
    s.delete_messages(one.id, &ids[..1]).await.unwrap();
    assert_eq!(s.user_quota("one@a.example").await.unwrap().used, 310);
    assert_eq!(mailbox(&s, "one@a.example").await.quota_level, 0);
    s.deliver(message(one.id, 700)).await.unwrap();
    assert!(s
        .quota_notice(one.id, 2, 1000, notice(one.id))
        .await
        .unwrap());
    assert_eq!(mailbox(&s, "one@a.example").await.quota_level, 2);
    // A mailbox quota wins over the default; a package's over the domain's.
    s.package_set("small", None, Some(500), None).await.unwrap();
    s.user_add("p@a.example", "pw", None, Some("small"))
        .await
        .unwrap();
    s.user_add("q@a.example", "pw", Some(2000), Some("small"))
        .await
        .unwrap();
    assert_eq!(s.user_quota("p@a.example").await.unwrap().quota, 500);
    assert_eq!(s.user_quota("q@a.example").await.unwrap().quota, 2000);
    assert_eq!(mailbox(&s, "p@a.example").await.quota, Some(500));
    // Quotas past 1 PiB are refused (PostgreSQL's BIGINT stays safe).
    assert!(s
        .user_set_quota("p@a.example", Some(1 << 51))
        .await
        .is_err());
    assert!(s
        .user_add("r@a.example", "pw", Some(1 << 51), None)
        .await
        .is_err());
    assert!(s
        .package_set("huge", None, Some(1 << 51), None)
        .await
        .is_err());
}

async fn autoreply_once_per_interval(s: Store) {
    setup(&s).await;
    let one = mailbox(&s, "one@a.example").await;
    let bad = [
        Autoreply {
            body: "x".repeat(64 * 1024 + 1),
            ..Default::default()
        },
        Autoreply {
            body: "".into(),
            ..Default::default()
        },
        Autoreply {
            body: "x".into(),
            from: Some(10),
            until: Some(5),
            ..Default::default()
        },
        Autoreply {
            body: "x".into(),
            subject: Some("a\r\nBcc: x".into()),
            ..Default::default()
        },
    ];
    for a in &bad {
        assert!(matches!(
            s.autoreply_set("one@a.example", a).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(
        !mailbox(&s, "one@a.example").await.autoreply,
        "nothing half-written"
    );
    let a = Autoreply {
        body: "away".into(),
        ..Default::default()
    };
    s.autoreply_set("one@a.example", &a).await.unwrap();
    assert!(mailbox(&s, "one@a.example").await.autoreply);
    assert_eq!(s.autoreply_show("one@a.example").await.unwrap(), Some(a));
    let reply = || message(one.id, 5);
    let i = Duration::from_millis(300);
    assert!(s
        .autoreply_send(one.id, "X@o.example", i, reply())
        .await
        .unwrap());
    assert!(!s
        .autoreply_send(one.id, "x@o.example", i, reply())
        .await
        .unwrap());
    assert!(s
        .autoreply_send(one.id, "y@o.example", i, reply())
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(s
        .autoreply_send(one.id, "x@o.example", i, reply())
        .await
        .unwrap());
    assert_eq!(
        s.list_messages(one.id).await.unwrap().len(),
        3,
        "a refused reply is not stored"
    );
    s.autoreply_clear("one@a.example").await.unwrap();
    assert!(!mailbox(&s, "one@a.example").await.autoreply);
    assert_eq!(s.autoreply_show("one@a.example").await.unwrap(), None);
}

async fn retention_purge(s: Store) {
    setup(&s).await;
    let one = mailbox(&s, "one@a.example").await;
    let two = mailbox(&s, "two@a.example").await;
    for _ in 0..5 {
        s.deliver(message(one.id, 100)).await.unwrap();
    }
    // One body in both mailboxes.
    s.deliver(NewMessage {
        body: vec![b'y'; 50],
        deliveries: vec![(one.id, vec![]), (two.id, vec![])],
        ..Default::default()
    })
    .await
    .unwrap();
    let ids = ids_of(&s, one.id).await;
    s.mark_retrieved(one.id, &ids[..3]).await.unwrap();
    s.mark_retrieved(one.id, &ids[5..]).await.unwrap();
    let cut = mailhost_store::now_ms() + 1;
    // An open POP3 session keeps its maildrop (RFC 1939).
    assert!(s
        .mail_session_open(
            "o",
            one.id,
            "pop3",
            "127.0.0.1",
            "n",
            Duration::from_secs(30)
        )
        .await
        .unwrap());
    let p = s.purge_read(cut, (-1, 0), 100).await.unwrap();
    assert_eq!(p.entries, 0);
    s.mail_session_close("o").await.unwrap();
    // Two at a time, following the cursor.
    let p1 = s.purge_read(cut, (-1, 0), 2).await.unwrap();
    assert_eq!(p1.entries, 2);
    let p2 = s.purge_read(cut, p1.next.unwrap(), 2).await.unwrap();
    assert_eq!(p2.entries, 2);
    let p3 = s.purge_read(cut, p2.next.unwrap(), 2).await.unwrap();
    assert_eq!((p3.entries, p3.next), (0, None));
    let left = ids_of(&s, one.id).await;
    assert_eq!(left, &ids[3..5], "unread mail stays");
    assert_eq!(s.user_quota("one@a.example").await.unwrap().used, 200);
    // The shared body is still there for two.
    let two_msgs = s.list_messages(two.id).await.unwrap();
    assert_eq!(
        s.read_message(two.id, two_msgs[0].id).await.unwrap(),
        vec![b'y'; 50]
    );
    // Mail read after the cut-off stays.
    s.mark_retrieved(one.id, &left).await.unwrap();
    assert_eq!(
        s.purge_read(cut - 10_000, (-1, 0), 10)
            .await
            .unwrap()
            .entries,
        0
    );
}
