//! Connection-level commands: CAPABILITY's list, STARTTLS, LOGIN,
//! AUTHENTICATE PLAIN, ENABLE, ID; and opening the mailbox under its
//! lease (R-POP-4, R-POP-5).

use crate::session::{End, Flow, Session, User, MAX_AUTH_FAILURES};
use base64::Engine;
use mailhost_imap_proto::frame::Frame;
use mailhost_store::address::login_to_address;
use mailhost_store::{Account, AuthResult};
use std::time::Instant;
use tracing::{info, warn};

const FAILED: &str = "[AUTHENTICATIONFAILED] invalid login or password";
const SUSPENDED: &str =
    "[AUTHORIZATIONFAILED] account suspended (R-ADDR-3); contact your domain administrator";
const APP_PASSWORD: &str =
    "[AUTHENTICATIONFAILED] this mailbox signs in with two steps (R-WEB-5): use an app password from your panel";
const INUSE: &str =
    "[INUSE] mailbox in use from another computer (R-POP-4); close the other mail program first";

/// What one command may be: a literal up to the message size limit
/// (APPENDLIMIT, R-IN-2); a line of 128 KiB, twice what a set of 10,000
/// scattered UIDs below 100,000 needs (RFC 7162 §4 asks for 8 KiB at
/// least).
pub(crate) fn framer_limits(ctx: &crate::ImapCtx) -> mailhost_imap_proto::frame::Limits {
    mailhost_imap_proto::frame::Limits {
        literal: ctx.max_message_size.max(64 * 1024),
        line: 128 * 1024,
        ..Default::default()
    }
}

impl Session {
    /// The capability list for the current state (RFC 9051 §6.1.1).
    pub fn capabilities(&self) -> String {
        let mut c = String::from("IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID");
        if self.user.is_none() {
            if self.ctx.tls.is_some() && !self.conn.is_tls() {
                c.push_str(" STARTTLS");
            }
            if self.plaintext_ok() {
                c.push_str(" AUTH=PLAIN");
            } else {
                // RFC 9051 §6.2.3: no passwords before TLS.
                c.push_str(" LOGINDISABLED");
            }
            return c;
        }
        c.push_str(
            " IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS \
             SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES CONDSTORE QRESYNC \
             QUOTA QUOTA=RES-STORAGE STATUS=SIZE UTF8=ACCEPT MULTIAPPEND BINARY",
        );
        c.push_str(&format!(" APPENDLIMIT={}", self.ctx.max_message_size));
        if !self.conn.is_compressed() {
            c.push_str(" COMPRESS=DEFLATE");
        }
        c
    }

    /// COMPRESS DEFLATE — authenticated. RFC 4978: the OK goes out as it
    /// is, everything after it compressed in both directions.
    pub async fn cmd_compress(&mut self, tag: &str, mechanism: &str) -> Flow {
        if self.conn.is_compressed() {
            return self.no(tag, "[COMPRESSIONACTIVE] COMPRESS is already on");
        }
        if !mechanism.eq_ignore_ascii_case("DEFLATE") {
            return self.bad(Some(tag), "unknown compression mechanism; use DEFLATE");
        }
        self.ok(tag, "DEFLATE active")?;
        self.flush().await?;
        // RFC 4978 §3: the client waits for the OK before it compresses;
        // nothing sent before may be pending in the framer.
        self.framer = mailhost_imap_proto::frame::Framer::new(framer_limits(&self.ctx));
        self.conn.start_deflate();
        Ok(())
    }

    /// Passwords only under TLS (RFC 9051 §6.2.3, RFC 8314), or from
    /// loopback when `policy.imap_plaintext_loopback` allows.
    fn plaintext_ok(&self) -> bool {
        self.conn.is_tls()
            || (self.ctx.plaintext_loopback && self.conn.peer.ip().to_canonical().is_loopback())
    }

    fn refuse_plaintext(&mut self, tag: &str) -> Flow {
        if self.ctx.tls.is_some() && !self.conn.is_tls() {
            self.no(
                tag,
                "[PRIVACYREQUIRED] use STARTTLS first (passwords are refused without TLS)",
            )
        } else {
            self.no(
                tag,
                "[PRIVACYREQUIRED] passwords are refused without TLS; use the IMAPS port (993)",
            )
        }
    }

