//! SMTP replies as the client reads them (RFC 5321 §4.2), with enhanced
//! status codes (RFC 2034, RFC 3463). A pure parser: it takes the bytes
//! read so far and returns a whole reply, "needs more", or an error; the
//! connection owns the socket and the timeouts.
//!
//! (The server's reply type in `mailhost-smtp` only writes replies; this is
//! the reading half of the same vocabulary.)

use std::fmt;

/// Longest reply we accept. RFC 5321 §4.5.3.1.5 limits a reply line to 512
/// octets; multi-line EHLO replies are longer in all, and some servers
/// exceed the line limit, so we allow a generous total.
pub const MAX_REPLY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code of the first line, if the server gave one
    /// whose class matches the reply code (RFC 2034 §4).
    pub enhanced: Option<(u8, u16, u16)>,
    /// The text of each line, without code, separator or enhanced code of
    /// the first line.
    pub lines: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    NeedMore,
    /// A whole reply, and how many input bytes it took.
    Done(Reply, usize),
    /// Not an SMTP reply: the peer is not speaking SMTP, or is broken.
    Invalid(String),
}

impl Reply {
    pub fn class(&self) -> u16 {
        self.code / 100
    }
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }
    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }
    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// The enhanced status code, or the generic one for the reply class
    /// (RFC 3463 §3.1: X.0.0, "other undefined status").
    pub fn status(&self) -> String {
        match self.enhanced {
            Some((c, s, d)) => format!("{c}.{s}.{d}"),
            None => format!("{}.0.0", self.class().clamp(2, 5)),
        }
    }

    /// The EHLO keywords (RFC 5321 §4.1.1.1): every line but the first, its
    /// first word upper-cased, with its parameters.
    pub fn ehlo_keywords(&self) -> impl Iterator<Item = (String, &str)> {
        self.lines.iter().skip(1).filter_map(|l| {
            let l = l.trim();
            let (k, params) = l.split_once(' ').unwrap_or((l, ""));
            (!k.is_empty()).then(|| (k.to_ascii_uppercase(), params.trim()))
        })
    }
}

/// One line for logs, queue errors and the Diagnostic-Code of a DSN
/// (RFC 3464 §2.3.6): code, enhanced code, the lines joined by spaces,
/// control and non-ASCII characters replaced, so it cannot break a header.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((c, s, d)) = self.enhanced {
            write!(f, " {c}.{s}.{d}")?;
        }
        for l in &self.lines {
            if !l.is_empty() {
                f.write_str(" ")?;
                for ch in l.chars() {
                    let ch = if ch.is_ascii() && !ch.is_ascii_control() {
                        ch
                    } else {
                        '?'
                    };
                    fmt::Write::write_char(f, ch)?;
                }
            }
        }
        Ok(())
    }
}

/// Parses the reply at the start of `buf`.
///
/// Every line is `CODE SP text CRLF` (last line) or `CODE - text CRLF`; a
/// bare `CODE CRLF` is a last line too (§4.2: the text is optional). All
/// lines must carry the same code (§4.2.1). Leniency: a bare LF ends a line
/// as well as CRLF, since some servers send it and nothing is ambiguous
/// here.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut code = None;
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_REPLY {
                Parsed::Invalid("reply too long".into())
            } else {
                Parsed::NeedMore
            };
        };
        let end = pos + nl + 1;
        if end > MAX_REPLY {
            return Parsed::Invalid("reply too long".into());
        }
        let mut line = &buf[pos..pos + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        pos = end;
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Parsed::Invalid(format!("not an SMTP reply: {:?}", preview(line)));
        }
        let c =
            (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
        if !(200..600).contains(&c) {
            return Parsed::Invalid(format!("reply code {c} out of range"));
        }
        if *code.get_or_insert(c) != c {
            return Parsed::Invalid(format!(
                "reply code changed within a reply: {:?}",
                preview(line)
            ));
        }
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Parsed::Invalid(format!("not an SMTP reply: {:?}", preview(line))),
        };
        lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned());
        if last {
            break;
        }
    }
    let code = code.unwrap_or_default();
    let enhanced = split_enhanced(code, &mut lines[0]);
    if let Some((c, s, d)) = enhanced {
        // RFC 2034 §4: continuation lines repeat the code; keep it once.
        let prefix = format!("{c}.{s}.{d}");
        for l in &mut lines[1..] {
            if let Some(rest) = l
                .strip_prefix(&prefix)
                .filter(|r| r.is_empty() || r.starts_with(' '))
            {
                *l = rest.trim_start().to_string();
            }
        }
    }
    Parsed::Done(
        Reply {
            code,
            enhanced,
            lines,
        },
        pos,
    )
}

