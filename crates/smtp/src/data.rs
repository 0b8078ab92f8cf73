//! The DATA receiver (RFC 5321 §4.1.1.4, §4.5.2): finds the end of the
//! message and removes dot-stuffing, as a pure state machine over bytes.
//!
//! The end of data is only `<CRLF>.<CRLF>`. A bare LF or a bare CR anywhere
//! in the message is an error (RFC 5321 §2.3.8): accepting them is what
//! makes SMTP smuggling possible, where `<LF>.<LF>` or `<LF>.<CRLF>` ends a
//! message for one server and not for the next.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After CRLF (or at the very start of DATA).
    LineStart,
    Mid,
    /// After CR inside a line.
    Cr,
    /// After a '.' at the start of a line.
    Dot,
    /// After ".\r" at the start of a line.
    DotCr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All input consumed; the message goes on.
    NeedMore,
    /// The end of data was found; this many input bytes belonged to DATA.
    Done(usize),
    /// A bare LF or CR was found at this input offset.
    BareNewline(usize),
}

pub struct DataReceiver {
    state: State,
    /// Message bytes produced so far (after un-stuffing), counted even when
    /// they are no longer stored.
    pub size: u64,
    /// Stop storing beyond this many bytes (SIZE limit); keep counting.
    limit: u64,
}

impl DataReceiver {
    pub fn new(limit: u64) -> Self {
        DataReceiver {
            state: State::LineStart,
            size: 0,
            limit,
        }
    }

    pub fn over_limit(&self) -> bool {
        self.size > self.limit
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.size);
        let keep = (bytes.len() as u64).min(room) as usize;
        out.extend_from_slice(&bytes[..keep]);
        self.size += bytes.len() as u64;
    }

    /// Consumes `input`, appending the message bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Outcome {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Mid | State::LineStart
                    if b != b'\r'
                        && b != b'\n'
                        && !(self.state == State::LineStart && b == b'.') =>
                {
                    // Fast path: copy up to the next CR or LF.
                    let end = input[i..]
                        .iter()
                        .position(|&c| c == b'\r' || c == b'\n')
                        .map_or(input.len(), |p| i + p);
                    self.emit(out, &input[i..end]);
                    self.state = State::Mid;
                    i = end;
                    continue;
                }
                State::LineStart if b == b'.' => self.state = State::Dot,
                State::LineStart | State::Mid => {
                    if b == b'\r' {
                        self.state = State::Cr;
                    } else {
                        return Outcome::BareNewline(i);
                    }
                }
                State::Cr => {
                    if b != b'\n' {
                        return Outcome::BareNewline(i);
                    }
                    self.emit(out, b"\r\n");
                    self.state = State::LineStart;
                }
                State::Dot => match b {
                    b'\r' => self.state = State::DotCr,
                    b'\n' => return Outcome::BareNewline(i),
                    _ => {
                        // §4.5.2: the leading dot of a stuffed line is
                        // removed; `b` is then an ordinary character (or a
                        // second dot, kept).
                        self.state = State::Mid;
                        continue;
                    }
                },
                State::DotCr => {
                    if b != b'\n' {
                        return Outcome::BareNewline(i);
                    }
                    return Outcome::Done(i + 1);
                }
            }
            i += 1;
        }
        Outcome::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Outcome) {
        let mut r = DataReceiver::new(u64::MAX);
        let mut out = Vec::new();
        let mut last = Outcome::NeedMore;
        for c in chunks {
            last = r.feed(c, &mut out);
            if last != Outcome::NeedMore {
                break;
            }
        }
        (out, last)
    }

    #[test]
    fn simple_and_unstuffing() {
        let (o, r) = run(&[b"Subject: x\r\n\r\n..dot\r\n.x\r\nend\r\n.\r\nNEXT"]);
        assert_eq!(o, b"Subject: x\r\n\r\n.dot\r\nx\r\nend\r\n");
        assert_eq!(r, Outcome::Done(33));
    }

    #[test]
    fn empty_message() {
        assert_eq!(run(&[b".\r\n"]), (vec![], Outcome::Done(3)));
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let msg: &[u8] = b"a\r\n.\r\n";
        let full = b"l1\r\n..l2\r\n.\r\n";
        let (want, _) = run(&[full]);
        for i in 0..full.len() {
            let (o, r) = run(&[&full[..i], &full[i..]]);
            assert_eq!(o, want, "split {i}");
            assert!(matches!(r, Outcome::Done(_)), "split {i}");
        }
        assert!(matches!(run(&[msg]).1, Outcome::Done(6)));
    }

    #[test]
    fn smuggling_forms_are_refused() {
        // Each would end the message early for a lenient server.
        for bad in [
            &b"a\n.\n"[..],
            b"a\r\n.\n",
            b"a\n.\r\n",
            b"a\r.\r",
            b"a\r\n.\rX",
            b"x\ry\r\n.\r\n",
            b"x\ny\r\n.\r\n",
        ] {
            let (_, r) = run(&[bad]);
            assert!(matches!(r, Outcome::BareNewline(_)), "{bad:?} -> {r:?}");
        }
    }

    #[test]
    fn limit_counts_but_does_not_store() {
        let mut r = DataReceiver::new(5);
        let mut out = Vec::new();
        assert_eq!(r.feed(b"0123456789\r\n.\r\n", &mut out), Outcome::Done(15));
        assert_eq!(out, b"01234");
        assert_eq!(r.size, 12);
        assert!(r.over_limit());
    }
}
