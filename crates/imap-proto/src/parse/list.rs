//! LIST (RFC 9051 §6.3.9 with RFC 5258 LIST-EXTENDED, RFC 6154
//! SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB (RFC 3501 §6.3.9) and the
//! status items they share with STATUS.

use super::{is_list_char, shown, Lexer, Res};
use crate::types::{Command, ListCommand, ListReturn, ListSelect, StatusItem};

/// `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP
/// list-return-opts]` (RFC 5258 §6).
pub(super) fn list(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let mut cmd = ListCommand::default();
    // The reference is an astring, which never opens with "(".
    if p.peek() == Some(b'(') {
        cmd.select = p.list(false, "selection options", |p| {
            Ok(match p.word()?.as_str() {
                "SUBSCRIBED" => ListSelect::Subscribed,
                "REMOTE" => ListSelect::Remote,
                "RECURSIVEMATCH" => ListSelect::RecursiveMatch,
                "SPECIAL-USE" => ListSelect::SpecialUse,
                // RFC 5258 §3: unrecognised options MUST be rejected.
                w => return Err(format!("unknown selection option {}", shown(w.as_bytes()))),
            })
        })?;
        // RFC 5258 §3: RECURSIVEMATCH needs an option it modifies, and
        // REMOTE alone is not one.
        if cmd.select.contains(&ListSelect::RecursiveMatch)
            && cmd
                .select
                .iter()
                .all(|o| matches!(o, ListSelect::RecursiveMatch | ListSelect::Remote))
        {
            return Err("RECURSIVEMATCH needs another selection option".into());
        }
        p.sp()?;
    }
    cmd.reference = p.mailbox()?;
    p.sp()?;
    cmd.patterns = if p.peek() == Some(b'(') {
        p.list(true, "patterns", list_mailbox)?
    } else {
        vec![list_mailbox(p)?]
    };
    if !p.at_end() {
        p.sp()?;
        if !p.keyword("RETURN") {
            return Err(p.expected("RETURN"));
        }
        p.sp()?;
        cmd.ret = p.list(false, "return options", |p| {
            Ok(match p.word()?.as_str() {
                "SUBSCRIBED" => ListReturn::Subscribed,
                "CHILDREN" => ListReturn::Children,
                "SPECIAL-USE" => ListReturn::SpecialUse,
                "STATUS" => {
                    p.sp()?;
                    ListReturn::Status(p.list(true, "status items", status_att)?)
                }
                w => return Err(format!("unknown return option {}", shown(w.as_bytes()))),
            })
        })?;
        p.end()?;
    }
    Ok(Command::List(cmd))
}

/// `LSUB SP mailbox SP list-mailbox` (RFC 3501 §6.3.9).
pub(super) fn lsub(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let reference = p.mailbox()?;
    p.sp()?;
    let pattern = list_mailbox(p)?;
    p.end()?;
    Ok(Command::Lsub { reference, pattern })
}

/// `list-mailbox = 1*list-char / string`: unquoted patterns may hold the
/// wildcards `%` and `*` (RFC 9051 §9).
fn list_mailbox(p: &mut Lexer<'_>) -> Res<Vec<u8>> {
    match p.peek() {
        Some(b'"' | b'{') => p.string("a mailbox pattern"),
        _ => {
            let s = p.take_while(is_list_char);
            if s.is_empty() {
                return Err(p.expected("a mailbox pattern"));
            }
            Ok(s.to_vec())
        }
    }
}

