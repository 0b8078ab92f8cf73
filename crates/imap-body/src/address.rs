//! Address lists (RFC 5322 §3.4, with the obsolete forms of §4.4) as the
//! IMAP ENVELOPE shows them (RFC 9051 §7.5.2): `(name adl mailbox host)`,
//! a group as `(NIL NIL "group" NIL)` ... `(NIL NIL NIL NIL)`.
//!
//! Values stay raw: display names keep their encoded-words, quoted
//! strings lose their quotes, local parts keep theirs (so `mailbox@host`
//! is the address again). As in Dovecot, a comment stands in for a
//! missing display name (`user@host (Real Name)`), and a missing mailbox
//! or host is shown as `MISSING_MAILBOX` / `MISSING_DOMAIN`, since a NIL
//! host would mean a group.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Mailbox {
        name: Option<Vec<u8>>,
        adl: Option<Vec<u8>>,
        mailbox: Vec<u8>,
        host: Vec<u8>,
    },
    GroupStart(Vec<u8>),
    GroupEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom,
    Quoted,
    Comment,
    Literal,
    Special(u8),
}

#[derive(Debug)]
struct Token<'a> {
    kind: Kind,
    /// As in the header (quotes, brackets included; for a comment the text
    /// inside the outer parentheses).
    raw: &'a [u8],
    /// Whether blanks or a comment came before it.
    space: bool,
}

