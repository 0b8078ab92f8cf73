//! SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, on the submission
//! ports only (R-OUT-1, R-OUT-3) and only under TLS. A wrong password and an
//! unknown account get the same reply.

use crate::reply::Reply;
use crate::session::{Flow, Session, State};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mailhost_policy::Service;
use mailhost_store::AuthResult;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};

/// RFC 4954 §4: a client response line may be up to 12288 octets.
const MAX_RESPONSE: usize = 12288;
/// Failed AUTH attempts before the session is closed.
const MAX_FAILURES: u32 = 3;

enum Creds {
    Ok(String, String),
    Cancelled,
    Malformed,
    Closed,
}

impl Session {
    pub(crate) async fn cmd_auth(&mut self, mechanism: u64, initial: String) -> Flow {
        if self.ctx.service == Service::Mx {
            self.reply(Reply::new(
                503,
                "5.5.1",
                "AUTH is not offered on port 25 (R-OUT-3); customers submit on port 587 with STARTTLS and AUTH",
            ));
            return Flow::Continue;
        }
        if !self.conn.is_tls() {
            // RFC 4954 §6.
            self.reply(Reply::new(
                538,
                "5.7.11",
                "encryption required: use STARTTLS before AUTH (R-OUT-1)",
            ));
            return Flow::Continue;
        }
        if self.state == State::Fresh {
            self.reply(Reply::new(503, "5.5.1", "send EHLO first"));
            return Flow::Continue;
        }
        if self.info.account.is_some() && self.auth_via != Some("POP-before-SMTP") {
            self.reply(Reply::new(503, "5.5.1", "already authenticated"));
            return Flow::Continue;
        }
        if matches!(self.state, State::Mail | State::Rcpt) {
            self.reply(Reply::new(
                503,
                "5.5.1",
                "AUTH is not allowed during a mail transaction",
            ));
            return Flow::Continue;
        }
        let creds = match mechanism {
            AUTH_PLAIN => self.plain(initial).await,
            AUTH_LOGIN => self.login(initial).await,
            _ => {
                self.reply(Reply::new(
                    504,
                    "5.5.4",
                    "unsupported mechanism; use PLAIN or LOGIN",
                ));
                return Flow::Continue;
            }
        };
        let (user, password) = match creds {
            Creds::Ok(u, p) => (u, p),
            Creds::Cancelled => {
                self.reply(Reply::new(501, "5.0.0", "authentication cancelled"));
                return Flow::Continue;
            }
            Creds::Malformed => {
                self.reply(Reply::new(
                    501,
                    "5.5.2",
                    "cannot decode the response (expected base64)",
                ));
                return self.failed();
            }
            Creds::Closed => return Flow::Close,
        };
        // R-ABUSE-4: a locked-out IP or login fails like a wrong password,
        // and repeated failures are answered ever more slowly.
        let ip = self.conn.peer.ip().to_string();
        let guard = self.ctx.policy.auth.clone();
        let (locked, delay) = guard.before(&ip, &user, false).await;
        let result = if locked {
            Ok(AuthResult::Failed)
        } else {
            self.ctx
                .store
                .authenticate_mail(&user, &password, "smtp", &ip)
                .await
        };
        match result {
            Ok(AuthResult::Ok(account)) => {
                guard.succeeded(&user).await;
                if let Err(e) = self.sign_in(&account.address).await {
                    tracing::error!("sender profile of {}: {e}", account.address);
                    self.reply(Reply::new(454, "4.7.0", "temporary authentication failure"));
                    return Flow::Continue;
                }
                tracing::info!(peer = %self.conn.peer, account = account.address, "authenticated");
                self.auth_via = Some("AUTH");
                self.reply(Reply::new(235, "2.7.0", "authentication successful"));
                Flow::Continue
            }
            Ok(AuthResult::Suspended) => {
                self.reply(Reply::new(
                    535,
                    "5.7.8",
                    "account suspended (R-ADDR-3); contact your domain administrator",
                ));
                self.failed()
            }
            Ok(AuthResult::AppPasswordRequired) => {
                // RFC 4954 §6: 534 5.7.9, the mechanism (here: the mailbox
                // password alone) is too weak for this account.
                tracing::info!(peer = %self.conn.peer, rule = "R-WEB-5", "authentication refused: app password required");
                self.reply(Reply::new(
                    534,
                    "5.7.9",
                    "this mailbox signs in with two steps (R-WEB-5): use an app password from your panel",
                ));
                self.failed()
            }
            Ok(AuthResult::Failed) => {
                tracing::info!(peer = %self.conn.peer, locked, "authentication failed");
                guard.failed(&ip, &user, "submission").await;
                tokio::time::sleep(delay).await;
                self.reply(Reply::new(
                    535,
                    "5.7.8",
                    "authentication credentials invalid",
                ));
                self.failed()
            }
            Err(e) => {
                tracing::error!("authenticate: {e}");
                self.reply(Reply::new(454, "4.7.0", "temporary authentication failure"));
                Flow::Continue
            }
        }
    }

