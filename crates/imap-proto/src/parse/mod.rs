//! The command parser: a framed command ([`frame::Command`]) in, a typed
//! [`Request`] out, no I/O (RFC 9051 §9 grammar; the IMAP4rev1 forms of
//! RFC 3501 are accepted too).
//!
//! Layout: this file holds the entry point, the dispatch on the command
//! name and the lexer (atoms, strings, literals, numbers, sequence sets);
//! each command family has its file: `connection` (ID, ENABLE, LOGIN,
//! AUTHENTICATE, COMPRESS), `mailbox` (SELECT … SETQUOTA), `list` (LIST,
//! LSUB, status items), `append`, `fetch`, `search`, `store` (STORE,
//! COPY, MOVE, UID EXPUNGE, flags); `date` reads the dates of APPEND and
//! SEARCH.
//!
//! Bad input is an `Err` naming the reason, never a panic: the lexer only
//! reads through `get`, numbers use checked arithmetic, and what is
//! allocated follows what was read, so memory is bounded by the command's
//! size (itself bounded by the framer). Search keys, the only recursive
//! part, are nested at most `search::MAX_DEPTH` deep.

mod append;
mod connection;
mod date;
mod fetch;
mod list;
mod mailbox;
mod search;
mod store;

use std::fmt;
use std::ops::Range;

use crate::frame;
use crate::seqset::{self, SeqSet};
use crate::types::{Command, Request};

/// Why a command does not parse. The session answers `tag BAD text`, or
/// `* BAD text` when there is no valid tag (RFC 9051 §7.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<String>,
    /// A short reason, printable ASCII only, safe to send.
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} BAD {}",
            self.tag.as_deref().unwrap_or("*"),
            self.text
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses one framed command.
pub fn parse(cmd: &frame::Command) -> Result<Request, ParseError> {
    let mut p = Lexer::new(cmd);
    let tag = p.tag().map_err(|text| ParseError { tag: None, text })?;
    let fail = |text: String| ParseError {
        tag: Some(tag.clone()),
        text,
    };
    if !p.eat(b' ') {
        return Err(fail("expected a command after the tag".into()));
    }
    let name = p
        .word()
        .map_err(|_| fail("expected a command name".into()))?;
    let command = if name == "UID" {
        // RFC 9051 §6.4.9: UID COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE.
        if !p.eat(b' ') {
            return Err(fail("UID: expected a command".into()));
        }
        let sub = p
            .word()
            .map_err(|_| fail("UID: expected a command".into()))?;
        let r = match sub.as_str() {
            "FETCH" => fetch::fetch(&mut p, true),
            "SEARCH" => search::search(&mut p, true),
            "STORE" => store::store(&mut p, true),
            "COPY" => store::copy(&mut p, true),
            "MOVE" => store::moves(&mut p, true),
            "EXPUNGE" => store::uid_expunge(&mut p),
            _ => {
                return Err(fail(format!(
                    "unknown command UID {}",
                    shown(sub.as_bytes())
                )))
            }
        };
        r.map_err(|e| fail(format!("UID {sub}: {e}")))?
    } else {
        let r = match command(&mut p, &name) {
            Some(r) => r,
            None => return Err(fail(format!("unknown command {}", shown(name.as_bytes())))),
        };
        r.map_err(|e| fail(format!("{name}: {e}")))?
    };
    Ok(Request { tag, command })
}

/// The command named `name` (upper case), or `None` if there is none.
fn command(p: &mut Lexer<'_>, name: &str) -> Option<Res<Command>> {
    // Commands without arguments.
    let bare = match name {
        "CAPABILITY" => Some(Command::Capability),
        "NOOP" => Some(Command::Noop),
        "LOGOUT" => Some(Command::Logout),
        "STARTTLS" => Some(Command::StartTls),
        "NAMESPACE" => Some(Command::Namespace),
        "IDLE" => Some(Command::Idle),
        "CHECK" => Some(Command::Check),
        "CLOSE" => Some(Command::Close),
        "UNSELECT" => Some(Command::Unselect),
        "EXPUNGE" => Some(Command::Expunge),
        _ => None,
    };
    if let Some(c) = bare {
        return Some(p.end().map(|()| c));
    }
    Some(match name {
        "ID" => connection::id(p),
        "ENABLE" => connection::enable(p),
        "LOGIN" => connection::login(p),
        "AUTHENTICATE" => connection::authenticate(p),
        "COMPRESS" => connection::compress(p),
        "SELECT" => mailbox::select(p, false),
        "EXAMINE" => mailbox::select(p, true),
        "CREATE" => mailbox::create(p),
        "DELETE" => mailbox::one_mailbox(p).map(Command::Delete),
        "SUBSCRIBE" => mailbox::one_mailbox(p).map(Command::Subscribe),
        "UNSUBSCRIBE" => mailbox::one_mailbox(p).map(Command::Unsubscribe),
        "GETQUOTAROOT" => mailbox::one_mailbox(p).map(Command::GetQuotaRoot),
        "GETQUOTA" => mailbox::one_mailbox(p).map(Command::GetQuota),
        "SETQUOTA" => mailbox::setquota(p),
        "RENAME" => mailbox::rename(p),
        "STATUS" => mailbox::status(p),
        "LIST" => list::list(p),
        "LSUB" => list::lsub(p),
        "APPEND" => append::append(p),
        "FETCH" => fetch::fetch(p, false),
        "SEARCH" => search::search(p, false),
        "STORE" => store::store(p, false),
        "COPY" => store::copy(p, false),
        "MOVE" => store::moves(p, false),
        _ => return None,
    })
}

