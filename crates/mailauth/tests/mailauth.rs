//! mailhost-mailauth end to end: keys, signing, verification against a real
//! (tiny, in-test) authoritative DNS server on 127.0.0.1, and the records
//! to publish.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};
use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use mailhost_mailauth::{dns_records, generate_key, Signer, Verifier};
use mailhost_store::{DkimKey, Store};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use tokio::net::UdpSocket;

const DOMAIN: &str = "example.test";
const SELECTOR: &str = "mailhost";

/// One 2048-bit key for the whole file: generating one takes a moment.
fn key() -> &'static DkimKey {
    static KEY: OnceLock<DkimKey> = OnceLock::new();
    KEY.get_or_init(|| generate_key(DOMAIN, SELECTOR, 2048).unwrap())
}

fn message(body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@{DOMAIN}>\r\n\
         To: bob@example.net\r\n\
         Subject: Quarterly figures\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\
         Message-ID: <q1@{DOMAIN}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

async fn store_with_key() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    store.dkim_key_set(key()).await.unwrap();
    (store, dir)
}

async fn signed(body: &str) -> Vec<u8> {
    let (store, _dir) = store_with_key().await;
    let msg = message(body);
    let header = Signer::new(store)
        .sign(DOMAIN, &msg)
        .await
        .unwrap()
        .expect("the domain has a key");
    [header, msg].concat()
}

fn dkim_record(key: &DkimKey) -> String {
    format!("v=DKIM1; k=rsa; p={}", key.public_key)
}

#[test]
fn generated_key_parses_back() {
    let k = key();
    assert_eq!(
        (k.domain.as_str(), k.selector.as_str(), k.algorithm.as_str()),
        (DOMAIN, SELECTOR, "rsa-sha256")
    );
    assert!(
        k.private_key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM: {}",
        &k.private_key[..40]
    );
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&k.private_key).expect("PKCS#8 PEM parses");
    // p= is the base64 of the DER SubjectPublicKeyInfo of the same key.
    let spki = base64::engine::general_purpose::STANDARD
        .decode(&k.public_key)
        .unwrap();
    let public = rsa::RsaPublicKey::from_public_key_der(&spki).expect("SubjectPublicKeyInfo");
    assert_eq!(public, rsa::RsaPublicKey::from(&private));
    assert_eq!(rsa::traits::PublicKeyParts::n(&public).bits(), 2048);
}

#[test]
fn key_size_and_names_are_checked() {
    let err = generate_key(DOMAIN, SELECTOR, 512).unwrap_err();
    assert!(err.contains("RFC 8301"), "{err}");
    assert!(generate_key(DOMAIN, SELECTOR, 16384).is_err());
    assert!(generate_key("not a domain", SELECTOR, 2048).is_err());
    assert!(generate_key(DOMAIN, "bad selector", 2048).is_err());
    assert!(generate_key(DOMAIN, "-bad", 2048).is_err());
}

