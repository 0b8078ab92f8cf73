//! FETCH (RFC 9051 §6.4.5), with BINARY (RFC 3516) and the RFC 7162
//! modifiers CHANGEDSINCE and VANISHED.

use super::{shown, text, Lexer, Res};
use crate::types::{Command, FetchAtt, FetchModifiers, Section, SectionText};

/// `FETCH SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
/// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`.
pub(super) fn fetch(p: &mut Lexer<'_>, uid: bool) -> Res<Command> {
    p.sp()?;
    let set = p.seqset()?;
    p.sp()?;
    let items = if p.peek() == Some(b'(') {
        p.list(true, "fetch items", |p| att(p, false))?
    } else {
        let a = p.rest();
        let n = a.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        // The macros, only alone (§6.4.5).
        let m = &a[..n];
        use FetchAtt::*;
        let fast = [Flags, InternalDate, Rfc822Size];
        let items = if m.eq_ignore_ascii_case(b"ALL") {
            Some([&fast[..], &[Envelope]].concat())
        } else if m.eq_ignore_ascii_case(b"FAST") {
            Some(fast.to_vec())
        } else if m.eq_ignore_ascii_case(b"FULL") {
            Some([&fast[..], &[Envelope, Body]].concat())
        } else {
            None
        };
        match items {
            Some(items) => {
                p.pos += n;
                items
            }
            None => vec![att(p, true)?],
        }
    };
    let mut modifiers = FetchModifiers::default();
    if !p.at_end() {
        // RFC 4466 §2.4 `fetch-modifiers = SP "(" fetch-modifier *(SP
        // fetch-modifier) ")"`.
        p.sp()?;
        p.list(true, "FETCH modifiers", |p| {
            match p.word()?.as_str() {
                "CHANGEDSINCE" if modifiers.changed_since.is_none() => {
                    p.sp()?;
                    modifiers.changed_since = Some(p.number64("a mod-sequence")?);
                }
                "VANISHED" => modifiers.vanished = true,
                w => return Err(format!("unknown modifier {}", shown(w.as_bytes()))),
            }
            Ok(())
        })?;
        p.end()?;
    }
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with
    // CHANGEDSINCE; otherwise the server MUST answer BAD.
    if modifiers.vanished && (!uid || modifiers.changed_since.is_none()) {
        return Err("VANISHED needs UID FETCH and CHANGEDSINCE".into());
    }
    Ok(Command::Fetch {
        uid,
        set,
        items,
        modifiers,
    })
}

/// One `fetch-att`. `alone` is whether it stands without parentheses
/// (only to say so when it is a misplaced macro).
fn att(p: &mut Lexer<'_>, alone: bool) -> Res<FetchAtt> {
    let name = p.word().map_err(|_| p.expected("a fetch item"))?;
    let bracket = p.peek() == Some(b'[');
    Ok(match (name.as_str(), bracket) {
        ("ENVELOPE", false) => FetchAtt::Envelope,
        ("FLAGS", false) => FetchAtt::Flags,
        ("INTERNALDATE", false) => FetchAtt::InternalDate,
        ("RFC822", false) => FetchAtt::Rfc822,
        ("RFC822.HEADER", false) => FetchAtt::Rfc822Header,
        ("RFC822.SIZE", false) => FetchAtt::Rfc822Size,
        ("RFC822.TEXT", false) => FetchAtt::Rfc822Text,
        ("BODY", false) => FetchAtt::Body,
        ("BODYSTRUCTURE", false) => FetchAtt::BodyStructure,
        ("UID", false) => FetchAtt::Uid,
        ("MODSEQ", false) => FetchAtt::ModSeq,
        ("BODY" | "BODY.PEEK", true) => {
            let section = section(p)?;
            FetchAtt::BodySection {
                peek: name == "BODY.PEEK",
                section,
                partial: partial(p)?,
            }
        }
        ("BINARY" | "BINARY.PEEK", true) => {
            let part = section_binary(p)?;
            FetchAtt::Binary {
                peek: name == "BINARY.PEEK",
                part,
                partial: partial(p)?,
            }
        }
        ("BINARY.SIZE", true) => FetchAtt::BinarySize {
            part: section_binary(p)?,
        },
        ("BODY.PEEK" | "BINARY" | "BINARY.PEEK" | "BINARY.SIZE", false) => {
            return Err(format!("{name} needs a section in []"));
        }
        ("ALL" | "FAST" | "FULL", false) if !alone => {
            return Err(format!("{name} is a macro, not allowed in a list"));
        }
        _ => return Err(format!("unknown fetch item {}", shown(name.as_bytes()))),
    })
}

