//! APPEND (RFC 9051 §6.3.12), with MULTIAPPEND (RFC 3502), literal8
//! (RFC 3516 §4.4) and UTF8 (RFC 6855 §4).

use super::{date::date_time, store::flag_list, Lexer, Res};
use crate::types::{AppendMessage, Command};

/// `APPEND SP mailbox 1*append-message`, `append-message = append-opts SP
/// append-data`, `append-opts = [SP flag-list] [SP date-time]`,
/// `append-data = literal / literal8 / "UTF8" SP "(" literal8 ")"`
/// (RFC 3502 §6.3.11, RFC 6855 §4). Each message has its own flags and
/// date; the message data is the literal's bytes.
pub(super) fn append(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    let mut messages = Vec::new();
    loop {
        p.sp()?;
        let mut m = AppendMessage {
            flags: Vec::new(),
            date: None,
            data: Vec::new(),
            utf8: false,
            binary: false,
        };
        if p.peek() == Some(b'(') {
            m.flags = flag_list(p)?;
            p.sp()?;
        }
        if p.peek() == Some(b'"') {
            m.date = Some(date_time(p)?);
            p.sp()?;
        }
        if matches!(p.peek(), Some(b'{' | b'~')) {
            let (data, binary) = p.literal(true)?;
            m.data = data.to_vec();
            m.binary = binary;
        } else if p.keyword("UTF8") {
            p.sp()?;
            p.expect(b'(', "( after UTF8")?;
            // RFC 6855 §4 asks for a literal8; a plain literal carries the
            // same bytes, and is accepted.
            m.data = p.literal(true)?.0.to_vec();
            m.utf8 = true;
            p.expect(b')', ") after the UTF8 literal")?;
        } else {
            return Err(p.expected("the message as a literal"));
        }
        messages.push(m);
        if p.at_end() {
            return Ok(Command::Append { mailbox, messages });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::types::Command::*;
    use crate::types::{AppendMessage, Flag};

    fn msg(data: &[u8]) -> AppendMessage {
        AppendMessage {
            flags: vec![],
            date: None,
            data: data.to_vec(),
            utf8: false,
            binary: false,
        }
    }

    #[test]
    fn append_forms() {
        assert_eq!(
            ok(b"a APPEND saved-messages (\\Seen) {8}\r\nSubject:"),
            Append {
                mailbox: b"saved-messages".to_vec(),
                messages: vec![AppendMessage {
                    flags: vec![Flag::Seen],
                    ..msg(b"Subject:")
                }]
            }
        );
        assert_eq!(
            ok(b"a APPEND INBOX \" 7-Feb-1994 21:52:25 -0800\" {3+}\r\na\r\n"),
            Append {
                mailbox: b"INBOX".to_vec(),
                messages: vec![AppendMessage {
                    date: Some(760_686_745),
                    ..msg(b"a\r\n")
                }]
            }
        );
        // RFC 3502 §6.3.11's example, shortened: two messages, each with
        // its own options.
        assert_eq!(
            ok(b"A003 APPEND saved-messages (\\Seen) {3}\r\nabc (\\Seen $Old) \"01-Jan-1970 00:00:01 +0000\" {2}\r\nde {1}\r\nf"),
            Append {
                mailbox: b"saved-messages".to_vec(),
                messages: vec![
                    AppendMessage {
                        flags: vec![Flag::Seen],
                        ..msg(b"abc")
                    },
                    AppendMessage {
                        flags: vec![Flag::Seen, Flag::Keyword("$Old".into())],
                        date: Some(1),
                        ..msg(b"de")
                    },
                    msg(b"f"),
                ]
            }
        );
        assert_eq!(
            ok(b"a APPEND x () ~{3}\r\n\x00\x01\x02"),
            Append {
                mailbox: b"x".to_vec(),
                messages: vec![AppendMessage {
                    binary: true,
                    ..msg(b"\x00\x01\x02")
                }]
            }
        );
        assert_eq!(
            ok(b"a APPEND x utf8 (~{2+}\r\n\xc3\xa9)"),
            Append {
                mailbox: b"x".to_vec(),
                messages: vec![AppendMessage {
                    utf8: true,
                    ..msg(b"\xc3\xa9")
                }]
            }
        );
        assert_eq!(
            ok(b"a APPEND x {0}\r\n"),
            Append {
                mailbox: b"x".to_vec(),
                messages: vec![msg(b"")]
            }
        );
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a APPEND x"[..], "APPEND: missing arguments"),
            (b"a APPEND x (\\Seen)", "APPEND: missing arguments"),
            (
                b"a APPEND x \"hello\"",
                "APPEND: expected a date-time like \"07-Jul-2024 13:05:00 +0200\"",
            ),
            (
                b"a APPEND x \"31-Feb-2024 00:00:00 +0000\" {1}\r\na",
                "APPEND: expected a date-time like \"07-Jul-2024 13:05:00 +0200\"",
            ),
            (b"a APPEND x (\\*) {1}\r\na", "APPEND: \\* is not a flag"),
            (
                b"a APPEND x {1}\r\na ",
                "APPEND: expected the message as a literal",
            ),
            (
                b"a APPEND x {1}\r\na{1}\r\nb",
                "APPEND: expected a space before {1}??b",
            ),
            (b"a APPEND x {1} ", "APPEND: malformed literal"),
            (
                b"a APPEND x UTF8 ({1}\r\na",
                "APPEND: expected ) after the UTF8 literal",
            ),
            (
                b"a APPEND x \"x\"",
                "APPEND: expected a date-time like \"07-Jul-2024 13:05:00 +0200\"",
            ),
            (
                b"a APPEND x hello",
                "APPEND: expected the message as a literal at hello",
            ),
        ] {
            assert_eq!(
                bad(s),
                (Some("a".into()), why.into()),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
    }
}