/// `status-att` (RFC 9051 §9, with RECENT from RFC 3501, SIZE from
/// RFC 8438, HIGHESTMODSEQ from RFC 7162, APPENDLIMIT from RFC 7889).
pub(super) fn status_att(p: &mut Lexer<'_>) -> Res<StatusItem> {
    Ok(match p.word()?.as_str() {
        "MESSAGES" => StatusItem::Messages,
        "RECENT" => StatusItem::Recent,
        "UIDNEXT" => StatusItem::UidNext,
        "UIDVALIDITY" => StatusItem::UidValidity,
        "UNSEEN" => StatusItem::Unseen,
        "DELETED" => StatusItem::Deleted,
        "SIZE" => StatusItem::Size,
        "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        "APPENDLIMIT" => StatusItem::AppendLimit,
        w => return Err(format!("unknown status item {}", shown(w.as_bytes()))),
    })
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::types::Command::*;
    use crate::types::{ListCommand, ListReturn, ListSelect, StatusItem};

    fn l(s: &[u8]) -> ListCommand {
        match ok(s) {
            List(l) => l,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn list_forms() {
        assert_eq!(
            l(b"a LIST \"\" *"),
            ListCommand {
                reference: vec![],
                patterns: vec![b"*".to_vec()],
                ..Default::default()
            }
        );
        assert_eq!(l(b"a list ~/Mail/ %a]b").patterns, vec![b"%a]b".to_vec()]);
        assert_eq!(l(b"a LIST ~/Mail/ %").reference, b"~/Mail/".to_vec());
        assert_eq!(l(b"a LIST \"\" {3}\r\na*b").patterns, vec![b"a*b".to_vec()]);
        // RFC 5258 §5's examples.
        assert_eq!(
            l(b"A02 LIST (SUBSCRIBED) \"\" \"*\""),
            ListCommand {
                select: vec![ListSelect::Subscribed],
                reference: vec![],
                patterns: vec![b"*".to_vec()],
                ret: vec![]
            }
        );
        assert_eq!(
            l(b"A03 LIST () \"\" (\"%\" \"Other/%\") RETURN (CHILDREN subscribed)"),
            ListCommand {
                select: vec![],
                reference: vec![],
                patterns: vec![b"%".to_vec(), b"Other/%".to_vec()],
                ret: vec![ListReturn::Children, ListReturn::Subscribed]
            }
        );
        assert_eq!(
            l(b"a LIST (REMOTE RECURSIVEMATCH SUBSCRIBED SPECIAL-USE) \"\" %").select,
            vec![
                ListSelect::Remote,
                ListSelect::RecursiveMatch,
                ListSelect::Subscribed,
                ListSelect::SpecialUse
            ]
        );
        // RFC 5819 §2.
        assert_eq!(
            l(b"a LIST \"\" % RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))").ret,
            vec![
                ListReturn::SpecialUse,
                ListReturn::Status(vec![StatusItem::Messages, StatusItem::Unseen])
            ]
        );
        assert_eq!(l(b"a LIST \"\" % RETURN ()").ret, vec![]);
        assert_eq!(
            ok(b"a LSUB \"#news.\" comp.%"),
            Lsub {
                reference: b"#news.".to_vec(),
                pattern: b"comp.%".to_vec()
            }
        );
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a LIST"[..], "LIST: missing arguments"),
            (b"a LIST \"\"", "LIST: missing arguments"),
            (b"a LIST (FOO) \"\" *", "LIST: unknown selection option FOO"),
            (
                b"a LIST (RECURSIVEMATCH) \"\" *",
                "LIST: RECURSIVEMATCH needs another selection option",
            ),
            (
                b"a LIST (REMOTE RECURSIVEMATCH) \"\" *",
                "LIST: RECURSIVEMATCH needs another selection option",
            ),
            (b"a LIST \"\" ()", "LIST: empty list of patterns"),
            (b"a LIST \"\" * FOO", "LIST: expected RETURN at FOO"),
            (
                b"a LIST \"\" * RETURN (FOO)",
                "LIST: unknown return option FOO",
            ),
            (
                b"a LIST \"\" * RETURN (STATUS ())",
                "LIST: empty list of status items",
            ),
            (b"a LIST \"\" * RETURN", "LIST: missing arguments"),
            (b"a LSUB \"\" a b", "LSUB: unexpected  b"),
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
