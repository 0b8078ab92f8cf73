//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034,
//! RFC 3463).

use mailhost_policy::Refusal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<&'static str>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced code (greeting, EHLO: RFC 2034 §3 does
    /// not use them there).
    pub fn plain(code: u16, lines: Vec<String>) -> Self {
        Reply {
            code,
            enhanced: None,
            lines,
        }
    }

    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Wire form; multi-line replies use `code-` on all but the last line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(sep as u8);
            if let Some(e) = self.enhanced {
                out.extend_from_slice(e.as_bytes());
                out.push(b' ');
            }
            // Reply text must not break the line structure.
            out.extend(
                text.bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl From<&Refusal> for Reply {
    fn from(r: &Refusal) -> Self {
        Reply::new(r.code, r.enhanced, r.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi() {
        let mut o = Vec::new();
        Reply::new(250, "2.1.0", "OK").encode(&mut o);
        assert_eq!(o, b"250 2.1.0 OK\r\n");
        o.clear();
        Reply::plain(250, vec!["a".into(), "b".into()]).encode(&mut o);
        assert_eq!(o, b"250-a\r\n250 b\r\n");
        o.clear();
        Reply::new(550, "5.1.1", "x\r\ny").encode(&mut o);
        assert_eq!(o, b"550 5.1.1 x  y\r\n");
    }
}