/// A TXT cache standing in for DNS, so DKIM verifies with no network.
#[derive(Default)]
struct TxtCache(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }
    fn insert(&self, key: Box<str>, value: Txt, _valid_until: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

async fn verify_offline(raw: &[u8]) -> Vec<DkimResult> {
    let cache = TxtCache::default();
    let record = DomainKey::parse(dkim_record(key()).as_bytes()).unwrap();
    cache.insert(
        format!("{SELECTOR}._domainkey.{DOMAIN}.").into(),
        record.into(),
        std::time::Instant::now(),
    );
    // No name servers: a lookup that missed the cache would fail.
    let auth = MessageAuthenticator::new(
        ResolverConfig::from_name_servers(vec![]),
        ResolverOpts::default(),
    )
    .unwrap();
    let msg = AuthenticatedMessage::parse(raw).unwrap();
    let out = auth
        .verify_dkim(Parameters::new(&msg).with_txt_cache(&cache))
        .await;
    out.iter().map(|o| o.result().clone()).collect()
}

#[tokio::test]
async fn sign_then_verify_offline() {
    let raw = signed("Hello Bob,\r\nthe figures are in.\r\n").await;
    let text = String::from_utf8(raw.clone()).unwrap();
    let header = text.split("\r\nFrom:").next().unwrap();
    assert!(
        header.starts_with(
            "DKIM-Signature: v=1; a=rsa-sha256; s=mailhost; d=example.test; c=relaxed/relaxed;"
        ),
        "{header}"
    );
    for h in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
    ] {
        assert!(
            header.to_ascii_lowercase().contains(h),
            "{h} signed: {header}"
        );
    }
    // Only present fields are signed, plus From once more (so a second From
    // cannot be added).
    let h = header
        .split("h=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .replace(['\r', '\n', '\t', ' '], "");
    let mut h: Vec<String> = h.split(':').map(str::to_ascii_lowercase).collect();
    h.sort();
    assert_eq!(
        h,
        [
            "content-type",
            "date",
            "from",
            "from",
            "message-id",
            "mime-version",
            "subject",
            "to"
        ]
    );
    assert_eq!(verify_offline(&raw).await, vec![DkimResult::Pass]);

    // Relaxed body canonicalisation: trailing whitespace changes still pass.
    let reflowed = text.replace("the figures are in.\r\n", "the figures are in.   \r\n");
    assert_eq!(
        verify_offline(reflowed.as_bytes()).await,
        vec![DkimResult::Pass]
    );

    // A changed signed header fails the signature.
    let tampered = text.replace(
        "Subject: Quarterly figures",
        "Subject: Quarterly figures (revised)",
    );
    let results = verify_offline(tampered.as_bytes()).await;
    assert!(
        matches!(results.as_slice(), [DkimResult::Fail(_)]),
        "{results:?}"
    );
    // A changed body: mail-auth itself calls a body hash mismatch "neutral";
    // the Verifier reports it as fail (see verifier_against_loopback_dns).
    let tampered = text.replace("the figures are in.", "the figures are out.");
    let results = verify_offline(tampered.as_bytes()).await;
    assert!(
        matches!(results.as_slice(), [DkimResult::Neutral(_)]),
        "{results:?}"
    );
    // A second From added after signing fails too: From is signed once more
    // than present.
    let tampered = text.replace("To: bob@", "From: ceo@example.test\r\nTo: bob@");
    let results = verify_offline(tampered.as_bytes()).await;
    assert!(
        matches!(results.as_slice(), [DkimResult::Fail(_)]),
        "{results:?}"
    );
}

#[tokio::test]
async fn domain_without_key_is_not_signed() {
    let (store, _dir) = store_with_key().await;
    let signer = Signer::new(store);
    assert_eq!(
        signer
            .sign("example.org", &message("hi\r\n"))
            .await
            .unwrap(),
        None
    );
    // Case and a trailing dot do not matter; the cache answers the second time.
    assert!(signer
        .sign("Example.TEST.", &message("hi\r\n"))
        .await
        .unwrap()
        .is_some());
    assert!(signer
        .sign("example.test", &message("hi\r\n"))
        .await
        .unwrap()
        .is_some());
}

// ---- a tiny authoritative DNS server ----

type Zone = HashMap<String, Vec<RData>>;

fn txt(value: &str) -> RData {
    // RFC 1035 §3.3.14: strings of at most 255 octets.
    let parts = value
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    RData::TXT(TXT::new(parts))
}

fn test_zone() -> Zone {
    let mut z = Zone::new();
    z.insert(
        DOMAIN.into(),
        vec![
            txt("v=spf1 ip4:127.0.0.1 -all"),
            RData::MX(MX::new(10, Name::from_ascii("mail.example.test.").unwrap())),
        ],
    );
    z.insert(
        "mail.example.test".into(),
        vec![RData::A(A(Ipv4Addr::LOCALHOST))],
    );
    z.insert(
        format!("{SELECTOR}._domainkey.{DOMAIN}"),
        vec![txt(&dkim_record(key()))],
    );
    z.insert(
        format!("_dmarc.{DOMAIN}"),
        vec![txt(
            "v=DMARC1; p=reject; rua=mailto:postmaster@example.test",
        )],
    );
    z
}

/// Answers UDP queries from `zone`: the records of the asked type, NOERROR
/// with no answer for a known name without them, NXDOMAIN otherwise; the
/// negative answers carry an SOA (minimum 60 s, RFC 2308 §3).
async fn dns_server(zone: Zone) -> String {
    TestDns::start(zone, true).await.addr
}

/// A DNS server that can be silent (drops every query) or answer, and
/// logs the questions it answered ("name TYPE").
struct TestDns {
    addr: String,
    answering: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
    /// Names (and their subdomains) whose queries go unanswered.
    silent: Arc<Mutex<Vec<String>>>,
}

impl TestDns {
    async fn start(zone: Zone, answering: bool) -> TestDns {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap().to_string();
        let answering = Arc::new(AtomicBool::new(answering));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let silent: Arc<Mutex<Vec<String>>> = Arc::default();
        let (on, log, mute) = (answering.clone(), asked.clone(), silent.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                if !on.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let muted = req.queries.iter().any(|q| {
                    let name = q.name().to_ascii().to_ascii_lowercase();
                    let name = name.trim_end_matches('.');
                    mute.lock()
                        .unwrap()
                        .iter()
                        .any(|m| name == m.as_str() || name.ends_with(&format!(".{m}")))
                });
                if muted {
                    continue;
                }
                let resp = answer(&zone, &req, &log);
                let _ = sock.send_to(&resp.to_vec().unwrap(), peer).await;
            }
        });
        TestDns {
            addr,
            answering,
            asked,
            silent,
        }
    }

    fn asked(&self, q: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|a| *a == q)
            .count()
    }
}