    /// STARTTLS — not authenticated. RFC 9051 §6.2.1.
    pub async fn cmd_starttls(&mut self, tag: &str) -> Flow {
        let Some(acceptor) = self.ctx.tls.clone().filter(|_| !self.conn.is_tls()) else {
            return self.bad(Some(tag), "STARTTLS not available");
        };
        self.ok(tag, "Begin TLS negotiation now")?;
        self.flush().await?;
        let timeout = self.ctx.limits.imap_login_timeout.std();
        // Whatever the client pipelined after STARTTLS arrived in clear
        // text and is dropped, from the connection and from the framer
        // (RFC 9051 §6.2.1, CVE-2011-0411).
        self.framer = mailhost_imap_proto::frame::Framer::new(framer_limits(&self.ctx));
        if let Err(e) = self.conn.start_tls(&acceptor, timeout).await {
            info!(peer = %self.conn.peer, "imap: TLS handshake failed: {e}");
            return Err(End::TlsFailed);
        }
        Ok(())
    }

    /// LOGIN user password — not authenticated. RFC 9051 §6.2.3.
    pub async fn cmd_login(&mut self, tag: &str, user: Vec<u8>, password: Vec<u8>) -> Flow {
        if !self.plaintext_ok() {
            return self.refuse_plaintext(tag);
        }
        let (Ok(user), Ok(password)) = (String::from_utf8(user), String::from_utf8(password))
        else {
            return self.auth_failed(tag, FAILED).await;
        };
        self.login(tag, &user, &password, "").await
    }

