//! The MIME header fields (RFC 2045 §5, §6; RFC 2183; RFC 3282): media
//! type with parameters, disposition, transfer encoding, languages.
//!
//! Values are kept as sent (parameter values unquoted), since BODYSTRUCTURE
//! shows them to the client; only names are compared case-insensitively.
//! Lenient like the mail readers real senders test with: an unquoted
//! parameter value runs to the next `;`, comments are dropped anywhere.

/// `type/subtype; attr=value ...`, or a `Content-Disposition`
/// (`type; attr=value ...`, with an empty subtype).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Structured {
    pub kind: Vec<u8>,
    pub subtype: Vec<u8>,
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Structured {
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind.as_bytes())
            && (subtype.is_empty() || self.subtype.eq_ignore_ascii_case(subtype.as_bytes()))
    }
}

/// RFC 2045 §5.1 tspecials, plus space and controls: what ends a token.
fn is_token(b: u8) -> bool {
    b > b' ' && b != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Removes comments (RFC 5322 §3.2.2, nested, outside quoted strings).
fn strip_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for &b in v {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                out.push(b);
            }
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    out
}

fn skip_ws(v: &[u8], mut i: usize) -> usize {
    while i < v.len() && matches!(v[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

fn token(v: &[u8], i: usize) -> (Vec<u8>, usize) {
    let mut j = i;
    while j < v.len() && is_token(v[j]) {
        j += 1;
    }
    (v[i..j].to_vec(), j)
}

/// Parses an unfolded structured value. With `subtype`, a media type:
/// None when `type/subtype` is not there (RFC 2045 §5.2: then the default
/// applies). Without, a disposition type.
pub(crate) fn parse(value: &[u8], subtype: bool) -> Option<Structured> {
    let v = strip_comments(value);
    let mut i = skip_ws(&v, 0);
    let (kind, j) = token(&v, i);
    if kind.is_empty() {
        return None;
    }
    i = skip_ws(&v, j);
    let mut st = Vec::new();
    if subtype {
        if v.get(i) != Some(&b'/') {
            return None;
        }
        i = skip_ws(&v, i + 1);
        let (s, j) = token(&v, i);
        if s.is_empty() {
            return None;
        }
        st = s;
        i = j;
    }
    let mut params: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // Parameters: `; attr = value`; anything unparseable up to the next
    // `;` is skipped.
    while i < v.len() {
        match v[i..].iter().position(|&b| b == b';') {
            Some(p) => i += p + 1,
            None => break,
        }
        i = skip_ws(&v, i);
        let (attr, j) = token(&v, i);
        i = skip_ws(&v, j);
        if attr.is_empty() || v.get(i) != Some(&b'=') {
            continue;
        }
        i = skip_ws(&v, i + 1);
        let mut val = Vec::new();
        if v.get(i) == Some(&b'"') {
            i += 1;
            while i < v.len() && v[i] != b'"' {
                if v[i] == b'\\' && i + 1 < v.len() {
                    i += 1;
                }
                val.push(v[i]);
                i += 1;
            }
            i += 1;
        } else {
            // Leniency: unquoted values with spaces or tspecials (a common
            // sender bug in file names) run to the next `;`.
            let end = v[i..]
                .iter()
                .position(|&b| b == b';')
                .map_or(v.len(), |p| i + p);
            val = crate::header::trim(&v[i..end]).to_vec();
            i = end;
        }
        params.push((attr, val));
    }
    Some(Structured {
        kind,
        subtype: st,
        params,
    })
}

/// Content-Transfer-Encoding (RFC 2045 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cte {
    /// 7bit, 8bit, binary, or the field absent: the body is as is.
    Identity,
    Base64,
    QuotedPrintable,
    /// Anything else (x-uuencode, typos): BINARY answers UNKNOWN-CTE.
    Other,
}

/// The encoding and its name as BODYSTRUCTURE shows it (uppercased, `7BIT`
/// when absent or not a token, as Dovecot does).
pub(crate) fn cte(value: Option<&[u8]>) -> (Cte, Vec<u8>) {
    let Some(value) = value else {
        return (Cte::Identity, b"7BIT".to_vec());
    };
    let v = strip_comments(value);
    let t = crate::header::trim(&v);
    if t.is_empty() || !t.iter().all(|&b| is_token(b)) {
        // RFC 2045 §6.1 requires a token; an invalid value is shown as the
        // default but cannot be decoded.
        let kind = if t.is_empty() {
            Cte::Identity
        } else {
            Cte::Other
        };
        return (kind, b"7BIT".to_vec());
    }
    let upper = t.to_ascii_uppercase();
    let kind = match upper.as_slice() {
        b"7BIT" | b"8BIT" | b"BINARY" => Cte::Identity,
        b"BASE64" => Cte::Base64,
        b"QUOTED-PRINTABLE" => Cte::QuotedPrintable,
        _ => Cte::Other,
    };
    (kind, upper)
}

/// Content-Language (RFC 3282): comma-separated tags.
pub(crate) fn languages(value: &[u8]) -> Vec<Vec<u8>> {
    strip_comments(value)
        .split(|&b| b == b',')
        .map(crate::header::trim)
        .filter(|t| !t.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type() {
        let c = parse(b"multipart/mixed; boundary=\"foo bar\"", true).unwrap();
        assert!(c.is("multipart", ""));
        assert_eq!(c.param("BOUNDARY").unwrap(), b"foo bar");
        let c = parse(
            b"Text/Plain (c) ; charset = \"a\\\"b\" ; name=my file.txt",
            true,
        )
        .unwrap();
        assert_eq!(c.kind, b"Text");
        assert_eq!(c.subtype, b"Plain");
        assert_eq!(
            c.params,
            vec![
                (b"charset".to_vec(), b"a\"b".to_vec()),
                (b"name".to_vec(), b"my file.txt".to_vec())
            ]
        );
        assert!(parse(b"text", true).is_none());
        assert!(parse(b"/plain", true).is_none());
        assert!(parse(b"", true).is_none());
        let d = parse(b"attachment; filename=a.pdf", false).unwrap();
        assert_eq!(d.kind, b"attachment");
        assert_eq!(d.param("filename").unwrap(), b"a.pdf");
    }

    #[test]
    fn encodings() {
        assert_eq!(cte(None), (Cte::Identity, b"7BIT".to_vec()));
        assert_eq!(cte(Some(b" Base64 ")).0, Cte::Base64);
        assert_eq!(
            cte(Some(b"x-uuencode")),
            (Cte::Other, b"X-UUENCODE".to_vec())
        );
        assert_eq!(cte(Some(b"?invalid")), (Cte::Other, b"7BIT".to_vec()));
        assert_eq!(
            languages(b"en, fi (x)"),
            vec![b"en".to_vec(), b"fi".to_vec()]
        );
    }
}