fn answer(zone: &Zone, req: &Message, log: &Mutex<Vec<String>>) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    for q in &req.queries {
        resp.add_query(q.clone());
        let name = q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        log.lock()
            .unwrap()
            .push(format!("{name} {}", q.query_type()));
        let mut found = false;
        match zone.get(&name) {
            None => resp.metadata.response_code = ResponseCode::NXDomain,
            Some(rrs) => {
                for rd in rrs.iter().filter(|rd| rd.record_type() == q.query_type()) {
                    resp.add_answer(Record::from_rdata(q.name().clone(), 60, rd.clone()));
                    found = true;
                }
            }
        }
        if !found {
            let soa = SOA::new(
                Name::from_ascii("ns.test.").unwrap(),
                Name::from_ascii("hostmaster.test.").unwrap(),
                1,
                3600,
                600,
                86400,
                60,
            );
            resp.add_authority(Record::from_rdata(
                Name::from_ascii("test.").unwrap(),
                60,
                RData::SOA(soa),
            ));
        }
    }
    resp
}

fn verifier(addr: &str) -> Verifier {
    Verifier::new(addr, Duration::from_secs(2), BUDGET).unwrap()
}

/// The checks' bound the tests use (delivery.verify_timeout's default).
const BUDGET: Duration = Duration::from_secs(5);

/// The result keyword of the method whose line contains `marker`.
fn result_of<'a>(ar: &'a str, method: &str, marker: &str) -> &'a str {
    let line = ar
        .split(';')
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{method}=")) && l.contains(marker))
        .unwrap_or_else(|| panic!("no {method} result with {marker:?} in {ar}"));
    line[method.len() + 1..].split([' ', '(']).next().unwrap()
}

