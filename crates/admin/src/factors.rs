//! Two-step sign-in (R-WEB-5): a TOTP second factor (RFC 6238) for every
//! role, with single-use recovery codes, and app passwords for the mail
//! clients of a mailbox that uses it.

use crate::caller::{Caller, Error, Role};
use crate::sessions::{SignedIn, STAGE_CHANGE, STAGE_FULL, STAGE_TOTP, STAGE_TOTP_CHANGE};
use crate::users::address;
use crate::views::{AppPassword, NewAppPassword};
use crate::{Admin, Result};
use mailhost_store::address::login_to_address;
use mailhost_store::{audit::with_extra, new_app_password, token_hash, Store};
use rand::Rng;
use serde_json::json;
use totp_rs::{Algorithm, Secret, Totp};

/// How many recovery codes a confirmation gives.
pub const RECOVERY_CODES: usize = 10;

/// Where a login stands with its second factor.
#[derive(Debug, Clone, PartialEq)]
pub enum TotpStatus {
    Off,
    /// Set up but not yet confirmed with a code: what the authenticator
    /// app needs.
    Pending(TotpSetup),
    On {
        recovery_left: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TotpSetup {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/…`, for the QR code.
    pub uri: String,
}

/// A recovery code: ten base32 characters as `xxxxx-xxxxx` (50 bits;
/// each works once, and guesses go through the login limits).
fn new_recovery_code() -> String {
    mailhost_store::random_code(10, 5)
}

fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    token_hash(&norm)
}

impl Admin {
    /// The TOTP of a stored base32 secret, labelled for `login`.
    fn totp(&self, login: &str, secret: &str) -> Result<Totp> {
        let bytes = Secret::try_from_base32(secret)
            .map_err(|e| Error::internal(format!("stored TOTP secret: {e:?}")))?;
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(bytes)
            // A ':' would end the label (Key Uri Format): none is allowed
            // in a login, and the issuer is a host name.
            .with_account_name(login.replace(':', ""))
            .with_issuer(Some(self.config.server.hostname.replace(':', "")))
            .build()
            .map_err(|e| Error::internal(format!("TOTP: {e:?}")))
    }

    fn setup(&self, login: &str, secret: &str) -> Result<TotpSetup> {
        let uri = self
            .totp(login, secret)?
            .to_url()
            .map_err(|e| Error::internal(format!("TOTP URI: {e:?}")))?;
        Ok(TotpSetup {
            secret: secret.to_string(),
            uri,
        })
    }

    /// The step a six-digit code matches now (±30 s), if any.
    fn code_step(&self, login: &str, secret: &str, code: &str) -> Result<Option<i64>> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let t = self.totp(login, secret)?;
        let now = mailhost_store::now_ms() / 1000;
        Ok(t.check(&code, now.max(0) as u64).map(|s| s as i64))
    }

    pub async fn totp_status(&self, c: &Caller) -> Result<TotpStatus> {
        Ok(match self.store.totp_get(&c.login).await? {
            None => TotpStatus::Off,
            Some(t) if !t.confirmed => TotpStatus::Pending(self.setup(&c.login, &t.secret)?),
            Some(_) => TotpStatus::On {
                recovery_left: self.store.recovery_left(&c.login).await?,
            },
        })
    }

    /// Makes a new secret for the caller's own login (replacing one not
    /// yet confirmed); it takes effect once a code confirms it.
    pub async fn totp_begin(&self, c: &Caller) -> Result<TotpSetup> {
        let mut raw = [0u8; 20];
        rand::rng().fill(&mut raw);
        let secret = Secret::from(raw.to_vec()).to_base32();
        self.store
            .totp_begin(&c.login, &secret)
            .await
            .map_err(|e| Error::from(e).at("code"))?;
        self.setup(&c.login, &secret)
    }

    /// Confirms the pending secret with a code from the app: two-step
    /// sign-in is on from now, and the recovery codes are returned, this
    /// once.
    pub async fn totp_confirm(&self, c: &Caller, code: &str) -> Result<Vec<String>> {
        let wrong = || Error::invalid("code", "that code is not right; try the newest one");
        let t = self
            .store
            .totp_get(&c.login)
            .await?
            .filter(|t| !t.confirmed)
            .ok_or_else(|| Error::conflict("there is no set-up to confirm; start again"))?;
        let step = self
            .code_step(&c.login, &t.secret, code)?
            .ok_or_else(wrong)?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
        let ok = self
            .audited(
                c,
                "totp.on",
                &c.login,
                None,
                None,
                vec![],
                self.store.totp_confirm(&c.login, step, &hashes),
            )
            .await?;
        if !ok {
            return Err(wrong());
        }
        Ok(codes)
    }

    /// Turns the caller's own second factor off; needs its password.
    pub async fn totp_off(&self, c: &Caller, password: &str) -> Result<()> {
        let right = match &c.role {
            Role::User(a) => matches!(
                self.store.authenticate(a, password).await?,
                mailhost_store::AuthResult::Ok(_)
            ),
            _ => self.store.admin_verify(&c.login, password).await?.is_some(),
        };
        if !right {
            return Err(Error::invalid(
                "password",
                "the current password is not right",
            ));
        }
        self.audited(
            c,
            "totp.off",
            &c.login,
            None,
            None,
            vec![],
            self.store.totp_remove(&c.login),
        )
        .await
    }

    /// Turns someone's second factor off when they lost their phone and
    /// codes: the operator for any login, a domain admin for the mailboxes
    /// of its domains.
    pub async fn totp_reset(&self, c: &Caller, login: &str) -> Result<()> {
        let who = match login_to_address(login) {
            Some(a) if login.contains(['@', '%']) => {
                self.scope_admin_of(c, "totp.reset", &a).await?;
                a
            }
            _ => {
                let l = mailhost_store::normalize_login(login).map_err(Error::field("login"))?;
                self.scope_operator(c, "totp.reset", &l).await?;
                l
            }
        };
        if self.store.totp_get(&who).await?.is_none() {
            return Err(Error::not_found(format!(
                "{who} does not use two-step sign-in"
            )));
        }
        self.audited(
            c,
            "totp.reset",
            &who,
            None,
            None,
            vec![],
            self.store.totp_remove(&who),
        )
        .await
    }

    /// The second step of a sign-in: a code from the app, or a recovery
    /// code. Wrong codes count against the login limits like wrong
    /// passwords. The half-way session ends and a new one begins (a new
    /// token: nothing learned before the second step carries over).
    pub async fn second_factor(&self, token: &str, code: &str, ip: &str) -> Result<SignedIn> {
        let wrong = || Error::invalid("code", "that code is not right");
        let expired = || Error::unauthorized("the sign-in expired; sign in again");
        let s = self
            .live_session(token)
            .await?
            .filter(|s| s.stage == STAGE_TOTP || s.stage == STAGE_TOTP_CHANGE)
            .ok_or_else(expired)?;
        let login = s.login.clone();
        if let Some(g) = &self.guard {
            let (locked, delay) = g.before(ip, &login, false).await;
            if locked {
                tokio::time::sleep(delay).await;
                return Err(wrong());
            }
        }
        let t = self
            .store
            .totp_get(&login)
            .await?
            .filter(|t| t.confirmed)
            .ok_or_else(expired)?;
        let ok = match self.code_step(&login, &t.secret, code)? {
            Some(step) => self.store.totp_use_step(&login, step).await?,
            None if code.chars().filter(char::is_ascii_alphanumeric).count() == 10 => {
                let used = self
                    .store
                    .recovery_use(&login, &recovery_hash(code))
                    .await?;
                if used {
                    tracing::info!(login, ip, "signed in with a recovery code");
                }
                used
            }
            None => false,
        };
        if !ok {
            if let Some(g) = &self.guard {
                let (_, delay) = g.before(ip, &login, false).await;
                g.failed(ip, &login, "web").await;
                tokio::time::sleep(delay).await;
            }
            return Err(wrong());
        }
        if let Some(g) = &self.guard {
            g.succeeded(&login).await;
        }
        let caller = self
            .caller_for(&login, Some(ip))
            .await?
            .ok_or_else(expired)?;
        let stage = if s.stage == STAGE_TOTP_CHANGE {
            STAGE_CHANGE
        } else {
            STAGE_FULL
        };
        self.store.session_end(token).await?;
        let (r, _) = with_extra(
            vec![Store::login_stmt(&login, ip, "web")],
            self.store.session_create(&login, stage, ip),
        )
        .await;
        let (token, session) = r?;
        Ok(SignedIn {
            token,
            session,
            caller,
        })
    }

    // ---- app passwords ----

    /// A new app password for a mailbox (its user, or its domain's
    /// admin), usable only over `protocols`; the secret is in the result,
    /// this once.
    pub async fn app_password_create(
        &self,
        c: &Caller,
        address_: &str,
        name: &str,
        protocols: &[String],
    ) -> Result<NewAppPassword> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "app_password.create", &addr).await?;
        let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let secret = new_app_password();
        let p = self
            .audited(
                c,
                "app_password.create",
                &addr,
                None,
                Some(json!({"name": name.trim(), "protocols": protocols})),
                vec![],
                self.store
                    .app_password_add(&addr, name, &protocols, &secret),
            )
            .await
            .map_err(|e| {
                if e.message.contains("pop3") {
                    e.at("protocols")
                } else {
                    e.at("name")
                }
            })?;
        Ok(NewAppPassword {
            app_password: p.into(),
            secret,
        })
    }

    pub async fn app_password_list(&self, c: &Caller, address_: &str) -> Result<Vec<AppPassword>> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "app_password.list", &addr).await?;
        Ok(self
            .store
            .app_password_list(&addr)
            .await?
            .into_iter()
            .map(AppPassword::from)
            .collect())
    }

    pub async fn app_password_revoke(&self, c: &Caller, address_: &str, id: i64) -> Result<()> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "app_password.revoke", &addr).await?;
        let ok = self
            .audited(
                c,
                "app_password.revoke",
                &addr,
                Some(json!({"id": id})),
                None,
                vec![],
                self.store.app_password_revoke(&addr, id),
            )
            .await?;
        if !ok {
            return Err(Error::not_found(format!("{addr} has no app password {id}")));
        }
        Ok(())
    }
}
