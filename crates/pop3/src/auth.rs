//! AUTHORIZATION state: CAPA, USER/PASS, AUTH PLAIN, STLS, and opening the
//! maildrop under its lease (R-POP-4).

use crate::parse::{sasl_plain, Command, PlainCreds};
use crate::session::{End, Flow, Io, Lease, Maildrop, Msg, Session, State, MAX_AUTH_FAILURES};
use mailhost_store::address::login_to_address;
use mailhost_store::{Account, AuthResult};
use std::time::Instant;
use tracing::{info, warn};

/// A SASL continuation line may be longer than a command line (RFC 5034
/// §4); PLAIN with the store's longest password (1024 bytes) fits in this.
const MAX_SASL_LINE: usize = 4096;

const FAILED: &str = "[AUTH] invalid login or password";
const SUSPENDED: &str = "[AUTH] account suspended (R-ADDR-3); contact your domain administrator";
const APP_PASSWORD: &str =
    "[AUTH] this mailbox signs in with two steps (R-WEB-5): use an app password from your panel";
const TEMPFAIL: &str = "[SYS/TEMP] temporary failure; please try again later";

impl Io {
    /// CAPA — any state. RFC 2449 §5: capabilities of the AUTHORIZATION
    /// state are announced in both states, so the list does not change at
    /// login; it changes after STLS (RFC 2595 §4: no STLS inside TLS).
    pub fn cmd_capa(&mut self) -> Flow {
        self.ok("capability list follows");
        self.conn.write(
            b"TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN\r\n",
        );
        if self.stls_available() {
            self.conn.write(b"STLS\r\n");
        }
        self.conn.write(b"IMPLEMENTATION mailhost\r\n.\r\n");
        Ok(())
    }

    fn stls_available(&self) -> bool {
        self.ctx.tls.is_some() && !self.conn.is_tls()
    }

    /// RFC 2595 §2.3: passwords are not taken in clear text. On port 110
    /// USER/PASS and AUTH are refused until STLS — except from loopback
    /// (127.0.0.0/8, ::1), where the password never crosses a network: the
    /// local webmail and the tests connect there. (The TLS-only rule of
    /// R-OUT-1 is about SMTP submission; this is the same idea for POP3.)
    fn plaintext_ok(&self) -> bool {
        self.conn.is_tls() || self.conn.peer.ip().to_canonical().is_loopback()
    }

    fn refuse_plaintext(&mut self) -> Flow {
        if self.stls_available() {
            self.bad("[AUTH] use STLS first (plaintext passwords are refused without TLS)")
        } else {
            self.bad("[AUTH] plaintext passwords are refused without TLS; use the POP3S port (995)")
        }
    }

    /// A failed login; the third one in a session ends it.
    fn auth_failed(&mut self, text: &str) -> Flow {
        self.err(text);
        self.auth_failures += 1;
        if self.auth_failures >= MAX_AUTH_FAILURES {
            return Err(End::AuthFailures);
        }
        Ok(())
    }
}

impl Session {
    pub(crate) async fn authorization(&mut self, cmd: Command) -> Flow {
        match cmd {
            Command::User(name) => self.cmd_user(name),
            Command::Pass(password) => self.cmd_pass(password).await,
            Command::Auth { mechanism, initial } => self.cmd_auth(mechanism, initial).await,
            Command::Stls => self.cmd_stls().await,
            _ => self.io.bad("command not valid before login"),
        }
    }

    /// USER name — AUTHORIZATION. RFC 1939 §7. The reply does not say
    /// whether the mailbox exists.
    fn cmd_user(&mut self, name: String) -> Flow {
        if !self.io.plaintext_ok() {
            return self.io.refuse_plaintext();
        }
        self.state = State::Authorization { user: Some(name) };
        self.io.ok("send PASS");
        Ok(())
    }

    /// PASS password — AUTHORIZATION, after USER. RFC 1939 §7: on failure
    /// the client starts again with USER.
    async fn cmd_pass(&mut self, password: String) -> Flow {
        let State::Authorization { user } = &mut self.state else {
            return Ok(());
        };
        let Some(user) = user.take() else {
            return self.io.bad("send USER first");
        };
        if !self.io.plaintext_ok() {
            return self.io.refuse_plaintext();
        }
        self.login(&user, &password, "").await
    }

