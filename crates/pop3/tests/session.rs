//! End-to-end POP3 sessions: a real store in a temporary directory, a
//! listener on 127.0.0.1:0 and a raw client speaking the protocol.

use mailhost_config::Limits;
use mailhost_net::conn::Stream;
use mailhost_net::Conn;
use mailhost_pop3::{session, Pop3Ctx};
use mailhost_store::{AuthResult, NewMessage, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const PREFIX: &[u8] = b"Return-Path: <sender@remote.example>\r\n";
const MSG1: &[u8] = b"Subject: one\r\n\r\nhello\r\n.hidden dot\r\n.\r\n..two\r\nend\r\n";
const MSG2: &[u8] = b"Subject: two\r\n\r\nsecond\r\n";

struct Server {
    addr: SocketAddr,
    store: Store,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

#[derive(Default)]
struct Opts {
    limits: Limits,
    tls: bool,
    /// Pretend every client comes from this address.
    peer: Option<SocketAddr>,
}

async fn start(opts: Opts) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    store
        .domain_add("example.com", "admin@example.net", None)
        .await
        .unwrap();
    store
        .user_add("u@example.com", "pw one", None, None)
        .await
        .unwrap();
    store
        .user_add("s@example.com", "pw", None, None)
        .await
        .unwrap();
    store
        .user_set_suspended("s@example.com", true)
        .await
        .unwrap();
    let AuthResult::Ok(acct) = store.authenticate("u@example.com", "pw one").await.unwrap() else {
        panic!()
    };
    for body in [MSG1, MSG2] {
        store
            .deliver(NewMessage {
                body: body.to_vec(),
                deliveries: vec![(acct.id, PREFIX.to_vec())],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let tls = opts.tls.then(|| {
        let cfg =
            mailhost_net::tls::server_config(&Default::default(), dir.path(), "localhost").unwrap();
        tokio_rustls::TlsAcceptor::from(cfg)
    });
    let shutdown = CancellationToken::new();
    let ctx = Arc::new(Pop3Ctx {
        pop_before_smtp: std::time::Duration::ZERO,
        guard: None,
        store: store.clone(),
        tls,
        hostname: "pop.test".into(),
        node: "test-node".into(),
        limits: opts.limits,
        shutdown: shutdown.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let local = tcp.local_addr().unwrap();
            let peer = opts.peer.unwrap_or(peer);
            tokio::spawn(session(
                Conn::new(Stream::Plain(tcp), peer, local),
                ctx.clone(),
            ));
        }
    });
    Server {
        addr,
        store,
        shutdown,
        _dir: dir,
    }
}

struct Client<S> {
    s: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, data: &str) {
        self.s.write_all(data.as_bytes()).await.unwrap();
    }

    /// One reply line without CRLF; "" at EOF.
    async fn line(&mut self) -> String {
        let mut b = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), self.s.read_until(b'\n', &mut b))
            .await
            .unwrap()
            .unwrap();
        let s = String::from_utf8(b).unwrap();
        assert!(
            s.is_empty() || s.ends_with("\r\n"),
            "reply without CRLF: {s:?}"
        );
        s.trim_end_matches("\r\n").to_string()
    }

    async fn cmd(&mut self, c: &str) -> String {
        self.send(&format!("{c}\r\n")).await;
        self.line().await
    }

    /// The raw body of a multi-line response, terminator excluded.
    async fn multi(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let mut b = Vec::new();
            self.s.read_until(b'\n', &mut b).await.unwrap();
            assert!(!b.is_empty(), "EOF inside a multi-line response");
            if b == b".\r\n" {
                return all;
            }
            all.extend_from_slice(&b);
        }
    }

    async fn closed(&mut self) {
        let mut b = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), self.s.read(&mut b))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(
            n,
            0,
            "expected EOF, got {:?}",
            String::from_utf8_lossy(&b[..n])
        );
    }
}

async fn connect(srv: &Server) -> Client<TcpStream> {
    let mut c = Client {
        s: BufReader::new(TcpStream::connect(srv.addr).await.unwrap()),
    };
    assert_eq!(c.line().await, "+OK pop.test POP3 ready");
    c
}

