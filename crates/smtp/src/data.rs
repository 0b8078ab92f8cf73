//! The DATA receiver (RFC 5321 §4.1.1.4, §4.5.2): finds the end of the
//! message and removes dot-stuffing, as a pure state machine over bytes.
//!
//! The end of data is only `<CRLF>.<CRLF>`: taking anything else for it is
//! what makes SMTP smuggling possible, where `<LF>.<LF>` or `<LF>.<CRLF>`
//! ends a message for one server and not for the next. RFC 5321 §2.3.8
//! forbids bare CR and LF; what becomes of a bare LF is [`BareLf`]:
//! - [`BareLf::Reject`]: it is an error;
//! - [`BareLf::Normalize`] (the default, as Postfix 3.9's
//!   `smtpd_forbid_bare_newline = normalize`): leniency for scripts and old
//!   MTAs that write `\n` (Python's `email` does by default). A bare LF ends
//!   a line and is stored as CRLF; the next line is a line like any other
//!   (its leading dot is unstuffed), but a "." line that a bare LF starts or
//!   ends never ends the data: it is kept as a line holding one dot, which
//!   every later hop sees dot-stuffed.
//!
//! A bare CR is an error either way: no client sends it by accident.

/// What a bare LF in message data is: the setting `smtp.bare_lf` itself.
pub use mailhost_config::BareLf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After CRLF (or at the very start of DATA).
    LineStart,
    /// After a bare LF taken as a line end (normalising only).
    LfLineStart,
    Mid,
    /// After CR inside a line.
    Cr,
    /// After a '.' at the start of a line.
    Dot,
    /// After ".\r" at the start of a line.
    DotCr,
    /// After a '.' at the start of a line that a bare LF began.
    LfDot,
    /// After ".\r" at the start of a line that a bare LF began.
    LfDotCr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All input consumed; the message goes on.
    NeedMore,
    /// The end of data was found; this many input bytes belonged to DATA.
    Done(usize),
    /// A CR not followed by LF was found at this input offset.
    BareCr(usize),
    /// A bare LF was found at this input offset (rejecting only).
    BareLf(usize),
}

pub struct DataReceiver {
    state: State,
    mode: BareLf,
    /// Message bytes produced so far (after un-stuffing), counted even when
    /// they are no longer stored.
    pub size: u64,
    /// Bare LFs stored as CRLF so far.
    pub normalized: u64,
    /// Stop storing beyond this many bytes (SIZE limit); keep counting.
    limit: u64,
}