/// Inside the parser, an error is its reason; [`parse`] adds the tag and
/// the command's name.
type Res<T> = Result<T, String>;

/// At most this many bytes of client text are quoted in an error.
const SHOWN: usize = 32;

/// Client bytes made safe to quote in a `BAD` line: printable ASCII only,
/// cut short.
fn shown(b: &[u8]) -> String {
    let mut s: String = b
        .iter()
        .take(SHOWN)
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect();
    if b.len() > SHOWN {
        s.push_str("...");
    }
    s
}

/// RFC 9051 §9: ATOM-CHAR = any CHAR except atom-specials
/// (`(`, `)`, `{`, SP, CTL, `%`, `*`, `"`, `\`, `]`).
fn is_atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR = ATOM-CHAR / resp-specials.
fn is_astring_char(c: u8) -> bool {
    is_atom_char(c) || c == b']'
}

/// list-char = ATOM-CHAR / list-wildcards / resp-specials.
fn is_list_char(c: u8) -> bool {
    is_atom_char(c) || matches!(c, b'%' | b'*' | b']')
}

/// Lossless for the ASCII that atoms hold; lossy (U+FFFD) for the odd
/// 8-bit byte in a quoted string where text is wanted.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A cursor over a command's bytes.
pub(crate) struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    /// Where the literals' data lie in `b`, in order.
    lits: &'a [Range<usize>],
}

