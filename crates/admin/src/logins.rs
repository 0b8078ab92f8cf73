//! Admin logins (R-WEB-5), API tokens, and the first operator of a new
//! store.

use crate::caller::{Caller, Error, Role};
use crate::views::{AdminLogin, NewToken, Token};
use crate::{Admin, Result};
use mailhost_store::address::login_to_address;
use mailhost_store::{normalize_login, now_ms, random_secret};
use serde_json::json;

/// The operator login made on an empty store, with its one-time password.
#[derive(Debug, Clone)]
pub struct FirstOperator {
    pub login: String,
    pub password: String,
}

/// The login the first `serve` makes.
const FIRST_LOGIN: &str = "admin";

impl Admin {
    /// Who `login` is (an admin login or a mailbox address) when it signs
    /// in or presents a token; None if it no longer exists or is
    /// suspended.
    pub async fn caller_for(&self, login: &str, ip: Option<&str>) -> Result<Option<Caller>> {
        let ip = ip.map(str::to_string);
        if let Some(addr) = login_to_address(login) {
            let Some(u) = self.store.user_get(&addr).await? else {
                return Ok(None);
            };
            if u.kind != "mailbox" || u.suspended {
                return Ok(None);
            }
            return Ok(Some(Caller {
                login: addr.clone(),
                role: Role::User(addr),
                ip,
            }));
        }
        Ok(self.store.admin_get(login).await?.map(|a| Caller {
            role: if a.operator {
                Role::Operator
            } else {
                Role::DomainAdmin(a.domains)
            },
            login: a.login,
            ip,
        }))
    }

    /// The caller behind a bearer token (its last use is recorded).
    pub async fn authenticate_token(&self, token: &str, ip: &str) -> Result<Caller> {
        let bad = || Error::unauthorized("a valid API token is required (Authorization: Bearer …)");
        let Some(t) = self.store.token_use(token, ip).await? else {
            return Err(bad());
        };
        self.caller_for(&t.login, Some(ip)).await?.ok_or_else(bad)
    }

