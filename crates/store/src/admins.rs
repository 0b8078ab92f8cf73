//! The people who manage the service (R-WEB-5): operator and domain-admin
//! logins, and the API tokens of every login (admins and mailbox users).
//!
//! Admin login names hold no `@` or `%`, so that a login name is never
//! both an admin and a mailbox (`local%domain`, R-ADDR-1).

use crate::address::normalize_domain;
use crate::db::{Row, Stmt, Val};
use crate::{now_ms, password, Result, Store, StoreError};
use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct AdminLogin {
    pub login: String,
    pub operator: bool,
    /// The domains a domain admin manages (empty for an operator).
    pub domains: Vec<String>,
    /// A one-time password that must be changed at the next sign-in.
    pub must_change: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: i64,
    /// An admin login or a mailbox address.
    pub login: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_ip: Option<String>,
}

/// Tokens are `mh_` and 128 random bits in hex.
const TOKEN_PREFIX: &str = "mh_";
/// The last use of a token is written at most this often, so that a
/// busy API client does not turn every read into a write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// An admin login name: 1–64 of `a-z 0-9 . _ -`, lowercased.
pub fn normalize_login(login: &str) -> Result<String> {
    let l = login.trim().to_ascii_lowercase();
    if l.is_empty() || l.len() > 64 {
        return Err(StoreError::Invalid(
            "an admin login is 1 to 64 characters".into(),
        ));
    }
    if !l
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(StoreError::Invalid(format!(
            "admin login {login:?}: use letters, digits, '.', '_' and '-' only (no '@' or '%': those are mailbox logins)"
        )));
    }
    Ok(l)
}

/// The SHA-256 of a secret token, as stored.
pub fn token_hash(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: 128 random bits in hex.
pub fn random_secret() -> String {
    let r: u128 = rand::rng().random();
    format!("{r:032x}")
}

fn token_row(r: &Row) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.i64(0)?,
        login: r.text(1)?,
        name: r.text(2)?,
        created_at: r.i64(3)?,
        expires_at: r.opt_i64(4)?,
        last_used_at: r.opt_i64(5)?,
        last_ip: r.opt_text(6)?,
    })
}

/// `SELECT` of the columns [`token_row`] reads, then the rest.
macro_rules! tokens_where {
    ($rest:literal) => {
        concat!(
            "SELECT id, login, name, created_at, expires_at, last_used_at, last_ip FROM tokens ",
            $rest
        )
    };
}

