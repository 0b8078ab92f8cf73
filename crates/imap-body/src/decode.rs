//! Decoders: transfer encodings (RFC 2045 §6.7 quoted-printable, §6.8
//! base64) written here so that their leniencies are ours and BINARY
//! answers match Dovecot's; header words (RFC 2047) and charsets (to
//! UTF-8) through mail-parser, for SEARCH.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;

use crate::ctype::Cte;
use crate::mime::Part;

/// Base64 (RFC 2045 §6.8). Characters outside the alphabet (line breaks,
/// blanks, junk) are ignored as §6.8 asks; `=` ends a quantum, and what
/// follows is decoded afresh, so that base64 pieces joined together (a
/// common sender bug) still decode.
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                (acc, bits) = (0, 0);
                continue;
            }
            _ => continue,
        };
        acc = (acc << 6 | u32::from(v)) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Quoted-printable (RFC 2045 §6.7): trailing blanks of each line are
/// dropped (rule 3), `=` at the end of a line (even with blanks after it)
/// is a soft line break (rule 5), hard line breaks are kept as they are.
/// An `=` not followed by two hex digits is kept literally (the leniency
/// §6.7 suggests).
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let (line, eol, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = if i > 0 && rest[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                (&rest[..end], &rest[end..=i], &rest[i + 1..])
            }
            None => (rest, &rest[rest.len()..], &rest[rest.len()..]),
        };
        rest = next;
        let mut line = line;
        while let [head @ .., b' ' | b'\t'] = line {
            line = head;
        }
        let soft = line.last() == Some(&b'=');
        if soft {
            line = &line[..line.len() - 1];
        }
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'=' {
                if let (Some(h), Some(l)) = (
                    line.get(i + 1).copied().and_then(hex),
                    line.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(line[i]);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

/// A part's content with its transfer encoding removed; None for an
/// encoding we do not know.
pub(crate) fn content(msg: &[u8], part: &Part) -> Option<Vec<u8>> {
    let body = &msg[part.body.clone()];
    match part.cte {
        Cte::Identity => Some(body.to_vec()),
        Cte::Base64 => Some(base64(body)),
        Cte::QuotedPrintable => Some(quoted_printable(body)),
        Cte::Other => None,
    }
}

/// Bytes in `charset` as UTF-8; unknown charsets and invalid bytes are
/// read as UTF-8 with replacement characters, so a search still finds the
/// ASCII in them.
pub(crate) fn to_utf8(bytes: &[u8], charset: Option<&[u8]>) -> String {
    let native = |c: &[u8]| c.eq_ignore_ascii_case(b"utf-8") || c.eq_ignore_ascii_case(b"us-ascii");
    match charset.filter(|c| !native(c)).and_then(charset_decoder) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A header value with its encoded-words (RFC 2047) decoded to UTF-8, and
/// unfolded. `raw` is the value as in the message (folded lines and all).
pub(crate) fn header_text(raw: &[u8]) -> String {
    if !raw.windows(2).any(|w| w == b"=?") {
        let v: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        return String::from_utf8_lossy(crate::header::trim(&v)).into_owned();
    }
    // mail-parser reads a field value up to the line break that is not
    // followed by a blank; give it one line, unfolded, with that break.
    let mut line: Vec<u8> = Vec::with_capacity(raw.len() + 3);
    line.push(b' ');
    line.extend(raw.iter().copied().filter(|&b| b != b'\r' && b != b'\n'));
    line.extend_from_slice(b"\r\n");
    match MessageStream::new(&line).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        _ => String::from_utf8_lossy(crate::header::trim(&line)).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lenient() {
        assert_eq!(base64(b"aGVs\r\nbG8gd29y\r\nbGQ="), b"hello world");
        assert_eq!(
            base64(b"  aGVs    \r\n bG8g  \r\n   d29y  \t \r\n    bGQ= \r\n"),
            b"hello world"
        );
        assert_eq!(base64(b"YQ==Yg=="), b"ab");
        assert_eq!(base64(b"!!"), b"");
    }

    #[test]
    fn qp() {
        assert_eq!(
            quoted_printable(b"a=3Db  \r\nc=\r\nd= \t\r\n=ZZ=4"),
            b"a=b\r\ncd=ZZ=4"
        );
        assert_eq!(quoted_printable(b"x=\n"), b"x");
        assert_eq!(quoted_printable(b"="), b"");
    }

    #[test]
    fn words_and_charsets() {
        assert_eq!(header_text(b" =?utf-8?q?J=C3=B6rg?= Smith"), "Jörg Smith");
        assert_eq!(
            header_text(b" =?ISO-8859-1?Q?Andr=E9?=\r\n Pirard"),
            "André Pirard"
        );
        assert_eq!(header_text(b" plain\r\n text "), "plain text");
        assert_eq!(to_utf8(b"caf\xe9", Some(b"iso-8859-1")), "café");
        assert_eq!(to_utf8(b"caf\xc3\xa9", None), "café");
    }
}
