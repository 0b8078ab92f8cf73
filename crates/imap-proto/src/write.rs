//! Writing IMAP values into responses (RFC 9051 §4.3, §9 `string`,
//! `nstring`, `astring`).
//!
//! A string is written quoted when it can be (ASCII, no CR/LF/NUL, and not
//! too long), else as a literal, which carries any byte but NUL — except a
//! literal8 (RFC 3516), which only BINARY uses.

/// Longest value written as a quoted string; longer ones become literals,
/// which clients read without scanning for escapes.
const MAX_QUOTED: usize = 1024;

/// Whether `s` may be sent as a quoted string. With `utf8` (UTF8=ACCEPT
/// enabled, RFC 6855 §3) valid UTF-8 may be quoted too.
fn quotable(s: &[u8], utf8: bool) -> bool {
    s.len() <= MAX_QUOTED
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && (b < 0x80 || utf8))
        && (!utf8 || std::str::from_utf8(s).is_ok())
}

/// `string`: quoted or literal.
pub fn string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if quotable(s, utf8) {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// `nstring`: NIL for None.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>, utf8: bool) {
    match s {
        Some(s) => string(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A literal `{n}\r\n` followed by the bytes. NUL bytes cannot appear in
/// a literal (RFC 9051 §4.3); they are sent as literal8 by BINARY only, so
/// here they are replaced by a space rather than break the client's parse.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'{');
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.extend_from_slice(b"}\r\n");
    if s.contains(&0) {
        out.extend(s.iter().map(|&b| if b == 0 { b' ' } else { b }));
    } else {
        out.extend_from_slice(s);
    }
}

/// `astring`: an atom when every byte is an ATOM-CHAR (or `]`, ASTRING-CHAR),
/// else a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        string(out, s, utf8);
    }
}

/// RFC 9051 §9 ASTRING-CHAR: ATOM-CHAR or `]`.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// RFC 9051 §9 ATOM-CHAR: any CHAR except atom-specials.
pub fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
        && !matches!(
            b,
            b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }

    #[test]
    fn strings() {
        assert_eq!(s(|o| string(o, b"a b", false)), "\"a b\"");
        assert_eq!(s(|o| string(o, b"a\"\\", false)), "\"a\\\"\\\\\"");
        assert_eq!(s(|o| string(o, b"a\r\nb", false)), "{4}\r\na\r\nb");
        assert_eq!(s(|o| string(o, "é".as_bytes(), false)), "{2}\r\né");
        assert_eq!(s(|o| string(o, "é".as_bytes(), true)), "\"é\"");
        assert_eq!(s(|o| nstring(o, None, false)), "NIL");
        assert_eq!(s(|o| astring(o, b"INBOX", false)), "INBOX");
        assert_eq!(s(|o| astring(o, b"a b", false)), "\"a b\"");
        assert_eq!(s(|o| astring(o, b"nil", false)), "\"nil\"");
        assert_eq!(s(|o| astring(o, b"", false)), "\"\"");
        assert_eq!(s(|o| literal(o, b"a\0b")), "{3}\r\na b");
    }
}
