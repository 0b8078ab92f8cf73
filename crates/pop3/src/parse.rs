//! POP3 command lines → [`Command`]: pure, no I/O, never panics.
//!
//! The session reads one line (it enforces the length limit while reading,
//! so it never buffers more than that) and hands the bytes here, with or
//! without the line ending. SASL continuation lines are not commands; they
//! go to [`sasl_plain`].

use base64::Engine as _;
use std::fmt;

/// RFC 2449 §4: a command line is at most 255 octets, CRLF included.
pub const MAX_COMMAND_LINE: usize = 255;

/// A parsed command. Message numbers are as the client sent them (1-based;
/// 0 parses and is then "no such message").
///
/// `Debug` shows passwords: log [`Command::name`], never the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    // Any state.
    Capa,
    Quit,
    // AUTHORIZATION state.
    Stls,
    User(String),
    /// The rest of the line after `PASS `, spaces included (RFC 1939 §7:
    /// "a server may treat spaces in the argument as part of the password").
    Pass(String),
    /// `AUTH` alone (`mechanism` None) asks for the mechanism list.
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    // TRANSACTION state.
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32, u32),
    Dele(u32),
    Rset,
    Noop,
}

impl Command {
    /// The keyword, for logs (arguments can be secrets).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Quit => "QUIT",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`MAX_COMMAND_LINE`].
    TooLong,
    /// Empty line or a keyword we do not know.
    Unknown,
    /// A known keyword with bad arguments; the text is the usage.
    Syntax(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLong => f.write_str("line too long"),
            ParseError::Unknown => f.write_str("unknown command"),
            ParseError::Syntax(usage) => write!(f, "syntax error: {usage}"),
        }
    }
}

/// Parses one command line (RFC 1939 §3: a case-insensitive keyword,
/// then arguments separated by single spaces).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    if line.len() > MAX_COMMAND_LINE {
        return Err(ParseError::TooLong);
    }
    let line = strip_eol(line);
    let (kw, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    // RFC 1939 §3: keywords are 3 or 4 characters (RFC 2449 allows longer
    // extension keywords; we implement none).
    if !(3..=4).contains(&kw.len()) {
        return Err(ParseError::Unknown);
    }
    let mut k = [0u8; 4];
    k[..kw.len()].copy_from_slice(kw);
    k.make_ascii_uppercase();
    let cmd = match &k[..kw.len()] {
        b"CAPA" => no_args(rest, Command::Capa, "CAPA")?,
        b"QUIT" => no_args(rest, Command::Quit, "QUIT")?,
        b"STLS" => no_args(rest, Command::Stls, "STLS")?,
        b"STAT" => no_args(rest, Command::Stat, "STAT")?,
        b"RSET" => no_args(rest, Command::Rset, "RSET")?,
        b"NOOP" => no_args(rest, Command::Noop, "NOOP")?,
        b"USER" => {
            const USAGE: &str = "USER name";
            let mut a = args(rest);
            let name = a.next().ok_or(ParseError::Syntax(USAGE))?;
            if a.next().is_some() {
                return Err(ParseError::Syntax(USAGE));
            }
            Command::User(utf8(name, USAGE)?)
        }
        b"PASS" => {
            if rest.is_empty() {
                return Err(ParseError::Syntax("PASS password"));
            }
            Command::Pass(utf8(rest, "PASS password (UTF-8)")?)
        }
        b"AUTH" => {
            const USAGE: &str = "AUTH mechanism [initial-response]";
            let mut a = args(rest);
            let mechanism = a.next().map(|m| utf8(m, USAGE)).transpose()?;
            let initial = a.next().map(|i| utf8(i, USAGE)).transpose()?;
            if a.next().is_some() {
                return Err(ParseError::Syntax(USAGE));
            }
            Command::Auth { mechanism, initial }
        }
        b"LIST" => Command::List(opt_number(rest, "LIST [msg]")?),
        b"UIDL" => Command::Uidl(opt_number(rest, "UIDL [msg]")?),
        b"RETR" => Command::Retr(one_number(rest, "RETR msg")?),
        b"DELE" => Command::Dele(one_number(rest, "DELE msg")?),
        b"TOP" => {
            const USAGE: &str = "TOP msg lines";
            let mut a = args(rest);
            let (Some(n), Some(m), None) = (a.next(), a.next(), a.next()) else {
                return Err(ParseError::Syntax(USAGE));
            };
            Command::Top(number(n, USAGE)?, number(m, USAGE)?)
        }
        _ => return Err(ParseError::Unknown),
    };
    Ok(cmd)
}

