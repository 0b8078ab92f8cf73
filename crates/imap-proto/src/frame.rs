//! Command framing: the client's bytes cut into whole commands.
//!
//! An IMAP command is a line ending in CRLF, except that a line may end in
//! a literal announcement — `{n}` (synchronizing: the client waits for a
//! `+` continuation before sending n bytes, RFC 9051 §4.3), `{n+}`
//! (LITERAL+) or `{n-}` (LITERAL-, at most 4096 bytes, RFC 7888), each
//! optionally `~`-prefixed (literal8, RFC 3516) — after which n raw bytes
//! follow and the command goes on. The framer assembles the whole command,
//! literal bytes inline, and tells the session when a continuation must be
//! sent.
//!
//! Bounds, so that no input costs unbounded memory:
//! - the text of a command outside its literals is at most `Limits::line`
//!   bytes; a longer one is read to its end without being kept and refused
//!   (the session answers `BAD`);
//! - a literal is at most `Limits::literal` bytes. A synchronizing one over
//!   it is refused before the client sends it (it waits for `+`, and gets a
//!   tagged `NO`/`BAD` instead). A non-synchronizing one is already on its
//!   way: its bytes are read and dropped, never kept, and the command is
//!   refused — never interpreted as commands, which would let a client
//!   smuggle commands inside a literal (RFC 7888 §4 leaves the server the
//!   choice between this and closing the connection).
//!
//! Empty lines are skipped (some clients send a bare CRLF after IDLE's
//! DONE); a bare LF ends a line like CRLF.

/// What the framer accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of a command outside its literals (RFC 9051 sets no limit;
    /// RFC 7162 §4 asks for at least 8192, and 100k-UID sets need 64 KB).
    pub line: usize,
    /// Bytes of one literal (APPENDLIMIT).
    pub literal: u64,
    /// Largest non-synchronizing literal: `None` when LITERAL+ is
    /// advertised (any size up to `literal`), `Some(4096)` for LITERAL-.
    pub nonsync: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line: 64 * 1024 + 1024,
            literal: 25 << 20,
            nonsync: None,
        }
    }
}

/// A whole command: its bytes with every literal inline, without the
/// final line end, and where each literal's data lies in them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub bytes: Vec<u8>,
    pub literals: Vec<std::ops::Range<usize>>,
}

impl Command {
    /// The tag: the bytes before the first space (what a `BAD` names).
    pub fn tag(&self) -> Option<&[u8]> {
        tag_of(&self.bytes)
    }
}

/// Why a command was refused; the session answers with a tagged `BAD`
/// (or an untagged one when `tag` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The command text outside literals passed `Limits::line`.
    LineTooLong,
    /// A literal passed `Limits::literal` (or LITERAL-'s 4096 bytes).
    LiteralTooBig,
    /// `{…}` that is not a number, or one that overflows.
    BadLiteral,
}

/// What the session must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole command to run.
    Command(Command),
    /// The client announced a synchronizing literal of `len` bytes and
    /// waits: send `+ …` (RFC 9051 §7.5), then push its bytes.
    Continue { len: u64 },
    /// The command is dropped; answer `BAD` with the tag if there is one.
    Refused { tag: Option<Vec<u8>>, why: Refusal },
}

/// The longest literal announcement worth recognising: `~{`, a 64-bit
/// number, `+}`.
const ANNOUNCEMENT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading command text.
    Line,
    /// Reading `left` literal bytes into the command.
    Literal { left: u64 },
    /// Dropping `left` bytes of a refused non-synchronizing literal, then
    /// the rest of the command's line.
    DropLiteral { left: u64, why: Refusal },
    /// Dropping the rest of an over-long line (up to its line end).
    DropLine { why: Refusal },
}

/// The framer of one connection.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    state: State,
    /// Bytes received and not yet framed.
    input: Vec<u8>,
    /// The command being assembled.
    cmd: Command,
    /// Command text (outside literals) so far.
    text: usize,
    /// The tag of a command being dropped, kept for the refusal.
    dropped_tag: Option<Vec<u8>>,
}

