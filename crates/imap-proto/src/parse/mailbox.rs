//! Commands on mailboxes as a whole: SELECT, EXAMINE, CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, GETQUOTA, GETQUOTAROOT,
//! SETQUOTA.

use super::{list::status_att, text, Lexer, Res};
use crate::types::{Command, Qresync, SelectParams};

/// `SELECT/EXAMINE SP mailbox [select-params]` (RFC 9051 §6.3.2,
/// RFC 4466 §2.1), with the RFC 7162 parameters `CONDSTORE` (§3.1.8) and
/// `QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)])` (§3.2.5).
pub(super) fn select(p: &mut Lexer<'_>, examine: bool) -> Res<Command> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    let mut params = SelectParams::default();
    if !p.at_end() {
        p.sp()?;
        p.list(true, "SELECT parameters", |p| {
            match p.word()?.as_str() {
                "CONDSTORE" => params.condstore = true,
                "QRESYNC" if params.qresync.is_none() => {
                    p.sp()?;
                    params.qresync = Some(qresync(p)?);
                }
                w => return Err(format!("unknown parameter {}", super::shown(w.as_bytes()))),
            }
            Ok(())
        })?;
        p.end()?;
    }
    Ok(if examine {
        Command::Examine { mailbox, params }
    } else {
        Command::Select { mailbox, params }
    })
}

/// RFC 7162 §7: `"(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"`, `seq-match-data = "(" known-sequence-set SP
/// known-uid-set ")"`.
fn qresync(p: &mut Lexer<'_>) -> Res<Qresync> {
    p.expect(b'(', "( after QRESYNC")?;
    let uidvalidity = p.nz_number("a UIDVALIDITY")?;
    p.sp()?;
    let modseq = p.number64("a mod-sequence")?;
    let mut q = Qresync {
        uidvalidity,
        modseq,
        known_uids: None,
        seq_match: None,
    };
    if p.eat(b' ') && p.peek() != Some(b'(') {
        q.known_uids = Some(p.seqset()?);
        p.eat(b' ');
    }
    if p.eat(b'(') {
        let seqs = p.seqset()?;
        p.sp()?;
        let uids = p.seqset()?;
        p.expect(b')', ") after the sequence match data")?;
        q.seq_match = Some((seqs, uids));
    }
    p.expect(b')', ") after the QRESYNC parameters")?;
    Ok(q)
}

/// `CREATE SP mailbox [SP "(" create-param ")"]`; the one parameter we
/// know is RFC 6154 §3's `USE (\Sent ...)` (use-attrs kept as written,
/// backslash included).
pub(super) fn create(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    let mut special_use = Vec::new();
    if !p.at_end() {
        p.sp()?;
        p.list(true, "CREATE parameters", |p| {
            match p.word()?.as_str() {
                "USE" => {
                    p.sp()?;
                    special_use = p.list(false, "special-use attributes", |p| {
                        p.expect(b'\\', "a special-use attribute like \\Sent")?;
                        Ok(format!("\\{}", text(p.atom("a special-use attribute")?)))
                    })?;
                }
                w => return Err(format!("unknown parameter {}", super::shown(w.as_bytes()))),
            }
            Ok(())
        })?;
        p.end()?;
    }
    Ok(Command::Create {
        mailbox,
        special_use,
    })
}

/// `SP mailbox` and the end: DELETE, SUBSCRIBE, UNSUBSCRIBE,
/// GETQUOTAROOT, and GETQUOTA's quota root (an astring, RFC 9208 §4.1.1).
pub(super) fn one_mailbox(p: &mut Lexer<'_>) -> Res<Vec<u8>> {
    p.sp()?;
    let m = p.mailbox()?;
    p.end()?;
    Ok(m)
}

/// `RENAME SP mailbox SP mailbox` (RFC 9051 §6.3.6).
pub(super) fn rename(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let from = p.mailbox()?;
    p.sp()?;
    let to = p.mailbox()?;
    p.end()?;
    Ok(Command::Rename { from, to })
}

/// `STATUS SP mailbox SP "(" status-att *(SP status-att) ")"`
/// (RFC 9051 §6.3.11).
pub(super) fn status(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.sp()?;
    let items = p.list(true, "status items", status_att)?;
    p.end()?;
    Ok(Command::Status { mailbox, items })
}

