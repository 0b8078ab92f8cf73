//! The MIME part tree (RFC 2045, RFC 2046) and IMAP part numbering (RFC
//! 9051 §6.4.5), shared by BODYSTRUCTURE, BODY[section], BINARY and SEARCH
//! so that they all see the same parts.
//!
//! One pass over the lines: every part ends at the next line that is a
//! delimiter of *any* enclosing multipart (RFC 2046 §5.1.2: an outer
//! boundary closes the inner parts too), so each byte is looked at once
//! and the cost is linear whatever the nesting. Nesting is capped at
//! [`MAX_DEPTH`] and the number of parts at [`MAX_PARTS`]; beyond them a
//! multipart or message is kept as one opaque part.

use std::ops::Range;

use crate::ctype::{self, Cte, Structured};
use crate::header::{self, Header};

/// Deepest nesting of multiparts and messages parsed (as Dovecot's
/// message parser caps it); deeper ones are opaque octets.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most parts parsed in one message; later multiparts and messages are
/// opaque.
pub(crate) const MAX_PARTS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Part {
    /// The part's header: the message header for a message, the MIME
    /// header for a body part (RFC 2045 §3).
    pub header: Header,
    /// The content, without the line break that belongs to the next
    /// delimiter (RFC 2046 §5.1.1).
    pub body: Range<usize>,
    /// The media type in effect (defaults of RFC 2045 §5.2 and RFC 2046
    /// §5.1.5 applied).
    pub ctype: Structured,
    pub cte: Cte,
    /// The encoding's name as shown in BODYSTRUCTURE.
    pub cte_name: Vec<u8>,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// A part with no parts inside it.
    Leaf,
    /// A multipart that was cut off by the caps, has no boundary, or is a
    /// message that cannot be read as one (encoded): shown as
    /// application/octet-stream.
    Opaque,
    /// A multipart with its body parts (possibly none, if no delimiter
    /// was found).
    Multipart(Vec<Part>),
    /// message/rfc822 or message/global (RFC 6532): the message inside.
    Message(Box<Part>),
}

impl Part {
    pub fn is_text(&self) -> bool {
        matches!(self.kind, Kind::Leaf) && self.ctype.is("text", "")
    }
}

/// Parses the message into its part tree; the root is the message itself.
pub(crate) fn parse(msg: &[u8]) -> Part {
    let mut p = Parser {
        msg,
        pos: 0,
        boundaries: Vec::new(),
        parts: 0,
    };
    p.part(0, false)
}

struct Parser<'a> {
    msg: &'a [u8],
    /// Always at the start of a line (or at the end).
    pos: usize,
    /// The delimiters of the enclosing multiparts, innermost last.
    boundaries: Vec<Vec<u8>>,
    parts: usize,
}

impl Parser<'_> {
    /// Whether the line at `pos` is a delimiter (`--boundary`) or close
    /// delimiter (`--boundary--`) of an enclosing multipart, optionally
    /// followed by blanks (RFC 2046 §5.1.1 transport padding): which one
    /// (index into `boundaries`) and whether it closes.
    fn delimiter(&self, pos: usize) -> Option<(usize, bool)> {
        let rest = &self.msg[pos..];
        if self.boundaries.is_empty() || !rest.starts_with(b"--") {
            return None;
        }
        let (end, _) = header::line_at(self.msg, pos);
        let line = &self.msg[pos + 2..end];
        for (i, b) in self.boundaries.iter().enumerate().rev() {
            if let Some(tail) = line.strip_prefix(b.as_slice()) {
                let (close, tail) = match tail.strip_prefix(b"--") {
                    Some(t) => (true, t),
                    None => (false, tail),
                };
                if tail.iter().all(|&c| c == b' ' || c == b'\t') {
                    return Some((i, close));
                }
            }
        }
        None
    }

    /// Moves to the next delimiter line of any enclosing multipart (or the
    /// end) and says which it is.
    fn skip_to_delimiter(&mut self) -> Option<(usize, bool)> {
        if self.boundaries.is_empty() {
            self.pos = self.msg.len();
            return None;
        }
        while self.pos < self.msg.len() {
            if let Some(d) = self.delimiter(self.pos) {
                return Some(d);
            }
            self.pos = header::line_at(self.msg, self.pos).1;
        }
        None
    }

    /// Where the content before `self.pos` ends: the line break before a
    /// delimiter belongs to it (RFC 2046 §5.1.1), the end of the message
    /// does not.
    fn content_end(&self, start: usize) -> usize {
        let mut end = self.pos;
        if end < self.msg.len() && end > start && self.msg[end - 1] == b'\n' {
            end -= 1;
            if end > start && self.msg[end - 1] == b'\r' {
                end -= 1;
            }
        }
        end.max(start)
    }

    /// Parses the part (header and body) starting at `self.pos`, leaving
    /// `self.pos` at the delimiter that ends it or at the end.
    fn part(&mut self, depth: usize, in_digest: bool) -> Part {
        self.parts += 1;
        let start = self.pos;
        let (hdr, body_start) = {
            let this = &*self;
            header::parse(self.msg, start, |pos| this.delimiter(pos).is_some())
        };
        self.pos = body_start;
        let msg = self.msg;
        let given = hdr
            .first_value(msg, "content-type")
            .and_then(|v| ctype::parse(&v, true));
        let ctype = given.unwrap_or_else(|| Structured {
            // RFC 2046 §5.1.5: in a digest the default is a message;
            // elsewhere RFC 2045 §5.2 text/plain; charset=us-ascii.
            kind: if in_digest {
                b"message".to_vec()
            } else {
                b"text".to_vec()
            },
            subtype: if in_digest {
                b"rfc822".to_vec()
            } else {
                b"plain".to_vec()
            },
            params: if in_digest {
                Vec::new()
            } else {
                vec![(b"charset".to_vec(), b"us-ascii".to_vec())]
            },
        });
        let (cte, cte_name) =
            ctype::cte(hdr.first_value(msg, "content-transfer-encoding").as_deref());
        let room = depth < MAX_DEPTH && self.parts < MAX_PARTS;
        let boundary = ctype
            .param("boundary")
            .filter(|b| !b.is_empty())
            .map(<[u8]>::to_vec);

        let kind = if ctype.is("multipart", "") && room && boundary.is_some() {
            let digest = ctype.is("multipart", "digest");
            self.boundaries.push(boundary.unwrap_or_default());
            let own = self.boundaries.len() - 1;
            let mut children = Vec::new();
            let mut closed = false;
            // The preamble, then one part per delimiter line.
            while let Some((which, close)) = self.skip_to_delimiter() {
                if which != own {
                    break;
                }
                self.pos = header::line_at(msg, self.pos).1;
                if close {
                    closed = true;
                    break;
                }
                if self.parts >= MAX_PARTS {
                    break;
                }
                children.push(self.part(depth + 1, digest));
            }
            self.boundaries.pop();
            if closed || self.parts >= MAX_PARTS {
                // The epilogue runs to the enclosing delimiter.
                self.skip_to_delimiter();
            }
            Kind::Multipart(children)
        } else if (ctype.is("message", "rfc822") || ctype.is("message", "global"))
            && cte == Cte::Identity
            && room
        {
            // RFC 2046 §5.2.1: the body is a whole message; it ends where
            // this part ends.
            Kind::Message(Box::new(self.part(depth + 1, false)))
        } else {
            self.skip_to_delimiter();
            if ctype.is("multipart", "")
                || ctype.is("message", "rfc822")
                || ctype.is("message", "global")
            {
                Kind::Opaque
            } else {
                Kind::Leaf
            }
        };
        let body = body_start.min(self.pos)..self.content_end(body_start);
        Part {
            header: hdr,
            body,
            ctype,
            cte,
            cte_name,
            kind,
        }
    }
}

