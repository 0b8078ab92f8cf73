//! Next hops for a recipient domain (RFC 5321 §5.1).
//!
//! A static route (`[delivery] routes`, the domain itself or `"*"` for a
//! smarthost) wins; it is used as given, without MX lookup. Otherwise:
//! - the MX records, by preference, equal preferences in random order
//!   (§5.1: "the sender-SMTP MUST randomize them");
//! - no MX records: the domain itself is the implicit MX (§5.1);
//! - a single MX "." is a null MX (RFC 7505 §3): the domain accepts no
//!   mail, a permanent failure (5.1.10);
//! - if this host is one of the MX hosts, it and every less preferred host
//!   are dropped (§5.1), so mail never loops back to us;
//! - the domain does not exist (NXDOMAIN): permanent; the DNS failed
//!   (SERVFAIL, timeout): temporary.
//!
//! DNS is behind the small [`Dns`] trait so that route selection is tested
//! with made-up answers; [`HickoryDns`] is the real resolver.

use crate::outcome::Failure;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use mailhost_config::Delivery;
use rand::seq::SliceRandom;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

/// At most this many addresses are tried for one domain in one attempt,
/// so that a domain with many dead MX hosts cannot hold a connection slot
/// (and the rows' lease) for long. Postfix has a similar limit
/// (smtp_mx_address_limit).
pub const MAX_ADDRESSES: usize = 10;

/// One host to try, with its addresses in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no records of the type asked (NODATA).
    NoRecords,
    /// The lookup failed (SERVFAIL, timeout, no server): try again later.
    Temporary(String),
}

/// The DNS lookups routing needs.
pub trait Dns: Send + Sync {
    /// MX records: (preference, exchange without the trailing dot; "" for
    /// the root, i.e. a null MX).
    fn mx(&self, domain: &str)
        -> impl Future<Output = Result<Vec<(u16, String)>, DnsError>> + Send;
    /// A and AAAA records.
    fn ips(&self, host: &str) -> impl Future<Output = Result<Vec<IpAddr>, DnsError>> + Send;
}

/// The next hops for `domain`, best first. `myself` is this server's host
/// name (MX loop detection). Errors are failures for every recipient of the
/// domain.
pub async fn next_hops(
    domain: &str,
    cfg: &Delivery,
    myself: &str,
    dns: &impl Dns,
) -> Result<Vec<Hop>, Failure> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if let Some(route) = cfg.routes.get(&domain).or_else(|| cfg.routes.get("*")) {
        return static_route(route, dns).await.map(|h| vec![h]);
    }
    let mut mxs = match dns.mx(&domain).await {
        Ok(v) if !v.is_empty() => v,
        // §5.1: no MX records: the domain is its own, implicit, MX.
        Ok(_) | Err(DnsError::NoRecords) => return implicit_mx(&domain, cfg.mx_port, dns).await,
        Err(DnsError::NxDomain) => {
            // RFC 3463 X.1.2: the destination system does not exist.
            return Err(Failure::local(
                true,
                "5.1.2",
                format!("domain {domain} does not exist (DNS: NXDOMAIN)"),
            ));
        }
        Err(DnsError::Temporary(e)) => {
            // RFC 3463 X.4.3: routing server (DNS) failure.
            return Err(Failure::local(
                false,
                "4.4.3",
                format!("DNS lookup of MX for {domain} failed: {e}"),
            ));
        }
    };
    // RFC 7505 §3: "." as the only MX says the domain accepts no mail.
    // Mixed with real MX records it is a misconfiguration (§3.3); the
    // other records are used.
    if mxs.iter().all(|(_, h)| h.is_empty()) {
        return Err(Failure::local(
            true,
            "5.1.10",
            format!("domain {domain} does not accept mail (null MX, RFC 7505)"),
        ));
    }
    mxs.retain(|(_, h)| !h.is_empty());
    // §5.1: equal preferences in random order: shuffle, then a stable sort.
    mxs.shuffle(&mut rand::rng());
    mxs.sort_by_key(|(pref, _)| *pref);
    // §5.1: if we are an MX host, only more preferred hosts may be used.
    if let Some(pos) = mxs.iter().position(|(_, h)| h.eq_ignore_ascii_case(myself)) {
        let mine = mxs[pos].0;
        mxs.retain(|(p, _)| *p < mine);
        if mxs.is_empty() {
            return Err(Failure::local(
                true,
                "5.4.6",
                format!("mail for {domain} loops back to myself ({myself} is its best MX host)"),
            ));
        }
    }
    let mut hops = Vec::new();
    let mut temporary = None;
    let mut seen = std::collections::HashSet::new();
    let mut budget = MAX_ADDRESSES;
    for (_, host) in mxs {
        if budget == 0 {
            break;
        }
        if !seen.insert(host.to_ascii_lowercase()) {
            continue;
        }
        match dns.ips(&host).await {
            Ok(ips) => {
                let addrs = addresses(ips, cfg.mx_port, budget);
                budget -= addrs.len();
                if !addrs.is_empty() {
                    hops.push(Hop { host, addrs });
                }
            }
            Err(DnsError::Temporary(e)) => {
                temporary = Some(format!("DNS lookup of {host} failed: {e}"))
            }
            Err(_) => {}
        }
    }
    if hops.is_empty() {
        return Err(match temporary {
            Some(e) => Failure::local(false, "4.4.3", e),
            // RFC 3463 X.4.4: unable to route.
            None => Failure::local(
                true,
                "5.4.4",
                format!("none of the MX hosts of {domain} has an address"),
            ),
        });
    }
    Ok(hops)
}

