//! The service layer's roles and scopes, audit records and notices, on
//! SQLite (the JSON API's tests run the same on PostgreSQL).

use mailhost_admin::{Admin, Caller, Kind, NewUser, PageReq, Role, UserPatch};
use mailhost_config::Config;
use mailhost_store::Store;
use std::sync::Arc;

async fn admin() -> (Admin, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let mut config = Config::default();
    config.dkim.rsa_bits = 1024;
    let a = Admin::new(store, Arc::new(config));
    let op = Caller::cli();
    for d in ["a.example", "b.example"] {
        a.domain_add(&op, d, &format!("boss@{d}"), None)
            .await
            .unwrap();
        a.user_add(
            &op,
            NewUser {
                address: format!("u@{d}"),
                password: "pw-123456".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    (a, dir)
}

fn domain_admin() -> Caller {
    Caller {
        login: "alice".into(),
        role: Role::DomainAdmin(vec!["a.example".into()]),
        ip: Some("192.0.2.7".into()),
    }
}

fn user(addr: &str) -> Caller {
    Caller {
        login: addr.into(),
        role: Role::User(addr.into()),
        ip: Some("192.0.2.8".into()),
    }
}

#[tokio::test]
async fn a_domain_admin_reaches_only_its_domain() {
    let (a, _d) = admin().await;
    let c = domain_admin();
    let p = PageReq::default();
    assert_eq!(
        a.user_list(&c, "a.example", &p).await.unwrap().items.len(),
        3
    );
    // Existing and absent objects of b.example are refused alike.
    for addr in ["u@b.example", "nobody@b.example"] {
        assert_eq!(
            a.user_get(&c, addr).await.unwrap_err().kind,
            Kind::Forbidden
        );
        assert_eq!(
            a.user_delete(&c, addr).await.unwrap_err().kind,
            Kind::Forbidden
        );
        assert_eq!(
            a.forward_set(&c, addr, &["x@elsewhere.example".into()], false, false)
                .await
                .unwrap_err()
                .kind,
            Kind::Forbidden
        );
    }
    assert_eq!(
        a.user_list(&c, "b.example", &p).await.unwrap_err().kind,
        Kind::Forbidden
    );
    // An alias of its own domain may not deliver into another tenant.
    let e = a
        .alias_add(&c, "team@a.example", &["u@b.example".into()])
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (Kind::Forbidden, Some("targets"))
    );
    // Quotas and packages are the operator's.
    let e = a
        .user_update(
            &c,
            "u@a.example",
            UserPatch {
                quota: Some(Some(1 << 30)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, Kind::Forbidden);
    let domains = a.domain_list(&c, &p).await.unwrap();
    assert_eq!(domains.items.len(), 1);
    assert_eq!(domains.items[0].domain, "a.example");
    // The refusals are in the audit log.
    let log = a
        .audit_list(&Caller::cli(), Some("alice"), None, &p)
        .await
        .unwrap();
    assert!(log.items.iter().all(|r| r.action.starts_with("denied:")));
    assert!(log.items.iter().any(|r| r.object == "nobody@b.example"));
}

#[tokio::test]
async fn a_user_manages_itself_and_needs_its_current_password() {
    let (a, _d) = admin().await;
    let c = user("u@a.example");
    let p = PageReq::default();
    assert_eq!(
        a.user_list(&c, "a.example", &p).await.unwrap_err().kind,
        Kind::Forbidden
    );
    assert_eq!(
        a.user_get(&c, "v@a.example").await.unwrap_err().kind,
        Kind::Forbidden
    );
    assert_eq!(
        a.user_update(
            &c,
            "u@a.example",
            UserPatch {
                suspended: Some(true),
                ..Default::default()
            }
        )
        .await
        .unwrap_err()
        .kind,
        Kind::Forbidden,
        "suspension is the domain admin's"
    );
    // `local%domain` names the same mailbox (R-ADDR-1).
    assert_eq!(
        a.user_get(&c, "u%a.example").await.unwrap().address,
        "u@a.example"
    );
    let e = a
        .user_passwd(&c, "u@a.example", "new-pw-1", None)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("current"));
    let e = a
        .user_passwd(&c, "u@a.example", "new-pw-1", Some("wrong"))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("current"));
    a.user_passwd(&c, "u@a.example", "new-pw-1", Some("pw-123456"))
        .await
        .unwrap();
    let f = a
        .forward_set(
            &c,
            "u@a.example",
            &["x@elsewhere.example".into()],
            true,
            false,
        )
        .await
        .unwrap();
    assert!(f.keep_copy);
    assert_eq!(
        a.forward_set(
            &c,
            "u@a.example",
            &["x@elsewhere.example".into()],
            true,
            true
        )
        .await
        .unwrap_err()
        .field
        .as_deref(),
        Some("destinations"),
        "only the operator forces past the limit"
    );
    assert!(a.notice_list(&c, &p).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn every_change_is_audited_with_before_and_after() {
    let (a, _d) = admin().await;
    let c = domain_admin();
    a.user_update(
        &c,
        "u@a.example",
        UserPatch {
            suspended: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let log = a
        .audit_list(
            &Caller::cli(),
            None,
            Some("u@a.example"),
            &PageReq::default(),
        )
        .await
        .unwrap();
    let r = &log.items[0];
    assert_eq!(r.action, "user.suspend");
    assert_eq!(r.actor, "alice");
    assert_eq!(r.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(r.before.as_deref(), Some(r#"{"suspended":false}"#));
    assert_eq!(r.after.as_deref(), Some(r#"{"suspended":true}"#));
    assert_eq!(log.items[1].action, "user.add");
    // A refused change leaves no audit record of a change.
    a.user_delete(&c, "nobody@a.example").await.unwrap_err();
    let log = a
        .audit_list(
            &Caller::cli(),
            None,
            Some("nobody@a.example"),
            &PageReq::default(),
        )
        .await
        .unwrap();
    assert!(log.items.is_empty());
}

#[tokio::test]
async fn pages_are_bounded_and_follow_their_cursor() {
    let (a, _d) = admin().await;
    let op = Caller::cli();
    for i in 0..7 {
        a.user_add(
            &op,
            NewUser {
                address: format!("m{i}@a.example"),
                password: "pw-123456".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let mut p = PageReq {
        limit: Some(4),
        ..Default::default()
    };
    let mut seen = vec![];
    loop {
        let page = a.user_list(&op, "a.example", &p).await.unwrap();
        assert!(page.items.len() <= 4);
        seen.extend(page.items.into_iter().map(|u| u.address));
        match page.next {
            Some(n) => p.cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    let found = a
        .user_list(
            &op,
            "a.example",
            &PageReq {
                prefix: Some("M".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 7);
    for bad in [0, 201] {
        let e = a
            .user_list(
                &op,
                "a.example",
                &PageReq {
                    limit: Some(bad),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.field.as_deref()), (Kind::Invalid, Some("limit")));
    }
}

#[tokio::test]
async fn a_notice_reaches_every_contact_once() {
    let (a, _d) = admin().await;
    let op = Caller::cli();
    // Two domains with one contact: one message to it.
    a.domain_set(&op, "b.example", Some("u@a.example"), None)
        .await
        .unwrap();
    a.domain_set(&op, "a.example", Some("u@a.example"), None)
        .await
        .unwrap();
    assert_eq!(
        a.notice_publish(&domain_admin(), "t", "b")
            .await
            .unwrap_err()
            .kind,
        Kind::Forbidden
    );
    let n = a
        .notice_publish(&op, "Policy amendment", "New limits from January.")
        .await
        .unwrap();
    assert_eq!(n.title, "Policy amendment");
    let u = a.user_get(&op, "u@a.example").await.unwrap();
    assert_eq!(u.messages, 1);
    let list = a
        .notice_list(&user("u@b.example"), &PageReq::default())
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
}

#[tokio::test]
async fn tokens_act_for_their_login_until_revoked() {
    let (a, _d) = admin().await;
    let op = Caller::cli();
    let (l, one_time) = a
        .admin_add(&op, "alice", false, &["a.example".into()], None)
        .await
        .unwrap();
    assert!(l.must_change && one_time.is_some());
    let t = a
        .token_create(&op, "alice", Some("ci"), None)
        .await
        .unwrap();
    let c = a.authenticate_token(&t.secret, "192.0.2.9").await.unwrap();
    assert_eq!(c.role, Role::DomainAdmin(vec!["a.example".into()]));
    assert_eq!(
        a.token_list(&c, None).await.unwrap()[0].last_ip.as_deref(),
        Some("192.0.2.9")
    );
    // Others' tokens are invisible to a domain admin.
    let ut = a
        .token_create(&op, "u@a.example", None, None)
        .await
        .unwrap();
    assert_eq!(
        a.token_revoke(&c, ut.token.id).await.unwrap_err().kind,
        Kind::NotFound
    );
    let uc = a.authenticate_token(&ut.secret, "192.0.2.9").await.unwrap();
    assert_eq!(uc.role, Role::User("u@a.example".into()));
    // Suspension stops a user's token at once.
    a.user_update(
        &op,
        "u@a.example",
        UserPatch {
            suspended: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        a.authenticate_token(&ut.secret, "192.0.2.9")
            .await
            .unwrap_err()
            .kind,
        Kind::Unauthorized
    );
    a.token_revoke(&c, t.token.id).await.unwrap();
    assert_eq!(
        a.authenticate_token(&t.secret, "192.0.2.9")
            .await
            .unwrap_err()
            .kind,
        Kind::Unauthorized
    );
    for bad in ["", "mh_", "Bearer x", &"mh_".repeat(20)] {
        assert!(a.authenticate_token(bad, "192.0.2.9").await.is_err());
    }
    // An expired token is refused.
    let t = a
        .token_create(&op, "alice", Some("short"), Some(-1))
        .await
        .unwrap();
    assert!(a.authenticate_token(&t.secret, "192.0.2.9").await.is_err());
}