    /// AUTH [mechanism [initial-response]] — AUTHORIZATION. RFC 5034 §4,
    /// PLAIN only (RFC 4616).
    async fn cmd_auth(&mut self, mechanism: Option<String>, initial: Option<String>) -> Flow {
        let Some(mechanism) = mechanism else {
            // Leniency: RFC 1734-era clients (Outlook among them) send a bare
            // AUTH to list the mechanisms and expect a multi-line answer.
            self.io.ok("SASL mechanisms follow");
            self.io.conn.write(b"PLAIN\r\n.\r\n");
            return Ok(());
        };
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self.io.bad("unsupported SASL mechanism; use PLAIN");
        }
        if !self.io.plaintext_ok() {
            return self.io.refuse_plaintext();
        }
        let response = match initial {
            Some(r) => r.into_bytes(),
            None => {
                // RFC 5034 §4: an empty challenge, then one response line.
                self.io.conn.write(b"+ \r\n");
                match self.io.read_line(MAX_SASL_LINE).await? {
                    Some(line) => line,
                    None => return self.io.bad("SASL response too long"),
                }
            }
        };
        let trimmed = response.strip_suffix(b"\n").unwrap_or(&response);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed == b"*" {
            // RFC 5034 §4: the client cancels the exchange.
            self.io.err("authentication cancelled");
            return Ok(());
        }
        // "=" (an empty initial response, RFC 5034 §4) is not valid PLAIN
        // either, and fails here like bad base64 does.
        let PlainCreds {
            authzid,
            authcid,
            password,
        } = match sasl_plain(trimmed) {
            Ok(c) => c,
            Err(e) => return self.io.bad(&e.to_string()),
        };
        self.login(&authcid, &password, &authzid).await
    }

    /// STLS — AUTHORIZATION. RFC 2595 §4.
    async fn cmd_stls(&mut self) -> Flow {
        let Some(acceptor) = self.io.ctx.tls.clone().filter(|_| self.io.stls_available()) else {
            return self.io.bad("STLS not available");
        };
        self.io.ok("Begin TLS negotiation");
        self.io.flush().await?;
        // start_tls drops whatever the client pipelined in clear text.
        let timeout = self.io.ctx.limits.pop3_timeout.std();
        if let Err(e) = self.io.conn.start_tls(&acceptor, timeout).await {
            info!(peer = %self.io.conn.peer, "pop3: TLS handshake failed: {e}");
            return Err(End::TlsFailed);
        }
        // Nothing said before TLS carries over (RFC 2595 §4).
        self.state = State::Authorization { user: None };
        Ok(())
    }

    /// Checks the credentials (`local%domain` or `local@domain`, R-ADDR-1),
    /// then takes the mailbox lease and lists the maildrop.
    async fn login(&mut self, login: &str, password: &str, authzid: &str) -> Flow {
        let peer = self.io.conn.peer;
        let ip = peer.ip().to_string();
        let guard = self.io.ctx.guard.clone();
        // R-ABUSE-4, R-POP-3: a locked-out IP, login or mailbox fails like a
        // wrong password; repeated failures are answered ever more slowly.
        let (locked, delay) = match &guard {
            Some(g) => g.before(&ip, login, true).await,
            None => (false, std::time::Duration::ZERO),
        };
        let result = if locked {
            Ok(AuthResult::Failed)
        } else {
            self.io
                .ctx
                .store
                .authenticate_mail(login, password, "pop3", &ip)
                .await
        };
        let account = match result {
            Ok(AuthResult::Ok(a)) => {
                if let Some(g) = &guard {
                    g.succeeded(login).await;
                    if !g.pop_login(&ip, &a.address).await {
                        info!(%peer, login, rule = "R-POP-3", "pop3 login refused: too many logins this hour");
                        return self.io.auth_failed(FAILED);
                    }
                }
                a
            }
            Ok(AuthResult::Failed) => {
                info!(%peer, login, locked, "pop3 login failed");
                if let Some(g) = &guard {
                    g.failed(&ip, login, "pop3").await;
                }
                tokio::time::sleep(delay).await;
                return self.io.auth_failed(FAILED);
            }
            Ok(AuthResult::AppPasswordRequired) => {
                info!(%peer, login, rule = "R-WEB-5", "pop3 login refused: app password required");
                return self.io.auth_failed(APP_PASSWORD);
            }
            Ok(AuthResult::Suspended) => {
                info!(%peer, login, rule = "R-ADDR-3", "pop3 login refused: suspended");
                return self.io.auth_failed(SUSPENDED);
            }
            Err(e) => {
                warn!(%peer, "pop3: authentication error: {e}");
                self.io.err(TEMPFAIL);
                return Ok(());
            }
        };
        // RFC 4616 §2: we let an account act only as itself.
        if !authzid.is_empty()
            && login_to_address(authzid).as_deref() != Some(account.address.as_str())
        {
            info!(%peer, login, "pop3 login refused: foreign authorization identity");
            return self
                .io
                .auth_failed("[AUTH] the authorization identity must be empty or your own login");
        }
        self.open_maildrop(account).await
    }

    /// R-POP-4: one session per mailbox, across every node of the store
    /// (and no IMAP session meanwhile, R-POP-5).
    async fn open_maildrop(&mut self, account: Account) -> Flow {
        let io = &mut self.io;
        let name = format!("pop:{}", account.id);
        let ip = io.conn.peer.ip().to_canonical().to_string();
        match io
            .ctx
            .store
            .mail_session_open(
                &io.owner,
                account.id,
                "pop3",
                &ip,
                &io.ctx.node,
                io.lease_ttl(),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                info!(peer = %io.conn.peer, account = %account.address, rule = "R-POP-4", "pop3 login refused: in use");
                let reply = "[IN-USE] mailbox is already in use by another session (R-POP-4)";
                // R-ABUSE-3: a refusal is a decision; record it.
                let e = mailhost_store::Evidence {
                    ip: io.conn.peer.ip().to_string(),
                    account: Some(account.address.clone()),
                    rule: "R-POP-4".into(),
                    decision: "refuse".into(),
                    reply: format!("-ERR {reply}"),
                    service: "pop3".into(),
                    ..Default::default()
                };
                if let Err(err) = io.ctx.store.evidence_record(&e).await {
                    warn!("evidence log: {err}");
                }
                io.err(reply);
                return Ok(());
            }
            Err(e) => {
                warn!("pop3: cannot take mailbox lock {name}: {e}");
                io.err(TEMPFAIL);
                return Ok(());
            }
        }
        io.lease = Some(Lease {
            name,
            refreshed: Instant::now(),
        });
        let metas = match io.ctx.store.list_messages(account.id).await {
            Ok(m) => m,
            Err(e) => {
                warn!(account = %account.address, "pop3: cannot list messages: {e}");
                if io.lease.take().is_some() {
                    let _ = io.ctx.store.mail_session_close(&io.owner).await;
                }
                io.err(TEMPFAIL);
                return Ok(());
            }
        };
        let msgs: Vec<Msg> = metas
            .into_iter()
            .map(|meta| Msg {
                meta,
                deleted: false,
                retrieved: false,
            })
            .collect();
        let octets: u64 = msgs.iter().map(|m| m.meta.size).sum();
        info!(peer = %io.conn.peer, account = %account.address, messages = msgs.len(), "pop3 login");
        if !io.ctx.pop_before_smtp.is_zero() {
            // R-OUT-2: this IP may now submit as this account for a while.
            let ip = io.conn.peer.ip().to_string();
            if let Err(e) = io
                .ctx
                .store
                .pop_grant(&ip, &account.address, io.ctx.pop_before_smtp)
                .await
            {
                warn!(account = %account.address, "pop3: cannot record POP-before-SMTP grant: {e}");
            }
        }
        io.ok(&format!(
            "{} has {} messages ({octets} octets)",
            account.address,
            msgs.len()
        ));
        self.state = State::Transaction(Maildrop {
            account,
            msgs,
            ahead: Default::default(),
        });
        Ok(())
    }
}
