//! Inbound verification (R-IN-6): SPF (RFC 7208), DKIM (RFC 6376) and
//! DMARC (RFC 7489), recorded in an Authentication-Results header field
//! (RFC 8601).
//!
//! Results are information for the mailbox owner and for later policy; this
//! module never refuses mail itself.
//!
//! Time is bounded three ways, so that a DNS outage never becomes a mail
//! outage:
//! - the resolver gives up on a query after `delivery.dns_timeout`;
//! - the checks as a whole have `delivery.verify_timeout`: SPF (HELO and
//!   MAIL FROM), DKIM and a prefetch of the DMARC record run side by side
//!   for four fifths of it, DMARC (which needs their results) gets the
//!   rest; a check that runs out of time is `temperror` (RFC 7208 §2.6.6,
//!   RFC 8601 §2.7.1), which is what a slow or dead DNS server is;
//! - after a few messages whose lookups all timed out, the [`Breaker`]
//!   opens and the checks are `temperror` at once, until the resolver
//!   answers a probe again.
//!
//! Answers are cached by the resolver (hickory's cache) for their TTL,
//! and so are NXDOMAIN and NODATA answers, for the SOA minimum that comes
//! with them (negative caching, RFC 2308 §5: without an SOA they are not
//! cached).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{Breaker, PROBE_INTERVAL};
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::net::NetError;
use mail_auth::hickory_resolver::proto::rr::{Name, RecordType};
use mail_auth::hickory_resolver::system_conf::read_system_conf;
use mail_auth::hickory_resolver::TokioResolver;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, DmarcResult,
    DnsError, Error, MessageAuthenticator, SpfOutput, SpfResult,
};
use tokio::time::{timeout_at, Instant};

/// Inbound verification (R-IN-6).
pub struct Verifier {
    auth: MessageAuthenticator,
    /// The same resolver without a cache, for the breaker's probes: an
    /// answer cached before the outage must not look like a recovery.
    prober: TokioResolver,
    dns_timeout: Duration,
    budget: Duration,
    breaker: Arc<Breaker>,
}

/// When each part of one message's checks must end, and whether they run
/// at all (not while the breaker is open).
struct Deadlines<'a> {
    checks: Instant,
    dmarc: Instant,
    skip: bool,
    /// Checks in flight when the breaker opens stop waiting.
    breaker: &'a Breaker,
}

/// The resolver configuration of `dns_server`: "" = the system's
/// (/etc/resolv.conf), else one nameserver "IP:PORT" over UDP, and TCP
/// for truncated answers.
pub(crate) fn resolver_config(dns_server: &str) -> Result<(ResolverConfig, ResolverOpts), String> {
    if dns_server.trim().is_empty() {
        read_system_conf().map_err(|e| format!("reading the system DNS configuration: {e}"))
    } else {
        let addr: SocketAddr = dns_server.trim().parse().map_err(|_| {
            format!("invalid DNS server {dns_server:?}: expected IP:PORT, e.g. 127.0.0.1:53")
        })?;
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        Ok((
            ResolverConfig::from_name_servers(vec![server]),
            ResolverOpts::default(),
        ))
    }
}

impl Verifier {
    /// `dns_server`: "" = system resolvers, else one nameserver "IP:PORT"
    /// (queried over UDP, and TCP for truncated answers). `dns_timeout`
    /// bounds one query, `budget` all the checks of one message.
    pub fn new(dns_server: &str, dns_timeout: Duration, budget: Duration) -> Result<Self, String> {
        let (config, mut opts) = resolver_config(dns_server)?;
        opts.timeout = dns_timeout;
        // hickory's `attempts` counts retries after the first: each would
        // wait `dns_timeout` again. Within one attempt it already
        // retransmits over UDP (at 1.2 x the server's smoothed RTT).
        opts.attempts = 0;
        let mut probe_opts = opts.clone();
        probe_opts.cache_size = 0;
        let prober = TokioResolver::builder_with_config(config.clone(), Default::default())
            .with_options(probe_opts)
            .build()
            .map_err(|e| format!("setting up the DNS resolver: {e}"))?;
        let auth = MessageAuthenticator::new(config, opts)
            .map_err(|e| format!("setting up the DNS resolver: {e}"))?;
        Ok(Verifier {
            auth,
            prober,
            dns_timeout,
            budget,
            breaker: Arc::default(),
        })
    }

