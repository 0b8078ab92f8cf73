//! Helpers for the parser's table tests (each command family has its own
//! in its file), and the tests of the entry point and the lexer.

use super::*;
use crate::frame::{Frame, Framer, Limits};

/// `input` (without its final CRLF) framed as the session would frame it:
/// its literals are real.
pub(crate) fn framed(input: &[u8]) -> frame::Command {
    let mut f = Framer::new(Limits::default());
    f.push(input);
    f.push(b"\r\n");
    let mut out = Vec::new();
    while let Some(fr) = f.next_frame() {
        match fr {
            Frame::Command(c) => out.push(c),
            Frame::Continue { .. } => {}
            Frame::Refused { .. } => panic!("refused: {fr:?}"),
        }
    }
    assert_eq!(out.len(), 1, "{}", String::from_utf8_lossy(input));
    out.remove(0)
}

/// The command of a request that must parse.
pub(crate) fn ok(input: &[u8]) -> Command {
    match parse(&framed(input)) {
        Ok(r) => r.command,
        Err(e) => panic!("{}: {e}", String::from_utf8_lossy(input)),
    }
}

/// The tag and reason of a request that must not parse.
pub(crate) fn bad(input: &[u8]) -> (Option<String>, String) {
    match parse(&framed(input)) {
        Ok(r) => panic!("{} parsed: {r:?}", String::from_utf8_lossy(input)),
        Err(e) => (e.tag, e.text),
    }
}

#[test]
fn commands_without_arguments() {
    for (s, c) in [
        (&b"a CAPABILITY"[..], Command::Capability),
        (b"a noop", Command::Noop),
        (b"a Logout", Command::Logout),
        (b"a STARTTLS", Command::StartTls),
        (b"a NAMESPACE", Command::Namespace),
        (b"a IDLE", Command::Idle),
        (b"a CHECK", Command::Check),
        (b"a CLOSE", Command::Close),
        (b"a UNSELECT", Command::Unselect),
        (b"a EXPUNGE", Command::Expunge),
    ] {
        assert_eq!(ok(s), c);
        let mut extra = s.to_vec();
        extra.extend(b" x");
        let name = c.name();
        assert_eq!(
            bad(&extra),
            (Some("a".into()), format!("{name}: unexpected  x"))
        );
    }
}

#[test]
fn tags() {
    let r = parse(&framed(b"A.1-x]~ NOOP")).unwrap();
    assert_eq!(r.tag, "A.1-x]~");
    for (s, tag, why) in [
        (
            &b"NOOP"[..],
            Some("NOOP"),
            "expected a command after the tag",
        ),
        (b"a", Some("a"), "expected a command after the tag"),
        (b"a ", Some("a"), "expected a command name"),
        (b"a  NOOP", Some("a"), "expected a command name"),
        (b"a FOO", Some("a"), "unknown command FOO"),
        (b"a FOO\xff\x01", Some("a"), "unknown command FOO"),
        (b"a \"NOOP\"", Some("a"), "expected a command name"),
        (b"+ NOOP", None, "invalid tag"),
        (b"a+ NOOP", None, "invalid tag"),
        (b"* NOOP", None, "invalid tag"),
        (b"a(b NOOP", None, "invalid tag"),
        (b"\"a\" NOOP", None, "invalid tag"),
        (b" NOOP", None, "invalid tag"),
        (b"a\xc3\xa9 NOOP", None, "invalid tag"),
        (b"{1}\r\nx NOOP", None, "invalid tag"),
    ] {
        let want = (tag.map(String::from), why.to_string());
        assert_eq!(bad(s), want, "{}", String::from_utf8_lossy(s));
    }
    // Client text in an error is cut short and made printable.
    let mut long = b"a X".to_vec();
    long.extend([b'Y'; 100]);
    let (_, why) = bad(&long);
    assert_eq!(why.len(), "unknown command ".len() + SHOWN + 3);
    assert_eq!(
        ParseError {
            tag: None,
            text: "x".into()
        }
        .to_string(),
        "* BAD x"
    );
}

#[test]
fn literals_must_be_where_the_framer_put_them() {
    // A hand-made command whose `{n}` is not a framed literal.
    let c = frame::Command {
        bytes: b"a LOGIN {1}\r\nx y".to_vec(),
        literals: vec![],
    };
    assert_eq!(parse(&c).unwrap_err().text, "LOGIN: malformed literal");
    let c = frame::Command {
        bytes: b"a LOGIN {2}\r\nx y".to_vec(),
        literals: std::iter::once(13..14).collect(),
    };
    assert_eq!(parse(&c).unwrap_err().text, "LOGIN: malformed literal");
    let c = frame::Command {
        bytes: b"a LOGIN {1}\r\nx y".to_vec(),
        literals: std::iter::once(13..14).collect(),
    };
    assert!(parse(&c).is_ok());
    // Out-of-bounds ranges are refused, not sliced.
    let c = frame::Command {
        bytes: b"a LOGIN {1}\r\n".to_vec(),
        literals: std::iter::once(13..99).collect(),
    };
    assert!(parse(&c).is_err());
    // `{n}` in the middle of a line is no literal.
    assert_eq!(bad(b"a LOGIN {1} x").1, "LOGIN: malformed literal");
}