#[tokio::test]
async fn verifier_against_loopback_dns() {
    let server = dns_server(test_zone()).await;
    let verifier = verifier(&server);
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);

    let raw = signed("Hello Bob\r\n").await;
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &raw,
            localhost,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert!(
        ar.starts_with("Authentication-Results: mx.example.net;\r\n"),
        "{ar}"
    );
    assert!(
        ar.ends_with("\r\n") && !ar[..ar.len() - 2].contains("\r\n\r\n"),
        "{ar:?}"
    );
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");
    // The HELO name has no SPF record.
    assert_eq!(result_of(&ar, "spf", "smtp.helo"), "none", "{ar}");
    assert_eq!(
        result_of(&ar, "dkim", "header.d=example.test"),
        "pass",
        "{ar}"
    );
    assert_eq!(
        result_of(&ar, "dmarc", "header.from=example.test"),
        "pass",
        "{ar}"
    );
    assert!(ar.contains("policy.dmarc=reject"), "{ar}");

    // A forger elsewhere, unsigned.
    let forged = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &message("Pay this invoice\r\n"),
            forged,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "fail", "{ar}");
    assert_eq!(result_of(&ar, "dkim", ""), "none", "{ar}");
    assert_eq!(
        result_of(&ar, "dmarc", "header.from=example.test"),
        "fail",
        "{ar}"
    );
    // RFC 8601 §2.2 layout: authserv-id, then one folded line per method,
    // in the order spf, dkim, dmarc.
    let lines: Vec<&str> = ar.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "Authentication-Results: mx.example.net;");
    assert!(lines[1..].iter().all(|l| l.starts_with('\t')), "{ar:?}");
    let methods: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.trim().split('=').next().unwrap())
        .collect();
    assert_eq!(methods, ["spf", "spf", "dkim", "dmarc"], "{ar}");

    // Signed but tampered, from the right IP: DKIM fails, SPF alone carries DMARC.
    let tampered = String::from_utf8(signed("Hello Bob\r\n").await)
        .unwrap()
        .replace("Hello Bob", "Hello Eve");
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            tampered.as_bytes(),
            localhost,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert_eq!(
        result_of(&ar, "dkim", "header.d=example.test"),
        "fail",
        "{ar}"
    );
    assert_eq!(result_of(&ar, "dmarc", ""), "pass", "{ar}");

    // Null reverse-path: the MAIL FROM identity is postmaster@HELO (RFC 7208 §2.4).
    let ar = verifier
        .authentication_results("mx.example.net", &raw, localhost, "example.test", "")
        .await;
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom=<>"), "pass", "{ar}");
    assert_eq!(result_of(&ar, "dmarc", ""), "pass", "{ar}");

    // An address-literal HELO gets no HELO check.
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &raw,
            localhost,
            "[127.0.0.1]",
            "alice@example.test",
        )
        .await;
    assert!(!ar.contains("smtp.helo"), "{ar}");
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");

    // Not a message at all: SPF still reported, the rest none, no panic.
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            b"",
            localhost,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");
    assert_eq!(result_of(&ar, "dmarc", ""), "none", "{ar}");
}

#[tokio::test]
async fn silent_dns_server_gives_temperror_in_bounded_time() {
    // Bound but never read: every query goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let verifier = verifier(&silent.local_addr().unwrap().to_string());
    let raw = signed("Hello Bob\r\n").await;
    let started = Instant::now();
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &raw,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    let took = started.elapsed();
    assert!(took < BUDGET + Duration::from_secs(1), "took {took:?}");
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "temperror", "{ar}");
    assert_eq!(
        result_of(&ar, "dkim", "header.d=example.test"),
        "temperror",
        "{ar}"
    );
    assert_eq!(result_of(&ar, "dmarc", ""), "temperror", "{ar}");
    drop(silent);
}

#[tokio::test]
async fn closed_dns_port_gives_temperror() {
    // Bind and drop: nothing listens there (ICMP port unreachable).
    let port = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let verifier = verifier(&format!("127.0.0.1:{port}"));
    let started = Instant::now();
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &message("hi\r\n"),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert!(started.elapsed() < BUDGET + Duration::from_secs(1));
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "temperror", "{ar}");
}

#[tokio::test]
async fn answers_and_nxdomain_are_cached() {
    let dns = TestDns::start(test_zone(), true).await;
    let verifier = verifier(&dns.addr);
    let raw = signed("Hello Bob\r\n").await;
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for _ in 0..3 {
        let ar = verifier
            .authentication_results(
                "mx.example.net",
                &raw,
                localhost,
                "nx.example.test",
                "alice@example.test",
            )
            .await;
        assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");
        assert_eq!(result_of(&ar, "spf", "smtp.helo"), "none", "{ar}");
    }
    // Once each: the SPF record (TTL 60), the DKIM key, and the HELO
    // name's NXDOMAIN (negative TTL from the SOA).
    assert_eq!(dns.asked("example.test TXT"), 1);
    assert_eq!(dns.asked(&format!("{SELECTOR}._domainkey.{DOMAIN} TXT")), 1);
    assert_eq!(dns.asked("nx.example.test TXT"), 1);
}