impl DataReceiver {
    pub fn new(limit: u64, mode: BareLf) -> Self {
        DataReceiver {
            state: State::LineStart,
            mode,
            size: 0,
            normalized: 0,
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

    /// A bare LF ending a line whose content (`line`, already emitted or
    /// a lone dot) is done: stored as CRLF when normalising.
    fn bare_lf(&mut self, out: &mut Vec<u8>, line: &[u8], at: usize) -> Option<Outcome> {
        if self.mode == BareLf::Reject {
            return Some(Outcome::BareLf(at));
        }
        self.emit(out, line);
        self.emit(out, b"\r\n");
        self.normalized += 1;
        self.state = State::LfLineStart;
        None
    }

    /// Consumes `input`, appending the message bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Outcome {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Mid | State::LineStart | State::LfLineStart
                    if b != b'\r' && b != b'\n' && (self.state == State::Mid || b != b'.') =>
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
                State::LfLineStart if b == b'.' => self.state = State::LfDot,
                State::LineStart | State::LfLineStart | State::Mid => {
                    if b == b'\r' {
                        self.state = State::Cr;
                    } else if let Some(o) = self.bare_lf(out, b"", i) {
                        return o;
                    }
                }
                State::Cr => {
                    if b != b'\n' {
                        return Outcome::BareCr(i);
                    }
                    self.emit(out, b"\r\n");
                    self.state = State::LineStart;
                }
                State::Dot | State::LfDot => match b {
                    b'\r' if self.state == State::Dot => self.state = State::DotCr,
                    b'\r' => self.state = State::LfDotCr,
                    // "." ended by a bare LF: a line holding one dot.
                    b'\n' => {
                        if let Some(o) = self.bare_lf(out, b".", i) {
                            return o;
                        }
                    }
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
                        return Outcome::BareCr(i);
                    }
                    return Outcome::Done(i + 1);
                }
                State::LfDotCr => {
                    if b != b'\n' {
                        return Outcome::BareCr(i);
                    }
                    // `<LF>.<CRLF>`: not the end of data (see the module
                    // doc), a line holding one dot.
                    self.emit(out, b".\r\n");
                    self.state = State::LineStart;
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

    fn run_mode(mode: BareLf, chunks: &[&[u8]]) -> (Vec<u8>, Outcome) {
        let mut r = DataReceiver::new(u64::MAX, mode);
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

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Outcome) {
        run_mode(BareLf::Reject, chunks)
    }

    const BOTH: [BareLf; 2] = [BareLf::Normalize, BareLf::Reject];

    #[test]
    fn simple_and_unstuffing() {
        for mode in BOTH {
            let (o, r) = run_mode(
                mode,
                &[b"Subject: x\r\n\r\n..dot\r\n.x\r\nend\r\n.\r\nNEXT"],
            );
            assert_eq!(o, b"Subject: x\r\n\r\n.dot\r\nx\r\nend\r\n");
            assert_eq!(r, Outcome::Done(33));
        }
    }

    #[test]
    fn empty_message() {
        for mode in BOTH {
            assert_eq!(run_mode(mode, &[b".\r\n"]), (vec![], Outcome::Done(3)));
        }
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        for (mode, full) in [
            (BareLf::Reject, &b"l1\r\n..l2\r\n.\r\n"[..]),
            (BareLf::Normalize, b"l1\n..l2\n.\n.\r\nx\r\n.\r\n"),
        ] {
            let (want, _) = run_mode(mode, &[full]);
            for i in 0..full.len() {
                let (o, r) = run_mode(mode, &[&full[..i], &full[i..]]);
                assert_eq!(o, want, "split {i}");
                assert!(matches!(r, Outcome::Done(_)), "split {i}");
            }
        }
        assert!(matches!(run(&[b"a\r\n.\r\n"]).1, Outcome::Done(6)));
    }

    #[test]
    fn bare_lf_is_a_line_end_when_normalising() {
        // What smtplib sends for a message written with "\n": its dots
        // stuffed after every line start, then CRLF "." CRLF.
        let (o, r) = run_mode(
            BareLf::Normalize,
            &[b"Subject: s\n\nline\n..dot\nlast\n\r\n.\r\n"],
        );
        assert_eq!(o, b"Subject: s\r\n\r\nline\r\n.dot\r\nlast\r\n\r\n");
        assert!(matches!(r, Outcome::Done(_)));
        let mut rx = DataReceiver::new(u64::MAX, BareLf::Normalize);
        let mut out = Vec::new();
        rx.feed(b"a\nb\r\nc\n", &mut out);
        assert_eq!(rx.normalized, 2);
        assert_eq!(rx.size, out.len() as u64);
    }

    #[test]
    fn smuggling_forms_end_nothing() {
        // Each would end the message early for a lenient server. Rejecting,
        // each is an error; normalising, the LF forms are kept as content
        // and only the real end that follows ends the data.
        for bad in [&b"a\n.\n"[..], b"a\r\n.\n", b"a\n.\r\n", b"x\ny\r\n.\r\n"] {
            let (_, r) = run(&[bad]);
            assert!(matches!(r, Outcome::BareLf(_)), "{bad:?} -> {r:?}");
        }
        for bad in [&b"a\n.\n"[..], b"a\r\n.\n", b"a\n.\r\n"] {
            let mut msg = bad.to_vec();
            msg.extend_from_slice(b"MAIL FROM:<x@y>\r\n.\r\n");
            let (o, r) = run_mode(BareLf::Normalize, &[&msg]);
            assert_eq!(r, Outcome::Done(msg.len()), "{bad:?}");
            assert!(o.ends_with(b"MAIL FROM:<x@y>\r\n"), "{bad:?}");
        }
        // A bare LF inside the message does not spoil the real end.
        let (o, r) = run_mode(BareLf::Normalize, &[b"x\ny\r\n.\r\n"]);
        assert_eq!((o.as_slice(), r), (&b"x\r\ny\r\n"[..], Outcome::Done(8)));
        let (o, _) = run_mode(BareLf::Normalize, &[b"a\n.\nb\r\n.\r\n"]);
        assert_eq!(o, b"a\r\n.\r\nb\r\n");
        for mode in BOTH {
            for bad in [&b"a\r.\r"[..], b"a\r\n.\rX", b"x\ry\r\n.\r\n"] {
                let (_, r) = run_mode(mode, &[bad]);
                assert!(matches!(r, Outcome::BareCr(_)), "{mode:?} {bad:?} -> {r:?}");
            }
        }
        let (_, r) = run_mode(BareLf::Normalize, &[b"a\n.\rX"]);
        assert!(matches!(r, Outcome::BareCr(_)), "{r:?}");
    }

    #[test]
    fn limit_counts_but_does_not_store() {
        let mut r = DataReceiver::new(5, BareLf::Reject);
        let mut out = Vec::new();
        assert_eq!(r.feed(b"0123456789\r\n.\r\n", &mut out), Outcome::Done(15));
        assert_eq!(out, b"01234");
        assert_eq!(r.size, 12);
        assert!(r.over_limit());
    }
}
