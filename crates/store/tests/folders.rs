//! IMAP folders on both backends (R-POP-5): UIDs, MODSEQ and counters kept
//! in the transaction of each change, tombstones, one state with POP3,
//! bodies stored once, and the one-computer rule across protocols.

use mailhost_store::folders::{DELETED, SEEN};
use mailhost_store::{NewAppend, NewMessage, Store, StoreError};
use std::time::Duration;

#[macro_use]
mod common;

both!(
    new_mailbox_has_special_folders,
    delivery_uids_modseq_counters,
    flags_and_changes,
    expunge_copy_move,
    append_quota_and_rename,
    concurrent_appends,
    pop3_dele_is_an_expunge,
    one_computer_at_a_time
);

async fn setup(s: &Store) -> i64 {
    s.domain_add("a.example", "admin@a.example", None)
        .await
        .unwrap();
    s.user_add("u@a.example", "pw", None, None).await.unwrap();
    match s.resolve("u@a.example").await.unwrap() {
        mailhost_store::Resolved::Deliver(a) => a[0].id,
        r => panic!("{r:?}"),
    }
}

async fn deliver(s: &Store, id: i64, body: &[u8]) {
    s.deliver(NewMessage {
        body: body.to_vec(),
        deliveries: vec![(id, b"X-Prefix: 1\r\n".to_vec())],
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn inbox(s: &Store, id: i64) -> mailhost_store::Folder {
    s.folder(id, "INBOX").await.unwrap().unwrap()
}

async fn new_mailbox_has_special_folders(s: Store) {
    let id = setup(&s).await;
    let f = s.folders(id).await.unwrap();
    let names: Vec<_> = f
        .iter()
        .map(|f| (f.name.as_str(), f.special.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("Archive", Some("\\Archive")),
            ("Drafts", Some("\\Drafts")),
            ("INBOX", None),
            ("Junk", Some("\\Junk")),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash")),
        ]
    );
    assert_eq!(s.subscriptions(id).await.unwrap().len(), 6);
    // UIDVALIDITY differs between folders and is nonzero.
    assert!(f.iter().all(|f| f.uidvalidity() > 0));
    // Deleting the mailbox takes its folders along.
    s.user_delete("u@a.example", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(s.folders(id).await.unwrap().is_empty());
}

async fn delivery_uids_modseq_counters(s: Store) {
    let id = setup(&s).await;
    let before = inbox(&s, id).await;
    assert_eq!((before.uidnext, before.messages), (1, 0));
    for i in 0..3 {
        deliver(&s, id, format!("Subject: {i}\r\n\r\nbody\r\n").as_bytes()).await;
    }
    let f = inbox(&s, id).await;
    assert_eq!((f.uidnext, f.messages, f.unseen, f.deleted), (4, 3, 3, 0));
    assert_eq!(f.size, 3 * (13 + 20));
    assert_eq!(f.modseq, before.modseq + 3);
    let m = s.folder_messages(f.id).await.unwrap();
    assert_eq!(m.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2, 3]);
    // Each delivery has its own MODSEQ, ascending with the UIDs.
    assert!(m.windows(2).all(|w| w[0].modseq < w[1].modseq));
    // Concurrent deliveries: UIDs stay unique and dense.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            deliver(&s, id, format!("Subject: c{i}\r\n\r\nx\r\n").as_bytes()).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let m = s.folder_messages(f.id).await.unwrap();
    assert_eq!(
        m.iter().map(|m| m.uid).collect::<Vec<_>>(),
        (1..=23).collect::<Vec<_>>()
    );
    assert_eq!(inbox(&s, id).await.messages, 23);
}

async fn flags_and_changes(s: Store) {
    let id = setup(&s).await;
    for _ in 0..5 {
        deliver(&s, id, b"Subject: x\r\n\r\nbody\r\n").await;
    }
    let f = inbox(&s, id).await;
    let known = f.modseq;
    // +FLAGS (\Seen) on 2:4.
    s.store_flags(f.id, &[(2, 4)], -1, SEEN, None)
        .await
        .unwrap();
    let c = s.folder_changes(f.id, known).await.unwrap().unwrap();
    assert_eq!(
        c.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert!(c
        .changed
        .iter()
        .all(|m| m.flags == SEEN && m.modseq == c.folder.modseq));
    assert_eq!((c.folder.unseen, c.folder.deleted), (2, 0));
    // Replacing with \Deleted on 1:5, except what changed after `known`
    // (UNCHANGEDSINCE): only 1 and 5 change.
    s.store_flags(f.id, &[(1, 5)], 0, DELETED, Some(known))
        .await
        .unwrap();
    let c2 = s
        .folder_changes(f.id, c.folder.modseq)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 5]);
    assert_eq!((c2.folder.unseen, c2.folder.deleted), (2, 2));
    // -FLAGS (\Seen) on 3: unseen counts it again.
    s.store_flags(f.id, &[(3, 3)], !SEEN, 0, None)
        .await
        .unwrap();
    assert_eq!(inbox(&s, id).await.unseen, 3);
    // Nothing since the latest MODSEQ.
    let now = inbox(&s, id).await;
    let c3 = s.folder_changes(f.id, now.modseq).await.unwrap().unwrap();
    assert!(c3.changed.is_empty() && c3.expunged.is_empty());
    // Keywords get bits, case-insensitively, once.
    let k = s
        .keywords_add(
            id,
            &["$Forwarded".into(), "work".into(), "$forwarded".into()],
        )
        .await
        .unwrap();
    assert_eq!(k, [(5, "$Forwarded".to_string()), (6, "work".to_string())]);
    let k2 = s
        .keywords_add(id, &["WORK".into(), "x".into()])
        .await
        .unwrap();
    assert_eq!(k2.len(), 3);
    let many: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    assert!(matches!(
        s.keywords_add(id, &many).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn expunge_copy_move(s: Store) {
    let id = setup(&s).await;
    for _ in 0..6 {
        deliver(&s, id, b"Subject: x\r\n\r\nbody\r\n").await;
    }
    let f = inbox(&s, id).await;
    let used0 = s.user_quota("u@a.example").await.unwrap().used;
    s.store_flags(f.id, &[(2, 3)], -1, DELETED, None)
        .await
        .unwrap();
    // EXPUNGE on 1:6 only takes the \Deleted ones.
    s.expunge(id, f.id, &[(1, 6)], true).await.unwrap();
    let c = s.folder_changes(f.id, f.modseq).await.unwrap().unwrap();
    assert_eq!(c.expunged, [2, 3]);
    assert_eq!(
        (c.folder.messages, c.folder.deleted, c.folder.unseen),
        (4, 0, 4)
    );
    assert_eq!(s.expunged_since(f.id, f.modseq).await.unwrap(), [2, 3]);
    let used1 = s.user_quota("u@a.example").await.unwrap().used;
    assert_eq!(used0 - used1, 2 * 33);
    // COPY 4:5 to Archive: new UIDs there, flags kept, body shared.
    let archive = s.folder(id, "Archive").await.unwrap().unwrap();
    s.store_flags(f.id, &[(4, 4)], -1, SEEN, None)
        .await
        .unwrap();
    let a = s.copy(id, f.id, archive.id, &[4, 5], false).await.unwrap();
    assert_eq!(
        (a.uidvalidity, a.uids.clone()),
        (archive.uidvalidity(), vec![1, 2])
    );
    let ar = s.folder(id, "Archive").await.unwrap().unwrap();
    assert_eq!((ar.messages, ar.unseen, ar.uidnext), (2, 1, 3));
    assert_eq!(s.user_quota("u@a.example").await.unwrap().used, used1 + 66);
    let rows = s.fetch_rows(ar.id, &[(1, 2)], true).await.unwrap();
    let src = s.fetch_rows(f.id, &[(4, 5)], true).await.unwrap();
    assert_eq!(rows[0].blob, src[0].blob);
    assert_eq!(rows[1].data, src[1].data);
    // MOVE 1 and 6 to Trash: gone from INBOX, there in Trash.
    let trash = s.folder(id, "Trash").await.unwrap().unwrap();
    let m = s.copy(id, f.id, trash.id, &[1, 6], true).await.unwrap();
    assert_eq!(m.uids, [1, 2]);
    let inb = inbox(&s, id).await;
    assert_eq!(
        s.folder_messages(inb.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(s.user_quota("u@a.example").await.unwrap().used, used1 + 66);
    // Copying an expunged message fails as a whole.
    assert!(matches!(
        s.copy(id, f.id, trash.id, &[4, 6], false).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.folder(id, "Trash").await.unwrap().unwrap().messages, 2);
    // Deleting a folder frees its bytes and keeps bodies others hold.
    s.folder_delete(id, ar.id).await.unwrap();
    assert_eq!(s.user_quota("u@a.example").await.unwrap().used, used1);
    assert_eq!(
        s.fetch_rows(inb.id, &[(4, 5)], true).await.unwrap().len(),
        2
    );
}

async fn append_quota_and_rename(s: Store) {
    let id = setup(&s).await;
    let drafts = s.folder(id, "Drafts").await.unwrap().unwrap();
    let msg = |n: usize| NewAppend {
        data: vec![b'a'; n],
        flags: SEEN,
        date_ms: 1_000_000,
        summary: None,
    };
    let a = s.append(id, drafts.id, &[msg(10), msg(20)]).await.unwrap();
    assert_eq!(a.uids, [1, 2]);
    let d = s.folder_by_id(drafts.id).await.unwrap().unwrap();
    assert_eq!((d.messages, d.unseen, d.size, d.uidnext), (2, 0, 30, 3));
    let rows = s.fetch_rows(d.id, &[(1, 2)], true).await.unwrap();
    assert_eq!(rows[0].internal_ms, 1_000_000);
    assert_eq!(rows[1].data.as_deref(), Some(&[b'a'; 20][..]));
    // R-IN-3: an APPEND past the quota is refused whole.
    s.user_set_quota("u@a.example", Some(100)).await.unwrap();
    let e = s
        .append(id, drafts.id, &[msg(50), msg(50)])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::OverQuota(_)), "{e}");
    assert_eq!(
        s.folder_by_id(drafts.id).await.unwrap().unwrap().messages,
        2
    );
    // CREATE, RENAME with children; UIDVALIDITY stays.
    let p = s.folder_create(id, "p", None).await.unwrap();
    let c = s.folder_create(id, "p/c", None).await.unwrap();
    assert!(matches!(
        s.folder_create(id, "p", None).await,
        Err(StoreError::Conflict(_))
    ));
    s.folder_rename(id, &[(p.id, "q".into()), (c.id, "q/c".into())])
        .await
        .unwrap();
    let q = s.folder(id, "q/c").await.unwrap().unwrap();
    assert_eq!(q.uidvalidity(), c.uidvalidity());
    assert!(matches!(
        s.folder_rename(id, &[(q.id, "Drafts".into())]).await,
        Err(StoreError::Conflict(_))
    ));
    // Deleted and made again: a new UIDVALIDITY.
    s.folder_delete(id, q.id).await.unwrap();
    let again = s.folder_create(id, "q/c", None).await.unwrap();
    assert_ne!(again.uidvalidity(), q.uidvalidity());
    // RENAME INBOX moves its mail and leaves it empty.
    s.user_set_quota("u@a.example", None).await.unwrap();
    deliver(&s, id, b"Subject: x\r\n\r\nbody\r\n").await;
    let inb = inbox(&s, id).await;
    s.inbox_rename(id, inb.id, "old").await.unwrap();
    let old = s.folder(id, "old").await.unwrap().unwrap();
    assert_eq!((old.messages, old.uidnext), (1, 2));
    let inb2 = inbox(&s, id).await;
    assert_eq!((inb2.messages, inb2.uidnext, inb2.id), (0, 2, inb.id));
    assert_eq!(s.expunged_since(inb.id, inb.modseq).await.unwrap(), [1]);
    // New mail goes on with the next UID.
    deliver(&s, id, b"Subject: y\r\n\r\nbody\r\n").await;
    assert_eq!(s.folder_messages(inb.id).await.unwrap()[0].uid, 2);
}

async fn pop3_dele_is_an_expunge(s: Store) {
    let id = setup(&s).await;
    for _ in 0..3 {
        deliver(&s, id, b"Subject: x\r\n\r\nbody\r\n").await;
    }
    // POP3 serves INBOX only.
    let drafts = s.folder(id, "Drafts").await.unwrap().unwrap();
    s.append(
        id,
        drafts.id,
        &[NewAppend {
            data: b"draft".to_vec(),
            ..Default::default()
        }],
    )
    .await
    .unwrap();
    let list = s.list_messages(id).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.imap_uid).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let f = inbox(&s, id).await;
    s.delete_messages(id, &[list[0].id, list[2].id])
        .await
        .unwrap();
    let c = s.folder_changes(f.id, f.modseq).await.unwrap().unwrap();
    assert_eq!(c.expunged, [1, 3]);
    assert_eq!(c.folder.messages, 1);
}

async fn one_computer_at_a_time(s: Store) {
    let id = setup(&s).await;
    let ttl = Duration::from_secs(60);
    let open = |sid: &'static str, proto: &'static str, ip: &'static str| {
        let s = s.clone();
        async move {
            s.mail_session_open(sid, id, proto, ip, "n1", ttl)
                .await
                .unwrap()
        }
    };
    // Several IMAP sessions from one IP.
    assert!(open("i1", "imap", "10.0.0.1").await);
    assert!(open("i2", "imap", "10.0.0.1").await);
    // Not from a second IP, and no POP3 beside them.
    assert!(!open("i3", "imap", "10.0.0.2").await);
    assert!(!open("p1", "pop3", "10.0.0.1").await);
    s.mail_session_close("i1").await.unwrap();
    s.mail_session_close("i2").await.unwrap();
    // POP3 alone excludes everything, even IMAP from its own IP.
    assert!(open("p1", "pop3", "10.0.0.1").await);
    assert!(!open("i4", "imap", "10.0.0.1").await);
    assert!(!open("p2", "pop3", "10.0.0.1").await);
    assert!(s.mail_session_refresh("p1", ttl).await.unwrap());
    // A node that restarts drops its leases.
    s.release_node_locks("n1").await.unwrap();
    assert!(!s.mail_session_refresh("p1", ttl).await.unwrap());
    assert!(open("i5", "imap", "10.0.0.2").await);
    // An expired lease does not count.
    s.release_node_locks("n1").await.unwrap();
    assert!(s
        .mail_session_open(
            "old",
            id,
            "pop3",
            "10.0.0.9",
            "n2",
            Duration::from_millis(1)
        )
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(open("i6", "imap", "10.0.0.1").await);
}

async fn concurrent_appends(s: Store) {
    let id = setup(&s).await;
    let drafts = s.folder(id, "Drafts").await.unwrap().unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let m = NewAppend {
                data: format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
                ..Default::default()
            };
            s.append(id, drafts.id, &[m.clone(), m]).await.unwrap().uids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let uids = t.await.unwrap();
        // A MULTIAPPEND's UIDs are consecutive.
        assert_eq!(uids[1], uids[0] + 1);
        all.extend(uids);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=32).collect::<Vec<u32>>());
    let d = s.folder_by_id(drafts.id).await.unwrap().unwrap();
    assert_eq!((d.messages, d.uidnext, d.unseen), (32, 33, 32));
}