async fn implicit_mx(domain: &str, port: u16, dns: &impl Dns) -> Result<Vec<Hop>, Failure> {
    match dns.ips(domain).await {
        Ok(ips) if !ips.is_empty() => Ok(vec![Hop {
            host: domain.to_string(),
            addrs: addresses(ips, port, MAX_ADDRESSES),
        }]),
        Ok(_) | Err(DnsError::NoRecords) | Err(DnsError::NxDomain) => Err(Failure::local(
            true,
            "5.4.4",
            format!("domain {domain} has no MX and no address record"),
        )),
        Err(DnsError::Temporary(e)) => Err(Failure::local(
            false,
            "4.4.3",
            format!("DNS lookup of {domain} failed: {e}"),
        )),
    }
}

/// "host:port", "ip:port", "[v6]:port", or a host alone (port 25).
/// A static route that does not resolve is the operator's to fix, so it
/// fails temporarily and the mail waits.
async fn static_route(route: &str, dns: &impl Dns) -> Result<Hop, Failure> {
    let route = route.trim();
    if let Ok(sa) = route.parse::<SocketAddr>() {
        return Ok(Hop {
            host: sa.ip().to_string(),
            addrs: vec![sa],
        });
    }
    let (host, port) = match route.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
            Ok(p) => (h.trim_start_matches('[').trim_end_matches(']'), p),
            Err(_) => {
                return Err(Failure::local(
                    false,
                    "4.3.5",
                    format!("invalid delivery route {route:?}: bad port"),
                ))
            }
        },
        _ => (route.trim_start_matches('[').trim_end_matches(']'), 25),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Hop {
            host: ip.to_string(),
            addrs: vec![SocketAddr::new(ip, port)],
        });
    }
    match dns.ips(host).await {
        Ok(ips) if !ips.is_empty() => Ok(Hop {
            host: host.to_string(),
            addrs: addresses(ips, port, MAX_ADDRESSES),
        }),
        Ok(_) | Err(DnsError::NoRecords) | Err(DnsError::NxDomain) => Err(Failure::local(
            false,
            "4.4.3",
            format!("delivery route host {host} has no address"),
        )),
        Err(DnsError::Temporary(e)) => Err(Failure::local(
            false,
            "4.4.3",
            format!("DNS lookup of route host {host} failed: {e}"),
        )),
    }
}

fn addresses(ips: Vec<IpAddr>, port: u16, max: usize) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for ip in ips {
        let sa = SocketAddr::new(ip, port);
        if !out.contains(&sa) && out.len() < max {
            out.push(sa);
        }
    }
    out
}

/// The real resolver: `delivery.dns_server` when set (one server, UDP and
/// TCP, no system configuration), else the system's (/etc/resolv.conf).
pub struct HickoryDns {
    resolver: Result<TokioResolver, String>,
}

impl HickoryDns {
    pub fn new(cfg: &Delivery) -> Self {
        HickoryDns {
            resolver: build_resolver(cfg),
        }
    }
}

fn build_resolver(cfg: &Delivery) -> Result<TokioResolver, String> {
    let mut builder = if cfg.dns_server.trim().is_empty() {
        TokioResolver::builder_tokio().map_err(|e| format!("system DNS configuration: {e}"))?
    } else {
        let s = cfg.dns_server.trim();
        let sa = s
            .parse::<SocketAddr>()
            .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| format!("delivery.dns_server {s:?}: expected IP or IP:PORT"))?;
        let conns = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
            .into_iter()
            .map(|mut c| {
                c.port = sa.port();
                c
            })
            .collect();
        let ns = NameServerConfig::new(sa.ip(), true, conns);
        TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], vec![ns]),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = builder.options_mut();
    // A lookup must not outlast a connection attempt by much.
    opts.timeout = cfg.connect_timeout.std().clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(10),
    );
    opts.attempts = 2;
    builder.build().map_err(|e| format!("DNS resolver: {e}"))
}

