//! Header blocks (RFC 5322 §2.2, §3.6): fields as byte ranges into the
//! message, so that sections can return the original lines unchanged and
//! the envelope can show values raw.
//!
//! Lenient where real mail is: bare LF line ends are accepted, `Name :`
//! (obsolete, RFC 5322 §4.5) is a field, and a line that is neither a
//! field nor a continuation is skipped rather than ending the header.

use std::ops::Range;

/// One header field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The field name, without the colon and trailing blanks.
    pub name: Range<usize>,
    /// From after the colon to the end of the last line, line breaks of
    /// folded lines included, the final line break excluded.
    pub value: Range<usize>,
    /// The field's whole lines, final line break included.
    pub lines: Range<usize>,
}

impl Field {
    pub fn is(&self, msg: &[u8], name: &str) -> bool {
        msg[self.name.clone()].eq_ignore_ascii_case(name.as_bytes())
    }

    /// The raw value, unfolded (RFC 5322 §2.2.3: CRLF removed, the blank
    /// that follows kept) and trimmed. Encoded-words stay as sent.
    pub fn unfolded(&self, msg: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = msg[self.value.clone()]
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        trim(&v).to_vec()
    }
}

/// A header block as found in the message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Header {
    pub fields: Vec<Field>,
    /// The header block, ending blank line included when there is one.
    pub range: Range<usize>,
}

impl Header {
    /// The first field called `name` (RFC 5322 §3.6: most fields occur at
    /// most once; when repeated, the first is the one we answer with).
    pub fn first(&self, msg: &[u8], name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.is(msg, name))
    }

    pub fn first_value(&self, msg: &[u8], name: &str) -> Option<Vec<u8>> {
        self.first(msg, name).map(|f| f.unfolded(msg))
    }
}

/// Trims SP, HTAB, CR and LF at both ends.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// The line starting at `pos` (< msg.len()): where its content ends (before
/// CR LF or LF) and where the next line starts.
pub(crate) fn line_at(msg: &[u8], pos: usize) -> (usize, usize) {
    match msg[pos..].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let lf = pos + i;
            let end = if lf > pos && msg[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (end, lf + 1)
        }
        None => (msg.len(), msg.len()),
    }
}

/// The fields of one header line, appended to `fields`. Returns false for
/// the blank line that ends the header.
pub(crate) fn push_line(
    msg: &[u8],
    pos: usize,
    end: usize,
    next: usize,
    fields: &mut Vec<Field>,
) -> bool {
    let line = &msg[pos..end];
    if line.is_empty() {
        return false;
    }
    if matches!(line[0], b' ' | b'\t') {
        // A continuation (RFC 5322 §2.2.3); before any field it is noise.
        if let Some(last) = fields.last_mut() {
            last.value.end = end;
            last.lines.end = next;
        }
        return true;
    }
    if let Some(colon) = line.iter().position(|&b| b == b':') {
        let name = trim(&line[..colon]);
        if !name.is_empty() && name.iter().all(|&b| b > b' ' && b < 0x7f) {
            let name_start = pos + (name.as_ptr() as usize - line.as_ptr() as usize);
            fields.push(Field {
                name: name_start..name_start + name.len(),
                value: pos + colon + 1..end,
                lines: pos..next,
            });
        }
    }
    true
}

/// Parses a header block from `start` up to the blank line, or up to `stop`
/// (a boundary line or the end): returns the header and where the body
/// starts.
pub(crate) fn parse(
    msg: &[u8],
    start: usize,
    mut stop: impl FnMut(usize) -> bool,
) -> (Header, usize) {
    let mut fields = Vec::new();
    let mut pos = start;
    while pos < msg.len() && !stop(pos) {
        let (end, next) = line_at(msg, pos);
        if !push_line(msg, pos, end, next, &mut fields) {
            return (
                Header {
                    fields,
                    range: start..next,
                },
                next,
            );
        }
        pos = next;
    }
    (
        Header {
            fields,
            range: start..pos,
        },
        pos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_folding() {
        let m = b"Subject: a\r\n b\r\nX-Y : z\r\nnoise\r\n\r\nbody";
        let (h, body) = parse(m, 0, |_| false);
        assert_eq!(&m[body..], b"body");
        assert_eq!(h.fields.len(), 2);
        assert_eq!(h.first_value(m, "subject").unwrap(), b"a b");
        assert_eq!(h.first_value(m, "x-y").unwrap(), b"z");
        assert_eq!(&m[h.fields[0].lines.clone()], b"Subject: a\r\n b\r\n");
        assert_eq!(&m[h.range.clone()], &m[..body]);
    }

    #[test]
    fn no_blank_line_and_bare_lf() {
        let m = b"A: 1\nB: 2";
        let (h, body) = parse(m, 0, |_| false);
        assert_eq!(body, m.len());
        assert_eq!(h.fields.len(), 2);
        assert_eq!(h.first_value(m, "b").unwrap(), b"2");
    }
}