#[tokio::test]
async fn dead_resolver_opens_the_breaker_and_recovery_closes_it() {
    use mailhost_mailauth::breaker::TRIP_AFTER;
    let dns = TestDns::start(test_zone(), false).await;
    let verifier = Verifier::new(
        &dns.addr,
        Duration::from_millis(300),
        Duration::from_secs(1),
    )
    .unwrap();
    let raw = signed("Hello Bob\r\n").await;
    let check = || {
        verifier.authentication_results(
            "mx.example.net",
            &raw,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mail.example.test",
            "alice@example.test",
        )
    };
    for _ in 0..TRIP_AFTER {
        let started = Instant::now();
        let ar = check().await;
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "a real wait"
        );
        assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "temperror", "{ar}");
    }
    assert!(verifier.resolver_down());
    // Open: temperror at once, every check of the header.
    let started = Instant::now();
    let ar = check().await;
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "temperror", "{ar}");
    assert_eq!(
        result_of(&ar, "dkim", "header.d=example.test"),
        "temperror",
        "{ar}"
    );
    assert_eq!(result_of(&ar, "dmarc", ""), "temperror", "{ar}");
    // Still down through a few probes: still open.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(verifier.resolver_down());
    // The server comes back: a probe gets an answer and the breaker closes
    // by itself; the next message's results are real.
    dns.answering.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while verifier.resolver_down() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!verifier.resolver_down());
    assert!(
        dns.asked(" NS") >= 1,
        "the probe asks for the root, not a domain"
    );
    let ar = check().await;
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");
    assert_eq!(
        result_of(&ar, "dkim", "header.d=example.test"),
        "pass",
        "{ar}"
    );
}

#[tokio::test]
async fn one_dead_domain_does_not_hold_the_breaker_open() {
    use mailhost_mailauth::breaker::TRIP_AFTER;
    // The resolver answers; only one sender's domain is silent (its
    // servers are dead).
    let dns = TestDns::start(test_zone(), true).await;
    let verifier = Verifier::new(
        &dns.addr,
        Duration::from_millis(300),
        Duration::from_secs(1),
    )
    .unwrap();
    dns.silent.lock().unwrap().push("dead.test".into());
    for _ in 0..TRIP_AFTER {
        verifier
            .authentication_results(
                "mx.example.net",
                &message("hi\r\n"),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                "[127.0.0.1]",
                "x@dead.test",
            )
            .await;
    }
    // It may have opened on the third; the probe closes it at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    while verifier.resolver_down() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!verifier.resolver_down());
    let ar = verifier
        .authentication_results(
            "mx.example.net",
            &signed("Hello Bob\r\n").await,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert_eq!(result_of(&ar, "spf", "smtp.mailfrom"), "pass", "{ar}");
}

#[test]
fn bad_dns_server_setting_is_an_error() {
    let err = Verifier::new("not-an-address", Duration::from_secs(2), BUDGET)
        .err()
        .unwrap();
    assert!(err.contains("IP:PORT"), "{err}");
}

#[test]
fn records_to_publish() {
    let k = key();
    let out = dns_records("Example.TEST", "mail.example.net.", Some(k));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "example.test. 3600 IN MX 10 mail.example.net.");
    assert_eq!(
        lines[1],
        "example.test. 3600 IN TXT \"v=spf1 a:mail.example.net mx -all\""
    );
    assert!(
        lines[2].starts_with("mailhost._domainkey.example.test. 3600 IN TXT \"v=DKIM1; k=rsa; p="),
        "{}",
        lines[2]
    );
    // The DKIM value is split into strings of at most 255 octets that join
    // back to the record.
    let rdata = lines[2].split_once(" IN TXT ").unwrap().1;
    let strings: Vec<&str> = rdata.split("\" \"").map(|s| s.trim_matches('"')).collect();
    assert!(
        strings.len() >= 2 && strings.iter().all(|s| s.len() <= 255),
        "{rdata}"
    );
    assert_eq!(strings.concat(), dkim_record(k));
    assert_eq!(
        lines[3],
        "_dmarc.example.test. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\""
    );

    let out = dns_records("example.test", "mail.example.net", None);
    assert_eq!(out.lines().count(), 4);
    assert!(
        out.lines().nth(2).unwrap().starts_with("; no DKIM key"),
        "{out}"
    );
}
