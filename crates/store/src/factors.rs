//! Second factors (R-WEB-5): a TOTP secret per login (RFC 6238) with
//! single-use recovery codes, and app passwords for the mail clients of a
//! mailbox whose panel sign-in needs a second factor.
//!
//! Once a mailbox has a confirmed TOTP secret, its own password no longer
//! opens POP3, SMTP or IMAP (a client cannot ask for a code): only an app
//! password does, each named, revocable and limited to the protocols it
//! was made for. App passwords are 100 random bits made here, so they are
//! stored as a SHA-256 and found by it: a mail login with one needs no
//! Argon2 hash at all.

use crate::accounts::AuthResult;
use crate::address::login_to_address;
use crate::admins::token_hash;
use crate::db::Stmt;
use crate::{now_ms, Account, Result, Store, StoreError};
use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct TotpState {
    /// Base32, as an authenticator app is given it.
    pub secret: String,
    pub confirmed: bool,
    /// The last time step a code was accepted for: a code works once
    /// (RFC 6238 §5.2).
    pub last_step: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppPassword {
    pub id: i64,
    pub address: String,
    pub name: String,
    /// Of `pop3`, `smtp`, `imap`.
    pub protocols: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The protocols an app password may be limited to.
pub const MAIL_PROTOCOLS: [&str; 3] = ["pop3", "smtp", "imap"];

/// At most this many app passwords per mailbox.
pub const MAX_APP_PASSWORDS: i64 = 50;

/// A mail login is added to the login list at most this often for the same
/// login, IP and protocol: clients that poll every minute would otherwise
/// write a row a minute.
const LOGIN_EVERY_MS: i64 = 10 * 60_000;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `len` random base32 characters (5 bits each) in dash-separated groups
/// of `group`: secrets a person may have to type.
pub fn random_code(len: usize, group: usize) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(len + len / group);
    for i in 0..len {
        if i > 0 && i % group == 0 {
            s.push('-');
        }
        s.push(BASE32[rng.random_range(0..32)] as char);
    }
    s
}

/// A new app password: 20 base32 characters (100 bits) in groups of four.
pub fn new_app_password() -> String {
    random_code(20, 4)
}

/// The app password a typed password would be (dashes and spaces dropped,
/// lowercased), or None when it cannot be one.
pub fn app_password_form(pw: &str) -> Option<String> {
    if pw.len() > 40 {
        return None;
    }
    let s: String = pw
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == 20 && s.bytes().all(|b| BASE32.contains(&b))).then_some(s)
}

fn app_row(r: &crate::db::Row) -> Result<AppPassword> {
    Ok(AppPassword {
        id: r.i64(0)?,
        address: r.text(1)?,
        name: r.text(2)?,
        protocols: r.text(3)?.split(',').map(str::to_string).collect(),
        created_at: r.i64(4)?,
        last_used_at: r.opt_i64(5)?,
    })
}

