//! What DNS says now about the records a domain should publish (the
//! domain panel's live check, R-WEB-1): each expected record is looked up
//! and compared, so a customer sees at once which one is missing or
//! different.

use crate::dns::DnsRecord;
use crate::verify::resolver_config;
use mail_auth::hickory_resolver::net::NetError;
use mail_auth::hickory_resolver::proto::rr::RData;
use mail_auth::hickory_resolver::TokioResolver;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Published as expected.
    Ok,
    /// Records of that kind exist, with other values.
    Different,
    /// No such record.
    Missing,
    /// DNS did not answer (or failed): unknown.
    Unknown,
}

impl Found {
    pub fn as_str(&self) -> &'static str {
        match self {
            Found::Ok => "ok",
            Found::Different => "different",
            Found::Missing => "missing",
            Found::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub record: DnsRecord,
    pub found: Found,
    /// The values of that type DNS gave for the name (of SPF, DKIM and
    /// DMARC, only those of the same kind).
    pub values: Vec<String>,
}

/// A resolver for the live check: `delivery.dns_server`, or the system's.
#[derive(Clone)]
pub struct DnsCheck {
    resolver: TokioResolver,
    budget: Duration,
}

impl DnsCheck {
    /// `budget` bounds one whole check (the lookups run at once).
    pub fn new(dns_server: &str, budget: Duration) -> Result<Self, String> {
        let (config, mut opts) = resolver_config(dns_server)?;
        opts.timeout = budget;
        opts.attempts = 0;
        // A customer who just fixed a record wants to see it now.
        opts.cache_size = 0;
        let resolver = TokioResolver::builder_with_config(config, Default::default())
            .with_options(opts)
            .build()
            .map_err(|e| format!("setting up the DNS resolver: {e}"))?;
        Ok(DnsCheck { resolver, budget })
    }

    /// Every record, looked up at once, in the order given.
    pub async fn check(&self, records: &[DnsRecord]) -> Vec<Checked> {
        let tasks: Vec<_> = records
            .iter()
            .map(|r| {
                let (me, r) = (self.clone(), r.clone());
                tokio::spawn(async move { tokio::time::timeout(me.budget, me.one(&r)).await })
            })
            .collect();
        let mut out = Vec::with_capacity(records.len());
        for (t, r) in tasks.into_iter().zip(records) {
            out.push(match t.await {
                Ok(Ok(c)) => c,
                _ => Checked {
                    record: r.clone(),
                    found: Found::Unknown,
                    values: vec![],
                },
            });
        }
        out
    }

    async fn one(&self, r: &DnsRecord) -> Checked {
        let name = format!("{}.", r.name.trim_end_matches('.'));
        let answer = match r.rtype {
            "MX" => self.resolver.mx_lookup(name.as_str()).await.map(|l| {
                l.answers()
                    .iter()
                    .filter_map(|a| match &a.data {
                        RData::MX(mx) => Some(format!(
                            "{} {}",
                            mx.preference,
                            mx.exchange.to_ascii().to_ascii_lowercase()
                        )),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            }),
            _ => self.resolver.txt_lookup(name.as_str()).await.map(|l| {
                l.answers()
                    .iter()
                    .filter_map(|a| match &a.data {
                        // RFC 7208 §3.3, RFC 6376 §3.6.2.2: the strings of
                        // one TXT record are joined without spaces.
                        RData::TXT(t) => Some(
                            t.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            }),
        };
        let (found, values) = match answer {
            Ok(values) => compare(r, values),
            Err(e) if is_absent(&e) => (Found::Missing, vec![]),
            Err(e) => {
                tracing::info!(name = r.name, rtype = r.rtype, "DNS check: {e}");
                (Found::Unknown, vec![])
            }
        };
        Checked {
            record: r.clone(),
            found,
            values,
        }
    }
}

fn is_absent(e: &NetError) -> bool {
    e.is_nx_domain() || e.is_no_records_found()
}

/// The TXT kind of a value: its `v=` tag (SPF, DKIM, DMARC).
fn kind(v: &str) -> String {
    let v = v.trim_start();
    v.split([';', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn squash(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The DKIM public key (`p=`) of a key record.
fn dkim_key(v: &str) -> Option<String> {
    v.split(';')
        .map(str::trim)
        .find_map(|t| t.strip_prefix("p="))
        .map(|p| p.split_whitespace().collect())
}

fn compare(r: &DnsRecord, values: Vec<String>) -> (Found, Vec<String>) {
    let values: Vec<String> = if r.rtype == "TXT" {
        let k = kind(&r.value);
        let is_dkim = k == "v=dkim1";
        values
            .into_iter()
            .filter(|v| kind(v) == k || (is_dkim && dkim_key(v).is_some()))
            .collect()
    } else {
        values
    };
    if values.is_empty() {
        return (Found::Missing, values);
    }
    let want = squash(&r.value).to_ascii_lowercase();
    let same = |v: &String| match r.rtype {
        "MX" => squash(v).trim_end_matches('.') == want.trim_end_matches('.'),
        _ if kind(&r.value) == "v=dkim1" => {
            dkim_key(v).is_some() && dkim_key(v) == dkim_key(&r.value)
        }
        _ => squash(v).eq_ignore_ascii_case(&want),
    };
    let found = if values.iter().any(same) {
        Found::Ok
    } else {
        Found::Different
    };
    (found, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rtype: &'static str, value: &str) -> DnsRecord {
        DnsRecord {
            name: "a.example".into(),
            rtype,
            value: value.into(),
            ttl: 3600,
        }
    }

    #[test]
    fn compares_by_kind() {
        let mx = rec("MX", "10 mx.host.example.");
        assert_eq!(
            compare(&mx, vec!["10 mx.host.example.".into()]).0,
            Found::Ok
        );
        assert_eq!(
            compare(&mx, vec!["10 other.example.".into()]).0,
            Found::Different
        );
        let spf = rec("TXT", "v=spf1 a:mx.host.example mx -all");
        let (f, v) = compare(
            &spf,
            vec![
                "google-site-verification=x".into(),
                "v=spf1  a:mx.host.example mx -all".into(),
            ],
        );
        assert_eq!((f, v.len()), (Found::Ok, 1));
        assert_eq!(
            compare(&spf, vec!["v=spf1 ~all".into()]).0,
            Found::Different
        );
        assert_eq!(compare(&spf, vec!["other".into()]).0, Found::Missing);
        let dkim = rec("TXT", "v=DKIM1; k=rsa; p=MIIBIj");
        assert_eq!(compare(&dkim, vec!["k=rsa; p=MII BIj".into()]).0, Found::Ok);
        assert_eq!(
            compare(&dkim, vec!["v=DKIM1; p=XYZ".into()]).0,
            Found::Different
        );
    }
}