impl Store {
    /// Adds an operator (`operator`) or the admin of `domains`, each of
    /// which must be hosted.
    pub async fn admin_add(
        &self,
        login: &str,
        password: &str,
        operator: bool,
        domains: &[String],
        must_change: bool,
    ) -> Result<AdminLogin> {
        let login = normalize_login(login)?;
        crate::accounts::check_password(password)?;
        if operator != domains.is_empty() {
            return Err(StoreError::Invalid(
                "an admin is either an operator or the admin of one or more domains".into(),
            ));
        }
        let mut names = Vec::new();
        for d in domains {
            let d = normalize_domain(d)?;
            if !self.is_hosted(&d).await? {
                return Err(StoreError::NotFound(format!("no such domain: {d}")));
            }
            if !names.contains(&d) {
                names.push(d);
            }
        }
        let hash = password::hash(password.to_string()).await?;
        let now = now_ms();
        let mut stmts = vec![Stmt::new(
            "INSERT INTO admins (login, password_hash, operator, must_change, created_at) VALUES (?, ?, ?, ?, ?)",
            vec![
                login.clone().into(),
                hash.into(),
                (operator as i64).into(),
                (must_change as i64).into(),
                now.into(),
            ],
        )];
        for d in &names {
            stmts.push(Stmt::new(
                "INSERT INTO admin_domains (admin_id, domain) SELECT id, ? FROM admins WHERE login = ?",
                vec![d.into(), login.clone().into()],
            ));
        }
        match self.batch(stmts).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Conflict(format!(
                    "admin login {login} already exists"
                )))
            }
            Err(e) => return Err(e),
        }
        Ok(AdminLogin {
            login,
            operator,
            domains: names,
            must_change,
            created_at: now,
        })
    }

    pub async fn admin_get(&self, login: &str) -> Result<Option<AdminLogin>> {
        let Ok(login) = normalize_login(login) else {
            return Ok(None);
        };
        Ok(self.admins(Some(&login)).await?.into_iter().next())
    }

    /// Every admin login, by name.
    pub async fn admin_list(&self) -> Result<Vec<AdminLogin>> {
        self.admins(None).await
    }

    async fn admins(&self, login: Option<&str>) -> Result<Vec<AdminLogin>> {
        let rows = self
            .query(
                "SELECT a.login, a.operator, a.must_change, a.created_at, d.domain
                 FROM admins a LEFT JOIN admin_domains d ON d.admin_id = a.id
                 WHERE ? = '' OR a.login = ?
                 ORDER BY a.login, d.domain",
                vec![login.unwrap_or("").into(), login.unwrap_or("").into()],
            )
            .await?;
        let mut out: Vec<AdminLogin> = Vec::new();
        for r in &rows {
            let login = r.text(0)?;
            if out.last().map(|a| &a.login) != Some(&login) {
                out.push(AdminLogin {
                    login,
                    operator: r.i64(1)? != 0,
                    domains: vec![],
                    must_change: r.i64(2)? != 0,
                    created_at: r.i64(3)?,
                });
            }
            if let (Some(d), Some(a)) = (r.opt_text(4)?, out.last_mut()) {
                a.domains.push(d);
            }
        }
        Ok(out)
    }

    pub async fn admin_count(&self) -> Result<i64> {
        self.query("SELECT COUNT(*) FROM admins", vec![])
            .await?
            .first()
            .map_or(Ok(0), |r| r.i64(0))
    }

    /// Removes a login with its tokens, sessions and second factor.
    pub async fn admin_remove(&self, login: &str) -> Result<()> {
        let login = normalize_login(login)?;
        let mut stmts = vec![
            Stmt::new(
                "DELETE FROM admin_domains WHERE admin_id IN (SELECT id FROM admins WHERE login = ?)",
                vec![login.clone().into()],
            ),
            Stmt::new("DELETE FROM admins WHERE login = ?", vec![login.clone().into()])
                .must_change(StoreError::NotFound(format!("no such admin login: {login}"))),
        ];
        stmts.extend(Self::end_login_stmts(&login, true));
        self.batch(stmts).await?;
        Ok(())
    }

    /// The statements that end every session of `login` (password change,
    /// suspension, removal) and, with `all`, its tokens and second factor.
    pub fn end_login_stmts(login: &str, all: bool) -> Vec<Stmt> {
        let mut s = vec![Stmt::new(
            "DELETE FROM sessions WHERE login = ?",
            vec![login.into()],
        )];
        if all {
            for sql in [
                "DELETE FROM tokens WHERE login = ?",
                "DELETE FROM totp WHERE login = ?",
                "DELETE FROM recovery_codes WHERE login = ?",
                "DELETE FROM app_passwords WHERE address = ?",
            ] {
                s.push(Stmt::new(sql, vec![login.into()]));
            }
        }
        s
    }

    /// Checks an admin's password (in constant work whether or not the
    /// login exists).
    pub async fn admin_verify(&self, login: &str, password: &str) -> Result<Option<AdminLogin>> {
        let login = normalize_login(login).unwrap_or_default();
        let rows = self
            .lookup(
                "SELECT password_hash FROM admins WHERE login = ?",
                vec![login.clone().into()],
            )
            .await?;
        let stored = rows.first().map(|r| r.text(0)).transpose()?;
        if !password::verify(password.to_string(), stored).await {
            return Ok(None);
        }
        self.admin_get(&login).await
    }

    /// Sets an admin's password; it is no longer one-time, and every
    /// session of the login ends.
    pub async fn admin_passwd(&self, login: &str, password: &str, must_change: bool) -> Result<()> {
        let login = normalize_login(login)?;
        crate::accounts::check_password(password)?;
        let hash = password::hash(password.to_string()).await?;
        let mut stmts = vec![Stmt::new(
            "UPDATE admins SET password_hash = ?, must_change = ? WHERE login = ?",
            vec![
                hash.into(),
                (must_change as i64).into(),
                login.clone().into(),
            ],
        )
        .must_change(StoreError::NotFound(format!(
            "no such admin login: {login}"
        )))];
        stmts.extend(Self::end_login_stmts(&login, false));
        self.batch(stmts).await?;
        Ok(())
    }

    /// The admins of a domain (for the domain-admin scope and notices).
    pub async fn domain_admins(&self, domain: &str) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT a.login FROM admins a JOIN admin_domains d ON d.admin_id = a.id
                 WHERE d.domain = ? ORDER BY a.login",
                vec![domain.into()],
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    // ---- API tokens ----

    /// Makes a token for `login` (an admin login or a mailbox address,
    /// checked by the caller): its id and the secret, shown once.
    pub async fn token_create(
        &self,
        login: &str,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<(i64, String)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "a token name is 1 to 100 characters without control characters".into(),
            ));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        let hash = token_hash(&token);
        self.batch(vec![Stmt::new(
            "INSERT INTO tokens (hash, login, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            vec![
                hash.clone().into(),
                login.into(),
                name.into(),
                now_ms().into(),
                expires_at.into(),
            ],
        )])
        .await?;
        let id = self
            .query("SELECT id FROM tokens WHERE hash = ?", vec![hash.into()])
            .await?
            .first()
            .map(|r| r.i64(0))
            .transpose()?
            .ok_or_else(|| StoreError::Backend("the new token vanished".into()))?;
        Ok((id, token))
    }

    /// The token with this secret, if it exists and has not expired; its
    /// last use is recorded (at most once a minute).
    pub async fn token_use(&self, token: &str, ip: &str) -> Result<Option<TokenInfo>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 32 {
            return Ok(None);
        }
        let rows = self
            .lookup(
                tokens_where!("WHERE hash = ?"),
                vec![token_hash(token).into()],
            )
            .await?;
        let Some(t) = rows.first().map(token_row).transpose()? else {
            return Ok(None);
        };
        let now = now_ms();
        if t.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let stale = t.last_used_at.is_none_or(|u| u + TOUCH_EVERY_MS < now);
        if stale || t.last_ip.as_deref() != Some(ip) {
            self.batch(vec![Stmt::new(
                "UPDATE tokens SET last_used_at = ?, last_ip = ? WHERE id = ?",
                vec![now.into(), ip.into(), t.id.into()],
            )])
            .await?;
        }
        Ok(Some(t))
    }

    /// Tokens, of one login or of all, by id.
    pub async fn token_list(&self, login: Option<&str>) -> Result<Vec<TokenInfo>> {
        let rows = match login {
            Some(l) => {
                self.query(tokens_where!("WHERE login = ? ORDER BY id"), vec![l.into()])
                    .await?
            }
            None => self.query(tokens_where!("ORDER BY id"), vec![]).await?,
        };
        rows.iter().map(token_row).collect()
    }

    pub async fn token_get(&self, id: i64) -> Result<Option<TokenInfo>> {
        let rows = self
            .query(tokens_where!("WHERE id = ?"), vec![Val::I(id)])
            .await?;
        rows.first().map(token_row).transpose()
    }

    pub async fn token_revoke(&self, id: i64) -> Result<()> {
        self.batch(vec![Stmt::new(
            "DELETE FROM tokens WHERE id = ?",
            vec![id.into()],
        )
        .must_change(StoreError::NotFound(format!("no such token: {id}")))])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        assert_eq!(normalize_login(" Ops.Team ").unwrap(), "ops.team");
        for bad in ["", "a@b.example", "a%b.example", "a b", &"x".repeat(65)] {
            assert!(normalize_login(bad).is_err(), "{bad:?}");
        }
        assert_eq!(token_hash("x").len(), 64);
        assert_ne!(random_secret(), random_secret());
    }
}