/// The part a section's part numbers name (RFC 9051 §6.4.5): numbers index
/// the parts of a multipart; a message/rfc822 part's numbers are those of
/// the message inside it; a message that is not multipart has one part,
/// 1, its body (which is why the part returned for `1` of such a message
/// is the message itself, and its body is what BODY[1] returns).
pub(crate) fn find<'p>(root: &'p Part, path: &[u32]) -> Option<&'p Part> {
    let mut part = root;
    for (i, &n) in path.iter().enumerate() {
        if i > 0 {
            match &part.kind {
                Kind::Message(inner) => part = inner,
                Kind::Multipart(_) => {}
                Kind::Leaf | Kind::Opaque => return None,
            }
        }
        match &part.kind {
            Kind::Multipart(children) => part = children.get((n as usize).checked_sub(1)?)?,
            _ if n == 1 => {}
            _ => return None,
        }
    }
    Some(part)
}

/// Every part in the tree, depth first (for searches).
pub(crate) fn walk<'p>(part: &'p Part, f: &mut impl FnMut(&'p Part)) {
    f(part);
    match &part.kind {
        Kind::Multipart(children) => children.iter().for_each(|c| walk(c, f)),
        Kind::Message(inner) => walk(inner, f),
        Kind::Leaf | Kind::Opaque => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s<'a>(m: &'a [u8], r: &Range<usize>) -> &'a str {
        std::str::from_utf8(&m[r.clone()]).unwrap()
    }

    #[test]
    fn multipart_and_nested_message() {
        let m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\none\r\n--b \r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ninner\r\n--b--\r\nepi\r\n";
        let root = parse(m);
        let Kind::Multipart(ch) = &root.kind else {
            panic!()
        };
        assert_eq!(ch.len(), 2);
        assert_eq!(s(m, &ch[0].body), "one");
        assert_eq!(s(m, &ch[0].header.range), "\r\n");
        let Kind::Message(inner) = &ch[1].kind else {
            panic!()
        };
        assert_eq!(s(m, &inner.body), "inner");
        assert_eq!(s(m, &inner.header.range), "Subject: x\r\n\r\n");
        assert_eq!(root.body, root.header.range.end..m.len());
        assert!(std::ptr::eq(find(&root, &[2, 1]).unwrap(), &**inner));
        assert!(find(&root, &[3]).is_none());
        assert!(find(&root, &[0]).is_none());
        assert!(find(&root, &[1, 1]).is_none());
    }

    #[test]
    fn outer_boundary_closes_inner() {
        let m = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\na\r\n--o\r\n\r\nb\r\n--o--\r\n";
        let root = parse(m);
        let Kind::Multipart(ch) = &root.kind else {
            panic!()
        };
        assert_eq!(ch.len(), 2);
        assert_eq!(s(m, &find(&root, &[1, 1]).unwrap().body), "a");
        assert_eq!(s(m, &find(&root, &[2]).unwrap().body), "b");
    }

    #[test]
    fn depth_is_capped() {
        let mut m = Vec::new();
        for i in 0..200 {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        m.extend_from_slice(b"\r\nleaf\r\n");
        let root = parse(&m);
        let mut depth = 0;
        let mut p = &root;
        while let Kind::Multipart(ch) = &p.kind {
            p = &ch[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(matches!(p.kind, Kind::Opaque));
    }
}
