//! Message output for RETR and TOP: byte-stuffing and the TOP cut. Pure.
//!
//! RFC 1939 §3: a multi-line response ends with a line holding a single
//! "."; any line of the message that begins with "." gets one more "."
//! before it. The stuffer works on chunks so the session can stream a large
//! message in bounded pieces, and copies each line once (linear time).

/// Streaming byte-stuffer. Feed the message with [`DotStuffer::push`], then
/// call [`DotStuffer::finish`] for the terminator.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    /// The next byte starts a line.
    line_start: bool,
    /// The last two bytes pushed (0 when fewer were pushed).
    tail: [u8; 2],
    empty: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            tail: [0; 2],
            empty: true,
        }
    }
}

impl DotStuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `data`, stuffed, to `out`. `out` grows by at most twice
    /// `data.len()` (every line a lone ".").
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while let Some(&first) = rest.first() {
            if self.line_start && first == b'.' {
                out.push(b'.');
            }
            // A line ends at LF: stored mail is CRLF, and a stray bare LF is
            // treated as a line end too, as clients unstuff after it.
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    out.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    self.line_start = true;
                }
                None => {
                    out.extend_from_slice(rest);
                    rest = &[];
                    self.line_start = false;
                }
            }
        }
        match data {
            [] => {}
            [b] => self.tail = [self.tail[1], *b],
            [.., a, b] => self.tail = [*a, *b],
        }
        self.empty &= data.is_empty();
    }

    /// Ends the response: completes an unterminated last line with CRLF
    /// (so the terminator starts a line), then ".\r\n".
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.empty {
            match self.tail {
                [b'\r', b'\n'] => {}
                [_, b'\r'] => out.push(b'\n'),
                _ => out.extend_from_slice(b"\r\n"),
            }
        }
        out.extend_from_slice(b".\r\n");
        *self = DotStuffer::default();
    }
}

/// The whole multi-line body for `msg`: stuffed and terminated. For tests
/// and the fuzz target; the session streams with [`DotStuffer`].
pub fn dot_stuff(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 64 + 5);
    let mut s = DotStuffer::new();
    s.push(msg, &mut out);
    s.finish(&mut out);
    out
}

/// How many leading octets of `msg` TOP sends (RFC 1939 §7): the header,
/// the blank line after it, then `body_lines` lines of the body. A message
/// without a blank line is all header.
pub fn top_len(msg: &[u8], body_lines: u32) -> usize {
    let next_line = |pos: usize| -> usize {
        msg[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len(), |i| pos + i + 1)
    };
    let mut pos = 0;
    while pos < msg.len() {
        let end = next_line(pos);
        let line = &msg[pos..end];
        pos = end;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    for _ in 0..body_lines {
        if pos >= msg.len() {
            break;
        }
        pos = next_line(pos);
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn stuffing() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r", b"a\r\n.\r\n"),
            (b"a\n", b"a\n\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r\n..x\r\n.", b"a\r\n...x\r\n..\r\n.\r\n"),
            (b"x.y\r\n .z\r\n", b"x.y\r\n .z\r\n.\r\n"),
            (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(s(&dot_stuff(input)), s(want), "{:?}", s(input));
        }
    }

    #[test]
    fn stuffing_in_chunks_matches_whole() {
        let msg = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nplain\r\n.\r\nend";
        let whole = dot_stuff(msg);
        for size in 1..msg.len() {
            let mut out = Vec::new();
            let mut st = DotStuffer::new();
            for c in msg.chunks(size) {
                st.push(c, &mut out);
            }
            st.finish(&mut out);
            assert_eq!(s(&out), s(&whole), "chunk size {size}");
        }
    }

    #[test]
    fn top() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(s(&m[..top_len(m, 0)]), "A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(s(&m[..top_len(m, 2)]), "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top_len(m, 3), m.len());
        assert_eq!(top_len(m, u32::MAX), m.len());
        // No blank line: all header.
        assert_eq!(top_len(b"A: 1\r\nB: 2", 5), 10);
        // No header at all.
        assert_eq!(top_len(b"\r\nbody\r\nmore", 1), 8);
        assert_eq!(top_len(b"", 3), 0);
        // Bare LF endings.
        assert_eq!(top_len(b"A: 1\n\nb1\nb2\n", 1), 9);
        // Unterminated last body line.
        assert_eq!(top_len(b"A: 1\r\n\r\nonly", 1), 12);
    }
}
