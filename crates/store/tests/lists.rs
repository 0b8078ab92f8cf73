//! Mailing lists in the store on both backends: lists as addresses,
//! member states with their ledger events, single-use confirmations, the
//! owner-wide member cap under concurrent confirmations (R-LIST-5), the
//! append-only consent ledger (R-LIST-1) and the throttle's slots (R-LIST-6).

#[macro_use]
mod common;

use mailhost_store::lists::state;
use mailhost_store::{Confirmed, ConsentEvent, Resolved, Store, StoreError};

both!(
    lists_are_addresses,
    states_and_ledger,
    confirmation_is_single_use,
    owner_cap_counts_distinct_addresses,
    owner_cap_holds_under_concurrency,
    ledger_is_append_only,
    throttle_slots_are_spaced,
    member_keys_find_members
);

async fn setup(s: &Store) {
    s.domain_add("a.example", "boss@b.example", None)
        .await
        .unwrap();
    s.user_add("owner@a.example", "pw", None, None)
        .await
        .unwrap();
}

/// Invites `a` (not on the list yet) and checks it happened.
async fn invite(s: &Store, l: &mailhost_store::MailList, a: &str) {
    let e = ev(&l.address, a, "invited");
    assert!(s
        .list_transition(l.id, a, &[""], state::INVITED, &e)
        .await
        .unwrap());
}

fn ev(list: &str, addr: &str, event: &str) -> ConsentEvent {
    ConsentEvent {
        list: list.into(),
        address: addr.into(),
        event: event.into(),
        at: mailhost_store::now_ms(),
        at_local: "2026-12-07T08:00:00+02:00".into(),
        ip: Some("127.0.0.1".into()),
        method: "cli".into(),
        ..Default::default()
    }
}