/// `section = "[" [section-spec] "]"`, `section-spec = section-msgtext /
/// (section-part ["." section-text])`, `section-part = nz-number *("."
/// nz-number)`.
fn section(p: &mut Lexer<'_>) -> Res<Section> {
    p.expect(b'[', "[")?;
    let mut s = Section::default();
    if p.peek().is_some_and(|c| c.is_ascii_digit()) {
        s.part = part(p)?;
        if p.eat(b'.') {
            s.text = Some(section_text(p, true)?);
        }
    } else if p.peek() != Some(b']') {
        s.text = Some(section_text(p, false)?);
    }
    p.expect(b']', "] after the section")?;
    Ok(s)
}

/// `nz-number *("." nz-number)`, leaving a `.` that a section-text follows.
fn part(p: &mut Lexer<'_>) -> Res<Vec<u32>> {
    let mut part = vec![p.nz_number("a part number")?];
    while p.peek() == Some(b'.') && p.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        p.pos += 1;
        part.push(p.nz_number("a part number")?);
    }
    Ok(part)
}

/// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
/// "TEXT"`; `section-text = section-msgtext / "MIME"`: MIME only after a
/// part number.
fn section_text(p: &mut Lexer<'_>, after_part: bool) -> Res<SectionText> {
    let w = p.word().map_err(|_| p.expected("a section"))?;
    Ok(match w.as_str() {
        "HEADER" => SectionText::Header,
        "TEXT" => SectionText::Text,
        "MIME" if after_part => SectionText::Mime,
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            p.sp()?;
            // `header-list = "(" header-fld-name *(SP header-fld-name) ")"`,
            // `header-fld-name = astring`.
            let fields = p.list(true, "header field names", |p| {
                Ok(text(&p.astring("a header field name")?))
            })?;
            SectionText::HeaderFields {
                not: w == "HEADER.FIELDS.NOT",
                fields,
            }
        }
        "MIME" => return Err("MIME needs a part number".into()),
        _ => return Err(format!("unknown section {}", shown(w.as_bytes()))),
    })
}

/// RFC 3516 §4.2: `section-binary = "[" [section-part] "]"`.
fn section_binary(p: &mut Lexer<'_>) -> Res<Vec<u32>> {
    p.expect(b'[', "[")?;
    let part = if p.peek() == Some(b']') {
        Vec::new()
    } else {
        part(p)?
    };
    p.expect(b']', "] after the part number")?;
    Ok(part)
}