    /// Runs the breaker's probes, in the background, until one gets an
    /// answer (see [`crate::breaker`]): an uncached query for the root
    /// zone's NS records; any DNS answer, even SERVFAIL, means the
    /// resolver is there and quick.
    fn start_probing(&self) {
        let resolver = self.prober.clone();
        let breaker = self.breaker.clone();
        let wait = self.dns_timeout;
        tokio::spawn(async move {
            loop {
                let answered = matches!(
                    tokio::time::timeout(wait, resolver.lookup(Name::root(), RecordType::NS)).await,
                    Ok(Ok(_) | Err(NetError::Dns(_)))
                );
                breaker.probed(answered);
                if answered {
                    return;
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
        });
    }

    /// A message's lookups all timed out: tells the breaker, and probes if
    /// that opened it.
    fn timed_out(&self) {
        if self.breaker.timed_out() {
            self.start_probing();
        }
    }

    /// The resolver with mail-auth's record parsers.
    pub(crate) fn authenticator(&self) -> &MessageAuthenticator {
        &self.auth
    }

    /// Whether the checks are skipped for now (the resolver timed out).
    pub fn resolver_down(&self) -> bool {
        self.breaker.is_open()
    }

    /// Verifies SPF (for the MAIL FROM identity and HELO), DKIM and DMARC for
    /// a received message and returns the Authentication-Results header field
    /// (RFC 8601), with trailing CRLF, with authserv-id `hostname`. DNS
    /// failures give temperror, never a panic or an unbounded wait.
    ///
    /// `mail_from` is the reverse-path without angle brackets, "" for the
    /// null sender.
    pub async fn authentication_results(
        &self,
        hostname: &str,
        message: &[u8],
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
    ) -> String {
        // Leniency: a dual-stack listener reports IPv4 clients as
        // ::ffff:a.b.c.d; SPF's ip4 mechanisms and the header want a.b.c.d.
        let ip = ip.to_canonical();
        let start = Instant::now();
        let at = Deadlines {
            checks: start + self.budget * 4 / 5,
            dmarc: start + self.budget,
            skip: self.breaker.is_open(),
            breaker: &self.breaker,
        };

        let helo_domain = spf_domain(helo);
        let mail_from = mail_from
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        // RFC 7208 §2.4: with a null reverse-path, the MAIL FROM identity is
        // postmaster@HELO.
        let mail_from_domain = match mail_from.rsplit_once('@') {
            Some((_, d)) => spf_domain(d),
            None if mail_from.is_empty() => helo_domain,
            None => None,
        };
        let parsed = AuthenticatedMessage::parse(message);

        let spf_helo = async {
            // RFC 7208 §2.3: the HELO check applies only when HELO is a
            // domain name (not an address literal).
            let d = helo_domain?;
            let params = SpfParameters::verify_ehlo(ip, d, hostname);
            Some(
                bounded(&at, at.checks, self.auth.verify_spf(params), || {
                    spf_temperror(d)
                })
                .await,
            )
        };
        let spf_mail_from = async {
            match mail_from_domain {
                Some(d) => {
                    let params = if mail_from.is_empty() {
                        SpfParameters::verify_ehlo(ip, d, hostname)
                    } else {
                        SpfParameters::verify_mail_from(ip, helo.trim(), hostname, mail_from)
                    };
                    bounded(&at, at.checks, self.auth.verify_spf(params), || {
                        spf_temperror(d)
                    })
                    .await
                }
                // RFC 7208 §4.3: no usable domain, no SPF verdict.
                None => SpfOutput::new(String::new()).with_result(SpfResult::None),
            }
        };
        let dkim = async {
            let Some(msg) = parsed.as_ref() else {
                return Vec::new();
            };
            bounded(&at, at.checks, self.auth.verify_dkim(msg), || {
                msg.dkim_headers
                    .iter()
                    .map(|h| DkimOutput::temp_err(timed_out_error()).with_signature(&h.header))
                    .collect()
            })
            .await
        };
        let from_domain = parsed
            .as_ref()
            .and_then(|m| m.from.first())
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        // DMARC needs SPF's and DKIM's results, but its record does not:
        // asked now, it waits in the resolver's cache for verify_dmarc.
        let dmarc_prefetch = async {
            if spf_domain(&from_domain).is_some() {
                let name = format!("_dmarc.{from_domain}.");
                let lookup = async {
                    let _ = self.auth.resolver().txt_lookup(name.as_str()).await;
                };
                bounded(&at, at.checks, lookup, || ()).await;
            }
        };
        let (spf_helo, spf_mail_from, dkim, ()) =
            tokio::join!(spf_helo, spf_mail_from, dkim, dmarc_prefetch);
        // What SPF and DKIM showed of the resolver is told at once (not
        // after DMARC), so that a dead resolver is found as soon as the
        // first lookups time out; and once the breaker is open, DMARC is
        // not waited for either. "Slow": at least one query's time-out, or
        // this phase's whole share of the budget.
        let checked_mail_from = mail_from_domain.is_some();
        let slow = (start + self.dns_timeout).min(at.checks);
        if !at.skip
            && timed_out(
                spf_helo.as_ref(),
                checked_mail_from.then_some(&spf_mail_from),
                &dkim,
                None,
                Instant::now() >= slow,
            )
        {
            self.timed_out();
        }
        let at = Deadlines {
            skip: at.skip || self.breaker.is_open(),
            ..at
        };
        let dkim = match parsed.as_ref() {
            Some(msg) => body_hash_mismatch_is_fail(msg, dkim),
            None => dkim,
        };

        // RFC 7489 §4.1: DMARC's SPF input is the MAIL FROM identity; for a
        // null reverse-path that is postmaster@HELO (RFC 7208 §2.4), which
        // spf_mail_from already checked.
        let dmarc_start = Instant::now();
        let dmarc = match parsed.as_ref() {
            Some(msg) => {
                let params = DmarcParameters::new(
                    msg,
                    &dkim,
                    mail_from_domain.unwrap_or(""),
                    &spf_mail_from,
                );
                Some(
                    bounded(&at, at.dmarc, self.auth.verify_dmarc(params), || {
                        DmarcOutput::new(from_domain.clone())
                            .with_spf_result(DmarcResult::TempError(timed_out_error()))
                            .with_dkim_result(DmarcResult::TempError(timed_out_error()))
                    })
                    .await,
                )
            }
            None => None,
        };
        // A message whose only lookups were DMARC's (a null sender with an
        // address-literal HELO, unsigned) tells the breaker too.
        let spf_looked_up = spf_helo.is_some() || checked_mail_from || !dkim.is_empty();
        if !at.skip
            && !spf_looked_up
            && timed_out(
                None,
                None,
                &[],
                dmarc.as_ref().filter(|d| !d.domain().is_empty()),
                Instant::now() >= (dmarc_start + self.dns_timeout).min(at.dmarc),
            )
        {
            self.timed_out();
        }

        // RFC 8601 §2.2: authserv-id, then one resinfo per method. Each
        // piece is written by mail-auth (its Display is authserv-id then
        // ";\r\n\tmethod=result ..."); the "none" results it has no writer
        // for are added here, in method order.
        let piece = |ar: AuthenticationResults<'_>| ar.to_string()[hostname.len()..].to_string();
        let mut header = format!("Authentication-Results: {hostname}");
        if let Some(spf) = &spf_helo {
            header +=
                &piece(AuthenticationResults::new(hostname).with_spf_ehlo_result(spf, ip, helo));
        }
        header += &piece(
            AuthenticationResults::new(hostname).with_spf_mailfrom_result(
                &spf_mail_from,
                ip,
                mail_from,
                helo,
            ),
        );
        if dkim.is_empty() {
            // RFC 8601 §2.7.1: "none": the message was not signed.
            header += ";\r\n\tdkim=none";
        } else {
            let header_from = parsed
                .as_ref()
                .and_then(|m| m.from.first())
                .map(String::as_str)
                .unwrap_or("");
            header +=
                &piece(AuthenticationResults::new(hostname).with_dkim_results(&dkim, header_from));
        }
        match &dmarc {
            Some(d) if !d.domain().is_empty() => {
                header += &piece(AuthenticationResults::new(hostname).with_dmarc_result(d))
            }
            // No single author domain (RFC 7489 §6.6.1) or no header at all:
            // DMARC does not apply.
            _ => header += ";\r\n\tdmarc=none",
        }
        header += "\r\n";
        header
    }
}

/// RFC 6376 §6.1.3: a body hash that does not verify is PERMFAIL, which
/// RFC 8601 §2.7.1 records as `fail`; `mail-auth` reports it as `neutral`.
/// DMARC counts only passes, so this changes the header's words, not the
/// verdict.
fn body_hash_mismatch_is_fail<'x>(
    msg: &'x AuthenticatedMessage<'x>,
    outputs: Vec<DkimOutput<'x>>,
) -> Vec<DkimOutput<'x>> {
    outputs
        .into_iter()
        .map(|out| {
            let DkimResult::Neutral(err @ Error::Dkim(DkimError::FailedBodyHashMatch)) =
                out.result()
            else {
                return out;
            };
            // The output's signature is one of the message's; find it again
            // to borrow it for the message's lifetime.
            match out
                .signature()
                .and_then(|s| msg.dkim_headers.iter().find(|h| std::ptr::eq(&h.header, s)))
            {
                Some(h) => DkimOutput::fail(err.clone()).with_signature(&h.header),
                None => out,
            }
        })
        .collect()
}