async fn lists_are_addresses(s: Store) {
    setup(&s).await;
    let l = s
        .list_create("News@A.example", "owner@a.example", "News")
        .await
        .unwrap();
    assert_eq!(l.address, "news@a.example");
    assert_eq!(l.members, 0);
    assert!(s.is_list("news@a.example").await.unwrap());
    // The name is taken for mailboxes and aliases too, and the reverse.
    assert!(s
        .user_add("news@a.example", "pw", None, None)
        .await
        .is_err());
    assert!(matches!(
        s.list_create("owner@a.example", "owner@a.example", "")
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The owner is a mailbox of the same domain; '+' is for commands.
    assert!(s
        .list_create("x@a.example", "boss@b.example", "")
        .await
        .is_err());
    assert!(s
        .list_create("x@a.example", "nobody@a.example", "")
        .await
        .is_err());
    assert!(s
        .list_create("x+y@a.example", "owner@a.example", "")
        .await
        .is_err());
    assert!(!matches!(
        s.resolve("news@a.example").await.unwrap(),
        Resolved::Unknown | Resolved::NotHosted
    ));
    // Its owner cannot be deleted from under it.
    assert!(matches!(
        s.user_delete("owner@a.example", std::time::Duration::from_secs(60))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.list_delete(
        "news@a.example",
        &ev("news@a.example", "owner@a.example", "list-deleted"),
    )
    .await
    .unwrap();
    assert!(s.list_get("news@a.example").await.unwrap().is_none());
    assert!(!s.is_list("news@a.example").await.unwrap());
    // The ledger outlives the list.
    let page = s.consent_page("news@a.example", 0, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event, "list-deleted");
}

async fn states_and_ledger(s: Store) {
    setup(&s).await;
    let l = s
        .list_create("news@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let a = "Reader@x.example";
    invite(&s, &l, a).await;
    // Inviting again does nothing and records nothing.
    assert!(!s
        .list_transition(
            l.id,
            a,
            &[""],
            state::INVITED,
            &ev(&l.address, a, "invited")
        )
        .await
        .unwrap());
    let m = s.list_member(l.id, a).await.unwrap().unwrap();
    assert_eq!(
        (m.address.as_str(), m.state.as_str()),
        ("reader@x.example", "invited")
    );
    let page = s.consent_page(&l.address, 0, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].address, "Reader@x.example");
    // Paging goes on from the last id.
    assert!(s
        .consent_page(&l.address, page[0].id, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.list_members(l.id, &[state::INVITED], "", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .list_members(l.id, &[state::MEMBER], "", 10)
        .await
        .unwrap()
        .is_empty());
}

async fn confirmation_is_single_use(s: Store) {
    setup(&s).await;
    let l = s
        .list_create("news@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let a = "r@x.example";
    let e = ev(&l.address, a, "confirmed");
    assert_eq!(
        s.list_confirm(&l, a, "h1", 1000, &e).await.unwrap(),
        Confirmed::Joined
    );
    assert!(s.list_token_used("h1").await.unwrap());
    // The same link again: already a member, not an error.
    assert_eq!(
        s.list_confirm(&l, a, "h1", 1000, &e).await.unwrap(),
        Confirmed::AlreadyMember
    );
    // After leaving, the spent token cannot bring the address back.
    assert!(s
        .list_transition(
            l.id,
            a,
            &[state::MEMBER],
            state::UNSUBSCRIBED,
            &ev(&l.address, a, "unsubscribed")
        )
        .await
        .unwrap());
    assert!(matches!(
        s.list_confirm(&l, a, "h1", 1000, &e).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.list_get(&l.address).await.unwrap().unwrap().members, 0);
    // A fresh confirmation does.
    assert_eq!(
        s.list_confirm(&l, a, "h2", 1000, &e).await.unwrap(),
        Confirmed::Joined
    );
    assert_eq!(s.list_get(&l.address).await.unwrap().unwrap().members, 1);
}

async fn owner_cap_counts_distinct_addresses(s: Store) {
    setup(&s).await;
    let a = s
        .list_create("a@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let b = s
        .list_create("b@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let cap = 6;
    for i in 0..4 {
        let m = format!("m{i}@x.example");
        s.list_confirm(
            &a,
            &m,
            &format!("a{i}"),
            cap,
            &ev(&a.address, &m, "confirmed"),
        )
        .await
        .unwrap();
        // The same addresses on the second list count once.
        s.list_confirm(
            &b,
            &m,
            &format!("b{i}"),
            cap,
            &ev(&b.address, &m, "confirmed"),
        )
        .await
        .unwrap();
    }
    assert_eq!(s.owner_member_count("owner@a.example").await.unwrap(), 4);
    for i in 4..6 {
        let m = format!("m{i}@x.example");
        s.list_confirm(
            &b,
            &m,
            &format!("b{i}"),
            cap,
            &ev(&b.address, &m, "confirmed"),
        )
        .await
        .unwrap();
    }
    // A seventh distinct address on either list passes the cap.
    let m = "m7@x.example";
    let r = s
        .list_confirm(&a, m, "a7", cap, &ev(&a.address, m, "confirmed"))
        .await;
    assert!(matches!(r, Err(StoreError::LimitReached(_))), "{r:?}");
    // Refused as a whole: no member, the token unspent, no ledger event.
    assert!(s.list_member(a.id, m).await.unwrap().is_none());
    assert!(!s.list_token_used("a7").await.unwrap());
    assert!(s
        .consent_page(&a.address, 0, 100)
        .await
        .unwrap()
        .iter()
        .all(|e| e.address != m));
}

async fn owner_cap_holds_under_concurrency(s: Store) {
    setup(&s).await;
    let a = s
        .list_create("a@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let b = s
        .list_create("b@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let cap = 10;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (s, l) = (s.clone(), if i % 2 == 0 { a.clone() } else { b.clone() });
        tasks.push(tokio::spawn(async move {
            let m = format!("c{i}@x.example");
            s.list_confirm(
                &l,
                &m,
                &format!("t{i}"),
                cap,
                &ev(&l.address, &m, "confirmed"),
            )
            .await
        }));
    }
    let mut joined = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Confirmed::Joined) => joined += 1,
            Err(StoreError::LimitReached(_)) => {}
            r => panic!("{r:?}"),
        }
    }
    assert_eq!(joined, cap);
    assert_eq!(s.owner_member_count("owner@a.example").await.unwrap(), cap);
}

async fn ledger_is_append_only(s: Store) {
    setup(&s).await;
    s.consent_append(&ev("news@a.example", "r@x.example", "invited"))
        .await
        .unwrap();
    for sql in [
        "UPDATE list_consent SET event = 'confirmed'",
        "DELETE FROM list_consent",
    ] {
        let r = s
            .batch(vec![mailhost_store::db::Stmt::new(sql, vec![])])
            .await;
        assert!(r.is_err(), "{sql} was allowed");
    }
    let page = s.consent_page("news@a.example", 0, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event, "invited");
}

async fn throttle_slots_are_spaced(s: Store) {
    setup(&s).await;
    let l = s
        .list_create("news@a.example", "owner@a.example", "")
        .await
        .unwrap();
    let now = 1_000_000;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.list_take_slot(l.id, now, 6000).await.unwrap()
        }));
    }
    let mut slots = Vec::new();
    for t in tasks {
        slots.push(t.await.unwrap());
    }
    slots.sort();
    let want: Vec<i64> = (0..20).map(|i| now + i * 6000).collect();
    assert_eq!(slots, want);
    // Later, with the schedule in the past, the next slot is now.
    assert_eq!(
        s.list_take_slot(l.id, now + 1_000_000, 6000).await.unwrap(),
        now + 1_000_000
    );
}

/// Compact tokens name a member by its key (schema 14): set when the
/// member is added, filled in for members kept before, found by lookup.
async fn member_keys_find_members(s: Store) {
    use mailhost_store::db::Stmt;
    use mailhost_store::lists::member_key;
    setup(&s).await;
    let l = s
        .list_create("news@a.example", "owner@a.example", "")
        .await
        .unwrap();
    for a in ["x@b.example", "y@b.example"] {
        invite(&s, &l, a).await;
    }
    let key = member_key(l.id, "X@B.example");
    assert_eq!(key.len(), 12);
    assert_eq!(
        s.list_members_by_key(&key).await.unwrap(),
        vec![("news@a.example".to_string(), "x@b.example".to_string())]
    );
    assert_eq!(s.list_fill_keys().await.unwrap(), 0);
    // A member from before schema 14 (no key) gets one.
    s.batch(vec![Stmt::new(
        "UPDATE list_members SET tkey = NULL WHERE address = ?",
        vec!["y@b.example".into()],
    )])
    .await
    .unwrap();
    let y = member_key(l.id, "y@b.example");
    assert!(s.list_members_by_key(&y).await.unwrap().is_empty());
    assert_eq!(s.list_fill_keys().await.unwrap(), 1);
    assert_eq!(s.list_members_by_key(&y).await.unwrap().len(), 1);
    assert!(s
        .list_members_by_key("000000000000")
        .await
        .unwrap()
        .is_empty());
}
