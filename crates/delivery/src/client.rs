//! The SMTP client: one connection to one host (RFC 5321 §3, §4).
//!
//! States, in order; each line is what may be sent there:
//! - connected: nothing; read the greeting (220, §3.1; anything else ends
//!   the attempt at this address);
//! - greeted: EHLO, or HELO when EHLO is refused with 5xx (§3.2);
//! - ready: STARTTLS once when offered (RFC 3207), then EHLO again
//!   (RFC 3207 §4.2); MAIL to start a transaction; RSET; QUIT;
//! - in a transaction: RCPT…, DATA, the dot-stuffed body (§4.5.2), ".";
//!   pipelined when the server offers PIPELINING (RFC 2920), then ready
//!   again.
//!
//! Every read and write has `command_timeout`. A peer that hangs, closes,
//! or sends something that is not an SMTP reply gives no answer for the
//! recipients still open ([`Outcome::NoAnswer`]); a reply to MAIL, RCPT or
//! DATA is the answer for them ([`Outcome::Failed`] or
//! [`Outcome::Delivered`]), except 421, which closes the connection (§3.8).

use crate::data::{has_8bit, DotStuffer};
use crate::outcome::{Failure, Outcome};
use crate::reply::{self, Parsed, Reply};
use crate::route::Hop;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

/// Settings for every connection.
#[derive(Clone)]
pub struct Params {
    /// The name sent with EHLO/HELO (§4.1.1.1: our primary host name).
    pub helo: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// For opportunistic STARTTLS; None never starts TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The service extensions of the last EHLO reply that we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    /// SIZE (RFC 1870): Some(0) when offered without a limit.
    pub size: Option<u64>,
}

impl Extensions {
    fn from_ehlo(r: &Reply) -> Self {
        let mut e = Extensions::default();
        for (k, params) in r.ehlo_keywords() {
            match k.as_str() {
                "PIPELINING" => e.pipelining = true,
                "STARTTLS" => e.starttls = true,
                "8BITMIME" => e.eight_bit_mime = true,
                "SMTPUTF8" => e.smtputf8 = true,
                // RFC 1870 §4: an absent or unparsable number: no fixed limit.
                "SIZE" => {
                    e.size = Some(
                        params
                            .split_whitespace()
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0),
                    )
                }
                _ => {}
            }
        }
        e
    }
}

