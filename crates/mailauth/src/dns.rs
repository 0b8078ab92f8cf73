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

/// The records a domain should publish, one per line, zone-file style:
/// MX (10 HOSTNAME.), SPF TXT ("v=spf1 a:HOSTNAME mx -all"), DKIM TXT at
/// SELECTOR._domainkey.DOMAIN ("v=DKIM1; k=rsa; p=..." split into 255-char
/// strings), DMARC TXT at _dmarc.DOMAIN ("v=DMARC1; p=quarantine;
/// rua=mailto:postmaster@DOMAIN").
///
/// With no key, the DKIM line is a zone-file comment saying so.
pub fn dns_records(domain: &str, hostname: &str, key: Option<&DkimKey>) -> String {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let hostname = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut out = String::new();
    // RFC 5321 §5.1: mail for the domain goes to the MX host.
    line(&mut out, &domain, "MX", &format!("10 {hostname}."));
    // RFC 7208: this server (by its name) and the domain's MX hosts may
    // send for it; anything else fails (the domain sends only through us).
    line(
        &mut out,
        &domain,
        "TXT",
        &txt(&format!("v=spf1 a:{hostname} mx -all")),
    );
    match key {
        Some(key) => {
            // RFC 6376 §3.6.1, RFC 8463 §4.2 for k=ed25519.
            let k = if key.algorithm.starts_with("ed25519") {
                "ed25519"
            } else {
                "rsa"
            };
            let owner = format!("{}._domainkey.{domain}", key.selector);
            line(
                &mut out,
                &owner,
                "TXT",
                &txt(&format!("v=DKIM1; k={k}; p={}", key.public_key)),
            );
        }
        None => out.push_str(&format!(
            "; no DKIM key for {domain} yet: none to publish\n"
        )),
    }
    // RFC 7489 §6.3: aggregate reports go to the domain's postmaster, which
    // every hosted domain has (RFC 5321 §4.5.1).
    line(
        &mut out,
        &format!("_dmarc.{domain}"),
        "TXT",
        &txt(&format!(
            "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
        )),
    );
    out
}

fn line(out: &mut String, owner: &str, rtype: &str, rdata: &str) {
    out.push_str(&format!("{owner}. {TTL} IN {rtype} {rdata}\n"));
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