impl Framer {
    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            state: State::Line,
            input: Vec::new(),
            cmd: Command::default(),
            text: 0,
            dropped_tag: None,
        }
    }

    /// Bytes from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// Gives back the input buffer's memory when it holds nothing (an
    /// idle connection keeps no buffer).
    pub fn shrink(&mut self) {
        if self.input.is_empty() && self.input.capacity() > 0 {
            self.input = Vec::new();
        }
    }

    /// Whether a command is half read (for autologout and shutdown).
    pub fn in_command(&self) -> bool {
        self.state != State::Line || !self.cmd.bytes.is_empty() || !self.input.is_empty()
    }

    /// The next thing to do, or `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.state {
                State::Line => {
                    let Some(nl) = self.input.iter().position(|b| *b == b'\n') else {
                        // No line end yet: bounded by the limit (plus the
                        // CR that may already be here and is not counted).
                        if self.text + self.input.len() > self.limits.line + 1 {
                            self.drop_from_here(Refusal::LineTooLong);
                            continue;
                        }
                        return None;
                    };
                    let mut line: Vec<u8> = self.input.drain(..=nl).collect();
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.text += line.len();
                    if self.text > self.limits.line {
                        self.cmd.bytes.extend_from_slice(&line);
                        if let Some(Ok((len, false))) = literal_at_end(&line) {
                            // Its literal is on its way: drop it too.
                            self.drop_literal(len, Refusal::LineTooLong);
                            continue;
                        }
                        return Some(self.refuse(Refusal::LineTooLong));
                    }
                    if line.is_empty() && self.cmd.bytes.is_empty() {
                        continue; // an empty line between commands
                    }
                    match literal_at_end(&line) {
                        None => {
                            self.cmd.bytes.extend_from_slice(&line);
                            self.text = 0;
                            return Some(Frame::Command(std::mem::take(&mut self.cmd)));
                        }
                        Some(Err(())) => {
                            self.cmd.bytes.extend_from_slice(&line);
                            return Some(self.refuse(Refusal::BadLiteral));
                        }
                        Some(Ok((len, sync))) => {
                            self.cmd.bytes.extend_from_slice(&line);
                            self.cmd.bytes.extend_from_slice(b"\r\n");
                            let cap = if sync {
                                self.limits.literal
                            } else {
                                self.limits
                                    .nonsync
                                    .unwrap_or(u64::MAX)
                                    .min(self.limits.literal)
                            };
                            if len > cap {
                                if sync {
                                    // The client waits for "+": nothing follows.
                                    return Some(self.refuse(Refusal::LiteralTooBig));
                                }
                                self.drop_literal(len, Refusal::LiteralTooBig);
                                continue;
                            }
                            self.state = State::Literal { left: len };
                            let start = self.cmd.bytes.len();
                            self.cmd.literals.push(start..start);
                            if sync {
                                return Some(Frame::Continue { len });
                            }
                        }
                    }
                }
                State::Literal { left } => {
                    if self.input.is_empty() && left > 0 {
                        return None;
                    }
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.input.len());
                    self.cmd.bytes.extend(self.input.drain(..n));
                    let end = self.cmd.bytes.len();
                    if let Some(r) = self.cmd.literals.last_mut() {
                        r.end = end;
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Line
                    } else {
                        State::Literal { left }
                    };
                    if left > 0 {
                        return None;
                    }
                }
                State::DropLiteral { left, why } => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.input.len());
                    self.input.drain(..n);
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = State::DropLiteral { left, why };
                        return None;
                    }
                    // The command's line goes on after the literal (and may
                    // announce more literals): drop it to its end. A line
                    // that announced another literal would make its bytes
                    // look like commands, so those announcements are
                    // honoured while dropping.
                    self.state = State::DropLine { why };
                }
                State::DropLine { why } => {
                    let Some(nl) = self.input.iter().position(|b| *b == b'\n') else {
                        // Keep only what could end in a literal announcement
                        // (`~{` 20 digits `+}`): the line's end decides
                        // whether bytes that follow are a literal to drop.
                        let keep = self.input.len().saturating_sub(ANNOUNCEMENT);
                        self.input.drain(..keep);
                        return None;
                    };
                    let line: Vec<u8> = self.input.drain(..=nl).collect();
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    // A synchronizing literal was never sent (no `+`); a
                    // non-synchronizing one follows and is dropped too.
                    if let Some(Ok((len, false))) = literal_at_end(line) {
                        self.state = State::DropLiteral { left: len, why };
                        continue;
                    }
                    self.state = State::Line;
                    return Some(Frame::Refused {
                        tag: self.dropped_tag.take(),
                        why,
                    });
                }
            }
        }
    }

    /// Refuses the command assembled so far; its line has been read.
    fn refuse(&mut self, why: Refusal) -> Frame {
        let tag = self.cmd.tag().map(<[u8]>::to_vec);
        self.cmd = Command::default();
        self.text = 0;
        self.state = State::Line;
        Frame::Refused { tag, why }
    }

    /// Refuses the command assembled so far, whose non-synchronizing
    /// literal of `len` bytes is on its way: those bytes and the rest of
    /// the line are dropped before the refusal is given.
    fn drop_literal(&mut self, len: u64, why: Refusal) {
        self.dropped_tag = self.cmd.tag().map(<[u8]>::to_vec);
        self.cmd = Command::default();
        self.text = 0;
        self.state = State::DropLiteral { left: len, why };
    }

    /// Starts dropping the rest of the current (over-long) line.
    fn drop_from_here(&mut self, why: Refusal) {
        let mut head = std::mem::take(&mut self.cmd.bytes);
        head.extend(self.input.iter().take(MAX_TAG + 1));
        self.dropped_tag = tag_of(&head).map(<[u8]>::to_vec);
        let keep = self.input.len().saturating_sub(ANNOUNCEMENT);
        self.input.drain(..keep);
        self.cmd = Command::default();
        self.text = 0;
        self.state = State::DropLine { why };
    }
}