/// Why a connection could not be used.
#[derive(Debug)]
pub enum SessionError {
    Connect(io::Error),
    Timeout(&'static str),
    Io(&'static str, io::Error),
    Closed(&'static str),
    /// The peer sent something that is not an SMTP reply.
    Garbage(String),
    /// A reply that ends the session: a greeting other than 220, EHLO and
    /// HELO refused, or 421 at any point.
    Refused(&'static str, Reply),
    /// The TLS handshake failed; the host may be tried again without TLS.
    Tls(String),
}

impl SessionError {
    /// As a failure at `host` (RFC 3463 codes: X.4.1 no answer, X.4.2 bad
    /// connection, X.5.0 protocol error).
    pub fn failure(&self, host: &str, addr: SocketAddr) -> Failure {
        let at = |status: &str, what: String| {
            Failure::at(
                host,
                false,
                status,
                format!("{host}[{}]: {what}", addr.ip()),
            )
        };
        match self {
            SessionError::Connect(e) => at("4.4.1", format!("cannot connect: {e}")),
            SessionError::Timeout(stage) => at("4.4.2", format!("timed out {stage}")),
            SessionError::Io(stage, e) => at("4.4.2", format!("lost connection {stage}: {e}")),
            SessionError::Closed(stage) => {
                at("4.4.2", format!("connection closed by the server {stage}"))
            }
            SessionError::Garbage(e) => at("4.5.0", format!("protocol error: {e}")),
            SessionError::Tls(e) => at("4.7.0", format!("TLS handshake failed: {e}")),
            SessionError::Refused(stage, r) => {
                let mut f = Failure::reply(host, r);
                f.text = format!("{host}[{}] said {stage}: {r}", addr.ip());
                f
            }
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while STARTTLS swaps the stream.
    Gone,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }
}

/// One message to send: the envelope and the body as stored (CRLF lines,
/// not dot-stuffed).
pub struct Envelope<'a> {
    /// "" for the null sender (DSNs, §4.5.5).
    pub sender: &'a str,
    pub rcpts: &'a [String],
    pub body: &'a [u8],
}

/// One SMTP connection, greeted and ready for transactions.
pub struct Connection {
    stream: Stream,
    rbuf: Vec<u8>,
    pub host: String,
    pub addr: SocketAddr,
    pub ext: Extensions,
    /// The TLS version in use, if any.
    pub tls: Option<String>,
    timeout: Duration,
    helo: String,
    /// A transaction failed in a way that leaves the session unusable.
    broken: bool,
    /// Transactions run on this connection so far.
    pub transactions: usize,
    /// A transaction was started and not ended by the reply to its end of
    /// data (refused MAIL, no recipient, refused DATA): RSET before the
    /// next one.
    needs_rset: bool,
}

/// Opens a connection to the first address of `hop` that answers, with
/// STARTTLS when offered. If the TLS handshake fails, that address is tried
/// once more without TLS (RFC 7435 §1.3: opportunistic security must not
/// be worse than none).
pub async fn connect(hop: &Hop, p: &Params) -> Result<Connection, Failure> {
    let mut last = None;
    for &addr in &hop.addrs {
        match Connection::open(&hop.host, addr, p, true).await {
            Ok(c) => return Ok(c),
            Err(SessionError::Tls(e)) => {
                tracing::info!(host = %hop.host, %addr, "TLS handshake failed ({e}); retrying without TLS");
                match Connection::open(&hop.host, addr, p, false).await {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(e.failure(&hop.host, addr)),
                }
            }
            Err(e) => {
                tracing::debug!(host = %hop.host, %addr, "connection failed: {e:?}");
                last = Some(e.failure(&hop.host, addr));
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        Failure::at(
            &hop.host,
            false,
            "4.4.4",
            format!("{}: no address to connect to", hop.host),
        )
    }))
}

impl Connection {
    /// Connects, reads the greeting, says EHLO and, if `try_tls` and the
    /// server offers it, starts TLS.
    pub async fn open(
        host: &str,
        addr: SocketAddr,
        p: &Params,
        try_tls: bool,
    ) -> Result<Connection, SessionError> {
        let tcp = match timeout(p.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(SessionError::Timeout("connecting")),
            Ok(Err(e)) => return Err(SessionError::Connect(e)),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        let mut c = Connection {
            stream: Stream::Plain(tcp),
            rbuf: Vec::new(),
            host: host.to_string(),
            addr,
            ext: Extensions::default(),
            tls: None,
            timeout: p.command_timeout,
            helo: p.helo.clone(),
            broken: false,
            transactions: 0,
            needs_rset: false,
        };
        // §3.1: 220 or the session is refused (554, or 421 for now).
        let greeting = c.read_reply("waiting for the greeting").await?;
        if greeting.code != 220 {
            return Err(SessionError::Refused("in its greeting", greeting));
        }
        c.hello().await?;
        if let (true, true, Some(cfg)) = (try_tls, c.ext.starttls, &p.tls) {
            c.starttls(cfg.clone()).await?;
        }
        Ok(c)
    }

    /// EHLO; HELO if EHLO is refused with 5xx (§3.2: an old server that
    /// does not know EHLO).
    async fn hello(&mut self) -> Result<(), SessionError> {
        let cmd = format!("EHLO {}\r\n", self.helo);
        let r = self.command(cmd.as_bytes(), "after EHLO").await?;
        if r.code == 250 {
            self.ext = Extensions::from_ehlo(&r);
            return Ok(());
        }
        if !r.is_permanent() {
            return Err(SessionError::Refused("to EHLO", r));
        }
        let cmd = format!("HELO {}\r\n", self.helo);
        let r = self.command(cmd.as_bytes(), "after HELO").await?;
        if r.code != 250 {
            return Err(SessionError::Refused("to HELO", r));
        }
        self.ext = Extensions::default();
        Ok(())
    }

    /// RFC 3207. A reply other than 220 (454: TLS not available now)
    /// leaves the session as it was, and we go on in plaintext.
    async fn starttls(&mut self, cfg: Arc<rustls::ClientConfig>) -> Result<(), SessionError> {
        let r = self.command(b"STARTTLS\r\n", "after STARTTLS").await?;
        if r.code != 220 {
            tracing::info!(host = %self.host, "STARTTLS refused ({r}); continuing without TLS");
            return Ok(());
        }
        // Anything the server sent after its 220 was sent before the
        // handshake and could be an attacker's injection into the TLS
        // session (CVE-2011-0411): refuse it rather than read it later.
        if !self.rbuf.is_empty() {
            return Err(SessionError::Garbage(
                "data after the STARTTLS reply".into(),
            ));
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SessionError::Garbage("STARTTLS twice".into()));
        };
        let name = crate::tls::server_name(&self.host, self.addr.ip());
        let connector = tokio_rustls::TlsConnector::from(cfg);
        let tls = match timeout(self.timeout, connector.connect(name, tcp)).await {
            Err(_) => return Err(SessionError::Tls("timed out".into())),
            Ok(Err(e)) => return Err(SessionError::Tls(e.to_string())),
            Ok(Ok(s)) => s,
        };
        self.tls = Some(
            tls.get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
        );
        self.stream = Stream::Tls(Box::new(tls));
        // RFC 3207 §4.2: forget what was learnt before TLS, ask again.
        self.ext = Extensions::default();
        self.hello().await
    }

    /// Whether another transaction may run on this connection.
    pub fn usable(&self) -> bool {
        !self.broken
    }

    async fn rset(&mut self) -> Result<(), SessionError> {
        match self.command(b"RSET\r\n", "after RSET").await? {
            r if r.code == 250 => {
                self.needs_rset = false;
                Ok(())
            }
            r => Err(SessionError::Refused("to RSET", r)),
        }
    }

    /// Whether a connection that waited unused still answers: an RSET
    /// (§4.1.1.5, harmless in any state) within `limit`, as Postfix checks
    /// a cached connection before it reuses it. The server may have closed
    /// it meanwhile (its idle timeout, a 421); such a connection is not
    /// used again, and costs the next message nothing.
    pub async fn probe(&mut self, limit: Duration) -> bool {
        let saved = self.timeout;
        self.timeout = limit.min(saved);
        let ok = self.rset().await.is_ok();
        self.timeout = saved;
        self.broken |= !ok;
        ok
    }

    /// Sends one message; returns an outcome for each recipient, in order.
    pub async fn send(&mut self, env: &Envelope<'_>) -> Vec<Outcome> {
        let n = env.rcpts.len();
        if let Some(f) = self.cannot_carry(env) {
            return vec![Outcome::Failed(f); n];
        }
        if self.needs_rset {
            // §4.1.1.5: a clean state for the next transaction.
            if let Err(e) = self.rset().await {
                return self.abandon(vec![None; n], e);
            }
        }
        self.transactions += 1;
        self.needs_rset = true;
        let mut results = vec![None; n];
        match self.transaction(env, &mut results).await {
            // Every path of `transaction` answers every recipient; should one
            // be missed, it is retried rather than taken as delivered.
            Ok(()) => results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Outcome::NoAnswer(Failure::at(
                            &self.host,
                            false,
                            "4.5.0",
                            "no reply for this recipient",
                        ))
                    })
                })
                .collect(),
            Err(e) => self.abandon(results, e),
        }
    }