#[test]
fn numbers() {
    let c = framed(b"4294967295 0 4294967296 9223372036854775807 9223372036854775808");
    let mut p = Lexer::new(&c);
    assert_eq!(p.number("n"), Ok(u32::MAX));
    p.sp().unwrap();
    assert_eq!(p.nz_number("n"), Err("n: 0 is not allowed".into()));
    p.sp().unwrap();
    assert_eq!(p.number("n"), Err("n: number too large".into()));
    p.sp().unwrap();
    assert_eq!(p.number64("n"), Ok(i64::MAX as u64));
    p.sp().unwrap();
    assert_eq!(p.number64("n"), Err("n: number too large".into()));
    assert_eq!(number_u64(b"99999999999999999999999"), None);
}

/// Inputs that must be refused, and above all must not panic.
#[test]
fn nasty_inputs_do_not_panic() {
    let nasty: &[&[u8]] = &[
        b"",
        b" ",
        b"a",
        b"a ",
        b"\x00 NOOP",
        b"a \x00",
        b"a UID",
        b"a UID ",
        b"a FETCH 1 BODY[",
        b"a FETCH 1 BODY[1.",
        b"a FETCH 1 BODY[1.2.",
        b"a FETCH 1 BODY[HEADER.FIELDS (",
        b"a FETCH 1 BODY[]<",
        b"a FETCH 1 BODY[]<1.",
        b"a FETCH 1 (",
        b"a FETCH 1 (FLAGS",
        b"a FETCH 99999999999 FLAGS",
        b"a FETCH 1:2:3 FLAGS",
        b"a FETCH , FLAGS",
        b"a SEARCH (",
        b"a SEARCH OR",
        b"a SEARCH NOT",
        b"a SEARCH HEADER",
        b"a SEARCH HEADER x",
        b"a SEARCH SINCE",
        b"a SEARCH SINCE 1-",
        b"a SEARCH SINCE 1-Ja",
        b"a SEARCH SINCE \"1-Jan-2000",
        b"a SEARCH MODSEQ \"",
        b"a SEARCH MODSEQ \"/flags/x\"",
        b"a SEARCH RETURN (",
        b"a SEARCH CHARSET",
        b"a APPEND",
        b"a APPEND x (",
        b"a APPEND x \"",
        b"a APPEND x \" 1-Jan-2000 00:00:00 +",
        b"a APPEND x {",
        b"a APPEND x ~",
        b"a APPEND x ~{",
        b"a APPEND x UTF8",
        b"a APPEND x UTF8 (",
        b"a LIST (",
        b"a LIST \"\" (",
        b"a LIST \"\" * RETURN (STATUS (",
        b"a SELECT x (QRESYNC (",
        b"a SELECT x (QRESYNC (1 2 (",
        b"a SELECT x (QRESYNC (1 2 (1 2",
        b"a STORE",
        b"a STORE 1 (",
        b"a STORE 1 (UNCHANGEDSINCE",
        b"a STORE 1 +",
        b"a STORE 1 FLAGS \\",
        b"a STORE 1 FLAGS (\\",
        b"a ID (",
        b"a ID (\"a\"",
        b"a ID (\"a\" ",
        b"a LOGIN \"",
        b"a LOGIN \"\\",
        b"a LOGIN {99999999999999999999}",
        b"a CREATE x (USE (\\",
        b"a SETQUOTA x (A",
        b"a STATUS x (",
        b"a AUTHENTICATE",
        b"a ENABLE ",
        b"a \xff\xfe",
        b"\xff NOOP",
    ];
    for s in nasty {
        let c = frame::Command {
            bytes: s.to_vec(),
            literals: vec![],
        };
        assert!(parse(&c).is_err(), "{}", String::from_utf8_lossy(s));
        // And with a CRLF after each, as if a literal were announced there.
        let mut b = s.to_vec();
        b.extend(b"}\r\n");
        let n = b.len();
        let c = frame::Command {
            bytes: b,
            literals: std::iter::once(n..n).collect(),
        };
        let _ = parse(&c);
    }
    // Every prefix of real commands.
    for s in [
        &b"a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10>) (CHANGEDSINCE 1 VANISHED)"[..],
        b"a SEARCH RETURN (MIN) CHARSET UTF-8 OR (NOT FROM \"x\") SINCE \"1-Jan-2000\" MODSEQ \"/flags/\\\\seen\" all 1",
        b"a APPEND x (\\Seen) \" 1-Jan-2000 00:00:00 +0100\" {1}\r\na UTF8 (~{1}\r\nb)",
        b"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (a b) RETURN (CHILDREN STATUS (MESSAGES))",
        b"a SELECT x (QRESYNC (1 2 3:4 (5 6)))",
    ] {
        let c = framed(s);
        for i in 0..=c.bytes.len() {
            let cut = frame::Command {
                bytes: c.bytes[..i].to_vec(),
                literals: c
                    .literals
                    .iter()
                    .map(|r| r.start.min(i)..r.end.min(i))
                    .collect(),
            };
            let _ = parse(&cut);
        }
    }
}