/// Removes a trailing CRLF, or a bare LF: a leniency for clients (and
/// people typing into telnet/nc) that end lines with LF only.
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Space-separated arguments. Runs of spaces are tolerated (a leniency;
/// RFC 1939 says one space).
fn args(rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    rest.split(|&b| b == b' ').filter(|a| !a.is_empty())
}

fn no_args(rest: &[u8], cmd: Command, usage: &'static str) -> Result<Command, ParseError> {
    match args(rest).next() {
        None => Ok(cmd),
        Some(_) => Err(ParseError::Syntax(usage)),
    }
}

fn opt_number(rest: &[u8], usage: &'static str) -> Result<Option<u32>, ParseError> {
    let mut a = args(rest);
    let n = a.next().map(|n| number(n, usage)).transpose()?;
    if a.next().is_some() {
        return Err(ParseError::Syntax(usage));
    }
    Ok(n)
}

fn one_number(rest: &[u8], usage: &'static str) -> Result<u32, ParseError> {
    opt_number(rest, usage)?.ok_or(ParseError::Syntax(usage))
}

/// A decimal number of digits only (no sign), fitting a u32.
fn number(s: &[u8], usage: &'static str) -> Result<u32, ParseError> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Syntax(usage));
    }
    s.iter()
        .try_fold(0u32, |n, &d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(ParseError::Syntax(usage))
}

fn utf8(s: &[u8], usage: &'static str) -> Result<String, ParseError> {
    match std::str::from_utf8(s) {
        // Control characters have no place in a login or a password.
        Ok(s) if !s.chars().any(char::is_control) => Ok(s.to_string()),
        _ => Err(ParseError::Syntax(usage)),
    }
}

/// The credentials of a SASL PLAIN message (RFC 4616 §2:
/// `[authzid] NUL authcid NUL passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCreds {
    /// Empty when the client does not ask to act as someone else.
    pub authzid: String,
    pub authcid: String,
    pub password: String,
}

