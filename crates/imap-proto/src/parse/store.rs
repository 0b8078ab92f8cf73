//! STORE (RFC 9051 §6.4.6, RFC 7162 UNCHANGEDSINCE), COPY (§6.4.7),
//! MOVE (RFC 6851), UID EXPUNGE (RFC 4315), and the flags that STORE and
//! APPEND share.

use super::{text, Lexer, Res};
use crate::types::{Command, Flag, StoreOp};

/// `STORE SP sequence-set [SP store-modifiers] SP store-att-flags`,
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
/// (flag *(SP flag)))`, `store-modifiers = "(" "UNCHANGEDSINCE" SP
/// mod-sequence-valzer ")"` (RFC 7162 §7).
pub(super) fn store(p: &mut Lexer<'_>, uid: bool) -> Res<Command> {
    p.sp()?;
    let set = p.seqset()?;
    p.sp()?;
    let mut unchanged_since = None;
    if p.peek() == Some(b'(') {
        p.list(true, "STORE modifiers", |p| {
            match p.word()?.as_str() {
                "UNCHANGEDSINCE" if unchanged_since.is_none() => {
                    p.sp()?;
                    unchanged_since = Some(p.number64("a mod-sequence")?);
                }
                w => return Err(format!("unknown modifier {}", super::shown(w.as_bytes()))),
            }
            Ok(())
        })?;
        p.sp()?;
    }
    let op = if p.eat(b'+') {
        StoreOp::Add
    } else if p.eat(b'-') {
        StoreOp::Remove
    } else {
        StoreOp::Replace
    };
    let silent = match p.word().as_deref() {
        Ok("FLAGS") => false,
        Ok("FLAGS.SILENT") => true,
        _ => return Err("expected FLAGS, +FLAGS or -FLAGS".into()),
    };
    p.sp()?;
    let flags = if p.peek() == Some(b'(') {
        flag_list(p)?
    } else {
        let mut v = vec![flag(p)?];
        while !p.at_end() {
            p.sp()?;
            v.push(flag(p)?);
        }
        v
    };
    p.end()?;
    Ok(Command::Store {
        uid,
        set,
        unchanged_since,
        op,
        silent,
        flags,
    })
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub(super) fn flag_list(p: &mut Lexer<'_>) -> Res<Vec<Flag>> {
    p.list(false, "flags", flag)
}

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
/// flag-keyword / flag-extension` (RFC 9051 §9), plus IMAP4rev1's
/// `\Recent` (refused later, by the session). System flags are
/// case-insensitive; keywords are kept as written. `\*` belongs only in
/// PERMANENTFLAGS (`flag-perm`) and is refused here.
pub(super) fn flag(p: &mut Lexer<'_>) -> Res<Flag> {
    if p.eat(b'\\') {
        if p.peek() == Some(b'*') {
            return Err("\\* is not a flag".into());
        }
        let a = p.atom("a flag name after \\")?;
        return Ok(match a.to_ascii_uppercase().as_slice() {
            b"SEEN" => Flag::Seen,
            b"ANSWERED" => Flag::Answered,
            b"FLAGGED" => Flag::Flagged,
            b"DELETED" => Flag::Deleted,
            b"DRAFT" => Flag::Draft,
            b"RECENT" => Flag::Recent,
            _ => Flag::Extension(format!("\\{}", text(a))),
        });
    }
    Ok(Flag::Keyword(text(p.atom("a flag")?)))
}

/// `COPY SP sequence-set SP mailbox`.
pub(super) fn copy(p: &mut Lexer<'_>, uid: bool) -> Res<Command> {
    let (set, mailbox) = set_and_mailbox(p)?;
    Ok(Command::Copy { uid, set, mailbox })
}

/// `MOVE SP sequence-set SP mailbox` (RFC 6851 §3.1).
pub(super) fn moves(p: &mut Lexer<'_>, uid: bool) -> Res<Command> {
    let (set, mailbox) = set_and_mailbox(p)?;
    Ok(Command::Move { uid, set, mailbox })
}

fn set_and_mailbox(p: &mut Lexer<'_>) -> Res<(crate::seqset::SeqSet, Vec<u8>)> {
    p.sp()?;
    let set = p.seqset()?;
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.end()?;
    Ok((set, mailbox))
}

/// `UID EXPUNGE SP sequence-set` (RFC 4315 §2.1, RFC 9051 §6.4.9).
pub(super) fn uid_expunge(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let set = p.seqset()?;
    p.end()?;
    Ok(Command::UidExpunge(set))
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::seqset::SeqSet;
    use crate::types::Command::*;
    use crate::types::{Flag, StoreOp};

    fn set(s: &str) -> SeqSet {
        SeqSet::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn store_forms() {
        assert_eq!(
            ok(b"a STORE 2:4 +FLAGS (\\Deleted)"),
            Store {
                uid: false,
                set: set("2:4"),
                unchanged_since: None,
                op: StoreOp::Add,
                silent: false,
                flags: vec![Flag::Deleted]
            }
        );
        assert_eq!(
            ok(b"a UID STORE 1:* -flags.silent \\seen \\ANSWERED $Junk \\Foo"),
            Store {
                uid: true,
                set: set("1:*"),
                unchanged_since: None,
                op: StoreOp::Remove,
                silent: true,
                flags: vec![
                    Flag::Seen,
                    Flag::Answered,
                    Flag::Keyword("$Junk".into()),
                    Flag::Extension("\\Foo".into())
                ]
            }
        );
        // RFC 7162 §3.1.3's example.
        assert_eq!(
            ok(b"a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)"),
            Store {
                uid: false,
                set: set("7,5,9"),
                unchanged_since: Some(320162338),
                op: StoreOp::Add,
                silent: true,
                flags: vec![Flag::Deleted]
            }
        );
        assert_eq!(
            ok(b"a STORE $ FLAGS ()"),
            Store {
                uid: false,
                set: SeqSet::Saved,
                unchanged_since: None,
                op: StoreOp::Replace,
                silent: false,
                flags: vec![]
            }
        );
        let Store { flags, .. } = ok(b"a STORE 1 FLAGS (\\Flagged \\Draft \\Recent MyFlag)") else {
            panic!()
        };
        assert_eq!(
            flags,
            vec![
                Flag::Flagged,
                Flag::Draft,
                Flag::Recent,
                Flag::Keyword("MyFlag".into())
            ]
        );
    }

    #[test]
    fn copy_move_expunge() {
        assert_eq!(
            ok(b"a COPY 2:4 MEETING"),
            Copy {
                uid: false,
                set: set("2:4"),
                mailbox: b"MEETING".to_vec()
            }
        );
        assert_eq!(
            ok(b"a uid copy 1 \"x y\""),
            Copy {
                uid: true,
                set: set("1"),
                mailbox: b"x y".to_vec()
            }
        );
        assert_eq!(
            ok(b"a MOVE 1:3 Trash"),
            Move {
                uid: false,
                set: set("1:3"),
                mailbox: b"Trash".to_vec()
            }
        );
        assert_eq!(
            ok(b"a UID MOVE 42 {5+}\r\nTrash"),
            Move {
                uid: true,
                set: set("42"),
                mailbox: b"Trash".to_vec()
            }
        );
        assert_eq!(ok(b"a UID EXPUNGE 3000:3002"), UidExpunge(set("3000:3002")));
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a STORE 1 +FLAGS (\\*)"[..], "STORE: \\* is not a flag"),
            (b"a STORE 1 FLAGS \\*", "STORE: \\* is not a flag"),
            (
                b"a STORE 1 FLAGS (\\)",
                "STORE: expected a flag name after \\ at )",
            ),
            (b"a STORE 1 FLAGS", "STORE: missing arguments"),
            (b"a STORE 1 FLAGS ", "STORE: expected a flag"),
            (
                b"a STORE 1 FLAGS (\\Seen",
                "STORE: expected a space or \")\" in the list of flags",
            ),
            (
                b"a STORE 1 +FLAG (\\Seen)",
                "STORE: expected FLAGS, +FLAGS or -FLAGS",
            ),
            (
                b"a STORE 1 *FLAGS (\\Seen)",
                "STORE: expected FLAGS, +FLAGS or -FLAGS",
            ),
            (
                b"a STORE 0 FLAGS (\\Seen)",
                "STORE: sequence set: a number is 0 or too large",
            ),
            (
                b"a STORE x FLAGS (\\Seen)",
                "STORE: expected a sequence set at x FLAGS (\\Seen)",
            ),
            (b"a STORE 1 (FOO 1) FLAGS ()", "STORE: unknown modifier FOO"),
            (
                b"a STORE 1 (UNCHANGEDSINCE x) FLAGS ()",
                "STORE: expected a mod-sequence at x) FLAGS ()",
            ),
            (b"a COPY 1", "COPY: missing arguments"),
            (b"a COPY 1 a b", "COPY: unexpected  b"),
            (b"a UID EXPUNGE", "UID EXPUNGE: missing arguments"),
            (b"a UID", "UID: expected a command"),
            (b"a UID NOOP", "unknown command UID NOOP"),
            (b"a MOVE 1:2:3 x", "MOVE: invalid sequence set 1:2:3"),
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