fn tokens(v: &[u8]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < v.len() {
        let b = v[i];
        let start = i;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                space = true;
                i += 1;
                continue;
            }
            b'"' => {
                i += 1;
                while i < v.len() && v[i] != b'"' {
                    i += if v[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(v.len());
                out.push(Token {
                    kind: Kind::Quoted,
                    raw: &v[start..i],
                    space,
                });
            }
            b'(' => {
                let mut depth = 0usize;
                while i < v.len() {
                    match v[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let end = i.min(v.len());
                i = (i + 1).min(v.len());
                out.push(Token {
                    kind: Kind::Comment,
                    raw: &v[start + 1..end.max(start + 1)],
                    space,
                });
                space = true;
                continue;
            }
            b'[' => {
                while i < v.len() && v[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(v.len());
                out.push(Token {
                    kind: Kind::Literal,
                    raw: &v[start..i],
                    space,
                });
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' | b'\\' | b']' | b')' => {
                i += 1;
                out.push(Token {
                    kind: Kind::Special(b),
                    raw: &v[start..i],
                    space,
                });
            }
            _ => {
                while i < v.len() && !b" \t\r\n\"()[]<>@,;:.\\".contains(&v[i]) {
                    i += 1;
                }
                out.push(Token {
                    kind: Kind::Atom,
                    raw: &v[start..i],
                    space,
                });
            }
        }
        space = false;
    }
    out
}

/// A quoted string's content, quotes and backslashes removed.
fn unquote(raw: &[u8]) -> Vec<u8> {
    let inner = raw.strip_prefix(b"\"").unwrap_or(raw);
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    let mut out = Vec::with_capacity(inner.len());
    let mut esc = false;
    for &b in inner {
        if !esc && b == b'\\' {
            esc = true;
            continue;
        }
        esc = false;
        out.push(b);
    }
    out
}

/// A display name: words joined by one space where the header had blanks.
fn phrase(ts: &[&Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in ts {
        if t.space && !out.is_empty() {
            out.push(b' ');
        }
        match t.kind {
            Kind::Quoted => out.extend(unquote(t.raw)),
            _ => out.extend_from_slice(t.raw),
        }
    }
    out
}

/// A local part or domain: the tokens as written, without blanks.
fn joined(ts: &[&Token]) -> Vec<u8> {
    ts.iter().flat_map(|t| t.raw.iter().copied()).collect()
}

fn missing(v: Vec<u8>, what: &[u8]) -> Vec<u8> {
    if v.is_empty() {
        what.to_vec()
    } else {
        v
    }
}

/// Parses an unfolded address-list value. Never fails: what cannot be
/// read is skipped, up to the next comma.
pub(crate) fn parse(value: &[u8]) -> Vec<Item> {
    let toks = tokens(value);
    let mut out = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() {
        // A display name, local part or group name, up to a special.
        let mut words: Vec<&Token> = Vec::new();
        let mut comment: Option<&[u8]> = None;
        while let Some(t) = toks.get(i) {
            match t.kind {
                Kind::Atom | Kind::Quoted | Kind::Special(b'.') => words.push(t),
                Kind::Comment => {
                    comment.get_or_insert(t.raw);
                }
                _ => break,
            }
            i += 1;
        }
        let Some(t) = toks.get(i) else {
            if !words.is_empty() {
                out.push(bare(joined(&words), Vec::new(), comment));
            }
            break;
        };
        i += 1;
        match t.kind {
            Kind::Special(b':') if !in_group => {
                in_group = true;
                out.push(Item::GroupStart(phrase(&words)));
            }
            Kind::Special(b';') => {
                if !words.is_empty() {
                    out.push(bare(joined(&words), Vec::new(), comment));
                }
                if in_group {
                    in_group = false;
                    out.push(Item::GroupEnd);
                }
            }
            Kind::Special(b',') if !words.is_empty() => {
                out.push(bare(joined(&words), Vec::new(), comment));
            }
            Kind::Special(b'<') => {
                // `<[@route,@route:]local@domain>` (RFC 5322 §4.4 obs-route).
                let close = toks[i..]
                    .iter()
                    .position(|t| t.kind == Kind::Special(b'>'))
                    .map_or(toks.len(), |p| i + p);
                let inner: Vec<&Token> = toks[i..close]
                    .iter()
                    .filter(|t| t.kind != Kind::Comment)
                    .collect();
                i = (close + 1).min(toks.len());
                let (adl, spec) = match inner.iter().rposition(|t| t.kind == Kind::Special(b':')) {
                    Some(c) if inner.first().is_some_and(|t| t.kind == Kind::Special(b'@')) => {
                        (Some(joined(&inner[..c])), &inner[c + 1..])
                    }
                    _ => (None, &inner[..]),
                };
                let (local, domain) = match spec.iter().rposition(|t| t.kind == Kind::Special(b'@'))
                {
                    Some(at) => (joined(&spec[..at]), joined(&spec[at + 1..])),
                    None => (joined(spec), Vec::new()),
                };
                let name = if words.is_empty() {
                    None
                } else {
                    Some(phrase(&words))
                };
                if local.is_empty() && domain.is_empty() && name.is_none() {
                    // `<>`: no address at all.
                    continue;
                }
                out.push(Item::Mailbox {
                    name,
                    adl,
                    mailbox: missing(local, b"MISSING_MAILBOX"),
                    host: missing(domain, b"MISSING_DOMAIN"),
                });
            }
            Kind::Special(b'@') => {
                let mut domain: Vec<&Token> = Vec::new();
                while let Some(t) = toks.get(i) {
                    match t.kind {
                        Kind::Atom | Kind::Literal | Kind::Special(b'.') => domain.push(t),
                        Kind::Comment => {
                            comment.get_or_insert(t.raw);
                        }
                        _ => break,
                    }
                    i += 1;
                }
                out.push(bare(joined(&words), joined(&domain), comment));
            }
            // Stray `>`, `]`, `:` inside a group and the like: skipped.
            _ => {}
        }
    }
    if in_group {
        out.push(Item::GroupEnd);
    }
    out
}

/// An addr-spec without angle brackets; its comment, if any, is the name.
fn bare(local: Vec<u8>, domain: Vec<u8>, comment: Option<&[u8]>) -> Item {
    Item::Mailbox {
        name: comment
            .map(|c| crate::header::trim(c).to_vec())
            .filter(|c| !c.is_empty()),
        adl: None,
        mailbox: missing(local, b"MISSING_MAILBOX"),
        host: missing(domain, b"MISSING_DOMAIN"),
    }
}

/// Writes an address list, or NIL when there is no address in it.
pub(crate) fn write(out: &mut Vec<u8>, items: &[Item]) {
    use mailhost_imap_proto::write::nstring;
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for item in items {
        out.push(b'(');
        match item {
            Item::Mailbox {
                name,
                adl,
                mailbox,
                host,
            } => {
                nstring(out, name.as_deref(), false);
                out.push(b' ');
                nstring(out, adl.as_deref(), false);
                out.push(b' ');
                nstring(out, Some(mailbox), false);
                out.push(b' ');
                nstring(out, Some(host), false);
            }
            Item::GroupStart(name) => {
                out.extend_from_slice(b"NIL NIL ");
                nstring(out, Some(name), false);
                out.extend_from_slice(b" NIL");
            }
            Item::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &str) -> String {
        let mut out = Vec::new();
        write(&mut out, &parse(v.as_bytes()));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(
            w("From Real <fromuser@fromdomain.org>"),
            r#"(("From Real" NIL "fromuser" "fromdomain.org"))"#
        );
        assert_eq!(w("\"Doe, John\" <j@d>"), r#"(("Doe, John" NIL "j" "d"))"#);
        assert_eq!(
            w("John Q. Public <jqp@x>"),
            r#"(("John Q. Public" NIL "jqp" "x"))"#
        );
        assert_eq!(
            w("user@domain (Real Name)"),
            r#"(("Real Name" NIL "user" "domain"))"#
        );
        assert_eq!(
            w("<@route:user@domain>"),
            r#"((NIL "@route" "user" "domain"))"#
        );
        assert_eq!(w("<@a,@b:u@d>"), r#"((NIL "@a,@b" "u" "d"))"#);
        assert_eq!(w("\"a b\"@x"), r#"((NIL NIL "\"a b\"" "x"))"#);
        assert_eq!(w("<u (c)@ (c) d.org>"), r#"((NIL NIL "u" "d.org"))"#);
        assert_eq!(
            w("=?utf-8?q?J=C3=B6rg?= <j@x>"),
            r#"(("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x"))"#
        );
        assert_eq!(w("user"), r#"((NIL NIL "user" "MISSING_DOMAIN"))"#);
        assert_eq!(w("u@[1.2.3.4]"), r#"((NIL NIL "u" "[1.2.3.4]"))"#);
        assert_eq!(w(""), "NIL");
        assert_eq!(w("<>"), "NIL");
        assert_eq!(w("a@b, c@d"), r#"((NIL NIL "a" "b")(NIL NIL "c" "d"))"#);
    }

    #[test]
    fn groups() {
        assert_eq!(
            w("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;"),
            r#"((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))"#
        );
        assert_eq!(
            w("group:;, group2: (foo) ;"),
            r#"((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL))"#
        );
        assert_eq!(
            w("undisclosed-recipients:"),
            r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for v in [
            "(", "\"", "[", "<", ">", "@", ":;:;", "((a)", "\\", "a@", "@b", "<@:>", "a <b@c",
            "\"\\",
        ] {
            let _ = w(v);
        }
    }
}