/// Decodes a base64 PLAIN response, from `AUTH PLAIN <b64>` or from the
/// line after the `+ ` continuation (RFC 5034 §4).
pub fn sasl_plain(b64: &[u8]) -> Result<PlainCreds, ParseError> {
    const BAD: ParseError = ParseError::Syntax("malformed SASL PLAIN response");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(strip_eol(b64))
        .map_err(|_| BAD)?;
    let mut parts = raw.split(|&b| b == 0);
    let (Some(z), Some(c), Some(p), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    if c.is_empty() || p.is_empty() {
        return Err(BAD);
    }
    let s = |v: &[u8]| utf8(v, "malformed SASL PLAIN response");
    Ok(PlainCreds {
        authzid: s(z)?,
        authcid: s(c)?,
        password: s(p)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;

    fn ok(line: &str, want: Command) {
        // Every case runs with each line ending (as smtp-proto's tests do).
        for eol in ["", "\r\n", "\n"] {
            let l = format!("{line}{eol}");
            assert_eq!(parse_command(l.as_bytes()), Ok(want.clone()), "{l:?}");
        }
    }

    fn err(line: &str, want: ParseError) {
        for eol in ["", "\r\n", "\n"] {
            let l = format!("{line}{eol}");
            assert_eq!(parse_command(l.as_bytes()), Err(want.clone()), "{l:?}");
        }
    }

    #[test]
    fn commands() {
        ok("CAPA", Capa);
        ok("capa", Capa);
        ok("QuIt", Quit);
        ok("QUIT ", Quit);
        ok("STLS", Stls);
        ok("STAT", Stat);
        ok("RSET", Rset);
        ok("NOOP", Noop);
        ok("USER joe%example.com", User("joe%example.com".into()));
        ok("user joe@example.com", User("joe@example.com".into()));
        ok("PASS secret", Pass("secret".into()));
        ok("PASS two words ", Pass("two words ".into()));
        ok(
            "AUTH",
            Auth {
                mechanism: None,
                initial: None,
            },
        );
        ok(
            "AUTH PLAIN",
            Auth {
                mechanism: Some("PLAIN".into()),
                initial: None,
            },
        );
        ok(
            "AUTH plain AGpvZQBwdw==",
            Auth {
                mechanism: Some("plain".into()),
                initial: Some("AGpvZQBwdw==".into()),
            },
        );
        ok("LIST", List(None));
        ok("LIST 3", List(Some(3)));
        ok("UIDL", Uidl(None));
        ok("uidl 12", Uidl(Some(12)));
        ok("RETR 1", Retr(1));
        ok("RETR  1", Retr(1));
        ok("RETR 0", Retr(0));
        ok("DELE 4294967295", Dele(u32::MAX));
        ok("TOP 1 10", Top(1, 10));
        ok("top 2 0", Top(2, 0));
    }

    #[test]
    fn errors() {
        use ParseError::*;
        err("", Unknown);
        err("XX", Unknown);
        err("HELO there", Unknown);
        err("APOP joe 0123", Unknown);
        err("RETRX 1", Unknown);
        err("ÄÖÜ", Unknown);
        err("STAT 1", Syntax("STAT"));
        err("RETR", Syntax("RETR msg"));
        err("RETR x", Syntax("RETR msg"));
        err("RETR -1", Syntax("RETR msg"));
        err("RETR +1", Syntax("RETR msg"));
        err("RETR 1 2", Syntax("RETR msg"));
        err("DELE 4294967296", Syntax("DELE msg"));
        err("DELE 99999999999999999999", Syntax("DELE msg"));
        err("TOP 1", Syntax("TOP msg lines"));
        err("TOP 1 2 3", Syntax("TOP msg lines"));
        err("LIST 1 2", Syntax("LIST [msg]"));
        err("USER", Syntax("USER name"));
        err("USER a b", Syntax("USER name"));
        err("PASS", Syntax("PASS password"));
        err(
            "AUTH PLAIN a b",
            Syntax("AUTH mechanism [initial-response]"),
        );
        assert_eq!(parse_command(b"USER \xff"), Err(Syntax("USER name")));
        assert_eq!(
            parse_command(b"PASS a\x00b"),
            Err(Syntax("PASS password (UTF-8)"))
        );
        assert_eq!(parse_command(b"\r\n"), Err(Unknown));
        assert_eq!(parse_command(b"RETR 1\r"), Ok(Retr(1)));
    }

    #[test]
    fn length_limit() {
        let at = format!("USER {}\r\n", "a".repeat(MAX_COMMAND_LINE - 7));
        assert_eq!(at.len(), MAX_COMMAND_LINE);
        assert!(parse_command(at.as_bytes()).is_ok());
        let over = format!("USER {}\r\n", "a".repeat(MAX_COMMAND_LINE - 6));
        assert_eq!(parse_command(over.as_bytes()), Err(ParseError::TooLong));
    }

    #[test]
    fn plain() {
        let c = sasl_plain(b"AGpvZUBleGFtcGxlLmNvbQBzM2NyM3Q=").unwrap();
        assert_eq!(
            (c.authzid.as_str(), c.authcid.as_str(), c.password.as_str()),
            ("", "joe@example.com", "s3cr3t")
        );
        let c = sasl_plain(b"am9lAGpvZQBwIHc=\r\n").unwrap();
        assert_eq!(
            (c.authzid.as_str(), c.authcid.as_str(), c.password.as_str()),
            ("joe", "joe", "p w")
        );
        for bad in [
            &b""[..],
            b"=",
            b"*",
            b"!!!!",
            b"AGpvZQ==",
            b"AABwdw==",
            b"AGpvZQA=",
            b"AGEAYgBj",
            b"AGEA/w==",
        ] {
            assert!(
                sasl_plain(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
