//! Signing in to the panels (R-WEB-5): the password check goes through
//! the brute-force limits of the mail protocols (R-ABUSE-4), and a
//! session lives in the store.

use crate::caller::{Caller, Error};
use crate::{Admin, Result};
use mailhost_store::address::login_to_address;
use mailhost_store::{audit::with_extra, AuthResult, Session, Store};

/// A new session: the cookie's token and the session itself.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub caller: Caller,
}

/// The stage of a session whose one-time password must be changed first.
pub const STAGE_CHANGE: &str = "change";
pub const STAGE_FULL: &str = "full";
/// Half-way: the password was right, the second factor is still due
/// (then the full session, or the one-time password change).
pub const STAGE_TOTP: &str = "totp";
pub const STAGE_TOTP_CHANGE: &str = "totp-change";

impl Admin {
    /// Checks a login (an admin login, or a mailbox as `local@domain` or
    /// `local%domain`) and starts a session. Every failure reads the same
    /// and counts against the IP and the login.
    pub async fn sign_in(&self, login: &str, password: &str, ip: &str) -> Result<SignedIn> {
        let wrong = || Error::unauthorized("the login name or the password is not right");
        let guard = self.guard.as_ref();
        if let Some(g) = guard {
            let (locked, delay) = g.before(ip, login, false).await;
            if locked {
                tokio::time::sleep(delay).await;
                return Err(wrong());
            }
        }
        let ok = match login_to_address(login) {
            Some(addr) if login.contains(['@', '%']) => {
                match self.store.authenticate(&addr, password).await? {
                    AuthResult::Ok(_) => Some((addr, false)),
                    AuthResult::Suspended => {
                        return Err(Error::forbidden(
                            "this mailbox is suspended; ask your domain's administrator",
                        ))
                    }
                    AuthResult::Failed | AuthResult::AppPasswordRequired => None,
                }
            }
            _ => self
                .store
                .admin_verify(login, password)
                .await?
                .map(|a| (a.login, a.must_change)),
        };
        let Some((name, must_change)) = ok else {
            if let Some(g) = guard {
                let (_, delay) = g.before(ip, login, false).await;
                g.failed(ip, login, "web").await;
                tokio::time::sleep(delay).await;
            }
            return Err(wrong());
        };
        if let Some(g) = guard {
            g.succeeded(login).await;
        }
        let caller = self.caller_for(&name, Some(ip)).await?.ok_or_else(wrong)?;
        let two_step = self
            .store
            .totp_get(&name)
            .await?
            .is_some_and(|t| t.confirmed);
        let stage = match (two_step, must_change) {
            (true, true) => STAGE_TOTP_CHANGE,
            (true, false) => STAGE_TOTP,
            (false, true) => STAGE_CHANGE,
            (false, false) => STAGE_FULL,
        };
        // A sign-in is listed once it is complete (after the second step).
        let listed = if two_step {
            vec![]
        } else {
            vec![Store::login_stmt(&name, ip, "web")]
        };
        let (r, _) = with_extra(listed, self.store.session_create(&name, stage, ip)).await;
        let (token, session) = r?;
        Ok(SignedIn {
            token,
            session,
            caller,
        })
    }

    /// The session behind a cookie's token and its caller; None when it
    /// ended, expired, or its login is gone or suspended.
    pub async fn session(&self, token: &str, ip: &str) -> Result<Option<(Caller, Session)>> {
        let Some(s) = self.live_session(token).await? else {
            return Ok(None);
        };
        Ok(self.caller_for(&s.login, Some(ip)).await?.map(|c| (c, s)))
    }

    /// The session behind a token within its idle and absolute expiry.
    pub(crate) async fn live_session(&self, token: &str) -> Result<Option<Session>> {
        let w = &self.config.web;
        Ok(self
            .store
            .session_get(
                token,
                w.session_idle.std().as_millis() as i64,
                w.session_lifetime.std().as_millis() as i64,
            )
            .await?)
    }

    /// The caller's own latest sign-ins: (time, IP, protocol).
    pub async fn my_logins(&self, c: &Caller) -> Result<Vec<(String, String, String)>> {
        Ok(self
            .store
            .logins_recent(&c.login, 20)
            .await?
            .into_iter()
            .map(|(at, ip, p)| (mailhost_store::rfc3339(at), ip, p))
            .collect())
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        Ok(self.store.session_end(token).await?)
    }
}