impl Store {
    pub async fn totp_get(&self, login: &str) -> Result<Option<TotpState>> {
        let rows = self
            .lookup(
                "SELECT secret, confirmed, last_step FROM totp WHERE login = ?",
                vec![login.into()],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(TotpState {
                    secret: r.text(0)?,
                    confirmed: r.i64(1)? != 0,
                    last_step: r.i64(2)?,
                })
            })
            .transpose()
    }

    /// Keeps a new, unconfirmed secret for `login`; refused while a
    /// confirmed one exists (it must be turned off first).
    pub async fn totp_begin(&self, login: &str, secret: &str) -> Result<()> {
        self.batch(vec![Stmt::new(
            "INSERT INTO totp (login, secret, confirmed, last_step) VALUES (?, ?, 0, 0)
             ON CONFLICT (login) DO UPDATE SET secret = excluded.secret, last_step = 0
             WHERE totp.confirmed = 0",
            vec![login.into(), secret.into()],
        )
        .must_change(StoreError::Conflict(
            "two-step sign-in is already on; turn it off first".into(),
        ))])
        .await?;
        Ok(())
    }

    /// Confirms the pending secret with the step of a code just checked,
    /// and replaces the recovery codes (given as hashes). False when there
    /// was nothing pending or that step was used.
    pub async fn totp_confirm(&self, login: &str, step: i64, recovery: &[String]) -> Result<bool> {
        let mut stmts = vec![
            Stmt::new(
                "UPDATE totp SET confirmed = 1, last_step = ? WHERE login = ? AND confirmed = 0 AND last_step < ?",
                vec![step.into(), login.into(), step.into()],
            )
            .must_change(StoreError::Conflict("nothing to confirm".into())),
            Stmt::new(
                "DELETE FROM recovery_codes WHERE login = ?",
                vec![login.into()],
            ),
        ];
        for h in recovery {
            stmts.push(Stmt::new(
                "INSERT INTO recovery_codes (login, hash) VALUES (?, ?)",
                vec![login.into(), h.into()],
            ));
        }
        self.batch_guarded(stmts).await
    }

    /// Takes a confirmed secret's time step, once: false when that step
    /// (or a later one) was used already.
    pub async fn totp_use_step(&self, login: &str, step: i64) -> Result<bool> {
        self.batch_guarded(vec![Stmt::new(
            "UPDATE totp SET last_step = ? WHERE login = ? AND confirmed = 1 AND last_step < ?",
            vec![step.into(), login.into(), step.into()],
        )
        .must_change(StoreError::Conflict("code used".into()))])
            .await
    }

    /// Uses up one recovery code (given as its hash): true when it was one.
    pub async fn recovery_use(&self, login: &str, hash: &str) -> Result<bool> {
        self.batch_guarded(vec![Stmt::new(
            "DELETE FROM recovery_codes WHERE login = ? AND hash = ?",
            vec![login.into(), hash.into()],
        )
        .must_change(StoreError::Conflict("no such code".into()))])
            .await
    }

    pub async fn recovery_left(&self, login: &str) -> Result<i64> {
        let rows = self
            .lookup(
                "SELECT COUNT(*) FROM recovery_codes WHERE login = ?",
                vec![login.into()],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }

    /// Turns the second factor off: the secret and the recovery codes go.
    pub async fn totp_remove(&self, login: &str) -> Result<()> {
        self.batch(vec![
            Stmt::new("DELETE FROM totp WHERE login = ?", vec![login.into()]),
            Stmt::new(
                "DELETE FROM recovery_codes WHERE login = ?",
                vec![login.into()],
            ),
        ])
        .await?;
        Ok(())
    }

    /// Adds an app password (its hash) for a mailbox.
    pub async fn app_password_add(
        &self,
        address: &str,
        name: &str,
        protocols: &[&str],
        secret: &str,
    ) -> Result<AppPassword> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "name the app password (1 to 64 characters), e.g. \"phone\"".into(),
            ));
        }
        if protocols.is_empty() || protocols.iter().any(|p| !MAIL_PROTOCOLS.contains(p)) {
            return Err(StoreError::Invalid(
                "choose one or more of pop3, smtp, imap".into(),
            ));
        }
        let hash = app_password_form(secret)
            .map(|s| token_hash(&s))
            .ok_or_else(|| StoreError::Invalid("not an app password".into()))?;
        let mut protocols: Vec<&str> = protocols.to_vec();
        protocols.sort_unstable();
        protocols.dedup();
        let now = now_ms();
        self.batch(vec![
            // The mailbox must exist, and hold fewer than the cap.
            Stmt::new(
                "UPDATE addresses SET kind = kind WHERE address = ? AND kind = 'mailbox'
                   AND (SELECT COUNT(*) FROM app_passwords WHERE address = ?) < ?",
                vec![address.into(), address.into(), MAX_APP_PASSWORDS.into()],
            )
            .must_change(StoreError::Invalid(format!(
                "{address} cannot have another app password (at most {MAX_APP_PASSWORDS}; revoke one first)"
            ))),
            Stmt::new(
                "INSERT INTO app_passwords (address, name, protocols, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    address.into(),
                    name.into(),
                    protocols.join(",").into(),
                    hash.clone().into(),
                    now.into(),
                ],
            ),
        ])
        .await?;
        let rows = self
            .query(
                "SELECT id, address, name, protocols, created_at, last_used_at FROM app_passwords WHERE password_hash = ?",
                vec![hash.into()],
            )
            .await?;
        rows.first()
            .map(app_row)
            .transpose()?
            .ok_or_else(|| StoreError::Backend("app password vanished".into()))
    }

    pub async fn app_password_list(&self, address: &str) -> Result<Vec<AppPassword>> {
        let rows = self
            .query(
                "SELECT id, address, name, protocols, created_at, last_used_at FROM app_passwords WHERE address = ? ORDER BY id LIMIT ?",
                vec![address.into(), MAX_APP_PASSWORDS.into()],
            )
            .await?;
        rows.iter().map(app_row).collect()
    }

    /// Revokes one of a mailbox's app passwords: false when it has none
    /// with that id.
    pub async fn app_password_revoke(&self, address: &str, id: i64) -> Result<bool> {
        self.batch_guarded(vec![Stmt::new(
            "DELETE FROM app_passwords WHERE id = ? AND address = ?",
            vec![id.into(), address.into()],
        )
        .must_change(StoreError::Conflict("no such app password".into()))])
            .await
    }

    /// A mail client's login (POP3, SMTP, IMAP: `protocol`). The mailbox
    /// password works unless the mailbox has a second factor; an app
    /// password works for the protocols it was made for. A successful
    /// login is added to the mailbox's recent logins.
    pub async fn authenticate_mail(
        &self,
        login: &str,
        password: &str,
        protocol: &str,
        ip: &str,
    ) -> Result<AuthResult> {
        let addr = login_to_address(login);
        if let (Some(addr), Some(form)) = (addr.clone(), app_password_form(password)) {
            let rows = self
                .lookup(
                    "SELECT p.id, p.protocols, p.last_used_at, a.id, a.suspended FROM app_passwords p
                     JOIN addresses a ON a.address = p.address AND a.kind = 'mailbox'
                     WHERE p.password_hash = ? AND p.address = ?",
                    vec![token_hash(&form).into(), addr.clone().into()],
                )
                .await?;
            if let Some(r) = rows.first() {
                if !r.text(1)?.split(',').any(|p| p == protocol) {
                    return Ok(AuthResult::Failed);
                }
                if r.i64(4)? != 0 {
                    return Ok(AuthResult::Suspended);
                }
                let now = now_ms();
                if r.opt_i64(2)?.is_none_or(|t| now - t > LOGIN_EVERY_MS) {
                    self.batch(vec![Stmt::new(
                        "UPDATE app_passwords SET last_used_at = ? WHERE id = ?",
                        vec![now.into(), r.i64(0)?.into()],
                    )])
                    .await?;
                }
                let account = Account {
                    id: r.i64(3)?,
                    address: addr,
                    ..Default::default()
                };
                self.mail_login_seen(&account.address, ip, protocol).await?;
                return Ok(AuthResult::Ok(account));
            }
        }
        // The mailbox password (for a login that is no address, a check
        // that takes as long and fails: no account probing).
        let result = self.authenticate(login, password).await?;
        if let AuthResult::Ok(a) = &result {
            if self
                .totp_get(&a.address)
                .await?
                .is_some_and(|t| t.confirmed)
            {
                return Ok(AuthResult::AppPasswordRequired);
            }
            self.mail_login_seen(&a.address, ip, protocol).await?;
        }
        Ok(result)
    }

    /// Adds a mail login to the recent logins, unless the same login, IP
    /// and protocol was recorded in the last ten minutes.
    async fn mail_login_seen(&self, login: &str, ip: &str, protocol: &str) -> Result<()> {
        let now = now_ms();
        let rows = self
            .lookup(
                "SELECT at, ip, protocol FROM logins WHERE login = ? ORDER BY id DESC LIMIT 8",
                vec![login.into()],
            )
            .await?;
        for r in &rows {
            if r.text(1)? == ip && r.text(2)? == protocol && now - r.i64(0)? < LOGIN_EVERY_MS {
                return Ok(());
            }
        }
        self.batch(vec![Store::login_stmt(login, ip, protocol)])
            .await?;
        Ok(())
    }

    /// Forgets logins older than `before` (ms).
    pub async fn logins_prune(&self, before: i64) -> Result<u64> {
        let n = self
            .batch(vec![Stmt::new(
                "DELETE FROM logins WHERE at < ?",
                vec![before.into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_password_shape() {
        let p = new_app_password();
        assert_eq!(p.len(), 24);
        assert_eq!(app_password_form(&p).unwrap().len(), 20);
        assert_eq!(
            app_password_form("ABCD EFGH-ijkl mnop 2345").as_deref(),
            Some("abcdefghijklmnop2345")
        );
        assert!(app_password_form("abcdefghijklmnop234").is_none());
        assert!(app_password_form("abcdefghijklmnop2341").is_none());
        assert!(app_password_form("correct horse battery staple").is_none());
    }
}