/// RFC 9208 §4.1.4: `SETQUOTA SP quota-root SP setquota-list`,
/// `setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"`,
/// `setquota-resource = resource-name SP resource-limit`. Resource
/// names are upper-cased.
pub(super) fn setquota(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let root = p.astring("a quota root")?;
    p.sp()?;
    let limits = p.list(false, "quota limits", |p| {
        let name = text(&p.atom("a resource name")?.to_ascii_uppercase());
        p.sp()?;
        Ok((name, p.number64("a resource limit")?))
    })?;
    p.end()?;
    Ok(Command::SetQuota { root, limits })
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::seqset::SeqSet;
    use crate::types::Command::*;
    use crate::types::{Qresync, SelectParams, StatusItem};

    fn set(s: &str) -> SeqSet {
        SeqSet::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn select_and_examine() {
        assert_eq!(
            ok(b"a SELECT INBOX"),
            Select {
                mailbox: b"INBOX".to_vec(),
                params: SelectParams::default()
            }
        );
        assert_eq!(
            ok(b"a examine \"a b\" (condstore)"),
            Examine {
                mailbox: b"a b".to_vec(),
                params: SelectParams {
                    condstore: true,
                    qresync: None
                }
            }
        );
        let q = |s: &[u8]| match ok(s) {
            Select { params, .. } => params.qresync.unwrap(),
            c => panic!("{c:?}"),
        };
        assert_eq!(
            q(b"a SELECT x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
            Qresync {
                uidvalidity: 67890007,
                modseq: 20050715194045000,
                known_uids: Some(set("41,43:211,214:541")),
                seq_match: None
            }
        );
        // RFC 7162 §3.2.5.2's example.
        assert_eq!(
            q(b"B02 SELECT m (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:5,9 1:5,21)))"),
            Qresync {
                uidvalidity: 67890007,
                modseq: 90060115194045000,
                known_uids: Some(set("41:211,214:541")),
                seq_match: Some((set("1:5,9"), set("1:5,21")))
            }
        );
        assert_eq!(
            q(b"a SELECT x (QRESYNC (1 2 (3 4)))"),
            Qresync {
                uidvalidity: 1,
                modseq: 2,
                known_uids: None,
                seq_match: Some((set("3"), set("4")))
            }
        );
        assert_eq!(q(b"a SELECT x (CONDSTORE QRESYNC (1 0))").known_uids, None);
    }

    #[test]
    fn other_mailbox_commands() {
        assert_eq!(
            ok(b"a CREATE Sent (USE (\\Sent \\Archive))"),
            Create {
                mailbox: b"Sent".to_vec(),
                special_use: vec!["\\Sent".into(), "\\Archive".into()]
            }
        );
        assert_eq!(
            ok(b"a CREATE \"x/y\""),
            Create {
                mailbox: b"x/y".to_vec(),
                special_use: vec![]
            }
        );
        assert_eq!(ok(b"a DELETE {3}\r\na b"), Delete(b"a b".to_vec()));
        assert_eq!(ok(b"a SUBSCRIBE x"), Subscribe(b"x".to_vec()));
        assert_eq!(ok(b"a UNSUBSCRIBE x"), Unsubscribe(b"x".to_vec()));
        assert_eq!(ok(b"a GETQUOTA \"\""), GetQuota(vec![]));
        assert_eq!(ok(b"a GETQUOTAROOT INBOX"), GetQuotaRoot(b"INBOX".to_vec()));
        assert_eq!(
            ok(b"a SETQUOTA \"\" (storage 512 MESSAGE 100)"),
            SetQuota {
                root: vec![],
                limits: vec![("STORAGE".into(), 512), ("MESSAGE".into(), 100)]
            }
        );
        assert_eq!(
            ok(b"a SETQUOTA x ()"),
            SetQuota {
                root: b"x".to_vec(),
                limits: vec![]
            }
        );
        assert_eq!(
            ok(b"a RENAME a \"b c\""),
            Rename {
                from: b"a".to_vec(),
                to: b"b c".to_vec()
            }
        );
        assert_eq!(
            ok(b"a STATUS INBOX (MESSAGES uidnext UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ RECENT APPENDLIMIT)"),
            Status {
                mailbox: b"INBOX".to_vec(),
                items: vec![
                    StatusItem::Messages,
                    StatusItem::UidNext,
                    StatusItem::UidValidity,
                    StatusItem::Unseen,
                    StatusItem::Deleted,
                    StatusItem::Size,
                    StatusItem::HighestModSeq,
                    StatusItem::Recent,
                    StatusItem::AppendLimit
                ]
            }
        );
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a SELECT"[..], "SELECT: missing arguments"),
            (b"a SELECT (x)", "SELECT: expected a mailbox name at (x)"),
            (b"a SELECT x ()", "SELECT: empty list of SELECT parameters"),
            (b"a SELECT x (FOO)", "SELECT: unknown parameter FOO"),
            (
                b"a SELECT x (QRESYNC (0 1))",
                "SELECT: a UIDVALIDITY: 0 is not allowed",
            ),
            (
                b"a SELECT x (QRESYNC (1))",
                "SELECT: expected a space before ))",
            ),
            (
                b"a SELECT x (QRESYNC (1 2 3 (4)))",
                "SELECT: expected a space before )))",
            ),
            (b"a EXAMINE x (CONDSTORE) y", "EXAMINE: unexpected  y"),
            (
                b"a CREATE x (USE (Sent))",
                "CREATE: expected a special-use attribute like \\Sent",
            ),
            (b"a DELETE", "DELETE: missing arguments"),
            (b"a RENAME x", "RENAME: missing arguments"),
            (b"a STATUS x ()", "STATUS: empty list of status items"),
            (
                b"a STATUS x (MESSAGES FOO)",
                "STATUS: unknown status item FOO",
            ),
            (
                b"a STATUS x MESSAGES",
                "STATUS: expected a list of status items at MESSAGES",
            ),
            (
                b"a SETQUOTA x (STORAGE)",
                "SETQUOTA: expected a space before )",
            ),
            (
                b"a SETQUOTA x (STORAGE 99999999999999999999)",
                "SETQUOTA: a resource limit: number too large",
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
