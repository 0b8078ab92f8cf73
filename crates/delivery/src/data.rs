//! The DATA sender (RFC 5321 §4.1.1.4, §4.5.2): dot-stuffing as a pure
//! state machine over chunks, the mirror of the server's DATA receiver.

pub fn has_8bit(body: &[u8]) -> bool {
    body.iter().any(|&b| b >= 0x80)
}

/// Dot-stuffing (RFC 5321 §4.5.2) as a pure state machine over chunks:
/// a line that starts with "." gets another. Line ends leave as CRLF; a
/// bare CR or LF (which the server never stores, but a message from
/// elsewhere might hold) becomes CRLF too, since §2.3.8 forbids sending
/// them and they are what SMTP smuggling is made of.
#[derive(Debug)]
pub struct DotStuffer {
    line_start: bool,
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            pending_cr: false,
        }
    }
}

impl DotStuffer {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.line_start = true;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                }
                _ => {
                    if self.line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.line_start = false;
                }
            }
        }
    }

    /// Ends the last line if it is open, then the end of data mark.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        self.pending_cr = false;
        self.line_start = true;
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn stuffing_at_every_split_point() {
        let body: &[u8] = b".first\r\nmid.dle\r\n.\r\n..two\r\nend";
        let want: &[u8] = b"..first\r\nmid.dle\r\n..\r\n...two\r\nend\r\n.\r\n";
        for i in 0..=body.len() {
            assert_eq!(stuff(&[&body[..i], &body[i..]]), want, "split at {i}");
        }
    }

    #[test]
    fn empty_and_terminated_bodies() {
        assert_eq!(stuff(&[b""]), b".\r\n");
        assert_eq!(stuff(&[b"a\r\n"]), b"a\r\n.\r\n");
    }

    #[test]
    fn bare_line_ends_become_crlf() {
        assert_eq!(
            stuff(&[b"a\nb\rc\r", b"\n.d\r"]),
            b"a\r\nb\r\nc\r\n..d\r\n.\r\n"
        );
    }
}