    /// On an empty store, makes the operator login `admin` with a random
    /// one-time password that must be changed at first sign-in.
    pub async fn first_operator(&self) -> Result<Option<FirstOperator>> {
        if self.store.admin_count().await? > 0 {
            return Ok(None);
        }
        let password = random_secret()[..20].to_string();
        match self
            .store
            .admin_add(FIRST_LOGIN, &password, true, &[], true)
            .await
        {
            Ok(_) => Ok(Some(FirstOperator {
                login: FIRST_LOGIN.into(),
                password,
            })),
            // Another node made it first.
            Err(mailhost_store::StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds an admin login. Without a password it gets a random
    /// one-time one (in the result), to be changed at first sign-in.
    pub async fn admin_add(
        &self,
        c: &Caller,
        login: &str,
        operator: bool,
        domains: &[String],
        password: Option<&str>,
    ) -> Result<(AdminLogin, Option<String>)> {
        let l = normalize_login(login).map_err(Error::field("login"))?;
        self.scope_operator(c, "admin.add", &l).await?;
        let one_time = password
            .is_none()
            .then(|| random_secret()[..20].to_string());
        let password = password.or(one_time.as_deref()).unwrap_or_default();
        let a = self
            .audited(
                c,
                "admin.add",
                &l,
                None,
                Some(json!({"operator": operator, "domains": domains})),
                vec![],
                self.store
                    .admin_add(&l, password, operator, domains, one_time.is_some()),
            )
            .await
            .map_err(|e| {
                let m = e.message.to_ascii_lowercase();
                match () {
                    _ if m.contains("password") => e.at("password"),
                    _ if m.contains("domain") => e.at("domains"),
                    _ => e.at("login"),
                }
            })?;
        Ok((a.into(), one_time))
    }

    pub async fn admin_list(&self, c: &Caller) -> Result<Vec<AdminLogin>> {
        self.scope_operator(c, "admin.list", "admins").await?;
        Ok(self
            .store
            .admin_list()
            .await?
            .into_iter()
            .map(AdminLogin::from)
            .collect())
    }

    pub async fn admin_remove(&self, c: &Caller, login: &str) -> Result<()> {
        let l = normalize_login(login).map_err(Error::field("login"))?;
        self.scope_operator(c, "admin.remove", &l).await?;
        if c.login == l {
            return Err(Error::conflict("you cannot remove your own login").at("login"));
        }
        self.audited(
            c,
            "admin.remove",
            &l,
            None,
            None,
            vec![],
            self.store.admin_remove(&l),
        )
        .await
    }

    /// Sets an admin's password: its own (with the current one), or any
    /// as the operator (then it is one-time, to be changed at sign-in).
    pub async fn admin_passwd(
        &self,
        c: &Caller,
        login: &str,
        password: &str,
        current: Option<&str>,
    ) -> Result<()> {
        let l = normalize_login(login).map_err(Error::field("login"))?;
        let own = c.login == l && !matches!(c.role, Role::User(_));
        if !own {
            self.scope_operator(c, "admin.passwd", &l).await?;
        } else {
            let cur = current.ok_or_else(|| {
                Error::invalid("current", "give your current password to set a new one")
            })?;
            if self.store.admin_verify(&l, cur).await?.is_none() {
                return Err(Error::invalid(
                    "current",
                    "the current password is not right",
                ));
            }
        }
        self.audited(
            c,
            "admin.passwd",
            &l,
            None,
            None,
            vec![],
            self.store.admin_passwd(&l, password, !own),
        )
        .await
        .map_err(|e| match e.kind {
            crate::Kind::Invalid => e.at("password"),
            _ => e,
        })
    }

    // ---- API tokens ----

    /// A token for `login`: any login for the operator, else the caller's
    /// own. Its secret is in the result, this once.
    pub async fn token_create(
        &self,
        c: &Caller,
        login: &str,
        name: Option<&str>,
        expires_in_ms: Option<i64>,
    ) -> Result<NewToken> {
        let who = self.caller_for(login, None).await?.ok_or_else(|| {
            Error::not_found(format!("no such admin login or active mailbox: {login}")).at("login")
        })?;
        if who.login != c.login {
            self.scope_operator(c, "token.create", &who.login).await?;
        }
        let expires = expires_in_ms.map(|d| now_ms() + d);
        let name = name.unwrap_or("api").to_string();
        let (id, secret) = self
            .audited(
                c,
                "token.create",
                &who.login,
                None,
                Some(json!({"name": name})),
                vec![],
                self.store.token_create(&who.login, &name, expires),
            )
            .await
            .map_err(|e| e.at("name"))?;
        let t = self
            .store
            .token_get(id)
            .await?
            .ok_or_else(|| Error::internal("the new token vanished"))?;
        Ok(NewToken {
            token: t.into(),
            secret,
        })
    }

    /// Tokens of `login` (the operator: of any, or all), else the
    /// caller's own.
    pub async fn token_list(&self, c: &Caller, login: Option<&str>) -> Result<Vec<Token>> {
        let login = match (login, c.is_operator()) {
            (l, true) => l.map(|l| login_to_address(l).unwrap_or_else(|| l.to_ascii_lowercase())),
            (_, false) => Some(c.login.clone()),
        };
        Ok(self
            .store
            .token_list(login.as_deref())
            .await?
            .into_iter()
            .map(Token::from)
            .collect())
    }

    /// Revokes a token: any for the operator, else one of the caller's
    /// own (others' are "not found": their ids tell nothing).
    pub async fn token_revoke(&self, c: &Caller, id: i64) -> Result<()> {
        let t = self.store.token_get(id).await?;
        let Some(t) = t.filter(|t| c.is_operator() || t.login == c.login) else {
            return Err(Error::not_found(format!("no such token: {id}")));
        };
        self.audited(
            c,
            "token.revoke",
            &t.login,
            Some(json!({"id": id, "name": t.name})),
            None,
            vec![],
            self.store.token_revoke(id),
        )
        .await
    }
}
