//! The DNS records a hosted domain publishes (`mailhost domain dns DOMAIN`,
//! R-WEB-1's "DNS records to publish").
//!
//! Printed zone-file style (RFC 1035 §5.1), one record per line, fully
//! qualified owner names, so they paste into a zone file as they are and
//! read plainly for entry into a DNS host's web form.

use mailhost_store::DkimKey;

/// TTL suggested for every record: an hour, short enough to fix a mistake
/// the same day.
const TTL: u32 = 3600;

/// RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets, so a
/// longer value (an RSA-2048 DKIM record is about 410) is published as
/// several strings, which verifiers join (RFC 6376 §3.6.2.2, RFC 7208 §3.3).
const MAX_STRING: usize = 255;

/// One record to publish: owner name (without the final dot), type, and
/// the value as a DNS host's web form takes it (TXT unquoted).
#[derive(Debug, Clone, PartialEq)]
pub struct DnsRecord {
    pub name: String,
    pub rtype: &'static str,
    pub value: String,
    pub ttl: u32,
}

impl DnsRecord {
    /// The record as a zone-file line (RFC 1035 §5.1).
    pub fn zone_line(&self) -> String {
        let rdata = if self.rtype == "TXT" {
            txt(&self.value)
        } else {
            self.value.clone()
        };
        format!("{}. {} IN {} {rdata}\n", self.name, self.ttl, self.rtype)
    }
}

/// The records a domain should publish: MX (10 HOSTNAME.), SPF TXT
/// ("v=spf1 a:HOSTNAME mx -all"), DKIM TXT at SELECTOR._domainkey.DOMAIN
/// ("v=DKIM1; k=rsa; p=..."), DMARC TXT at _dmarc.DOMAIN ("v=DMARC1;
/// p=quarantine; rua=mailto:postmaster@DOMAIN"). No key: no DKIM record.
pub fn dns_record_list(domain: &str, hostname: &str, key: Option<&DkimKey>) -> Vec<DnsRecord> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let hostname = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    let rec = |name: &str, rtype, value: String| DnsRecord {
        name: name.to_string(),
        rtype,
        value,
        ttl: TTL,
    };
    // RFC 5321 §5.1: mail for the domain goes to the MX host.
    let mut out = vec![rec(&domain, "MX", format!("10 {hostname}."))];
    // RFC 7208: this server (by its name) and the domain's MX hosts may
    // send for it; anything else fails (the domain sends only through us).
    out.push(rec(&domain, "TXT", format!("v=spf1 a:{hostname} mx -all")));
    if let Some(key) = key {
        // RFC 6376 §3.6.1, RFC 8463 §4.2 for k=ed25519.
        let k = if key.algorithm.starts_with("ed25519") {
            "ed25519"
        } else {
            "rsa"
        };
        out.push(rec(
            &format!("{}._domainkey.{domain}", key.selector),
            "TXT",
            format!("v=DKIM1; k={k}; p={}", key.public_key),
        ));
    }
    // RFC 7489 §6.3: aggregate reports go to the domain's postmaster, which
    // every hosted domain has (RFC 5321 §4.5.1).
    out.push(rec(
        &format!("_dmarc.{domain}"),
        "TXT",
        format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"),
    ));
    out
}

/// [`dns_record_list`] one record per line, zone-file style; TXT values
/// over 255 octets split into several strings. With no key, the DKIM
/// line is a zone-file comment saying so.
pub fn dns_records(domain: &str, hostname: &str, key: Option<&DkimKey>) -> String {
    let mut out = String::new();
    for r in dns_record_list(domain, hostname, key) {
        if key.is_none() && r.name.starts_with("_dmarc.") {
            out.push_str(&format!(
                "; no DKIM key for {} yet: none to publish\n",
                &r.name["_dmarc.".len()..]
            ));
        }
        out.push_str(&r.zone_line());
    }
    out
}

/// TXT rdata: quoted strings of at most 255 octets each, separated by
/// spaces. The values built here are ASCII without quotes or backslashes,
/// so no escaping is needed.
fn txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(MAX_STRING)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}