/// Takes an enhanced status code off the front of the first line, if it
/// is one and its class agrees with the reply code (RFC 2034 §4).
fn split_enhanced(code: u16, first: &mut String) -> Option<(u8, u16, u16)> {
    let (word, rest) = first.split_once(' ').unwrap_or((first.as_str(), ""));
    let mut parts = word.split('.');
    let (Some(c), Some(s), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let ok = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !(ok(c, 1) && ok(s, 3) && ok(d, 3)) {
        return None;
    }
    let e = (c.parse().ok()?, s.parse().ok()?, d.parse().ok()?);
    if e.0 as u16 != code / 100 {
        return None;
    }
    *first = rest.to_string();
    Some(e)
}

fn preview(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(s: &str) -> (Reply, usize) {
        match parse(s.as_bytes()) {
            Parsed::Done(r, n) => (r, n),
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn single_line_with_and_without_enhanced_code() {
        let (r, n) = done("250 2.1.0 Sender ok\r\nNEXT");
        assert_eq!(
            (r.code, r.enhanced, r.lines.clone(), n),
            (250, Some((2, 1, 0)), vec!["Sender ok".to_string()], 21)
        );
        assert_eq!(r.to_string(), "250 2.1.0 Sender ok");
        let (r, _) = done("220 mx.example ESMTP\r\n");
        assert_eq!((r.enhanced, r.status()), (None, "2.0.0".to_string()));
        let (r, _) = done("354\r\n");
        assert_eq!((r.code, r.lines), (354, vec![String::new()]));
        // A class that disagrees with the code is text, not a status.
        let (r, _) = done("550 4.1.1 odd\r\n");
        assert_eq!((r.enhanced, r.status()), (None, "5.0.0".to_string()));
    }

    #[test]
    fn multi_line_and_ehlo_keywords() {
        let s = "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8bitmime\r\n";
        let (r, n) = done(s);
        assert_eq!(n, s.len());
        let k: Vec<_> = r.ehlo_keywords().collect();
        assert_eq!(
            k,
            vec![
                ("PIPELINING".into(), ""),
                ("SIZE".into(), "1000"),
                ("8BITMIME".into(), "")
            ]
        );
    }

    #[test]
    fn every_line_ending_and_split_point() {
        for s in ["250-a\r\n250 b\r\n", "250-a\n250 b\n"] {
            for i in 0..s.len() {
                assert_eq!(parse(&s.as_bytes()[..i]), Parsed::NeedMore, "{s:?} at {i}");
            }
            assert!(matches!(parse(s.as_bytes()), Parsed::Done(_, n) if n == s.len()));
        }
    }

    #[test]
    fn garbage_is_invalid() {
        for s in [
            "HELLO\r\n",
            "25\r\n",
            "250x\r\n",
            "250-a\r\n251 b\r\n",
            "999 x\r\n",
            "\r\n",
        ] {
            assert!(matches!(parse(s.as_bytes()), Parsed::Invalid(_)), "{s:?}");
        }
        assert!(matches!(
            parse(&vec![b'2'; MAX_REPLY + 1]),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn display_cannot_break_a_header() {
        let (r, _) = done("550-5.7.1 first\r\n550 5.7.1 caf\u{e9}\x07\r\n");
        assert_eq!(r.to_string(), "550 5.7.1 first caf??");
    }
}