    /// The connection failed mid-way: recipients without an answer get
    /// none, and the connection is not used again.
    fn abandon(&mut self, results: Vec<Option<Outcome>>, e: SessionError) -> Vec<Outcome> {
        self.broken = true;
        let f = e.failure(&self.host, self.addr);
        tracing::debug!(host = %self.host, "session failed: {}", f.text);
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Outcome::NoAnswer(f.clone())))
            .collect()
    }

    /// What this server cannot take, decided before sending anything.
    fn cannot_carry(&self, env: &Envelope<'_>) -> Option<Failure> {
        let h = &self.host;
        if let Some(max) = self
            .ext
            .size
            .filter(|&m| m > 0 && env.body.len() as u64 > m)
        {
            // RFC 1870 §6.1: do not send what the server said it refuses.
            return Some(Failure::at(
                h,
                true,
                "5.3.4",
                format!(
                    "the message ({} bytes) is larger than {h} accepts ({max} bytes, RFC 1870)",
                    env.body.len()
                ),
            ));
        }
        if has_8bit(env.body) && !self.ext.eight_bit_mime {
            // RFC 6152 §3: 8-bit content must not go to a server without
            // 8BITMIME; we do not downgrade, so it is returned.
            return Some(Failure::at(
                h,
                true,
                "5.6.3",
                format!("the message contains 8-bit data and {h} does not support 8BITMIME (RFC 6152); it was not converted"),
            ));
        }
        if needs_smtputf8(env) && !self.ext.smtputf8 {
            // RFC 6531 §3.2: non-ASCII addresses need SMTPUTF8.
            return Some(Failure::at(
                h,
                true,
                "5.6.7",
                format!("the addresses are not ASCII and {h} does not support SMTPUTF8 (RFC 6531)"),
            ));
        }
        None
    }

    /// MAIL, RCPT…, DATA and the body; fills in `results` as replies come.
    async fn transaction(
        &mut self,
        env: &Envelope<'_>,
        results: &mut [Option<Outcome>],
    ) -> Result<(), SessionError> {
        let mut mail = format!("MAIL FROM:<{}>", env.sender);
        if self.ext.size.is_some() {
            mail.push_str(&format!(" SIZE={}", env.body.len())); // RFC 1870 §5
        }
        if self.ext.eight_bit_mime && has_8bit(env.body) {
            mail.push_str(" BODY=8BITMIME"); // RFC 6152 §2
        }
        if needs_smtputf8(env) {
            mail.push_str(" SMTPUTF8"); // RFC 6531 §3.4
        }
        mail.push_str("\r\n");
        let rcpts: Vec<String> = env
            .rcpts
            .iter()
            .map(|r| format!("RCPT TO:<{r}>\r\n"))
            .collect();
        let host = self.host.clone();
        // As Postfix words it: which command the refusal answered.
        let fail = |r: &Reply, cmd: &str| {
            let mut f = Failure::reply(&host, r);
            f.text.push_str(&format!(" (in reply to {cmd})"));
            Outcome::Failed(f)
        };
        let mut accepted = Vec::new();
        if self.ext.pipelining {
            // RFC 2920 §3.1: MAIL, every RCPT and DATA in one write; the
            // replies come in order.
            let mut batch = mail.into_bytes();
            rcpts
                .iter()
                .for_each(|r| batch.extend_from_slice(r.as_bytes()));
            batch.extend_from_slice(b"DATA\r\n");
            self.write(&batch, "sending the envelope").await?;
            let m = self.reply("after MAIL FROM").await?;
            for (i, slot) in results.iter_mut().enumerate() {
                let r = self.reply("after RCPT TO").await?;
                if !m.is_positive() {
                    *slot = Some(fail(&m, "MAIL FROM"));
                } else if r.is_positive() {
                    accepted.push(i);
                } else {
                    *slot = Some(fail(&r, "RCPT TO"));
                }
            }
            let d = self.reply("after DATA").await?;
            if d.code != 354 {
                for &i in &accepted {
                    results[i] = Some(fail(&d, "DATA"));
                }
                return Ok(());
            }
            if accepted.is_empty() {
                // RFC 2920 §3.1: DATA was accepted although no recipient
                // was; an empty message ends it, and is not a delivery.
                self.write(b".\r\n", "ending an empty DATA").await?;
                self.reply("after an empty DATA").await?;
                self.needs_rset = false;
                return Ok(());
            }
        } else {
            let m = self.command(mail.as_bytes(), "after MAIL FROM").await?;
            if !m.is_positive() {
                results
                    .iter_mut()
                    .for_each(|s| *s = Some(fail(&m, "MAIL FROM")));
                return Ok(());
            }
            for (i, cmd) in rcpts.iter().enumerate() {
                let r = self.command(cmd.as_bytes(), "after RCPT TO").await?;
                if r.is_positive() {
                    accepted.push(i);
                } else {
                    results[i] = Some(fail(&r, "RCPT TO"));
                }
            }
            if accepted.is_empty() {
                return Ok(());
            }
            let d = self.command(b"DATA\r\n", "after DATA").await?;
            if d.code != 354 {
                for &i in &accepted {
                    results[i] = Some(fail(&d, "DATA"));
                }
                return Ok(());
            }
        }
        self.send_body(env.body).await?;
        // §4.1.1.4: the reply to the final dot is the server's acceptance
        // of responsibility, for every accepted recipient at once.
        let end = self.reply("after the end of data").await?;
        // §3.3: the reply to the end of data, whatever it is, ends the
        // transaction and clears the server's state: the next MAIL needs
        // no RSET (one round trip less per message).
        self.needs_rset = false;
        for &i in &accepted {
            results[i] = Some(if end.is_positive() {
                Outcome::Delivered
            } else {
                fail(&end, "the end of data")
            });
        }
        Ok(())
    }

    async fn send_body(&mut self, body: &[u8]) -> Result<(), SessionError> {
        let mut stuffer = DotStuffer::default();
        let mut out = Vec::with_capacity(66 * 1024);
        for chunk in body.chunks(64 * 1024) {
            out.clear();
            stuffer.feed(chunk, &mut out);
            self.write(&out, "sending the message").await?;
        }
        out.clear();
        stuffer.finish(&mut out);
        self.write(&out, "sending the end of data").await
    }

    /// Ends the session politely (§4.1.1.10); errors do not matter now.
    pub async fn quit(mut self) {
        if !self.broken {
            let _ = self.command(b"QUIT\r\n", "after QUIT").await;
        }
        let _ = timeout(self.timeout, self.stream.shutdown()).await;
    }

    async fn command(&mut self, cmd: &[u8], stage: &'static str) -> Result<Reply, SessionError> {
        self.write(cmd, stage).await?;
        self.reply(stage).await
    }

    async fn write(&mut self, data: &[u8], stage: &'static str) -> Result<(), SessionError> {
        match timeout(self.timeout, self.stream.write_all(data)).await {
            Err(_) => Err(SessionError::Timeout(stage)),
            Ok(Err(e)) => Err(SessionError::Io(stage, e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// A reply; 421 (service closing, §3.8) ends the session wherever it
    /// comes.
    async fn reply(&mut self, stage: &'static str) -> Result<Reply, SessionError> {
        let r = self.read_reply(stage).await?;
        if r.code == 421 {
            return Err(SessionError::Refused("and closed the connection", r));
        }
        Ok(r)
    }

    async fn read_reply(&mut self, stage: &'static str) -> Result<Reply, SessionError> {
        let mut tmp = [0u8; 8192];
        loop {
            match reply::parse(&self.rbuf) {
                Parsed::Done(r, n) => {
                    self.rbuf.drain(..n);
                    return Ok(r);
                }
                Parsed::Invalid(e) => return Err(SessionError::Garbage(e)),
                Parsed::NeedMore => {}
            }
            let n = match timeout(self.timeout, self.stream.read(&mut tmp)).await {
                Err(_) => return Err(SessionError::Timeout(stage)),
                Ok(Err(e)) => return Err(SessionError::Io(stage, e)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(SessionError::Closed(stage));
            }
            self.rbuf.extend_from_slice(&tmp[..n]);
        }
    }
}

fn needs_smtputf8(env: &Envelope<'_>) -> bool {
    !env.sender.is_ascii() || env.rcpts.iter().any(|r| !r.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_from_ehlo() {
        let Parsed::Done(r, _) =
            reply::parse(b"250-mx hi\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n")
        else {
            panic!()
        };
        let e = Extensions::from_ehlo(&r);
        assert_eq!(
            e,
            Extensions {
                size: Some(1000),
                starttls: true,
                smtputf8: true,
                ..Default::default()
            }
        );
        let Parsed::Done(r, _) = reply::parse(b"250-mx\r\n250-size\r\n250 PIPELINING\r\n") else {
            panic!()
        };
        assert_eq!(
            Extensions::from_ehlo(&r),
            Extensions {
                size: Some(0),
                pipelining: true,
                ..Default::default()
            }
        );
    }
}
