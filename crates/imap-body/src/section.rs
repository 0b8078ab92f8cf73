//! `BODY[section]` (RFC 9051 §6.4.5) and `BINARY[part]` (RFC 3516 §4.2): the
//! bytes of a part of the message, found with the part numbering of
//! `mime::find`, the same as BODYSTRUCTURE's.

use std::fmt;

use mailhost_imap_proto::types::{Section, SectionText};

use crate::ctype::Cte;
use crate::decode;
use crate::header::Header;
use crate::mime::{self, Kind};

/// The bytes of `section` of the message, or None when the part does not
/// exist (the server then sends an empty string, RFC 9051 §6.4.5 leaves
/// that to the server and clients expect it).
///
/// - no part: the whole message, its header, selected header fields, or
///   its text;
/// - part numbers: the part's body; `.MIME` its MIME header; `.HEADER`,
///   `.HEADER.FIELDS[.NOT]` and `.TEXT` only for a message/rfc822 part,
///   about the message inside it.
pub fn section(message: &[u8], section: &Section) -> Option<Vec<u8>> {
    let root = mime::parse(message);
    if section.part.is_empty() {
        return Some(match &section.text {
            None => message.to_vec(),
            Some(SectionText::Mime) => return None,
            Some(t) => of_message(message, &root.header, root.body.clone(), t),
        });
    }
    let part = mime::find(&root, &section.part)?;
    match &section.text {
        None => Some(message[part.body.clone()].to_vec()),
        Some(SectionText::Mime) => Some(message[part.header.range.clone()].to_vec()),
        Some(t) => match &part.kind {
            Kind::Message(inner) => Some(of_message(message, &inner.header, inner.body.clone(), t)),
            _ => None,
        },
    }
}

/// HEADER, HEADER.FIELDS[.NOT] or TEXT of a message.
fn of_message(
    msg: &[u8],
    hdr: &Header,
    body: std::ops::Range<usize>,
    text: &SectionText,
) -> Vec<u8> {
    match text {
        SectionText::Header => msg[hdr.range.clone()].to_vec(),
        SectionText::Text => msg[body].to_vec(),
        SectionText::Mime => Vec::new(),
        SectionText::HeaderFields { not, fields } => {
            // The matching fields' lines as they are, in the message's
            // order, then the blank line that ends a header.
            let mut out = Vec::new();
            for f in &hdr.fields {
                if fields.iter().any(|n| f.is(msg, n)) != *not {
                    let lines = &msg[f.lines.clone()];
                    out.extend_from_slice(lines);
                    if !lines.ends_with(b"\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        }
    }
}

/// Why BINARY cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryError {
    /// No such part: the server answers as for a missing BODY section.
    NoPart,
    /// A Content-Transfer-Encoding we cannot decode: `NO [UNKNOWN-CTE]`
    /// (RFC 3516 §4.3).
    UnknownCte,
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryError::NoPart => "no such part",
            BinaryError::UnknownCte => "unknown Content-Transfer-Encoding",
        })
    }
}

impl std::error::Error for BinaryError {}

/// `BINARY[part]`: the part's content with its transfer encoding removed
/// (RFC 3516 §4.2). BINARY[] is the whole message as is; a multipart or
/// message part is returned as is too (RFC 2045 §6.4 forbids encoding
/// them).
pub fn binary(message: &[u8], part: &[u32]) -> Result<Vec<u8>, BinaryError> {
    if part.is_empty() {
        return Ok(message.to_vec());
    }
    let root = mime::parse(message);
    let p = mime::find(&root, part).ok_or(BinaryError::NoPart)?;
    match p.kind {
        Kind::Multipart(_) | Kind::Message(_) => Ok(message[p.body.clone()].to_vec()),
        Kind::Leaf | Kind::Opaque => match p.cte {
            Cte::Other => Err(BinaryError::UnknownCte),
            _ => decode::content(message, p).ok_or(BinaryError::UnknownCte),
        },
    }
}