fn classify(e: NetError) -> DnsError {
    if e.is_nx_domain() {
        DnsError::NxDomain
    } else if e.is_no_records_found() {
        DnsError::NoRecords
    } else {
        DnsError::Temporary(e.to_string())
    }
}

/// A fully qualified query name, so that no search domain is appended.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

impl Dns for HickoryDns {
    async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsError> {
        let r = self
            .resolver
            .as_ref()
            .map_err(|e| DnsError::Temporary(e.clone()))?;
        let lookup = r.mx_lookup(fqdn(domain).as_str()).await.map_err(classify)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    if mx.exchange.is_root() {
                        String::new()
                    } else {
                        mx.exchange.to_ascii().trim_end_matches('.').to_string()
                    },
                )),
                _ => None,
            })
            .collect())
    }

    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let r = self
            .resolver
            .as_ref()
            .map_err(|e| DnsError::Temporary(e.clone()))?;
        let lookup = r.lookup_ip(fqdn(host).as_str()).await.map_err(classify)?;
        Ok(lookup.iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Made-up DNS answers.
    #[derive(Default)]
    struct FakeDns {
        mx: HashMap<String, Result<Vec<(u16, String)>, DnsError>>,
        ips: HashMap<String, Result<Vec<IpAddr>, DnsError>>,
    }

    impl Dns for FakeDns {
        async fn mx(&self, d: &str) -> Result<Vec<(u16, String)>, DnsError> {
            self.mx.get(d).cloned().unwrap_or(Err(DnsError::NxDomain))
        }
        async fn ips(&self, h: &str) -> Result<Vec<IpAddr>, DnsError> {
            self.ips.get(h).cloned().unwrap_or(Err(DnsError::NxDomain))
        }
    }

    fn cfg() -> Delivery {
        Delivery {
            mx_port: 2525,
            ..Delivery::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mx(v: &[(u16, &str)]) -> Result<Vec<(u16, String)>, DnsError> {
        Ok(v.iter().map(|(p, h)| (*p, h.to_string())).collect())
    }

    async fn hops(dns: &FakeDns, domain: &str) -> Result<Vec<Hop>, Failure> {
        next_hops(domain, &cfg(), "mail.self.example", dns).await
    }

    #[tokio::test]
    async fn mx_by_preference_with_addresses_and_port() {
        let mut d = FakeDns::default();
        d.mx.insert(
            "a.example".into(),
            mx(&[(20, "mx2.a.example"), (10, "mx1.a.example")]),
        );
        d.ips
            .insert("mx1.a.example".into(), Ok(vec![ip("127.0.0.1"), ip("::1")]));
        d.ips
            .insert("mx2.a.example".into(), Ok(vec![ip("127.0.0.2")]));
        let h = hops(&d, "A.example.").await.unwrap();
        assert_eq!(
            h.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(),
            ["mx1.a.example", "mx2.a.example"]
        );
        assert_eq!(
            h[0].addrs,
            vec![
                "127.0.0.1:2525".parse().unwrap(),
                "[::1]:2525".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn equal_preferences_are_randomised() {
        let mut d = FakeDns::default();
        d.mx.insert(
            "a.example".into(),
            mx(&[(10, "x.example"), (10, "y.example"), (5, "best.example")]),
        );
        for (i, h) in ["x.example", "y.example", "best.example"]
            .iter()
            .enumerate()
        {
            d.ips.insert(
                h.to_string(),
                Ok(vec![IpAddr::from([127, 0, 0, i as u8 + 1])]),
            );
        }
        let mut seconds = std::collections::HashSet::new();
        for _ in 0..64 {
            let h = hops(&d, "a.example").await.unwrap();
            assert_eq!(h[0].host, "best.example");
            seconds.insert(h[1].host.clone());
        }
        // Each of the equal hosts came second at some point (the chance
        // that one never does is 2^-63).
        assert_eq!(seconds.len(), 2, "{seconds:?}");
    }

    #[tokio::test]
    async fn implicit_null_nxdomain_and_temporary() {
        let mut d = FakeDns::default();
        // No MX: the domain's own address (RFC 5321 §5.1).
        d.mx.insert("implicit.example".into(), Err(DnsError::NoRecords));
        d.ips
            .insert("implicit.example".into(), Ok(vec![ip("127.0.0.9")]));
        let h = hops(&d, "implicit.example").await.unwrap();
        assert_eq!(
            h,
            vec![Hop {
                host: "implicit.example".into(),
                addrs: vec!["127.0.0.9:2525".parse().unwrap()]
            }]
        );
        // Null MX (RFC 7505).
        d.mx.insert("null.example".into(), mx(&[(0, "")]));
        let f = hops(&d, "null.example").await.unwrap_err();
        assert!(f.permanent && f.status == "5.1.10", "{f:?}");
        // NXDOMAIN: permanent.
        let f = hops(&d, "nowhere.example").await.unwrap_err();
        assert!(f.permanent && f.status == "5.1.2", "{f:?}");
        // SERVFAIL: temporary.
        d.mx.insert(
            "broken.example".into(),
            Err(DnsError::Temporary("SERVFAIL".into())),
        );
        let f = hops(&d, "broken.example").await.unwrap_err();
        assert!(!f.permanent && f.status == "4.4.3", "{f:?}");
        // MX hosts that do not resolve, one of them temporarily.
        d.mx.insert("dangling.example".into(), mx(&[(10, "gone.example")]));
        assert!(hops(&d, "dangling.example").await.unwrap_err().permanent);
        d.ips.insert(
            "flaky.example".into(),
            Err(DnsError::Temporary("timeout".into())),
        );
        d.mx.insert(
            "dangling.example".into(),
            mx(&[(10, "gone.example"), (20, "flaky.example")]),
        );
        assert!(!hops(&d, "dangling.example").await.unwrap_err().permanent);
        // No MX and no address.
        d.mx.insert("bare.example".into(), Ok(vec![]));
        assert!(hops(&d, "bare.example").await.unwrap_err().permanent);
    }

    #[tokio::test]
    async fn never_route_to_myself_or_worse() {
        let mut d = FakeDns::default();
        d.ips
            .insert("mx1.example".into(), Ok(vec![ip("127.0.0.1")]));
        d.ips
            .insert("mx3.example".into(), Ok(vec![ip("127.0.0.3")]));
        d.mx.insert(
            "b.example".into(),
            mx(&[
                (10, "mx1.example"),
                (20, "mail.self.example"),
                (30, "mx3.example"),
            ]),
        );
        let h = hops(&d, "b.example").await.unwrap();
        assert_eq!(
            h.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(),
            ["mx1.example"]
        );
        d.mx.insert(
            "c.example".into(),
            mx(&[(10, "MAIL.self.example"), (30, "mx3.example")]),
        );
        let f = hops(&d, "c.example").await.unwrap_err();
        assert!(f.permanent && f.status == "5.4.6", "{f:?}");
    }

    #[tokio::test]
    async fn static_routes_win() {
        let d = FakeDns::default();
        let mut c = cfg();
        c.routes.insert("a.example".into(), "127.0.0.1:2600".into());
        c.routes.insert("v6.example".into(), "[::1]:2601".into());
        c.routes.insert("*".into(), "127.0.0.5".into());
        let one = |h: &str, a: &str| {
            vec![Hop {
                host: h.into(),
                addrs: vec![a.parse().unwrap()],
            }]
        };
        assert_eq!(
            next_hops("a.example", &c, "me", &d).await.unwrap(),
            one("127.0.0.1", "127.0.0.1:2600")
        );
        assert_eq!(
            next_hops("v6.example", &c, "me", &d).await.unwrap(),
            one("::1", "[::1]:2601")
        );
        assert_eq!(
            next_hops("other.example", &c, "me", &d).await.unwrap(),
            one("127.0.0.5", "127.0.0.5:25")
        );
        c.routes.insert("*".into(), "smarthost.invalid:587".into());
        let f = next_hops("other.example", &c, "me", &d).await.unwrap_err();
        assert!(!f.permanent, "{f:?}");
    }

    #[tokio::test]
    async fn unreachable_dns_server_is_temporary() {
        // A loopback port with nothing listening: the lookup fails, and
        // that must defer the mail, never bounce it.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        drop(sock);
        let c = Delivery {
            dns_server: format!("127.0.0.1:{port}"),
            connect_timeout: mailhost_config::Duration::from_secs(1),
            ..cfg()
        };
        let dns = HickoryDns::new(&c);
        let f = next_hops("example.com", &c, "me", &dns).await.unwrap_err();
        assert!(!f.permanent && f.status == "4.4.3", "{f:?}");
    }
}
