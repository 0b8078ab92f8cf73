//! mailhost message authentication: DKIM, SPF and DMARC.
//!
//! Layout, one module per standard (the cryptography, canonicalisation and
//! record parsing are the `mail-auth` crate's; this crate holds mailhost's
//! choices on top of it):
//! - [`dkim`]: key generation and outbound signing (RFC 6376, RFC 8301;
//!   R-OUT-9). The signer reads each domain's key from the store and keeps it
//!   for a minute, so a key stored by an admin command reaches a running
//!   server without a restart.
//! - [`verify`]: inbound checks (R-IN-6): SPF for the HELO and MAIL FROM
//!   identities (RFC 7208), DKIM signatures (RFC 6376), DMARC (RFC 7489)
//!   and the Authentication-Results header field that records them
//!   (RFC 8601). Every DNS lookup is bounded; DNS trouble is `temperror`.
//! - [`dmarc_policy`]: what an author's domain asks for failing mail, for
//!   the mailing lists' From rewrite.
//! - [`breaker`]: after lookups keep timing out, the checks are skipped
//!   (`temperror` at once) until a probe gets an answer again.
//! - [`dns`]: the records a hosted domain should publish (MX, SPF, DKIM,
//!   DMARC), printed by `mailhost domain dns DOMAIN`.
//!
//! Place in the whole: the SMTP server calls [`Verifier`] on each received
//! message and prepends the header; the delivery client calls [`Signer`]
//! on each outgoing message; the CLI calls [`generate_key`] and
//! [`dns_records`]. Nothing here talks SMTP or touches a socket other than
//! the DNS resolver's.

pub mod breaker;
pub mod dkim;
pub mod dmarc_policy;
pub mod dns;
pub mod dns_check;
pub mod verify;

pub use dkim::{generate_key, Signer};
pub use dmarc_policy::Asks;
pub use dns::{dns_record_list, dns_records, DnsRecord};
pub use dns_check::{Checked, DnsCheck, Found};
pub use verify::Verifier;