/// Whether one message's lookups all timed out: the checks that made
/// lookups (the arguments) are all `temperror`, after at least one query's
/// time-out (`slow`). A quick `temperror` (SERVFAIL) costs the client no
/// time, so it is no reason to skip lookups.
fn timed_out(
    spf_helo: Option<&SpfOutput>,
    spf_mail_from: Option<&SpfOutput>,
    dkim: &[DkimOutput<'_>],
    dmarc: Option<&DmarcOutput>,
    slow: bool,
) -> bool {
    let spf = |o: &SpfOutput| o.result() != SpfResult::TempError;
    let answered = spf_helo.is_some_and(spf)
        || spf_mail_from.is_some_and(spf)
        || dkim
            .iter()
            .any(|o| !matches!(o.result(), DkimResult::TempError(_)))
        || dmarc.is_some_and(|d| {
            !matches!(d.dkim_result(), DmarcResult::TempError(_))
                || !matches!(d.spf_result(), DmarcResult::TempError(_))
        });
    let looked_up =
        spf_helo.is_some() || spf_mail_from.is_some() || !dkim.is_empty() || dmarc.is_some();
    looked_up && slow && !answered
}

/// Runs `check` until `deadline`; on time-out, or at once while the
/// breaker is open, `on_timeout` gives the temperror result.
async fn bounded<T>(
    at: &Deadlines<'_>,
    deadline: Instant,
    check: impl std::future::Future<Output = T>,
    on_timeout: impl FnOnce() -> T,
) -> T {
    if at.skip {
        return on_timeout();
    }
    tokio::select! {
        r = timeout_at(deadline, check) => match r {
            Ok(v) => v,
            Err(_) => {
                tracing::debug!("authentication check timed out");
                on_timeout()
            }
        },
        () = at.breaker.opened() => on_timeout(),
    }
}

fn timed_out_error() -> Error {
    Error::Dns(DnsError::Resolver("DNS lookups timed out".into()))
}

fn spf_temperror(domain: &str) -> SpfOutput {
    SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError)
}

/// The domain SPF can check for a HELO argument or a MAIL FROM domain: a
/// name with at least one dot, not an address literal (RFC 7208 §4.3).
fn spf_domain(s: &str) -> Option<&str> {
    let d = s.trim().trim_end_matches('.');
    let ok = d.contains('.')
        && !d.starts_with('[')
        && d.parse::<IpAddr>().is_err()
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then_some(d)
}