    fn failed(&mut self) -> Flow {
        self.auth_failures += 1;
        if self.auth_failures >= MAX_FAILURES {
            self.reply(Reply::new(
                421,
                "4.7.0",
                "too many failed authentications, closing",
            ));
            return Flow::Close;
        }
        Flow::Continue
    }

    /// A client response: `*` cancels (RFC 4954 §4).
    async fn response(&mut self, challenge: &str) -> Option<Vec<u8>> {
        self.reply(Reply::plain(334, vec![challenge.to_string()]));
        self.read_line(MAX_RESPONSE).await.ok()
    }

    /// PLAIN: base64 of `authzid NUL authcid NUL password`. The authzid
    /// must be empty or the login itself: no acting for another account.
    async fn plain(&mut self, initial: String) -> Creds {
        let raw = if initial.is_empty() {
            match self.response("").await {
                Some(r) => r,
                None => return Creds::Closed,
            }
        } else {
            initial.into_bytes()
        };
        if raw == b"*" {
            return Creds::Cancelled;
        }
        // "=" is an empty initial response (RFC 4954 §4).
        let Ok(dec) = (if raw == b"=" {
            Ok(Vec::new())
        } else {
            B64.decode(raw.trim_ascii())
        }) else {
            return Creds::Malformed;
        };
        let mut parts = dec.split(|&b| b == 0);
        let (Some(authz), Some(user), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Creds::Malformed;
        };
        let (Ok(authz), Ok(user), Ok(pass)) = (
            std::str::from_utf8(authz),
            std::str::from_utf8(user),
            std::str::from_utf8(pass),
        ) else {
            return Creds::Malformed;
        };
        if !authz.is_empty() && !authz.eq_ignore_ascii_case(user) {
            // Treated as a failed login: acting as another user is not offered.
            return Creds::Ok(String::new(), String::new());
        }
        Creds::Ok(user.to_string(), pass.to_string())
    }

    /// LOGIN: base64 user name and password in answer to two challenges;
    /// some clients send the user name as an initial response.
    async fn login(&mut self, initial: String) -> Creds {
        let user = if initial.is_empty() {
            match self.response("VXNlcm5hbWU6").await {
                Some(r) => r,
                None => return Creds::Closed,
            }
        } else {
            initial.into_bytes()
        };
        if user == b"*" {
            return Creds::Cancelled;
        }
        let Ok(user) = B64.decode(user.trim_ascii()) else {
            return Creds::Malformed;
        };
        let pass = match self.response("UGFzc3dvcmQ6").await {
            Some(r) => r,
            None => return Creds::Closed,
        };
        if pass == b"*" {
            return Creds::Cancelled;
        }
        let Ok(pass) = B64.decode(pass.trim_ascii()) else {
            return Creds::Malformed;
        };
        match (String::from_utf8(user), String::from_utf8(pass)) {
            (Ok(u), Ok(p)) => Creds::Ok(u, p),
            _ => Creds::Malformed,
        }
    }
}

impl Session {
    /// Makes `account` the session's sender, with what the policy needs to
    /// know of it: the addresses it may send as (R-OUT-4), its package
    /// limits and its customer (R-OUT-6, R-OUT-8).
    pub(crate) async fn sign_in(
        &mut self,
        account: &str,
    ) -> Result<(), mailhost_store::StoreError> {
        let identities = self.ctx.store.identities(account).await?;
        let profile = self.ctx.store.sender_profile(account).await?;
        self.info.account = Some(account.to_string());
        self.info.identities = identities;
        self.info.profile = Some(profile);
        Ok(())
    }
}
