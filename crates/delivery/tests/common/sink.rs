//! A small SMTP server for the tests: it records what it receives and can
//! be told to refuse, hang, break or talk nonsense.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How the sink behaves. "first N connections" counts from 1.
#[derive(Clone)]
pub struct Behaviour {
    /// EHLO extension lines.
    pub ehlo: Vec<String>,
    /// Replies to RCPT TO for particular recipients (default 250).
    pub rcpt: HashMap<String, String>,
    /// Reply after the final dot (default 250).
    pub data_end: Option<String>,
    /// Never answer this command verb on the first N connections.
    pub hang_on: Option<(String, usize)>,
    /// Close the connection in the middle of DATA on the first N connections.
    pub drop_mid_data: usize,
    /// Answer EHLO with nonsense on the first N connections.
    pub garbage: usize,
    /// Offer STARTTLS with this acceptor.
    pub tls: Option<TlsAcceptor>,
    /// Accept STARTTLS, then break the handshake.
    pub broken_tls: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            ehlo: ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10000000"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rcpt: HashMap::new(),
            data_end: None,
            hang_on: None,
            drop_mid_data: 0,
            garbage: 0,
            tls: None,
            broken_tls: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Vec<u8>,
    pub tls: bool,
    /// Which connection (1, 2, …) carried it.
    pub conn: usize,
}

#[derive(Default)]
pub struct Log {
    pub connections: usize,
    /// Accepted messages.
    pub messages: Vec<Received>,
    /// Every command line, as "N: LINE".
    pub commands: Vec<String>,
}

pub struct Sink {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Log>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
}

impl Sink {
    pub async fn start(b: Behaviour) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let behaviour = Arc::new(Mutex::new(b));
        let (l, b) = (log.clone(), behaviour.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = {
                    let mut g = l.lock().unwrap();
                    g.connections += 1;
                    g.connections
                };
                tokio::spawn(serve(tcp, n, l.clone(), b.clone()));
            }
        });
        Sink {
            addr,
            log,
            behaviour,
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.log.lock().unwrap().messages.clone()
    }
    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }
    /// Command lines starting with `prefix` (e.g. "RCPT TO:<a@b>").
    pub fn count(&self, prefix: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .commands
            .iter()
            .filter(|c| {
                c.split_once(": ")
                    .map(|x| x.1)
                    .unwrap_or("")
                    .starts_with(prefix)
            })
            .count()
    }
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour.lock().unwrap())
    }
}

enum Next {
    Close,
    StartTls,
}

async fn serve(tcp: TcpStream, n: usize, log: Arc<Mutex<Log>>, b: Arc<Mutex<Behaviour>>) {
    let mut s = BufReader::new(tcp);
    let _ = s.get_mut().write_all(b"220 sink.test ESMTP\r\n").await;
    if let Next::StartTls = session(&mut s, n, &log, &b, false).await {
        let (acceptor, broken) = {
            let g = b.lock().unwrap();
            (g.tls.clone(), g.broken_tls)
        };
        let mut tcp = s.into_inner();
        if broken {
            // Wait for the ClientHello, then answer with nonsense.
            let mut buf = [0u8; 512];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"this is not TLS at all\r\n").await;
            return;
        }
        let Some(acceptor) = acceptor else { return };
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let mut s = BufReader::new(tls);
        session(&mut s, n, &log, &b, true).await;
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    n: usize,
    log: &Mutex<Log>,
    b: &Mutex<Behaviour>,
    tls: bool,
) -> Next {
    let mut from = String::new();
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let mut line = Vec::new();
        match s.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Next::Close,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        log.lock().unwrap().commands.push(format!("{n}: {line}"));
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let beh = b.lock().unwrap().clone();
        if let Some((v, upto)) = &beh.hang_on {
            if *v == verb && n <= *upto {
                tokio::time::sleep(Duration::from_secs(600)).await;
                return Next::Close;
            }
        }
        let reply: String = match verb.as_str() {
            "EHLO" if n <= beh.garbage => "HELLO, THIS IS NOT SMTP\r\n".into(),
            "EHLO" => {
                let mut ext = beh.ehlo.clone();
                if (beh.tls.is_some() || beh.broken_tls) && !tls {
                    ext.push("STARTTLS".into());
                }
                let mut r = String::from("250-sink.test");
                for e in ext {
                    r.push_str(&format!("\r\n250-{e}"));
                }
                r.push_str("\r\n250 HELP\r\n");
                r
            }
            "HELO" | "NOOP" => "250 ok\r\n".into(),
            "STARTTLS" => {
                let _ = s.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await;
                return Next::StartTls;
            }
            "RSET" => {
                from.clear();
                rcpts.clear();
                "250 2.0.0 reset\r\n".into()
            }
            "MAIL" => {
                from = angle(&line);
                rcpts.clear();
                "250 2.1.0 ok\r\n".into()
            }
            "RCPT" => {
                let r = angle(&line);
                match beh.rcpt.get(&r) {
                    Some(reply) => format!("{reply}\r\n"),
                    None => {
                        rcpts.push(r);
                        "250 2.1.5 ok\r\n".into()
                    }
                }
            }
            "DATA" if rcpts.is_empty() => "554 5.5.1 no valid recipients\r\n".into(),
            "DATA" => {
                let _ = s.get_mut().write_all(b"354 go ahead\r\n").await;
                let mut body = Vec::new();
                let mut lines = 0;
                loop {
                    let mut l = Vec::new();
                    match s.read_until(b'\n', &mut l).await {
                        Ok(0) | Err(_) => return Next::Close,
                        Ok(_) => {}
                    }
                    lines += 1;
                    if n <= beh.drop_mid_data && lines == 2 {
                        return Next::Close;
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    // RFC 5321 §4.5.2: remove the stuffed dot.
                    body.extend_from_slice(if l.starts_with(b".") { &l[1..] } else { &l });
                }
                let end = beh
                    .data_end
                    .clone()
                    .unwrap_or_else(|| "250 2.0.0 queued".into());
                if end.starts_with('2') {
                    log.lock().unwrap().messages.push(Received {
                        from: from.clone(),
                        rcpts: rcpts.clone(),
                        body,
                        tls,
                        conn: n,
                    });
                }
                rcpts.clear();
                format!("{end}\r\n")
            }
            "QUIT" => {
                let _ = s.get_mut().write_all(b"221 2.0.0 bye\r\n").await;
                return Next::Close;
            }
            _ => "500 5.5.2 what?\r\n".into(),
        };
        if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return Next::Close;
        }
    }
}

/// The address between < and > of a MAIL or RCPT line.
fn angle(line: &str) -> String {
    let a = line.find('<').map(|i| i + 1).unwrap_or(0);
    let b = line[a..].find('>').map(|i| a + i).unwrap_or(line.len());
    line[a..b].to_string()
}

/// A TLS acceptor with a fresh self-signed certificate.
pub fn tls_acceptor() -> TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["sink.test".to_string()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    TlsAcceptor::from(Arc::new(cfg))
}