/// The longest tag we name in a refusal (a longer one gets an untagged
/// `BAD`): what a dropped line keeps of its head.
const MAX_TAG: usize = 64;

fn tag_of(bytes: &[u8]) -> Option<&[u8]> {
    let head = &bytes[..bytes.len().min(MAX_TAG + 1)];
    let end = head.iter().position(|b| *b == b' ')?;
    let tag = &bytes[..end];
    // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">.
    let ok = !tag.is_empty()
        && tag.iter().all(|&c| {
            c > 0x20
                && c < 0x7f
                && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    ok.then_some(tag)
}

/// A literal announced at the end of `line`: its length and whether it is
/// synchronizing; `Err` for a malformed announcement (`{}`, `{+}`, more
/// digits than a 64-bit length has). Only the last `ANNOUNCEMENT` bytes
/// decide, so a dropped line whose head is gone is judged the same.
fn literal_at_end(line: &[u8]) -> Option<Result<(u64, bool), ()>> {
    let body = line.strip_suffix(b"}")?;
    let (body, sync) = match body.split_last() {
        Some((b'+' | b'-', rest)) => (rest, false),
        _ => (body, true),
    };
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits > 20 {
        return Some(Err(()));
    }
    let open = body.len() - digits;
    if open == 0 || body[open - 1] != b'{' {
        // "x}" or "(a)}" is no announcement (the parser judges it), but
        // "{+}" without digits is a broken one.
        return (!sync && digits == 0 && body.last() == Some(&b'{')).then_some(Err(()));
    }
    // RFC 9051 §9: number = 1*DIGIT (literal8 lengths are 63-bit).
    let n = std::str::from_utf8(&body[open..]).ok()?.parse::<u64>().ok();
    Some(n.ok_or(()).map(|n| (n, sync)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut Framer) -> Vec<Frame> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    fn refused(tag: &[u8], why: Refusal) -> Frame {
        Frame::Refused {
            tag: Some(tag.to_vec()),
            why,
        }
    }

    fn cmd(s: &[u8]) -> Frame {
        Frame::Command(Command {
            bytes: s.to_vec(),
            literals: Vec::new(),
        })
    }

    #[test]
    fn lines_pipelined_empty_and_bare_lf() {
        let mut f = Framer::new(Limits::default());
        f.push(b"a1 NOOP\r\n\r\na2 CAPABILITY\nDONE\r\na3 SEL");
        assert_eq!(
            all(&mut f),
            vec![cmd(b"a1 NOOP"), cmd(b"a2 CAPABILITY"), cmd(b"DONE")]
        );
        assert!(f.in_command());
        f.push(b"ECT INBOX\r\n");
        assert_eq!(all(&mut f), vec![cmd(b"a3 SELECT INBOX")]);
        assert!(!f.in_command());
    }

    #[test]
    fn synchronizing_literal_waits_for_the_continuation() {
        let mut f = Framer::new(Limits::default());
        f.push(b"a LOGIN {5}\r\n");
        assert_eq!(f.next_frame(), Some(Frame::Continue { len: 5 }));
        assert_eq!(f.next_frame(), None);
        f.push(b"al");
        assert_eq!(f.next_frame(), None);
        f.push(b"ice {3+}\r\npw!\r\nb NOOP\r\n");
        let Some(Frame::Command(c)) = f.next_frame() else {
            panic!()
        };
        assert_eq!(c.bytes, b"a LOGIN {5}\r\nalice {3+}\r\npw!");
        assert_eq!(c.literals.len(), 2);
        assert_eq!(&c.bytes[c.literals[0].clone()], b"alice");
        assert_eq!(&c.bytes[c.literals[1].clone()], b"pw!");
        assert_eq!(c.tag(), Some(&b"a"[..]));
        assert_eq!(f.next_frame(), Some(cmd(b"b NOOP")));
    }

    #[test]
    fn literal_bytes_may_hold_line_ends_and_braces() {
        let mut f = Framer::new(Limits::default());
        f.push(b"a APPEND INBOX ~{12+}\r\nx\r\n{9}\r\nb OK\r\n\r\n");
        let Some(Frame::Command(c)) = f.next_frame() else {
            panic!()
        };
        assert_eq!(&c.bytes[c.literals[0].clone()], b"x\r\n{9}\r\nb OK");
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn too_long_lines_are_dropped_without_being_kept() {
        let limits = Limits {
            line: 100,
            ..Limits::default()
        };
        let mut f = Framer::new(limits);
        f.push(b"t1 SEARCH ");
        for _ in 0..1000 {
            f.push(&[b'1'; 1000]);
            assert_eq!(f.next_frame(), None);
            assert!(f.input.len() <= 1100);
        }
        f.push(b"\r\nt2 NOOP\r\n");
        assert_eq!(
            all(&mut f),
            vec![refused(b"t1", Refusal::LineTooLong), cmd(b"t2 NOOP")]
        );
        // A long line that arrives whole is refused the same way.
        let mut f = Framer::new(limits);
        let mut long = b"t3 FETCH ".to_vec();
        long.extend([b'9'; 200]);
        long.extend(b"\r\n");
        f.push(&long);
        assert_eq!(f.next_frame(), Some(refused(b"t3", Refusal::LineTooLong)));
    }

    #[test]
    fn oversized_literals() {
        let limits = Limits {
            literal: 10,
            nonsync: Some(4),
            ..Limits::default()
        };
        // Synchronizing: refused at once, the client sends nothing.
        let mut f = Framer::new(limits);
        f.push(b"a APPEND INBOX {11}\r\nb NOOP\r\n");
        assert_eq!(
            all(&mut f),
            vec![refused(b"a", Refusal::LiteralTooBig), cmd(b"b NOOP")]
        );
        // Non-synchronizing over LITERAL-'s cap: its bytes (which look like
        // a command) are dropped, then the rest of its line.
        let mut f = Framer::new(limits);
        f.push(b"a APPEND INBOX {5-}\r\nx NOO");
        assert_eq!(f.next_frame(), None);
        f.push(b"P tail {2+}\r\nzz\r\nb NOOP\r\n");
        assert_eq!(
            all(&mut f),
            vec![refused(b"a", Refusal::LiteralTooBig), cmd(b"b NOOP")]
        );
    }

    #[test]
    fn a_literal_announced_on_a_dropped_line_is_dropped_however_it_arrives() {
        // Found by fuzzing: read byte by byte, the end of a dropped line
        // was lost, so the literal it announced ran as a command.
        let limits = Limits {
            nonsync: Some(4),
            ..Limits::default()
        };
        let input = b"a APPEND X {5+}\r\n12345 more text {6+}\r\nx NOOP\r\nb NOOP\r\n";
        let mut whole = Framer::new(limits);
        whole.push(input);
        let want = all(&mut whole);
        assert_eq!(
            want,
            vec![refused(b"a", Refusal::LiteralTooBig), cmd(b"b NOOP")]
        );
        let mut bytes = Framer::new(limits);
        let mut got = Vec::new();
        for b in input {
            bytes.push(&[*b]);
            got.extend(all(&mut bytes));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_announcements() {
        let mut f = Framer::new(Limits::default());
        f.push(b"b LOGIN {99999999999999999999999}\r\nc NOOP {}\r\nd X {+}\r\n");
        let r = all(&mut f);
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|x| matches!(
            x,
            Frame::Refused {
                why: Refusal::BadLiteral,
                ..
            }
        )));
        assert_eq!(literal_at_end(b"a {4}"), Some(Ok((4, true))));
        assert_eq!(literal_at_end(b"a {4-}"), Some(Ok((4, false))));
        assert_eq!(literal_at_end(b"a \"x\""), None);
        assert_eq!(literal_at_end(b"a {x}"), None);
        assert_eq!(literal_at_end(b"a {99999999999999999999}"), Some(Err(())));
        assert_eq!(literal_at_end(b"a {000000000000000000007}"), Some(Err(())));
        assert_eq!(tag_of(b"+ x"), None);
        assert_eq!(tag_of(b"a.1 x"), Some(&b"a.1"[..]));
    }
}
