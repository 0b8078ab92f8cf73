//! Two-step sign-in and app passwords through the service layer (the
//! browser test checks the same with an independent TOTP implementation).

use mailhost_admin::{Admin, Caller, Kind, NewUser, Role, TotpStatus, STAGE_FULL, STAGE_TOTP};
use mailhost_config::Config;
use mailhost_store::{AuthResult, Store};
use std::sync::Arc;

async fn admin() -> (Admin, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let mut config = Config::default();
    config.dkim.rsa_bits = 1024;
    config.server.hostname = "mx.a.example".into();
    let a = Admin::new(store, Arc::new(config));
    let op = Caller::cli();
    a.domain_add(&op, "a.example", "boss@a.example", None)
        .await
        .unwrap();
    a.user_add(
        &op,
        NewUser {
            address: "u@a.example".into(),
            password: "pw-123456".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (a, dir)
}

fn user() -> Caller {
    Caller {
        login: "u@a.example".into(),
        role: Role::User("u@a.example".into()),
        ip: Some("192.0.2.8".into()),
    }
}

fn code_now(secret: &str) -> String {
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    t.generate_current().to_string()
}

#[tokio::test]
async fn totp_turns_on_with_a_code_and_each_code_works_once() {
    let (a, _d) = admin().await;
    let c = user();
    assert_eq!(a.totp_status(&c).await.unwrap(), TotpStatus::Off);
    let setup = a.totp_begin(&c).await.unwrap();
    assert!(setup.uri.starts_with("otpauth://totp/"), "{}", setup.uri);
    assert!(setup.uri.contains("issuer=mx.a.example"), "{}", setup.uri);
    assert!(matches!(
        a.totp_status(&c).await.unwrap(),
        TotpStatus::Pending(_)
    ));
    let wrong = a.totp_confirm(&c, "000000x").await.unwrap_err();
    assert_eq!(wrong.field.as_deref(), Some("code"));
    let code = code_now(&setup.secret);
    let codes = a.totp_confirm(&c, &code).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        a.totp_status(&c).await.unwrap(),
        TotpStatus::On { recovery_left: 10 }
    );
    // A second set-up is refused while one is on.
    assert_eq!(a.totp_begin(&c).await.unwrap_err().kind, Kind::Conflict);

    // The password alone leads half-way; the code just used is spent.
    let s = a
        .sign_in("u@a.example", "pw-123456", "192.0.2.8")
        .await
        .unwrap();
    assert_eq!(s.session.stage, STAGE_TOTP);
    let e = a
        .second_factor(&s.token, &code, "192.0.2.8")
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("code"));
    // A recovery code works, once.
    let full = a
        .second_factor(&s.token, &codes[0].to_uppercase(), "192.0.2.8")
        .await
        .unwrap();
    assert_eq!(full.session.stage, STAGE_FULL);
    assert_ne!(
        full.token, s.token,
        "a new session token after the second step"
    );
    assert!(a.session(&s.token, "192.0.2.8").await.unwrap().is_none());
    let s2 = a
        .sign_in("u@a.example", "pw-123456", "192.0.2.8")
        .await
        .unwrap();
    assert!(a
        .second_factor(&s2.token, &codes[0], "192.0.2.8")
        .await
        .is_err());
    assert_eq!(
        a.totp_status(&c).await.unwrap(),
        TotpStatus::On { recovery_left: 9 }
    );
    // A full session cannot take the second step again.
    assert_eq!(
        a.second_factor(&full.token, &codes[1], "192.0.2.8")
            .await
            .unwrap_err()
            .kind,
        Kind::Unauthorized
    );

    // Off needs the password.
    assert!(a.totp_off(&c, "nope").await.is_err());
    a.totp_off(&c, "pw-123456").await.unwrap();
    assert_eq!(a.totp_status(&c).await.unwrap(), TotpStatus::Off);
    let s3 = a
        .sign_in("u@a.example", "pw-123456", "192.0.2.8")
        .await
        .unwrap();
    assert_eq!(s3.session.stage, STAGE_FULL);
}

#[tokio::test]
async fn mail_clients_of_a_two_step_mailbox_use_app_passwords() {
    let (a, _d) = admin().await;
    let c = user();
    let st = a.store().clone();
    let setup = a.totp_begin(&c).await.unwrap();
    a.totp_confirm(&c, &code_now(&setup.secret)).await.unwrap();
    assert!(matches!(
        st.authenticate_mail("u@a.example", "pw-123456", "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::AppPasswordRequired
    ));
    let bad = a
        .app_password_create(&c, "u@a.example", "phone", &["ftp".into()])
        .await
        .unwrap_err();
    assert_eq!(bad.field.as_deref(), Some("protocols"));
    let p = a
        .app_password_create(&c, "u@a.example", "phone", &["pop3".into()])
        .await
        .unwrap();
    assert_eq!(p.app_password.protocols, vec!["pop3"]);
    assert!(matches!(
        st.authenticate_mail("u%a.example", &p.secret, "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Ok(_)
    ));
    // Typed with spaces instead of dashes, in capitals: the same.
    let typed = p.secret.replace('-', " ").to_uppercase();
    assert!(matches!(
        st.authenticate_mail("u@a.example", &typed, "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Ok(_)
    ));
    // Not for another protocol, nor another mailbox.
    assert!(matches!(
        st.authenticate_mail("u@a.example", &p.secret, "smtp", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Failed
    ));
    assert!(matches!(
        st.authenticate_mail("boss@a.example", &p.secret, "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Failed
    ));
    // The mail login is in the user's recent logins, once per ten minutes.
    let logins = a.my_logins(&c).await.unwrap();
    assert_eq!(
        logins.iter().filter(|l| l.2 == "pop3").count(),
        1,
        "{logins:?}"
    );
    assert_eq!(logins[0].1, "192.0.2.9");
    let list = a.app_password_list(&c, "u@a.example").await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].last_used.is_some());

    // Another domain's admin sees nothing; this domain's admin may reset.
    let other = Caller {
        login: "bob".into(),
        role: Role::DomainAdmin(vec!["b.example".into()]),
        ip: None,
    };
    assert_eq!(
        a.app_password_list(&other, "u@a.example")
            .await
            .unwrap_err()
            .kind,
        Kind::Forbidden
    );
    assert_eq!(
        a.totp_reset(&other, "u@a.example").await.unwrap_err().kind,
        Kind::Forbidden
    );
    a.app_password_revoke(&c, "u@a.example", p.app_password.id)
        .await
        .unwrap();
    assert!(matches!(
        st.authenticate_mail("u@a.example", &p.secret, "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Failed
    ));
    let mine = Caller {
        login: "alice".into(),
        role: Role::DomainAdmin(vec!["a.example".into()]),
        ip: None,
    };
    a.totp_reset(&mine, "u@a.example").await.unwrap();
    assert!(matches!(
        st.authenticate_mail("u@a.example", "pw-123456", "pop3", "192.0.2.9")
            .await
            .unwrap(),
        AuthResult::Ok(_)
    ));
}