/// `partial = "<" number "." nz-number ">"` (RFC 3501; RFC 9051 widens
/// both to 63 bits, but a message is far below 4 GB here).
fn partial(p: &mut Lexer<'_>) -> Res<Option<(u32, u32)>> {
    if !p.eat(b'<') {
        return Ok(None);
    }
    let origin = p.number("a partial origin")?;
    p.expect(b'.', ". in <origin.count>")?;
    let count = p.nz_number("a partial length")?;
    p.expect(b'>', "> after the partial range")?;
    Ok(Some((origin, count)))
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::seqset::SeqSet;
    use crate::types::Command::*;
    use crate::types::FetchAtt::{self, *};
    use crate::types::{FetchModifiers, Section, SectionText};

    fn items(s: &[u8]) -> Vec<FetchAtt> {
        match ok(s) {
            Fetch { items, .. } => items,
            c => panic!("{c:?}"),
        }
    }

    fn body(
        peek: bool,
        part: &[u32],
        text: Option<SectionText>,
        partial: Option<(u32, u32)>,
    ) -> FetchAtt {
        BodySection {
            peek,
            section: Section {
                part: part.to_vec(),
                text,
            },
            partial,
        }
    }

    #[test]
    fn macros_and_simple_items() {
        assert_eq!(
            ok(b"a FETCH 1:* ALL"),
            Fetch {
                uid: false,
                set: SeqSet::parse(b"1:*").unwrap(),
                items: vec![Flags, InternalDate, Rfc822Size, Envelope],
                modifiers: FetchModifiers::default()
            }
        );
        assert_eq!(
            items(b"a FETCH 1 fast"),
            vec![Flags, InternalDate, Rfc822Size]
        );
        assert_eq!(
            items(b"a FETCH 1 FULL"),
            vec![Flags, InternalDate, Rfc822Size, Envelope, Body]
        );
        assert_eq!(items(b"a FETCH 1 flags"), vec![Flags]);
        assert_eq!(
            items(b"a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ)"),
            vec![
                Envelope,
                Flags,
                InternalDate,
                Rfc822,
                Rfc822Header,
                Rfc822Size,
                Rfc822Text,
                Body,
                BodyStructure,
                Uid,
                ModSeq
            ]
        );
    }

    #[test]
    fn sections() {
        assert_eq!(
            items(b"a FETCH 1 BODY[]"),
            vec![body(false, &[], None, None)]
        );
        assert_eq!(
            items(b"a FETCH 1 (body.peek[HEADER] BODY[TEXT]<0.2048> BODY[1.2.3] BODY[4.MIME] BODY[2.TEXT] BODY[]<10.1>)"),
            vec![
                body(true, &[], Some(SectionText::Header), None),
                body(false, &[], Some(SectionText::Text), Some((0, 2048))),
                body(false, &[1, 2, 3], None, None),
                body(false, &[4], Some(SectionText::Mime), None),
                body(false, &[2], Some(SectionText::Text), None),
                body(false, &[], None, Some((10, 1))),
            ]
        );
        assert_eq!(
            items(b"a FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (From \"To\" {2}\r\nCc)] BODY[1.HEADER.FIELDS.NOT (X-A)])"),
            vec![
                Uid,
                body(
                    true,
                    &[],
                    Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec!["From".into(), "To".into(), "Cc".into()]
                    }),
                    None
                ),
                body(
                    false,
                    &[1],
                    Some(SectionText::HeaderFields {
                        not: true,
                        fields: vec!["X-A".into()]
                    }),
                    None
                ),
            ]
        );
        assert_eq!(
            items(b"a FETCH 1 (BINARY[1.2]<0.100> BINARY.PEEK[] BINARY.SIZE[3])"),
            vec![
                Binary {
                    peek: false,
                    part: vec![1, 2],
                    partial: Some((0, 100))
                },
                Binary {
                    peek: true,
                    part: vec![],
                    partial: None
                },
                BinarySize { part: vec![3] },
            ]
        );
    }

    #[test]
    fn modifiers() {
        let Fetch { uid, modifiers, .. } =
            ok(b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
        else {
            panic!()
        };
        assert!(uid);
        assert_eq!(
            modifiers,
            FetchModifiers {
                changed_since: Some(12345),
                vanished: true
            }
        );
        let Fetch { modifiers, .. } = ok(b"a FETCH 1 FLAGS (changedsince 0)") else {
            panic!()
        };
        assert_eq!(modifiers.changed_since, Some(0));
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a FETCH"[..], "FETCH: missing arguments"),
            (b"a FETCH 1", "FETCH: missing arguments"),
            (b"a FETCH FLAGS", "FETCH: expected a sequence set at FLAGS"),
            (b"a FETCH 1 ()", "FETCH: empty list of fetch items"),
            (
                b"a FETCH 1 (FLAGS ALL)",
                "FETCH: ALL is a macro, not allowed in a list",
            ),
            (b"a FETCH 1 FOO", "FETCH: unknown fetch item FOO"),
            (b"a FETCH 1 BODY[MIME]", "FETCH: MIME needs a part number"),
            (
                b"a FETCH 1 BODY[0]",
                "FETCH: a part number: 0 is not allowed",
            ),
            (
                b"a FETCH 1 BODY[1.0]",
                "FETCH: a part number: 0 is not allowed",
            ),
            (b"a FETCH 1 BODY[1.FOO]", "FETCH: unknown section FOO"),
            (
                b"a FETCH 1 BODY[HEADER.FIELDS ()]",
                "FETCH: empty list of header field names",
            ),
            (
                b"a FETCH 1 BODY[HEADER.FIELDS]",
                "FETCH: expected a space before ]",
            ),
            (b"a FETCH 1 BODY[", "FETCH: expected a section"),
            (
                b"a FETCH 1 BODY[TEXT",
                "FETCH: expected ] after the section",
            ),
            (
                b"a FETCH 1 BODY[]<1>",
                "FETCH: expected . in <origin.count>",
            ),
            (
                b"a FETCH 1 BODY[]<1.0>",
                "FETCH: a partial length: 0 is not allowed",
            ),
            (
                b"a FETCH 1 BODY[]<4294967296.1>",
                "FETCH: a partial origin: number too large",
            ),
            (
                b"a FETCH 1 BODY.PEEK",
                "FETCH: BODY.PEEK needs a section in []",
            ),
            (
                b"a FETCH 1 BINARY[TEXT]",
                "FETCH: expected a part number at TEXT]",
            ),
            (
                b"a FETCH 1 FLAGS (VANISHED)",
                "FETCH: VANISHED needs UID FETCH and CHANGEDSINCE",
            ),
            (
                b"a UID FETCH 1 FLAGS (VANISHED)",
                "UID FETCH: VANISHED needs UID FETCH and CHANGEDSINCE",
            ),
            (
                b"a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
                "FETCH: unknown modifier CHANGEDSINCE",
            ),
            (
                b"a FETCH 1 FLAGS ()",
                "FETCH: empty list of FETCH modifiers",
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