impl<'a> Lexer<'a> {
    fn new(cmd: &'a frame::Command) -> Lexer<'a> {
        Lexer {
            b: &cmd.bytes,
            pos: 0,
            lits: &cmd.literals,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos.checked_add(n)?).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect(&mut self, c: u8, what: &str) -> Res<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    /// The single space between arguments (RFC 9051 §9 `SP`).
    fn sp(&mut self) -> Res<()> {
        if self.eat(b' ') {
            Ok(())
        } else if self.at_end() {
            Err("missing arguments".into())
        } else {
            Err(format!("expected a space before {}", shown(self.rest())))
        }
    }

    /// The command must end here.
    fn end(&self) -> Res<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(format!("unexpected {}", shown(self.rest())))
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().take_while(|&&c| f(c)).count();
        self.pos += n;
        &rest[..n]
    }

    /// The tag: 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9).
    fn tag(&mut self) -> Res<String> {
        let t = self.take_while(|c| is_astring_char(c) && c != b'+');
        if t.is_empty() || !matches!(self.peek(), None | Some(b' ')) {
            return Err("invalid tag".into());
        }
        Ok(text(t))
    }

    /// An atom, or `what` is named in the error.
    fn atom(&mut self, what: &str) -> Res<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(self.expected(what));
        }
        Ok(a)
    }

    /// An alphanumeric word (command names and keywords, with `.` and `-`
    /// as in `BODY.PEEK`, `SPECIAL-USE`), upper-cased: names and keywords
    /// are case-insensitive (RFC 9051 §9 note 3).
    fn word(&mut self) -> Res<String> {
        let w = self.take_while(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
        if w.is_empty() {
            return Err(self.expected("a keyword"));
        }
        Ok(text(&w.to_ascii_uppercase()))
    }

    /// Whether the next atom is `kw` (case-insensitively); if so it is read.
    fn keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest();
        let n = rest.iter().take_while(|&&c| is_atom_char(c)).count();
        let yes = rest[..n].eq_ignore_ascii_case(kw.as_bytes());
        if yes {
            self.pos += n;
        }
        yes
    }

    /// "expected X" with what was found instead.
    fn expected(&self, what: &str) -> String {
        if self.at_end() {
            format!("expected {what}")
        } else {
            format!("expected {what} at {}", shown(self.rest()))
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    fn astring(&mut self, what: &str) -> Res<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(what),
            Some(b'~') if self.peek_at(1) == Some(b'{') => Err("literal8 not allowed here".into()),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    return Err(self.expected(what));
                }
                Ok(a.to_vec())
            }
        }
    }

    /// A mailbox name (an astring, its bytes as sent: the session decodes
    /// modified UTF-7 or UTF-8, RFC 9051 §5.1).
    fn mailbox(&mut self) -> Res<Vec<u8>> {
        self.astring("a mailbox name")
    }

    /// `string = quoted / literal`.
    fn string(&mut self, what: &str) -> Res<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.0.to_vec()),
            _ => Err(self.expected(what)),
        }
    }

    /// `nstring = string / nil`.
    fn nstring(&mut self, what: &str) -> Res<Option<Vec<u8>>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        self.string(what).map(Some)
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, with `\"` and `\\` the only
    /// escapes. 8-bit bytes are kept: RFC 9051 allows UTF-8 here
    /// (`QUOTED-CHAR =/ UTF8-2 / UTF8-3 / UTF8-4`), and whether they must
    /// be UTF-8 depends on the session's state (RFC 6855 §3).
    fn quoted(&mut self) -> Res<Vec<u8>> {
        self.expect(b'"', "a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err("bad escape in a quoted string".into()),
                },
                Some(b'\r' | b'\n' | 0) => {
                    return Err("bad character in a quoted string".into());
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `literal` (`{n}`, `{n+}`, `{n-}`, RFC 7888) or, when `allow8`,
    /// `literal8` (`~{n}`, RFC 3516): the data and whether it was a
    /// literal8. The framer put the data right after the announcement's
    /// CRLF and recorded where; a `{n}` it did not frame as a literal (not
    /// at a line's end) is a syntax error.
    fn literal(&mut self, allow8: bool) -> Res<(&'a [u8], bool)> {
        let binary = self.eat(b'~');
        if binary && !allow8 {
            return Err("literal8 not allowed here".into());
        }
        self.expect(b'{', "a literal")?;
        let digits = self.take_while(|c| c.is_ascii_digit());
        let _ = self.eat(b'+') || self.eat(b'-');
        if digits.is_empty() || !self.eat(b'}') || !self.eat(b'\r') || !self.eat(b'\n') {
            return Err("malformed literal".into());
        }
        let i = self.lits.partition_point(|r| r.start < self.pos);
        let r = match self.lits.get(i) {
            Some(r) if r.start == self.pos => r.clone(),
            _ => return Err("malformed literal".into()),
        };
        let data = self.b.get(r.clone()).ok_or("malformed literal")?;
        if number_u64(digits) != Some(data.len() as u64) {
            return Err("malformed literal".into());
        }
        self.pos = r.end;
        Ok((data, binary))
    }

    /// `number` (RFC 9051 §9: 32-bit unsigned).
    fn number(&mut self, what: &str) -> Res<u32> {
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.is_empty() {
            return Err(self.expected(what));
        }
        number_u64(d)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{what}: number too large"))
    }

    /// `nz-number`: a number that is not 0.
    fn nz_number(&mut self, what: &str) -> Res<u32> {
        match self.number(what)? {
            0 => Err(format!("{what}: 0 is not allowed")),
            n => Ok(n),
        }
    }

    /// `number64` (RFC 9051 §9: 0 ≤ n < 2^63; also RFC 7162's
    /// mod-sequence-value).
    fn number64(&mut self, what: &str) -> Res<u64> {
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.is_empty() {
            return Err(self.expected(what));
        }
        number_u64(d)
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| format!("{what}: number too large"))
    }

    /// `sequence-set`, or `$` (RFC 5182).
    fn seqset(&mut self) -> Res<SeqSet> {
        let s = self.take_while(|c| c.is_ascii_digit() || matches!(c, b':' | b',' | b'*' | b'$'));
        SeqSet::parse(s).map_err(|e| match e {
            seqset::Error::Empty => self.expected("a sequence set"),
            seqset::Error::BadNumber => "sequence set: a number is 0 or too large".into(),
            seqset::Error::Syntax => format!("invalid sequence set {}", shown(s)),
        })
    }

    /// `"(" [item *(SP item)] ")"`; `nonempty` refuses `()`.
    fn list<T>(
        &mut self,
        nonempty: bool,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Res<T>,
    ) -> Res<Vec<T>> {
        if !self.eat(b'(') {
            return Err(self.expected(&format!("a list of {what}")));
        }
        let mut v = Vec::new();
        if self.eat(b')') {
            if nonempty {
                return Err(format!("empty list of {what}"));
            }
            return Ok(v);
        }
        loop {
            v.push(item(self)?);
            if self.eat(b')') {
                return Ok(v);
            }
            if !self.eat(b' ') {
                return Err(self.expected(&format!("a space or \")\" in the list of {what}")));
            }
        }
    }
}

/// 1*DIGIT as a u64, None on overflow.
fn number_u64(d: &[u8]) -> Option<u64> {
    d.iter().try_fold(0u64, |n, &c| {
        n.checked_mul(10)?
            .checked_add(u64::from(c.checked_sub(b'0')?))
    })
}

#[cfg(test)]
mod tests;