async fn login(srv: &Server) -> Client<TcpStream> {
    let mut c = connect(srv).await;
    assert_eq!(c.cmd("USER u%example.com").await, "+OK send PASS");
    let r = c.cmd("PASS pw one").await;
    assert!(r.starts_with("+OK u@example.com has 2 messages"), "{r}");
    c
}

fn unstuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in raw.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

fn full(body: &[u8]) -> Vec<u8> {
    [PREFIX, body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_delete_quit() {
    let srv = start(Opts::default()).await;
    let mut c = login(&srv).await;
    let (m1, m2) = (full(MSG1), full(MSG2));
    assert_eq!(
        c.cmd("STAT").await,
        format!("+OK 2 {}", m1.len() + m2.len())
    );
    assert!(c.cmd("LIST").await.starts_with("+OK 2 messages"));
    assert_eq!(
        c.multi().await,
        format!("1 {}\r\n2 {}\r\n", m1.len(), m2.len()).into_bytes()
    );
    assert_eq!(c.cmd("LIST 2").await, format!("+OK 2 {}", m2.len()));
    assert_eq!(c.cmd("LIST 3").await, "-ERR no such message: 3");
    assert!(c.cmd("UIDL").await.starts_with("+OK"));
    let uidl = String::from_utf8(c.multi().await).unwrap();
    let uids: Vec<&str> = uidl.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(uids.len(), 2);
    assert_eq!(c.cmd("UIDL 1").await, format!("+OK 1 {}", uids[0]));

    assert_eq!(c.cmd("RETR 1").await, format!("+OK {} octets", m1.len()));
    let raw = c.multi().await;
    assert!(
        raw.windows(13).any(|w| w == b"\r\n..hidden do"),
        "not stuffed: {}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(unstuff(&raw), m1);
    assert_eq!(c.cmd("TOP 1 1").await, "+OK top of message follows");
    assert_eq!(
        c.multi().await,
        [PREFIX, b"Subject: one\r\n\r\nhello\r\n"].concat()
    );
    assert_eq!(c.cmd("TOP 1 2").await, "+OK top of message follows");
    assert_eq!(
        unstuff(&c.multi().await),
        [PREFIX, b"Subject: one\r\n\r\nhello\r\n.hidden dot\r\n"].concat()
    );

    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(c.cmd("RETR 1").await, "-ERR message 1 already deleted");
    assert_eq!(c.cmd("DELE 1").await, "-ERR message 1 already deleted");
    assert_eq!(c.cmd("STAT").await, format!("+OK 1 {}", m2.len()));
    assert!(c.cmd("LIST").await.starts_with("+OK 1 messages"));
    assert_eq!(c.multi().await, format!("2 {}\r\n", m2.len()).into_bytes());
    assert_eq!(
        c.cmd("RSET").await,
        format!(
            "+OK maildrop has 2 messages ({} octets)",
            m1.len() + m2.len()
        )
    );
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(c.cmd("USER x").await, "-ERR command not valid after login");
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK pop.test POP3 server signing off (1 messages deleted)"
    );
    c.closed().await;

    // A new session sees the deletion, and message 2 is now number 1 with
    // the same UID.
    let mut c = connect(&srv).await;
    assert_eq!(c.cmd("USER u@example.com").await, "+OK send PASS");
    assert!(c
        .cmd("PASS pw one")
        .await
        .starts_with("+OK u@example.com has 1 messages"));
    assert_eq!(c.cmd("UIDL 1").await, format!("+OK 1 {}", uids[1]));
    assert_eq!(c.cmd("QUIT").await, "+OK pop.test POP3 server signing off");
    c.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_mailbox() {
    let srv = start(Opts::default()).await;
    let mut a = login(&srv).await;
    let mut b = connect(&srv).await;
    b.cmd("USER u%example.com").await;
    assert_eq!(
        b.cmd("PASS pw one").await,
        "-ERR [IN-USE] mailbox is already in use by another session (R-POP-4)"
    );
    // AUTH PLAIN is refused the same way.
    assert!(b
        .cmd("AUTH PLAIN AHVAZXhhbXBsZS5jb20AcHcgb25l")
        .await
        .starts_with("-ERR [IN-USE]"));
    // A disconnect without QUIT deletes nothing and releases the lock.
    assert_eq!(a.cmd("DELE 1").await, "+OK message 1 deleted");
    drop(a);
    let mut tries = 0;
    loop {
        b.cmd("USER u%example.com").await;
        let r = b.cmd("PASS pw one").await;
        if r.starts_with("+OK u@example.com has 2 messages") {
            break;
        }
        assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
        tries += 1;
        assert!(tries < 50, "lock not released after disconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(b.cmd("QUIT").await.starts_with("+OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_and_failures() {
    let srv = start(Opts::default()).await;
    let mut c = connect(&srv).await;
    let capa = {
        assert_eq!(c.cmd("CAPA").await, "+OK capability list follows");
        String::from_utf8(c.multi().await).unwrap()
    };
    for cap in [
        "TOP",
        "UIDL",
        "USER",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "SASL PLAIN",
        "IMPLEMENTATION mailhost",
    ] {
        assert!(capa.lines().any(|l| l == cap), "{cap} missing from {capa}");
    }
    assert!(!capa.contains("STLS"), "no TLS configured: {capa}");
    assert_eq!(c.cmd("NOOP").await, "-ERR command not valid before login");
    assert_eq!(c.cmd("PASS x").await, "-ERR send USER first");
    assert_eq!(c.cmd("AUTH").await, "+OK SASL mechanisms follow");
    assert_eq!(c.multi().await, b"PLAIN\r\n");
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "-ERR unsupported SASL mechanism; use PLAIN"
    );
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert_eq!(c.cmd("*").await, "-ERR authentication cancelled");
    assert_eq!(
        c.cmd("AUTH PLAIN !!!").await,
        "-ERR syntax error: malformed SASL PLAIN response"
    );
    // Wrong password and unknown account: the same answer.
    // "\0u@example.com\0wrong", "\0nobody@example.com\0pw one"
    assert_eq!(
        c.cmd("AUTH PLAIN AHVAZXhhbXBsZS5jb20Ad3Jvbmc=").await,
        "-ERR [AUTH] invalid login or password"
    );
    assert_eq!(c.cmd("USER nobody@example.com").await, "+OK send PASS");
    assert_eq!(
        c.cmd("PASS pw one").await,
        "-ERR [AUTH] invalid login or password"
    );
    // The continuation form, with local%domain.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    // "\0u%example.com\0pw one"
    assert!(c
        .cmd("AHUlZXhhbXBsZS5jb20AcHcgb25l")
        .await
        .starts_with("+OK u@example.com has 2 messages"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    c.closed().await;

    // Suspended (R-ADDR-3); the third failure closes the connection.
    let mut c = connect(&srv).await;
    c.cmd("USER s@example.com").await;
    assert_eq!(
        c.cmd("PASS pw").await,
        "-ERR [AUTH] account suspended (R-ADDR-3); contact your domain administrator"
    );
    c.cmd("USER u@example.com").await;
    assert_eq!(
        c.cmd("PASS nope").await,
        "-ERR [AUTH] invalid login or password"
    );
    c.cmd("USER u@example.com").await;
    assert_eq!(
        c.cmd("PASS nope").await,
        "-ERR [AUTH] invalid login or password"
    );
    c.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lines_pipelining_and_errors() {
    let limits = Limits {
        max_errors: 4,
        ..Limits::default()
    };
    let srv = start(Opts {
        limits,
        ..Opts::default()
    })
    .await;
    let mut c = connect(&srv).await;
    // 255 octets with CRLF is allowed; 256 is not (RFC 2449 §4). A huge line
    // is dropped as it arrives.
    let ok_line = format!("USER {}", "a".repeat(248));
    assert_eq!(c.cmd(&ok_line).await, "+OK send PASS");
    assert_eq!(
        c.cmd(&format!("USER {}", "a".repeat(249))).await,
        "-ERR line too long"
    );
    assert_eq!(c.cmd(&"X".repeat(100_000)).await, "-ERR line too long");
    // Pipelined commands, bare LF accepted; replies come back in order.
    c.send("USER u%example.com\nPASS pw one\r\nSTAT\r\nLIST 1\r\nQUIT\r\n")
        .await;
    assert_eq!(c.line().await, "+OK send PASS");
    assert!(c
        .line()
        .await
        .starts_with("+OK u@example.com has 2 messages"));
    assert!(c.line().await.starts_with("+OK 2 "));
    assert!(c.line().await.starts_with("+OK 1 "));
    assert!(c
        .line()
        .await
        .starts_with("+OK pop.test POP3 server signing off"));
    c.closed().await;

    let mut c = connect(&srv).await;
    assert_eq!(c.cmd("HELO").await, "-ERR unknown command");
    assert_eq!(c.cmd("RETR x").await, "-ERR syntax error: RETR msg");
    assert_eq!(c.cmd("STAT").await, "-ERR command not valid before login");
    assert_eq!(c.cmd("FOO").await, "-ERR unknown command");
    c.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_shutdown() {
    let limits = Limits {
        pop3_timeout: mailhost_config::Duration(Duration::from_millis(500)),
        ..Limits::default()
    };
    let srv = start(Opts {
        limits,
        ..Opts::default()
    })
    .await;
    let mut c = login(&srv).await;
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(c.line().await, "-ERR autologout; idle for too long");
    c.closed().await;
    // Nothing was deleted, and the lock is free again.
    let mut c = login(&srv).await;
    assert_eq!(c.cmd("DELE 2").await, "+OK message 2 deleted");
    srv.shutdown.cancel();
    assert_eq!(c.line().await, "-ERR [SYS/TEMP] server shutting down");
    c.closed().await;
    let AuthResult::Ok(a) = srv
        .store
        .authenticate("u@example.com", "pw one")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(srv.store.list_messages(a.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_refused_off_loopback() {
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let srv = start(Opts {
        peer: Some(peer),
        ..Opts::default()
    })
    .await;
    let mut c = connect(&srv).await;
    let r = c.cmd("USER u@example.com").await;
    assert!(
        r.starts_with("-ERR [AUTH] plaintext passwords are refused without TLS"),
        "{r}"
    );

    let srv = start(Opts {
        peer: Some(peer),
        tls: true,
        ..Opts::default()
    })
    .await;
    let mut c = connect(&srv).await;
    assert_eq!(c.cmd("CAPA").await, "+OK capability list follows");
    assert!(String::from_utf8(c.multi().await)
        .unwrap()
        .contains("STLS\r\n"));
    let refused = "-ERR [AUTH] use STLS first (plaintext passwords are refused without TLS)";
    assert_eq!(c.cmd("USER u@example.com").await, refused);
    assert_eq!(
        c.cmd("AUTH PLAIN AHVAZXhhbXBsZS5jb20AcHcgb25l").await,
        refused
    );
    assert_eq!(c.cmd("STLS").await, "+OK Begin TLS negotiation");

    // Trust the self-signed certificate the server made.
    let pem = std::fs::read(srv._dir.path().join("tls/cert.pem")).unwrap();
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = c.s.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut c = Client {
        s: BufReader::new(tls),
    };
    assert_eq!(c.cmd("CAPA").await, "+OK capability list follows");
    assert!(!String::from_utf8(c.multi().await).unwrap().contains("STLS"));
    assert_eq!(c.cmd("STLS").await, "-ERR STLS not available");
    assert_eq!(c.cmd("USER u%example.com").await, "+OK send PASS");
    assert!(c
        .cmd("PASS pw one")
        .await
        .starts_with("+OK u@example.com has 2 messages"));
    assert_eq!(
        c.cmd("RETR 2").await,
        format!("+OK {} octets", full(MSG2).len())
    );
    assert_eq!(c.multi().await, full(MSG2));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
}
