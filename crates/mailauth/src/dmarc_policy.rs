//! What a domain's DMARC record asks receivers to do with mail that fails
//! it, for the mailing lists' From rewrite (issue 15 item 10): a list
//! re-sends a post with its own changes, so the author's DKIM signature
//! may break; when the author's domain asks for `reject` or `quarantine`,
//! the list sends From its own address instead.
//!
//! The record is looked up at `_dmarc.DOMAIN`, then up the tree towards
//! the top-level domain (the DMARCbis "tree walk", which needs no public
//! suffix list), at most [`MAX_WALK`] names; a record found above the
//! domain itself applies its `sp=` (subdomain policy) when it has one
//! (RFC 7489 §6.3).

use crate::verify::Verifier;
use mail_auth::common::cache::NoCache;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::{DnsError, Error, Txt};
use std::time::Duration;

/// Names asked at most (RFC 9989's tree walk stops after 8).
pub const MAX_WALK: usize = 8;

/// What the author's domain asks for failing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asks {
    /// No record, or `p=none`: a list may keep the author's From.
    Nothing,
    Quarantine,
    Reject,
    /// DNS did not answer in time: unknown.
    Unknown,
}

impl Asks {
    /// Whether a list should send From its own address: for `reject`,
    /// `quarantine`, and when DNS could not tell (a rewritten From is
    /// delivered either way; a kept one may be refused).
    pub fn rewrite(self) -> bool {
        !matches!(self, Asks::Nothing)
    }
}

/// The names to ask, from the domain itself up to (not including) the
/// top-level domain: `a.b.example.com` → `a.b.example.com`,
/// `b.example.com`, `example.com`. A name of more labels than the walk
/// allows is asked itself, then from its last seven labels on, so that
/// the organisation's record near the top is always reached (the
/// shortcut of RFC 9989 §4.10).
pub fn walk(domain: &str) -> Vec<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return vec![];
    }
    let n = labels.len();
    let mut starts: Vec<usize> = (0..n - 1).collect();
    if starts.len() > MAX_WALK {
        // The whole name, then from seven labels down (RFC 9989 §4.10).
        starts = std::iter::once(0)
            .chain(n - (MAX_WALK - 1)..n - 1)
            .collect();
    }
    starts.into_iter().map(|i| labels[i..].join(".")).collect()
}

/// The policy that applies to `domain` from a record found at `at`.
pub fn applies(record: &Dmarc, domain: &str, at: &str) -> Asks {
    let p = if domain.eq_ignore_ascii_case(at) || record.sp == Policy::Unspecified {
        record.p
    } else {
        record.sp
    };
    match p {
        Policy::Reject => Asks::Reject,
        Policy::Quarantine => Asks::Quarantine,
        Policy::None | Policy::Unspecified => Asks::Nothing,
    }
}

impl Verifier {
    /// What `domain`'s DMARC record asks for failing mail, within
    /// `budget` for the whole walk.
    pub async fn dmarc_asks(&self, domain: &str, budget: Duration) -> Asks {
        // While the resolver is known to be down, do not wait on it.
        if self.resolver_down() {
            return Asks::Unknown;
        }
        let names = walk(domain);
        let lookups = async {
            for name in &names {
                let key = format!("_dmarc.{name}.");
                match self
                    .authenticator()
                    .txt_lookup::<Dmarc>(key, None::<&NoCache<Box<str>, Txt>>)
                    .await
                {
                    Ok(record) => return applies(&record, domain, name),
                    Err(Error::Dns(DnsError::RecordNotFound(_) | DnsError::InvalidRecordType)) => {}
                    // A record that does not parse is as none (RFC 7489 §6.6.3).
                    Err(Error::ParseError) => {}
                    Err(_) => return Asks::Unknown,
                }
            }
            Asks::Nothing
        };
        tokio::time::timeout(budget, lookups)
            .await
            .unwrap_or(Asks::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::common::parse::TxtRecordParser;

    #[test]
    fn walks_up_to_below_the_tld() {
        assert_eq!(
            walk("a.b.Example.com."),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(walk("example.com"), ["example.com"]);
        assert!(walk("com").is_empty());
        assert!(walk("").is_empty());
        assert!(walk("a..com").is_empty());
        let deep = format!("{}a.b.c.d.e.f.example.com", "x.".repeat(20));
        let w = walk(&deep);
        assert_eq!(w.len(), 7);
        assert_eq!(w[0], deep);
        assert_eq!(w[1], "b.c.d.e.f.example.com");
        assert_eq!(w.last().unwrap(), "example.com");
    }

    #[test]
    fn subdomains_take_sp() {
        let r = Dmarc::parse(b"v=DMARC1; p=reject; sp=none").unwrap();
        assert_eq!(applies(&r, "example.com", "example.com"), Asks::Reject);
        assert_eq!(
            applies(&r, "mail.example.com", "example.com"),
            Asks::Nothing
        );
        let r = Dmarc::parse(b"v=DMARC1; p=quarantine").unwrap();
        assert_eq!(
            applies(&r, "mail.example.com", "example.com"),
            Asks::Quarantine
        );
        let r = Dmarc::parse(b"v=DMARC1; p=none").unwrap();
        assert!(!applies(&r, "example.com", "example.com").rewrite());
        assert!(Asks::Unknown.rewrite());
    }
}
