//! SEARCH (RFC 9051 §6.4.4), with ESEARCH's RETURN options (RFC 4731,
//! RFC 5182 SAVE), IMAP4rev1's keys (RFC 3501 §6.4.4) and MODSEQ
//! (RFC 7162 §3.1.5).

use super::{date::date, shown, text, Lexer, Res};
use crate::types::{Command, Search, SearchKey, SearchReturn};

/// How deep NOT, OR and parentheses may nest: the key is parsed (and
/// later dropped) recursively, and a 64 KB line of `NOT NOT …` must not
/// exhaust the stack. Real clients nest a handful of levels.
pub(super) const MAX_DEPTH: usize = 64;

/// `SEARCH [search-return-opts] SP search-program`, `search-return-opts =
/// SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`,
/// `search-program = ["CHARSET" SP charset SP] search-key *(SP
/// search-key)`: CHARSET comes first or not at all.
pub(super) fn search(p: &mut Lexer<'_>, uid: bool) -> Res<Command> {
    p.sp()?;
    let mut ret = None;
    if p.keyword("RETURN") {
        p.sp()?;
        ret = Some(p.list(false, "RETURN options", |p| {
            Ok(match p.word()?.as_str() {
                "MIN" => SearchReturn::Min,
                "MAX" => SearchReturn::Max,
                "ALL" => SearchReturn::All,
                "COUNT" => SearchReturn::Count,
                "SAVE" => SearchReturn::Save,
                w => return Err(format!("unknown RETURN option {}", shown(w.as_bytes()))),
            })
        })?);
        p.sp()?;
    }
    let mut charset = None;
    if p.keyword("CHARSET") {
        p.sp()?;
        // RFC 3501: astring; RFC 9051: atom / quoted. Both fit astring.
        charset = Some(text(&p.astring("a charset")?));
        p.sp()?;
    }
    let mut keys = vec![key(p, 0)?];
    while !p.at_end() {
        p.sp()?;
        keys.push(key(p, 0)?);
    }
    let key = if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    };
    Ok(Command::Search {
        uid,
        search: Search { charset, ret, key },
    })
}

