//! The text tests of SEARCH (RFC 9051 §6.4.4): case-insensitive substring
//! matches on what a reader sees, so header values are matched after
//! RFC 2047 decoding and body text after its transfer encoding and
//! charset are removed. Case is folded with Unicode lowercasing of both
//! sides.
//!
//! The server turns the search charset into UTF-8 before calling these.

use crate::address::{self, Item};
use crate::decode;
use crate::header::{self, Header};
use crate::mime::{self, Part};

/// Folded text contains the folded needle. A needle longer than the text
/// fails before any work.
fn contains(text: &str, needle: &str) -> bool {
    needle.len() <= text.len() * 3 && text.to_lowercase().contains(needle)
}

fn fold(needle: &[u8]) -> String {
    String::from_utf8_lossy(needle).to_lowercase()
}

fn root_header(message: &[u8]) -> Header {
    header::parse(message, 0, |_| false).0
}

/// `HEADER field string` and SUBJECT: a `field` whose decoded value
/// contains `needle`; with an empty needle, any message that has the
/// field (RFC 9051 §6.4.4).
pub fn header_matches(message: &[u8], field: &str, needle: &[u8]) -> bool {
    let hdr = root_header(message);
    let needle = fold(needle);
    hdr.fields.iter().filter(|f| f.is(message, field)).any(|f| {
        needle.is_empty() || contains(&decode::header_text(&message[f.value.clone()]), &needle)
    })
}

/// FROM, TO, CC, BCC: as Dovecot does, each address is matched as
/// `decoded name <mailbox@host>` (so the name, the address or both), and a
/// group by its name. A field with no address we can read is matched as
/// text.
pub fn address_matches(message: &[u8], field: &str, needle: &[u8]) -> bool {
    let hdr = root_header(message);
    let needle = fold(needle);
    hdr.fields.iter().filter(|f| f.is(message, field)).any(|f| {
        if needle.is_empty() {
            return true;
        }
        let items = address::parse(&f.unfolded(message));
        if items.is_empty() {
            return contains(&decode::header_text(&message[f.value.clone()]), &needle);
        }
        items.iter().any(|item| {
            let text = match item {
                Item::Mailbox {
                    name,
                    mailbox,
                    host,
                    ..
                } => {
                    let addr = format!(
                        "{}@{}",
                        String::from_utf8_lossy(mailbox),
                        String::from_utf8_lossy(host)
                    );
                    match name {
                        Some(n) => format!("{} <{addr}>", decode::header_text(n)),
                        None => addr,
                    }
                }
                Item::GroupStart(name) => decode::header_text(name),
                Item::GroupEnd => return false,
            };
            contains(&text, &needle)
        })
    })
}

/// The decoded text of each text part, inside attached messages too.
fn texts(message: &[u8], root: &Part, f: &mut impl FnMut(&str) -> bool) -> bool {
    let mut found = false;
    mime::walk(root, &mut |p| {
        if found || !p.is_text() {
            return;
        }
        // An unknown encoding is searched as it is.
        let raw = decode::content(message, p).unwrap_or_else(|| message[p.body.clone()].to_vec());
        found = f(&decode::to_utf8(&raw, p.ctype.param("charset")));
    });
    found
}

/// BODY: the decoded text of the message's text parts (RFC 9051 §6.4.4).
pub fn body_matches(message: &[u8], needle: &[u8]) -> bool {
    let needle = fold(needle);
    let root = mime::parse(message);
    texts(message, &root, &mut |t| contains(t, &needle))
}

/// TEXT: the header, MIME headers included, or the body (RFC 9051 §6.4.4).
/// Header fields are matched as `Name: decoded value`.
pub fn text_matches(message: &[u8], needle: &[u8]) -> bool {
    let needle = fold(needle);
    let root = mime::parse(message);
    let mut found = false;
    mime::walk(&root, &mut |p| {
        found = found
            || p.header.fields.iter().any(|f| {
                let line = format!(
                    "{}: {}",
                    String::from_utf8_lossy(&message[f.name.clone()]),
                    decode::header_text(&message[f.value.clone()])
                );
                contains(&line, &needle)
            });
    });
    found || texts(message, &root, &mut |t| contains(t, &needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_and_folded() {
        let m = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus\r\n K\u{f6}ln\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6ne Gr=FC=DFe\r\n".as_bytes();
        assert!(header_matches(m, "SUBJECT", "GRÜßE".as_bytes()));
        assert!(header_matches(m, "subject", "ÜßE AUS KÖLN".as_bytes()));
        assert!(header_matches(m, "subject", b""));
        assert!(!header_matches(m, "x-none", b""));
        assert!(body_matches(m, "SCHÖNE".as_bytes()));
        assert!(!body_matches(m, b"=F6"));
        assert!(text_matches(m, "grüße aus".as_bytes()));
        assert!(text_matches(m, b"content-type: text"));
        assert!(!body_matches(m, &[b'x'; 1000]));
    }

    #[test]
    fn addresses() {
        let m = b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\r\nTo: team: a@b;\r\n\r\n";
        assert!(address_matches(m, "from", "jörg".as_bytes()));
        assert!(address_matches(m, "from", b"joerg@example"));
        assert!(address_matches(m, "from", "jörg <joerg".as_bytes()));
        assert!(address_matches(m, "to", b"team"));
        assert!(address_matches(m, "to", b"a@b"));
        assert!(!address_matches(m, "cc", b""));
        assert!(address_matches(m, "to", b""));
    }
}