    /// AUTHENTICATE PLAIN [initial] — not authenticated. RFC 9051 §6.2.2,
    /// RFC 4959 (SASL-IR), RFC 4616.
    pub async fn cmd_authenticate(
        &mut self,
        tag: &str,
        mechanism: String,
        initial: Option<Vec<u8>>,
    ) -> Flow {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self.no(tag, "unsupported SASL mechanism; use PLAIN");
        }
        if !self.plaintext_ok() {
            return self.refuse_plaintext(tag);
        }
        let response = match initial {
            Some(r) => r,
            None => {
                // RFC 9051 §6.2.2: an empty challenge, then one line.
                self.conn.write(b"+ \r\n");
                match self.next_frame().await? {
                    Frame::Command(c) => c.bytes,
                    _ => return self.bad(Some(tag), "bad SASL response"),
                }
            }
        };
        if response == b"*" {
            return self.bad(Some(tag), "authentication cancelled");
        }
        let decoded = if response == b"=" {
            Vec::new()
        } else {
            match base64::engine::general_purpose::STANDARD.decode(&response) {
                Ok(d) => d,
                Err(_) => return self.bad(Some(tag), "SASL response is not base64"),
            }
        };
        // authzid NUL authcid NUL password (RFC 4616 §2).
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(pw), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.bad(Some(tag), "malformed PLAIN response");
        };
        let (Ok(authz), Ok(authc), Ok(pw)) = (
            std::str::from_utf8(authz),
            std::str::from_utf8(authc),
            std::str::from_utf8(pw),
        ) else {
            return self.auth_failed(tag, FAILED).await;
        };
        let (authz, authc, pw) = (authz.to_string(), authc.to_string(), pw.to_string());
        self.login(tag, &authc, &pw, &authz).await
    }

    async fn auth_failed(&mut self, tag: &str, text: &str) -> Flow {
        self.no(tag, text)?;
        self.auth_failures += 1;
        if self.auth_failures >= MAX_AUTH_FAILURES {
            return Err(End::AuthFailures);
        }
        Ok(())
    }

    /// Checks the credentials (`local%domain` or `local@domain`, R-ADDR-1)
    /// under the login limits, then opens the mailbox under its lease.
    async fn login(&mut self, tag: &str, login: &str, password: &str, authzid: &str) -> Flow {
        let peer = self.conn.peer;
        let ip = peer.ip().to_canonical().to_string();
        let guard = self.ctx.guard.clone();
        // R-ABUSE-4, R-POP-3: a locked-out IP, login or mailbox fails like
        // a wrong password; repeated failures are answered ever more slowly.
        let (locked, delay) = match &guard {
            Some(g) => g.before(&ip, login, self.ctx.count_logins).await,
            None => (false, std::time::Duration::ZERO),
        };
        let result = if locked {
            Ok(AuthResult::Failed)
        } else {
            self.ctx
                .store
                .authenticate_mail(login, password, "imap", &ip)
                .await
        };
        let account = match result {
            Ok(AuthResult::Ok(a)) => {
                if let Some(g) = &guard {
                    g.succeeded(login).await;
                    if self.ctx.count_logins && !g.pop_login(&ip, &a.address).await {
                        info!(%peer, login, rule = "R-POP-3", "imap login refused: too many logins this hour");
                        return self.auth_failed(tag, FAILED).await;
                    }
                }
                a
            }
            Ok(AuthResult::Failed) => {
                info!(%peer, login, locked, "imap login failed");
                if let Some(g) = &guard {
                    g.failed(&ip, login, "imap").await;
                }
                tokio::time::sleep(delay).await;
                return self.auth_failed(tag, FAILED).await;
            }
            Ok(AuthResult::AppPasswordRequired) => {
                info!(%peer, login, rule = "R-WEB-5", "imap login refused: app password required");
                return self.auth_failed(tag, APP_PASSWORD).await;
            }
            Ok(AuthResult::Suspended) => {
                info!(%peer, login, rule = "R-ADDR-3", "imap login refused: suspended");
                return self.auth_failed(tag, SUSPENDED).await;
            }
            Err(e) => return self.tempfail(tag, "authentication", e),
        };
        // RFC 4616 §2: an account acts only as itself.
        if !authzid.is_empty()
            && login_to_address(authzid).as_deref() != Some(account.address.as_str())
        {
            info!(%peer, login, "imap login refused: foreign authorization identity");
            return self
                .auth_failed(
                    tag,
                    "[AUTHORIZATIONFAILED] the authorization identity must be empty or your own login",
                )
                .await;
        }
        self.open_mailbox(tag, account, &ip).await
    }

    /// R-POP-4 as R-POP-5 reads it: one computer at a time, across nodes.
    async fn open_mailbox(&mut self, tag: &str, account: Account, ip: &str) -> Flow {
        let ttl = self.lease_ttl();
        match self
            .ctx
            .store
            .mail_session_open(&self.id, account.id, "imap", ip, &self.ctx.node, ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                info!(peer = %self.conn.peer, account = %account.address, rule = "R-POP-4", "imap login refused: in use");
                // R-ABUSE-3: a refusal is a decision; record it.
                let e = mailhost_store::Evidence {
                    ip: ip.to_string(),
                    account: Some(account.address.clone()),
                    rule: "R-POP-4".into(),
                    decision: "refuse".into(),
                    reply: format!("NO {INUSE}"),
                    service: "imap".into(),
                    ..Default::default()
                };
                if let Err(err) = self.ctx.store.evidence_record(&e).await {
                    warn!("evidence log: {err}");
                }
                return self.no(tag, INUSE);
            }
            Err(e) => return self.tempfail(tag, "taking the mailbox lease", e),
        }
        self.lease_refreshed = Instant::now();
        let keywords = self
            .ctx
            .store
            .keywords(account.id)
            .await
            .unwrap_or_default();
        info!(peer = %self.conn.peer, account = %account.address, "imap login");
        self.user = Some(User { account, keywords });
        let caps = self.capabilities();
        self.ok(tag, &format!("[CAPABILITY {caps}] logged in"))
    }

    /// ENABLE — authenticated. RFC 5161; what it turns on: IMAP4rev2
    /// (RFC 9051), UTF8=ACCEPT (RFC 6855), CONDSTORE and QRESYNC (RFC
    /// 7162 §3.2.3: QRESYNC implies CONDSTORE).
    pub fn cmd_enable(&mut self, tag: &str, caps: Vec<String>) -> Flow {
        let mut enabled = Vec::new();
        for c in caps {
            let c = c.to_ascii_uppercase();
            let newly = match c.as_str() {
                "IMAP4REV2" => !std::mem::replace(&mut self.rev2, true),
                "UTF8=ACCEPT" => !std::mem::replace(&mut self.utf8, true),
                "CONDSTORE" => !std::mem::replace(&mut self.condstore, true),
                "QRESYNC" => {
                    self.condstore = true;
                    !std::mem::replace(&mut self.qresync, true)
                }
                _ => false,
            };
            if newly {
                enabled.push(if c == "IMAP4REV2" {
                    "IMAP4rev2".into()
                } else {
                    c
                });
            }
        }
        let line = format!("ENABLED {}", enabled.join(" "));
        self.untagged(line.trim_end());
        self.ok(tag, "ENABLE completed")
    }

    /// ID — any state. RFC 2971: who we are; what the client says is logged.
    pub fn cmd_id(&mut self, tag: &str, params: Option<Vec<(String, Option<String>)>>) -> Flow {
        if let Some(p) = &params {
            let said: Vec<String> = p
                .iter()
                .take(30)
                .map(|(k, v)| {
                    let v: String = v.as_deref().unwrap_or("NIL").chars().take(64).collect();
                    format!("{}={v}", k.chars().take(30).collect::<String>())
                })
                .collect();
            info!(peer = %self.conn.peer, client = %said.join(", "), "imap client id");
        }
        self.untagged(&format!(
            "ID (\"name\" \"mailhost\" \"version\" \"{}\")",
            env!("CARGO_PKG_VERSION")
        ));
        self.ok(tag, "ID completed")
    }
}