/// One `search-key`, `depth` levels down.
fn key(p: &mut Lexer<'_>, depth: usize) -> Res<SearchKey> {
    if depth >= MAX_DEPTH {
        return Err("search keys nested too deeply".into());
    }
    match p.peek() {
        // `"(" search-key *(SP search-key) ")"`: a group, ANDed.
        Some(b'(') => {
            p.pos += 1;
            let mut keys = vec![key(p, depth + 1)?];
            while !p.eat(b')') {
                if !p.eat(b' ') {
                    return Err(p.expected("a space or \")\" in a group of search keys"));
                }
                keys.push(key(p, depth + 1)?);
            }
            return Ok(SearchKey::And(keys));
        }
        // A bare `sequence-set`, or `$` (RFC 5182).
        Some(c) if c.is_ascii_digit() || c == b'*' || c == b'$' => {
            return Ok(SearchKey::Seq(p.seqset()?));
        }
        _ => {}
    }
    let name = p.word().map_err(|_| p.expected("a search key"))?;
    // The keys without an argument.
    let bare = match name.as_str() {
        "ALL" => Some(SearchKey::All),
        "ANSWERED" => Some(SearchKey::Answered),
        "DELETED" => Some(SearchKey::Deleted),
        "DRAFT" => Some(SearchKey::Draft),
        "FLAGGED" => Some(SearchKey::Flagged),
        "SEEN" => Some(SearchKey::Seen),
        "RECENT" => Some(SearchKey::Recent),
        "NEW" => Some(SearchKey::New),
        "OLD" => Some(SearchKey::Old),
        "UNANSWERED" => Some(SearchKey::Unanswered),
        "UNDELETED" => Some(SearchKey::Undeleted),
        "UNDRAFT" => Some(SearchKey::Undraft),
        "UNFLAGGED" => Some(SearchKey::Unflagged),
        "UNSEEN" => Some(SearchKey::Unseen),
        _ => None,
    };
    if let Some(k) = bare {
        return Ok(k);
    }
    let known = matches!(
        name.as_str(),
        "KEYWORD"
            | "UNKEYWORD"
            | "BCC"
            | "CC"
            | "FROM"
            | "TO"
            | "SUBJECT"
            | "BODY"
            | "TEXT"
            | "HEADER"
            | "BEFORE"
            | "ON"
            | "SINCE"
            | "SENTBEFORE"
            | "SENTON"
            | "SENTSINCE"
            | "LARGER"
            | "SMALLER"
            | "UID"
            | "NOT"
            | "OR"
            | "MODSEQ"
    );
    if !known {
        return Err(format!("unknown search key {}", shown(name.as_bytes())));
    }
    p.sp().map_err(|e| format!("{name}: {e}"))?;
    let s = |p: &mut Lexer<'_>| p.astring("a search string");
    Ok(match name.as_str() {
        "KEYWORD" => SearchKey::Keyword(text(p.atom("a keyword")?)),
        "UNKEYWORD" => SearchKey::Unkeyword(text(p.atom("a keyword")?)),
        "BCC" => SearchKey::Bcc(s(p)?),
        "CC" => SearchKey::Cc(s(p)?),
        "FROM" => SearchKey::From(s(p)?),
        "TO" => SearchKey::To(s(p)?),
        "SUBJECT" => SearchKey::Subject(s(p)?),
        "BODY" => SearchKey::Body(s(p)?),
        "TEXT" => SearchKey::Text(s(p)?),
        "HEADER" => {
            let field = text(&p.astring("a header field name")?);
            p.sp()?;
            SearchKey::Header(field, s(p)?)
        }
        "BEFORE" => SearchKey::Before(date(p)?),
        "ON" => SearchKey::On(date(p)?),
        "SINCE" => SearchKey::Since(date(p)?),
        "SENTBEFORE" => SearchKey::SentBefore(date(p)?),
        "SENTON" => SearchKey::SentOn(date(p)?),
        "SENTSINCE" => SearchKey::SentSince(date(p)?),
        "LARGER" => SearchKey::Larger(p.number64("a size")?),
        "SMALLER" => SearchKey::Smaller(p.number64("a size")?),
        "UID" => SearchKey::Uid(p.seqset()?),
        "NOT" => SearchKey::Not(Box::new(key(p, depth + 1)?)),
        "OR" => {
            let a = key(p, depth + 1)?;
            p.sp()?;
            SearchKey::Or(Box::new(a), Box::new(key(p, depth + 1)?))
        }
        // RFC 7162 §3.1.5: `"MODSEQ" [SP entry-name SP entry-type-req] SP
        // mod-sequence-valzer`; we keep no per-flag mod-sequences, so the
        // entry is checked and ignored.
        _ => {
            if p.peek() == Some(b'"') {
                let entry = p.quoted()?;
                if !entry.starts_with(b"/flags/") {
                    return Err("MODSEQ: the entry name must start with /flags/".into());
                }
                p.sp()?;
                match p.word()?.as_str() {
                    "PRIV" | "SHARED" | "ALL" => {}
                    _ => return Err("MODSEQ: expected priv, shared or all".into()),
                }
                p.sp()?;
            }
            SearchKey::ModSeq(p.number64("a mod-sequence")?)
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::seqset::SeqSet;
    use crate::types::SearchKey::*;
    use crate::types::{Command, Date, Search, SearchKey, SearchReturn};

    fn s(c: &[u8]) -> Search {
        match ok(c) {
            Command::Search { search, .. } => search,
            c => panic!("{c:?}"),
        }
    }

    fn k(c: &[u8]) -> SearchKey {
        s(c).key
    }

    fn set(x: &str) -> SeqSet {
        SeqSet::parse(x.as_bytes()).unwrap()
    }

    const D: Date = Date {
        year: 1994,
        month: 2,
        day: 1,
    };

    #[test]
    fn keys() {
        assert_eq!(
            ok(b"a SEARCH ALL"),
            Command::Search {
                uid: false,
                search: Search {
                    charset: None,
                    ret: None,
                    key: All
                }
            }
        );
        // RFC 9051 §6.4.4's examples.
        assert_eq!(
            k(b"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
            And(vec![
                Flagged,
                Since(D),
                Not(Box::new(From(b"Smith".to_vec())))
            ])
        );
        assert_eq!(
            k(b"A285 SEARCH CHARSET UTF-8 TEXT {11}\r\n\xd0\x92\xd0\xbe\xd0\xb9\xd0\xbd\xd0\xb0 "),
            Text("Война ".as_bytes().to_vec())
        );
        assert_eq!(
            k(b"a UID SEARCH OR (UNSEEN FLAGGED) 1:5,7 UID 2:*"),
            And(vec![
                Or(
                    Box::new(And(vec![Unseen, Flagged])),
                    Box::new(Seq(set("1:5,7")))
                ),
                Uid(set("2:*"))
            ])
        );
        assert_eq!(
            k(b"a SEARCH answered deleted draft flagged seen recent new old unanswered undeleted undraft unflagged unseen"),
            And(vec![
                Answered, Deleted, Draft, Flagged, Seen, Recent, New, Old, Unanswered, Undeleted,
                Undraft, Unflagged, Unseen
            ])
        );
        assert_eq!(
            k(b"a SEARCH KEYWORD $Junk UNKEYWORD foo BCC a CC b FROM c TO d SUBJECT \"e f\" BODY g TEXT h"),
            And(vec![
                Keyword("$Junk".into()),
                Unkeyword("foo".into()),
                Bcc(b"a".to_vec()),
                Cc(b"b".to_vec()),
                From(b"c".to_vec()),
                To(b"d".to_vec()),
                Subject(b"e f".to_vec()),
                Body(b"g".to_vec()),
                Text(b"h".to_vec())
            ])
        );
        assert_eq!(
            k(b"a SEARCH HEADER Message-ID \"<x@y>\" HEADER \"X-A\" \"\""),
            And(vec![
                Header("Message-ID".into(), b"<x@y>".to_vec()),
                Header("X-A".into(), vec![])
            ])
        );
        assert_eq!(
            k(b"a SEARCH BEFORE 1-Feb-1994 ON \"01-feb-1994\" SENTBEFORE 1-Feb-1994 SENTON 1-Feb-1994 SENTSINCE 1-Feb-1994"),
            And(vec![Before(D), On(D), SentBefore(D), SentOn(D), SentSince(D)])
        );
        assert_eq!(
            k(b"a SEARCH LARGER 100 SMALLER 9223372036854775807"),
            And(vec![Larger(100), Smaller(i64::MAX as u64)])
        );
        assert_eq!(k(b"a SEARCH $"), Seq(SeqSet::Saved));
        assert_eq!(k(b"a SEARCH (ALL)"), And(vec![All]));
        assert_eq!(
            k(b"a SEARCH NOT NOT ALL"),
            Not(Box::new(Not(Box::new(All))))
        );
        // RFC 7162 §3.1.5's example.
        assert_eq!(
            k(b"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"),
            ModSeq(620162338)
        );
        assert_eq!(k(b"a SEARCH modseq 0"), ModSeq(0));
    }

    #[test]
    fn options() {
        let x = s(b"a SEARCH RETURN () CHARSET \"us-ascii\" ALL");
        assert_eq!(x.ret, Some(vec![]));
        assert_eq!(x.charset, Some("us-ascii".into()));
        assert_eq!(
            s(b"a SEARCH RETURN (min MAX ALL COUNT SAVE) 1").ret,
            Some(vec![
                SearchReturn::Min,
                SearchReturn::Max,
                SearchReturn::All,
                SearchReturn::Count,
                SearchReturn::Save
            ])
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut deep = b"a SEARCH ".to_vec();
        deep.extend(b"NOT ".repeat(15_000));
        deep.extend(b"ALL");
        assert_eq!(bad(&deep).1, "SEARCH: search keys nested too deeply");
        let mut deep = b"a SEARCH ".to_vec();
        deep.extend(b"(".repeat(20_000));
        assert_eq!(bad(&deep).1, "SEARCH: search keys nested too deeply");
        let mut ok_deep = b"a SEARCH ".to_vec();
        ok_deep.extend(b"NOT ".repeat(super::MAX_DEPTH - 1));
        ok_deep.extend(b"ALL");
        ok(&ok_deep);
    }

    #[test]
    fn malformed() {
        for (c, why) in [
            (&b"a SEARCH"[..], "SEARCH: missing arguments"),
            (b"a SEARCH FOO", "SEARCH: unknown search key FOO"),
            (
                b"a SEARCH ALL CHARSET UTF-8",
                "SEARCH: unknown search key CHARSET",
            ),
            (b"a SEARCH CHARSET UTF-8", "SEARCH: missing arguments"),
            (
                b"a SEARCH RETURN (FOO) ALL",
                "SEARCH: unknown RETURN option FOO",
            ),
            (
                b"a SEARCH RETURN ALL",
                "SEARCH: expected a list of RETURN options at ALL",
            ),
            (b"a SEARCH FROM", "SEARCH: FROM: missing arguments"),
            (b"a SEARCH OR ALL", "SEARCH: missing arguments"),
            (
                b"a SEARCH (ALL",
                "SEARCH: expected a space or \")\" in a group of search keys",
            ),
            (b"a SEARCH ()", "SEARCH: expected a search key at )"),
            (
                b"a SEARCH SINCE 30-Feb-2024",
                "SEARCH: expected a date like 7-Jul-2024",
            ),
            (b"a SEARCH LARGER x", "SEARCH: expected a size at x"),
            (
                b"a SEARCH LARGER 9223372036854775808",
                "SEARCH: a size: number too large",
            ),
            (b"a SEARCH UID x", "SEARCH: expected a sequence set at x"),
            (
                b"a SEARCH 0",
                "SEARCH: sequence set: a number is 0 or too large",
            ),
            (
                b"a SEARCH MODSEQ \"/x\" all 1",
                "SEARCH: MODSEQ: the entry name must start with /flags/",
            ),
            (
                b"a SEARCH MODSEQ \"/flags/x\" none 1",
                "SEARCH: MODSEQ: expected priv, shared or all",
            ),
            (b"a SEARCH ALL ", "SEARCH: expected a search key"),
            (
                b"a SEARCH ALL  ALL",
                "SEARCH: expected a search key at  ALL",
            ),
        ] {
            assert_eq!(
                bad(c),
                (Some("a".into()), why.into()),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
    }
}
