//! The store test suite, run on both backends: SQLite in a temporary
//! directory, and PostgreSQL at MAILHOST_TEST_PG (each test in a schema of
//! its own). Under CI the PostgreSQL URL is required, so a missing server
//! fails the run instead of skipping half the suite.

use mailhost_store::{
    AuthResult, DkimKey, Evidence, EvidenceQuery, NewMessage, Outbound, Resolved, Store, StoreError,
};
use std::time::Duration;

#[macro_use]
mod common;

both!(
    packages_and_profile,
    bulk_window,
    domain_limit_places,
    quarantine,
    policy_state,
    queue_lifecycle,
    grants_and_keys,
    domains,
    users,
    aliases_and_resolve,
    auth,
    deliver_list_read_delete,
    group_commit_concurrent,
    failed_batch_undoes_only_itself,
    locks,
    reopen_keeps_schema
);

async fn domains(s: Store) {
    assert_eq!(
        s.domain_add("Example.COM", "admin@example.net", None)
            .await
            .unwrap(),
        "example.com"
    );
    assert!(matches!(
        s.domain_add("example.com", "a@b.net", None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.domain_add("bad_domain", "a@b.net", None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.domain_add("ok.example", "not-an-address", None).await,
        Err(StoreError::Invalid(_))
    ));
    let e = s
        .domain_add("b.example", "x@b.example", Some("gold"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound(_)) && e.to_string().contains("package set gold"),
        "{e}"
    );
    s.package_set("gold", None, None, None).await.unwrap();
    s.domain_add("b.example", "x@b.example", Some("gold"))
        .await
        .unwrap();
    let l = s.domain_list().await.unwrap();
    assert_eq!(
        l.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["b.example", "example.com"]
    );
    assert_eq!(l[0].package.as_deref(), Some("gold"));
    s.user_add("u@b.example", "pw", None, None).await.unwrap();
    let e = s.domain_remove("b.example").await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    s.user_delete("u@b.example", Duration::from_secs(60))
        .await
        .unwrap();
    s.domain_remove("b.example").await.unwrap();
    assert!(matches!(
        s.domain_remove("b.example").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.domain_list().await.unwrap().len(), 1);
}

async fn users(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    assert_eq!(
        s.user_add("Bob@A.example", "secret", Some(1000), None)
            .await
            .unwrap(),
        "bob@a.example"
    );
    assert!(matches!(
        s.user_add("bob@a.example", "x", None, None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.user_add("x@nohost.example", "x", None, None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.user_add("x@a.example", "", None, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.user_add("bad address@a.example", "x", None, None).await,
        Err(StoreError::Invalid(_))
    ));
    let l = customer_addresses(&s, "a.example").await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].quota, Some(1000));
    s.user_set_suspended("bob@a.example", true).await.unwrap();
    assert!(customer_addresses(&s, "a.example").await[0].suspended);
    assert_eq!(
        s.resolve("bob@a.example").await.unwrap(),
        Resolved::Suspended
    );
    s.user_set_suspended("bob@a.example", false).await.unwrap();
    assert!(matches!(
        s.user_set_suspended("nobody@a.example", true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.user_passwd("nobody@a.example", "x").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.user_delete("nobody@a.example", Duration::from_secs(60))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.user_list("nohost.example").await,
        Err(StoreError::NotFound(_))
    ));
}

/// The domain's mailboxes and aliases, without postmaster@ and all@.
async fn customer_addresses(s: &Store, domain: &str) -> Vec<mailhost_store::AddressInfo> {
    s.user_list(domain)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "mailbox" || a.kind == "alias")
        .collect()
}

async fn aliases_and_resolve(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("one@a.example", "pw", None, None).await.unwrap();
    s.user_add("two@a.example", "pw", None, None).await.unwrap();
    assert!(matches!(
        s.alias_add("sales@a.example", &["nobody@a.example".into()])
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.alias_add("one@a.example", &["two@a.example".into()])
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.alias_add(
        "sales@a.example",
        &["one@a.example".into(), "TWO@a.example".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        s.identities("two@a.example").await.unwrap(),
        ["two@a.example", "sales@a.example"]
    );
    // nothing half-written by the failed attempts
    assert_eq!(customer_addresses(&s, "a.example").await.len(), 3);
    match s.resolve("Sales@A.example").await.unwrap() {
        Resolved::Deliver(t) => assert_eq!(
            t.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(),
            ["one@a.example", "two@a.example"]
        ),
        r => panic!("{r:?}"),
    }
    assert_eq!(
        s.resolve("nobody@a.example").await.unwrap(),
        Resolved::Unknown
    );
    assert_eq!(
        s.resolve("x@elsewhere.example").await.unwrap(),
        Resolved::NotHosted
    );
    s.user_set_suspended("two@a.example", true).await.unwrap();
    match s.resolve("sales@a.example").await.unwrap() {
        Resolved::Deliver(t) => assert_eq!(t.len(), 1),
        r => panic!("{r:?}"),
    }
    s.alias_remove("sales@a.example", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(
        s.resolve("sales@a.example").await.unwrap(),
        Resolved::Quarantined(_)
    ));
    assert!(matches!(
        s.alias_remove("sales@a.example", Duration::from_secs(60))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn auth(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("bob@a.example", "right", None, None)
        .await
        .unwrap();
    assert!(matches!(
        s.authenticate("bob@a.example", "right").await.unwrap(),
        AuthResult::Ok(_)
    ));
    assert!(matches!(
        s.authenticate("bob%a.example", "right").await.unwrap(),
        AuthResult::Ok(_)
    ));
    assert_eq!(
        s.authenticate("bob@a.example", "wrong").await.unwrap(),
        AuthResult::Failed
    );
    assert_eq!(
        s.authenticate("nobody@a.example", "right").await.unwrap(),
        AuthResult::Failed
    );
    assert_eq!(
        s.authenticate("garbage", "right").await.unwrap(),
        AuthResult::Failed
    );
    s.user_passwd("bob@a.example", "new").await.unwrap();
    assert_eq!(
        s.authenticate("bob@a.example", "right").await.unwrap(),
        AuthResult::Failed
    );
    s.user_set_suspended("bob@a.example", true).await.unwrap();
    assert_eq!(
        s.authenticate("bob@a.example", "new").await.unwrap(),
        AuthResult::Suspended
    );
    assert_eq!(
        s.authenticate("bob@a.example", "wrong").await.unwrap(),
        AuthResult::Failed
    );
}

async fn deliver_list_read_delete(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("one@a.example", "pw", None, None).await.unwrap();
    s.user_add("two@a.example", "pw", None, None).await.unwrap();
    let (one, two) = match (
        s.resolve("one@a.example").await.unwrap(),
        s.resolve("two@a.example").await.unwrap(),
    ) {
        (Resolved::Deliver(a), Resolved::Deliver(b)) => (a[0].id, b[0].id),
        r => panic!("{r:?}"),
    };
    let body = b"Subject: hi\r\n\r\nbinary \x00\xff ok\r\n".to_vec();
    let uids = s
        .deliver(NewMessage {
            body: body.clone(),
            deliveries: vec![(one, b"P1: x\r\n".to_vec()), (two, b"P2: y\r\n".to_vec())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(uids.len(), 2);
    assert_ne!(uids[0], uids[1]);
    let l1 = s.list_messages(one).await.unwrap();
    assert_eq!(l1.len(), 1);
    assert_eq!(l1[0].size as usize, body.len() + 7);
    assert_eq!(l1[0].uid, uids[0]);
    let m = s.read_message(one, l1[0].id).await.unwrap();
    assert_eq!(&m[..7], b"P1: x\r\n");
    assert_eq!(&m[7..], &body[..]);
    // another mailbox's message id is not readable through this mailbox
    let l2 = s.list_messages(two).await.unwrap();
    assert!(s.read_message(one, l2[0].id).await.is_err());
    let range = s
        .read_messages_range(one, l1[0].id, l1[0].id + 1000)
        .await
        .unwrap();
    assert_eq!(range.len(), 1, "only this mailbox's messages");
    assert_eq!(range[0].1, m);
    s.mark_retrieved(one, &[l1[0].id]).await.unwrap();
    s.delete_messages(one, &[l1[0].id]).await.unwrap();
    assert!(s.list_messages(one).await.unwrap().is_empty());
    // the body is shared: still readable by two
    assert_eq!(
        &s.read_message(two, l2[0].id).await.unwrap()[7..],
        &body[..]
    );
    s.delete_messages(two, &[l2[0].id]).await.unwrap();
    let info = s.user_list("a.example").await.unwrap();
    assert!(info.iter().all(|a| a.messages == 0 && a.bytes == 0));
}

/// A domain with one mailbox; its id.
async fn one_mailbox(s: &Store) -> i64 {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("one@a.example", "pw", None, None).await.unwrap();
    let Resolved::Deliver(a) = s.resolve("one@a.example").await.unwrap() else {
        panic!()
    };
    a[0].id
}

async fn group_commit_concurrent(s: Store) {
    let id = one_mailbox(&s).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.deliver(NewMessage {
                body: format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
                deliveries: vec![(id, vec![])],
                ..Default::default()
            })
            .await
            .unwrap()
        }));
    }
    let mut uids = std::collections::HashSet::new();
    for t in tasks {
        uids.extend(t.await.unwrap());
    }
    assert_eq!(uids.len(), 200);
    let l = s.list_messages(id).await.unwrap();
    assert_eq!(l.len(), 200);
    assert_eq!(
        l.iter()
            .map(|m| m.uid.clone())
            .collect::<std::collections::HashSet<_>>(),
        uids
    );
}

/// Batches that fail (here: a must-change statement after an insert)
/// among concurrent deliveries: each failure undoes its own batch and
/// nothing else, whichever group commit it lands in.
async fn failed_batch_undoes_only_itself(s: Store) {
    use mailhost_store::db::Stmt;
    let id = one_mailbox(&s).await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let r = s
                    .batch(vec![
                        Stmt::new(
                            "INSERT INTO packages (name, updated_at) VALUES (?, 0)",
                            vec![format!("p{i}").into()],
                        ),
                        Stmt::new(
                            "UPDATE domains SET contact = contact WHERE name = ?",
                            vec!["none.example".into()],
                        )
                        .must_change(StoreError::Conflict(format!("job {i}"))),
                    ])
                    .await;
                assert!(
                    matches!(r, Err(StoreError::Conflict(ref m)) if *m == format!("job {i}")),
                    "{r:?}"
                );
            } else {
                s.deliver(NewMessage {
                    body: format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
                    deliveries: vec![(id, vec![])],
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.list_messages(id).await.unwrap().len(), 200);
    assert!(s.package_list().await.unwrap().is_empty());
}

async fn locks(s: Store) {
    let ttl = Duration::from_secs(60);
    assert!(s.try_lock("pop:1", "a", "n1", ttl).await.unwrap());
    assert!(!s.try_lock("pop:1", "b", "n2", ttl).await.unwrap());
    assert!(s.refresh_lock("pop:1", "a", ttl).await.unwrap());
    assert!(!s.refresh_lock("pop:1", "b", ttl).await.unwrap());
    s.unlock("pop:1", "b").await.unwrap(); // not the owner: no effect
    assert!(!s.try_lock("pop:1", "b", "n2", ttl).await.unwrap());
    s.unlock("pop:1", "a").await.unwrap();
    assert!(s.try_lock("pop:1", "b", "n2", ttl).await.unwrap());
    // an expired lease can be taken over
    assert!(s
        .try_lock("pop:2", "a", "n1", Duration::from_millis(1))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(s.try_lock("pop:2", "c", "n3", ttl).await.unwrap());
    assert_eq!(s.release_node_locks("n2").await.unwrap(), 1);
    assert!(s.try_lock("pop:1", "d", "n1", ttl).await.unwrap());
}

async fn reopen_keeps_schema(s: Store) {
    // Opening applies no migration twice: a second handle on the same
    // database works and sees the first one's data.
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    assert_eq!(s.domain_list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    {
        let s = Store::open(&url).await.unwrap();
        s.domain_add("a.example", "c@a.example", None)
            .await
            .unwrap();
    }
    let s = Store::open(&url).await.unwrap();
    assert_eq!(s.domain_list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_url() {
    assert!(matches!(
        Store::open("mysql://x").await,
        Err(StoreError::Invalid(_))
    ));
}

async fn queue_lifecycle(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("one@a.example", "pw", None, None).await.unwrap();
    let Resolved::Deliver(a) = s.resolve("one@a.example").await.unwrap() else {
        panic!()
    };
    let out = |r: &str| Outbound {
        sender: "one@a.example".into(),
        rcpt: r.into(),
        account: Some("one@a.example".into()),
    };
    // one local copy and two remote recipients share one body
    s.deliver(NewMessage {
        body: b"Subject: q\r\n\r\nx\r\n".to_vec(),
        deliveries: vec![(a[0].id, vec![])],
        outbound: vec![out("r1@remote.example"), out("r2@Other.example")],
        ..Default::default()
    })
    .await
    .unwrap();
    let q = s.queue_list().await.unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[1].domain, "other.example");
    let lease = Duration::from_secs(60);
    let c = s.queue_claim("node1", lease, 10).await.unwrap();
    assert_eq!(c.len(), 2);
    assert!(
        s.queue_claim("node2", lease, 10).await.unwrap().is_empty(),
        "leased rows are not claimed twice"
    );
    assert_eq!(
        s.queue_body(&c[0].blob_id).await.unwrap(),
        b"Subject: q\r\n\r\nx\r\n"
    );
    // retry later: not due now
    s.queue_retry(
        &c[0],
        mailhost_store::now_ms() + 60_000,
        "451 try later",
        None,
    )
    .await
    .unwrap();
    s.queue_done_many(&[&c[1]]).await.unwrap();
    assert!(s.queue_claim("node2", lease, 10).await.unwrap().is_empty());
    let q = s.queue_list().await.unwrap();
    assert_eq!(
        (q.len(), q[0].attempts, q[0].last_error.as_deref()),
        (1, 1, Some("451 try later"))
    );
    assert_eq!(s.queue_flush().await.unwrap(), 1);
    let c = s.queue_claim("node2", lease, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    // a crashed node's leases come back on restart
    assert_eq!(s.queue_release("node2").await.unwrap(), 1);
    let c = s.queue_claim("node3", lease, 10).await.unwrap();
    // the bounce is stored in the same transaction that drops the row
    let bounce = NewMessage {
        body: b"Subject: bounce\r\n\r\n".to_vec(),
        deliveries: vec![(a[0].id, vec![])],
        ..Default::default()
    };
    s.queue_fail(&c[0], Some(bounce)).await.unwrap();
    assert!(s.queue_list().await.unwrap().is_empty());
    let msgs = s.list_messages(a[0].id).await.unwrap();
    assert_eq!(msgs.len(), 2);
    // the shared body is still there for the local copy
    let first = s.read_message(a[0].id, msgs[0].id).await.unwrap();
    assert_eq!(first, b"Subject: q\r\n\r\nx\r\n");
    s.delete_messages(a[0].id, &[msgs[0].id, msgs[1].id])
        .await
        .unwrap();
    assert!(
        s.queue_body(&c[0].blob_id).await.is_err(),
        "the body went with its last reference"
    );
}

async fn grants_and_keys(s: Store) {
    assert_eq!(s.pop_granted("192.0.2.1").await.unwrap(), None);
    s.pop_grant("192.0.2.1", "a@a.example", Duration::from_secs(60))
        .await
        .unwrap();
    s.pop_grant("192.0.2.1", "b@a.example", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        s.pop_granted("192.0.2.1").await.unwrap().as_deref(),
        Some("b@a.example")
    );
    s.pop_grant("192.0.2.2", "a@a.example", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.pop_granted("192.0.2.2").await.unwrap(), None);
    let k = DkimKey {
        domain: "a.example".into(),
        selector: "s1".into(),
        algorithm: "rsa-sha256".into(),
        private_key: "PEM".into(),
        public_key: "PUB".into(),
    };
    s.dkim_key_set(&k).await.unwrap();
    assert_eq!(s.dkim_key("A.example").await.unwrap(), Some(k.clone()));
    s.dkim_key_set(&DkimKey {
        selector: "s2".into(),
        ..k
    })
    .await
    .unwrap();
    assert_eq!(
        s.dkim_key("a.example").await.unwrap().unwrap().selector,
        "s2"
    );
    assert_eq!(s.dkim_key("none.example").await.unwrap(), None);
}

async fn policy_state(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("one@a.example", "pw", None, None).await.unwrap();
    let Resolved::Deliver(a) = s.resolve("one@a.example").await.unwrap() else {
        panic!()
    };
    // the send log is written with the message
    let t0 = mailhost_store::now_ms() - 1;
    s.deliver(NewMessage {
        body: b"Subject: x\r\n\r\n".to_vec(),
        outbound: vec![Outbound {
            sender: "one@a.example".into(),
            rcpt: "r@remote.example".into(),
            account: None,
        }],
        send_log: Some(("one@a.example".into(), "a.example".into(), 3)),
        evidence: vec![Evidence {
            ip: "192.0.2.1".into(),
            account: Some("one@a.example".into()),
            rule: "accept".into(),
            decision: "accept".into(),
            reply: "250".into(),
            service: "submission".into(),
            message_id: Some("<m1@a.example>".into()),
            headers: Some(b"Subject: x\r\n".to_vec()),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let _ = a;
    assert_eq!(s.sent_by_account("one@a.example", t0).await.unwrap(), 3);
    assert_eq!(s.sent_by_domain("a.example", t0).await.unwrap(), 3);
    assert_eq!(
        s.sent_by_account("one@a.example", mailhost_store::now_ms() + 60_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.sent_by_account("other@a.example", t0).await.unwrap(), 0);
    // evidence: search by account, ip, rule; export with headers
    let refusal = Evidence {
        ip: "198.51.100.7".into(),
        rule: "R-IN-1".into(),
        decision: "refuse".into(),
        reply: "554 5.7.1 relay denied".into(),
        service: "mx".into(),
        ..Default::default()
    };
    s.evidence_record(&refusal).await.unwrap();
    let all = s.evidence_search(&EvidenceQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].rule, "R-IN-1", "newest first");
    let by_ip = s
        .evidence_search(&EvidenceQuery {
            ip: Some("198.51.100.7".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ip.len(), 1);
    let by_acct = s
        .evidence_search(&EvidenceQuery {
            account: Some("one@a.example".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_acct.len(), 1);
    let e = s.evidence_get(by_acct[0].id).await.unwrap().unwrap();
    assert_eq!(e.headers.as_deref(), Some(&b"Subject: x\r\n"[..]));
    assert_eq!(e.message_id.as_deref(), Some("<m1@a.example>"));
    let future = s
        .evidence_search(&EvidenceQuery {
            since: Some(mailhost_store::now_ms() + 10_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
    // holds expire by themselves and can be released
    assert!(s.active_hold("one@a.example").await.unwrap().is_none());
    let h = s
        .hold_place(
            "one@a.example",
            "R-OUT-6",
            "over the hourly limit",
            60_000,
            &refusal,
        )
        .await
        .unwrap();
    assert_eq!(h.rule, "R-OUT-6");
    assert_eq!(
        s.active_hold("one@a.example").await.unwrap().unwrap().id,
        h.id
    );
    assert_eq!(s.hold_list().await.unwrap().len(), 1);
    assert_eq!(
        s.sent_by_account("one@a.example", t0).await.unwrap(),
        0,
        "a hold starts the count afresh"
    );
    assert_eq!(
        s.sent_by_domain("a.example", t0).await.unwrap(),
        3,
        "the domain's count stays"
    );
    assert_eq!(s.hold_release("one@a.example").await.unwrap(), 1);
    assert!(s.active_hold("one@a.example").await.unwrap().is_none());
    s.hold_place("one@a.example", "R-OUT-6", "short", 1, &refusal)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        s.active_hold("one@a.example").await.unwrap().is_none(),
        "expired"
    );
}

/// R-OUT-7: each queued recipient knows whether it was past its domain's
/// hourly limit, counted in commit order with the message's own.
async fn domain_limit_places(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    let send = |n: usize, limit: Option<i64>| {
        let s = s.clone();
        async move {
            s.deliver(NewMessage {
                body: b"Subject: x\r\n\r\n".to_vec(),
                outbound: (0..n)
                    .map(|i| Outbound {
                        sender: "u@a.example".into(),
                        rcpt: format!("r{i}@remote.example"),
                        account: Some("u@a.example".into()),
                    })
                    .collect(),
                send_log: Some(("u@a.example".into(), "a.example".into(), n as i64)),
                domain_limit: limit,
                ..Default::default()
            })
            .await
            .unwrap();
        }
    };
    let over = || async {
        s.queue_list()
            .await
            .unwrap()
            .iter()
            .map(|q| q.over_limit)
            .collect::<Vec<_>>()
    };
    send(2, Some(3)).await;
    assert_eq!(over().await, [false, false]);
    send(2, Some(3)).await;
    assert_eq!(
        over().await,
        [false, false, false, true],
        "the third recipient is the last within the limit"
    );
    send(1, None).await;
    assert_eq!(
        over().await,
        [false, false, false, true, false],
        "no limit given, none marked"
    );
    send(1, Some(100)).await;
    assert_eq!(over().await, [false, false, false, true, false, false]);
}

async fn quarantine(s: Store) {
    s.domain_add("a.example", "c@a.example", None)
        .await
        .unwrap();
    s.user_add("gone@a.example", "pw", None, None)
        .await
        .unwrap();
    s.user_add("keep@a.example", "pw", None, None)
        .await
        .unwrap();
    s.user_delete("gone@a.example", Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(matches!(
        s.resolve("gone@a.example").await.unwrap(),
        Resolved::Quarantined(_)
    ));
    let e = s
        .user_add("gone@a.example", "pw", None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("quarantined until") && e.contains("R-ADDR-7"),
        "{e}"
    );
    let e = s
        .alias_add("gone@a.example", &["keep@a.example".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("R-ADDR-7"), "{e}");
    // aliases are quarantined too; a short quarantine frees the address
    s.alias_add("info@a.example", &["keep@a.example".into()])
        .await
        .unwrap();
    s.alias_remove("info@a.example", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        s.resolve("info@a.example").await.unwrap(),
        Resolved::Unknown
    );
    s.user_add("info@a.example", "pw", None, None)
        .await
        .unwrap();
}

async fn packages_and_profile(s: Store) {
    assert!(matches!(
        s.package_set("bad name", None, None, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.package_set("p", Some(-1), None, None).await,
        Err(StoreError::Invalid(_))
    ));
    let p = s
        .package_set("Small", Some(50), Some(1 << 20), None)
        .await
        .unwrap();
    assert_eq!(
        (p.name.as_str(), p.hourly_limit, p.quota, p.max_forwards),
        ("small", Some(50), Some(1 << 20), None)
    );
    // Only the limits given change.
    let p = s.package_set("small", None, None, Some(2)).await.unwrap();
    assert_eq!(
        (p.hourly_limit, p.quota, p.max_forwards),
        (Some(50), Some(1 << 20), Some(2))
    );
    s.package_set("big", Some(5000), None, None).await.unwrap();
    assert_eq!(
        s.package_list()
            .await
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["big", "small"]
    );

    s.domain_add("a.example", "boss@corp.example", Some("small"))
        .await
        .unwrap();
    s.domain_add("b.example", "BOSS@corp.example", None)
        .await
        .unwrap();
    s.domain_add("c.example", "other@else.example", None)
        .await
        .unwrap();
    s.user_add("u@a.example", "pw-123456", None, None)
        .await
        .unwrap();
    s.user_add("v@a.example", "pw-123456", None, Some("big"))
        .await
        .unwrap();
    s.user_add("w@b.example", "pw-123456", None, None)
        .await
        .unwrap();
    assert!(matches!(
        s.user_add("x@b.example", "pw-123456", None, Some("nope"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let u = s.sender_profile("u@a.example").await.unwrap();
    assert_eq!(u.hourly_limit, Some(50), "the domain's package");
    assert_eq!(u.customer, "boss@corp.example");
    assert_eq!(u.customer_domains, ["a.example", "b.example"]);
    assert_eq!(
        s.sender_profile("v@a.example").await.unwrap().hourly_limit,
        Some(5000),
        "the mailbox's own package wins"
    );
    assert_eq!(
        s.sender_profile("w@b.example").await.unwrap().hourly_limit,
        None,
        "server default"
    );
    assert!(s.sender_profile("nobody@a.example").await.is_err());
}

async fn bulk_window(s: Store) {
    use mailhost_store::{new_cluster_id, BulkTrack};
    s.domain_add("a.example", "boss@corp.example", None)
        .await
        .unwrap();
    let mb = s
        .user_add("u@a.example", "pw-123456", None, None)
        .await
        .unwrap();
    let Resolved::Deliver(accts) = s.resolve(&mb).await.unwrap() else {
        panic!()
    };
    let now = mailhost_store::now_ms();
    let sig = vec![7u8; 32];
    let c1 = new_cluster_id();
    let send = |intro: bool, account: &str, rcpts: Vec<i64>, at: i64| {
        let msg = NewMessage {
            body: b"Subject: x\r\n\r\nhello\r\n".to_vec(),
            deliveries: vec![(accts[0].id, Vec::new())],
            bulk: Some(BulkTrack {
                cluster: c1,
                intro: intro.then(|| ("boss@corp.example".to_string(), sig.clone())),
                account: account.into(),
                rcpts,
                at,
            }),
            ..Default::default()
        };
        s.deliver(msg)
    };
    send(true, "u@a.example", vec![1, 2, 3], now - 10_000)
        .await
        .unwrap();
    send(false, "v@a.example", vec![3, -4], now).await.unwrap();
    let rows = s.bulk_log_after(0, 0, 100).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].intro,
        Some(("boss@corp.example".to_string(), sig.clone()))
    );
    assert_eq!(rows[1].intro, None);
    assert_eq!(
        rows.iter()
            .map(|x| (x.cluster, x.account.as_str(), x.rcpts.clone()))
            .collect::<Vec<_>>(),
        [
            (c1, "u@a.example", vec![1, 2, 3]),
            (c1, "v@a.example", vec![3, -4])
        ]
    );
    assert!(rows[0].id < rows[1].id);
    assert_eq!(
        s.bulk_log_after(rows[0].id, 0, 100).await.unwrap().len(),
        1,
        "after an id"
    );
    assert_eq!(
        s.bulk_log_after(0, now - 5_000, 100).await.unwrap().len(),
        1,
        "since"
    );
    assert_eq!(s.bulk_log_after(0, 0, 1).await.unwrap().len(), 1, "limit");
    assert_eq!(
        s.bulk_intros(0).await.unwrap(),
        1,
        "one row introduces content"
    );
    assert_eq!(s.bulk_intros(now - 5_000).await.unwrap(), 0, "since");
    assert_eq!(
        s.bulk_prune(now - 60_000).await.unwrap(),
        0,
        "nothing is old yet"
    );
    assert_eq!(s.bulk_prune(now - 5_000).await.unwrap(), 1);
    assert_eq!(s.bulk_prune(now + 1).await.unwrap(), 1);
    assert!(s.bulk_log_after(0, 0, 100).await.unwrap().is_empty());
    // Ids never go back, even once the log is empty: nodes follow it by id.
    send(false, "u@a.example", vec![5], now).await.unwrap();
    let again = s.bulk_log_after(0, 0, 100).await.unwrap();
    assert!(
        again[0].id > rows[1].id,
        "{} after {}",
        again[0].id,
        rows[1].id
    );
}
