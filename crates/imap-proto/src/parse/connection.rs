//! Commands about the connection and the login: ID, ENABLE, LOGIN,
//! AUTHENTICATE, COMPRESS.

use super::{is_astring_char, text, Lexer, Res};
use crate::types::Command;

/// RFC 2971 §3.1: `ID SP id-params-list`, `id-params-list = "(" *(string
/// SP nstring) ")" / nil`. imaptest sends a ~30 KB list; nothing caps it
/// but the framer's line limit.
pub(super) fn id(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    if p.keyword("NIL") {
        p.end()?;
        return Ok(Command::Id(None));
    }
    let pairs = p.list(false, "ID fields", |p| {
        let k = p.string("a field name")?;
        p.sp()?;
        let v = p.nstring("a field value")?;
        Ok((text(&k), v.as_deref().map(text)))
    })?;
    p.end()?;
    Ok(Command::Id(Some(pairs)))
}

/// RFC 5161 §3: `ENABLE 1*(SP capability)`; capabilities are atoms,
/// upper-cased here (they are case-insensitive).
pub(super) fn enable(p: &mut Lexer<'_>) -> Res<Command> {
    let mut caps = Vec::new();
    loop {
        p.sp()?;
        caps.push(text(&p.atom("a capability")?.to_ascii_uppercase()));
        if p.at_end() {
            return Ok(Command::Enable(caps));
        }
    }
}

/// RFC 9051 §6.2.3: `LOGIN SP userid SP password`, both astrings.
pub(super) fn login(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let user = login_word(p, "a user name")?;
    p.sp()?;
    let password = login_word(p, "a password")?;
    p.end()?;
    Ok(Command::Login { user, password })
}

/// An astring, leniently: clients (Python's imaplib among them) send the
/// `local%domain` login of R-ADDR-1 unquoted, though `%` and `*` are not
/// ATOM-CHARs (RFC 9051 §9 list-wildcards); Dovecot takes them too.
fn login_word(p: &mut Lexer<'_>, what: &str) -> Res<Vec<u8>> {
    match p.peek() {
        Some(b'"' | b'{' | b'~') => p.astring(what),
        _ => {
            let a = p.take_while(|c| is_astring_char(c) || c == b'%' || c == b'*');
            if a.is_empty() {
                return Err(p.expected(what));
            }
            Ok(a.to_vec())
        }
    }
}

/// RFC 9051 §6.2.2, RFC 4959: `AUTHENTICATE SP auth-type [SP
/// initial-resp]`, `initial-resp = base64 / "="`. The mechanism is
/// upper-cased (SASL names are case-insensitive); the initial response
/// is kept as sent, for the SASL layer to decode.
pub(super) fn authenticate(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let mechanism = text(&p.atom("a SASL mechanism")?.to_ascii_uppercase());
    let initial = if p.at_end() {
        None
    } else {
        p.sp()?;
        let r = p.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
        if r.is_empty() {
            return Err(p.expected("a base64 initial response"));
        }
        Some(r.to_vec())
    };
    p.end()?;
    Ok(Command::Authenticate { mechanism, initial })
}

/// RFC 4978 §3: `COMPRESS SP algorithm`; the session refuses all but
/// DEFLATE.
pub(super) fn compress(p: &mut Lexer<'_>) -> Res<Command> {
    p.sp()?;
    let alg = text(&p.atom("a compression algorithm")?.to_ascii_uppercase());
    p.end()?;
    Ok(Command::Compress(alg))
}

#[cfg(test)]
mod tests {
    use crate::parse::tests::{bad, ok};
    use crate::types::Command::*;

    #[test]
    fn connection_commands() {
        assert_eq!(ok(b"a ID NIL"), Id(None));
        assert_eq!(ok(b"a id ()"), Id(Some(vec![])));
        assert_eq!(
            ok(b"a ID (\"name\" \"x\\\"y\" \"version\" NIL)"),
            Id(Some(vec![
                ("name".into(), Some("x\"y".into())),
                ("version".into(), None)
            ]))
        );
        assert_eq!(
            ok(b"a ID ({4}\r\nname {2}\r\nab)"),
            Id(Some(vec![("name".into(), Some("ab".into()))]))
        );
        assert_eq!(
            ok(b"a ENABLE condstore UTF8=ACCEPT"),
            Enable(vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()])
        );
        // R-ADDR-1 logins as imaplib sends them, unquoted.
        assert_eq!(
            ok(b"a LOGIN alice%example.test pw*"),
            Login {
                user: b"alice%example.test".to_vec(),
                password: b"pw*".to_vec()
            }
        );
        assert_eq!(
            ok(b"a LOGIN alice \"p w\\\\\""),
            Login {
                user: b"alice".to_vec(),
                password: b"p w\\".to_vec()
            }
        );
        assert_eq!(
            ok(b"a login {5}\r\nalice {3+}\r\n\"x)"),
            Login {
                user: b"alice".to_vec(),
                password: b"\"x)".to_vec()
            }
        );
        assert_eq!(
            ok(b"a AUTHENTICATE plain"),
            Authenticate {
                mechanism: "PLAIN".into(),
                initial: None
            }
        );
        assert_eq!(
            ok(b"a AUTHENTICATE PLAIN AGFsaWNlAHB3=="),
            Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some(b"AGFsaWNlAHB3==".to_vec())
            }
        );
        assert_eq!(
            ok(b"a AUTHENTICATE EXTERNAL ="),
            Authenticate {
                mechanism: "EXTERNAL".into(),
                initial: Some(b"=".to_vec())
            }
        );
        assert_eq!(ok(b"a COMPRESS deflate"), Compress("DEFLATE".into()));
    }

    #[test]
    fn a_long_id_list() {
        let mut s = b"a ID (".to_vec();
        for i in 0..1000 {
            s.extend(format!("\"key{i}\" \"value {i} padded out to thirty\" ").as_bytes());
        }
        s.extend(b"\"last\" NIL)");
        let Id(Some(v)) = ok(&s) else { panic!() };
        assert_eq!(v.len(), 1001);
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (&b"a ID"[..], "ID: missing arguments"),
            (b"a ID (\"x\")", "ID: expected a space before )"),
            (
                b"a ID (\"x\" \"y\"",
                "ID: expected a space or \")\" in the list of ID fields",
            ),
            (b"a ID (x y)", "ID: expected a field name at x y)"),
            (b"a ENABLE", "ENABLE: missing arguments"),
            (b"a LOGIN alice", "LOGIN: missing arguments"),
            (b"a LOGIN alice pw extra", "LOGIN: unexpected  extra"),
            (b"a LOGIN alice \"pw", "LOGIN: unterminated quoted string"),
            (
                b"a LOGIN alice \"p\\w\"",
                "LOGIN: bad escape in a quoted string",
            ),
            (
                b"a LOGIN alice ~{2}\r\npw",
                "LOGIN: literal8 not allowed here",
            ),
            (b"a AUTHENTICATE PLAIN a b", "AUTHENTICATE: unexpected  b"),
            (
                b"a AUTHENTICATE PLAIN !",
                "AUTHENTICATE: expected a base64 initial response at !",
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
