//! Mailbox names: the client's bytes → our stored form, and back.
//!
//! We store a folder name as UTF-8 with `/` as the hierarchy delimiter,
//! and INBOX as exactly `INBOX`. On the wire a name is modified UTF-7
//! (RFC 9051 §5.1.3, [`crate::utf7`]) unless the client enabled
//! UTF8=ACCEPT, when it is plain UTF-8 (RFC 6855 §3).
//!
//! [`decode`] is for names that name one folder (SELECT, CREATE, RENAME,
//! SUBSCRIBE, APPEND, …): it refuses what we would not store.
//! [`decode_pattern`] is for LIST/LSUB references and patterns, which may
//! hold the wildcards `%` and `*` and are only matched, never stored
//! (see [`crate::list`]).

use std::fmt;

use crate::utf7;

/// The hierarchy delimiter of every name we store.
pub const DELIMITER: char = '/';

/// Deepest hierarchy we accept: a limit we choose, generous for imported
/// trees, that bounds any walk over a name's levels.
pub const MAX_LEVELS: usize = 255;

/// Longest name we accept, in bytes of UTF-8: a limit we choose, which
/// keeps every response line that carries a name short.
pub const MAX_BYTES: usize = 1000;

/// Why a mailbox name is refused; the text is a short, safe reason for a
/// `NO` or `BAD` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameError(pub &'static str);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NameError {}

/// A client's mailbox name (the astring's bytes) → our form.
///
/// `utf8` says whether UTF8=ACCEPT is enabled (RFC 6855 §3): then the
/// name is UTF-8, else modified UTF-7. The result is validated and
/// normalised: `INBOX` in any case, as the whole name or its first level,
/// becomes `INBOX` (RFC 9051 §5.1); one trailing delimiter is dropped
/// (RFC 9051 §6.3.4: `CREATE a/` creates `a`).
pub fn decode(raw: &[u8], utf8: bool) -> Result<String, NameError> {
    let mut name = decode_text(raw, utf8)?;
    if name.is_empty() {
        return Err(NameError("mailbox names may not be empty"));
    }
    // RFC 9051 §6.3.4: a trailing delimiter only says the client means to
    // create children; the name is the one without it.
    if name.ends_with(DELIMITER) {
        name.pop();
        if name.is_empty() {
            return Err(NameError("the mailbox name \"/\" is not valid"));
        }
    }
    // RFC 6855 §3 holds UTF-8 names to Net-Unicode (RFC 5198 §2), which
    // has no control characters (C0, DEL, C1); we hold mUTF-7 names to the
    // same, so that one name has one set of rules whatever the encoding.
    if name.chars().any(char::is_control) {
        return Err(NameError(
            "mailbox names may not contain control characters",
        ));
    }
    // A name with a wildcard could never be listed back by its own name
    // (RFC 9051 §6.3.9 reads them as wildcards); Dovecot refuses them too.
    if name.contains(['%', '*']) {
        return Err(NameError("mailbox names may not contain % or *"));
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(NameError(
            "mailbox names may not have empty levels (\"//\" or a leading \"/\")",
        ));
    }
    if name.split(DELIMITER).count() > MAX_LEVELS {
        return Err(NameError("mailbox name has too many levels"));
    }
    if name.len() > MAX_BYTES {
        return Err(NameError("mailbox name is too long"));
    }
    // RFC 9051 §5.1: "INBOX" is case-insensitive, and so is it as the
    // first level of a name ("inbox/x" is "INBOX/x"); everything else is
    // case-sensitive.
    let first = name.split(DELIMITER).next().unwrap_or_default();
    if first.eq_ignore_ascii_case("INBOX") {
        name.replace_range(..first.len(), "INBOX");
    }
    Ok(name)
}

/// A LIST/LSUB reference or pattern → text, for [`crate::list`]: only the
/// encoding is checked (modified UTF-7, or UTF-8 with UTF8=ACCEPT), since
/// wildcards are allowed and a pattern is matched, not stored. Case is
/// left alone: [`crate::list::pattern_matches`] treats a leading INBOX.
pub fn decode_pattern(raw: &[u8], utf8: bool) -> Result<String, NameError> {
    decode_text(raw, utf8)
}

fn decode_text(raw: &[u8], utf8: bool) -> Result<String, NameError> {
    if utf8 {
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(NameError("mailbox name is not valid UTF-8")),
        }
    } else {
        utf7::decode(raw).ok_or(NameError("mailbox name is not valid modified UTF-7"))
    }
}

/// Our name → its bytes on the wire (modified UTF-7 unless `utf8`, RFC
/// 6855 §3); the caller quotes it with [`crate::write::astring`] (or
/// `string`).
pub fn encode(name: &str, utf8: bool) -> Vec<u8> {
    if utf8 {
        name.as_bytes().to_vec()
    } else {
        utf7::encode(name).into_bytes()
    }
}

/// The name one level up: `a/b/c` → `a/b`; `None` for a top-level name.
pub fn parent(name: &str) -> Option<&str> {
    name.rsplit_once(DELIMITER).map(|(p, _)| p)
}

/// Whether `name` is strictly below `ancestor` in the hierarchy: `a/b`
/// and `a/b/c` are within `a`; `ab` is not, nor is `a` itself.
pub fn is_within(name: &str, ancestor: &str) -> bool {
    name.len() > ancestor.len()
        && name.starts_with(ancestor)
        && name.as_bytes()[ancestor.len()] == b'/'
}

/// The proper ancestors of a name, nearest last: `a/b/c` → `a`, `a/b`.
pub fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_normalises() {
        for (raw, utf8, want) in [
            (&b"INBOX"[..], false, "INBOX"),
            (b"inbox", false, "INBOX"),
            (b"InBoX", true, "INBOX"),
            (b"inbox/x", false, "INBOX/x"),
            (b"Inbox/inbox", false, "INBOX/inbox"),
            (b"inboxes", false, "inboxes"),
            (b"x/inbox", false, "x/inbox"),
            (b"Sent", false, "Sent"),
            (b"a/", false, "a"), // RFC 9051 §6.3.4
            (b"a/b/", false, "a/b"),
            (b"inbox/", false, "INBOX"),
            (b"a b/c.d", false, "a b/c.d"),
            (
                b"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
                false,
                "~peter/mail/台北/日本語",
            ),
            (b"imaptest/p&AOQA5A-", false, "imaptest/pää"), // imaptest mutf7
            (b"Entw&APw-rfe", false, "Entwürfe"),
            ("Entwürfe".as_bytes(), true, "Entwürfe"),
            // With UTF8=ACCEPT "&" is only an ampersand (RFC 6855 §3).
            (b"a&AOQ-", true, "a&AOQ-"),
            (b"a&-b", false, "a&b"),
        ] {
            assert_eq!(
                decode(raw, utf8).as_deref(),
                Ok(want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn refuses() {
        let deep = "a/".repeat(MAX_LEVELS) + "a";
        let long = "a".repeat(MAX_BYTES + 1);
        for (raw, utf8, why) in [
            (&b""[..], false, "mailbox names may not be empty"),
            (b"/", false, "the mailbox name \"/\" is not valid"),
            (
                b"a//b",
                false,
                "mailbox names may not have empty levels (\"//\" or a leading \"/\")",
            ),
            (
                b"/a",
                false,
                "mailbox names may not have empty levels (\"//\" or a leading \"/\")",
            ),
            (
                b"a//",
                false,
                "mailbox names may not have empty levels (\"//\" or a leading \"/\")",
            ),
            (
                b"a\tb",
                true,
                "mailbox names may not contain control characters",
            ),
            (
                b"a\x7f",
                true,
                "mailbox names may not contain control characters",
            ),
            (
                b"&AAk-",
                false,
                "mailbox names may not contain control characters",
            ),
            (
                "a\u{85}".as_bytes(),
                true,
                "mailbox names may not contain control characters",
            ),
            (b"a%", false, "mailbox names may not contain % or *"),
            (b"*", true, "mailbox names may not contain % or *"),
            (
                b"&U,BTFw",
                false,
                "mailbox name is not valid modified UTF-7",
            ),
            (
                "台北".as_bytes(),
                false,
                "mailbox name is not valid modified UTF-7",
            ),
            (b"\xff", true, "mailbox name is not valid UTF-8"),
            (deep.as_bytes(), false, "mailbox name has too many levels"),
            (long.as_bytes(), false, "mailbox name is too long"),
        ] {
            assert_eq!(
                decode(raw, utf8),
                Err(NameError(why)),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        // Just inside the limits.
        let deep = "a/".repeat(MAX_LEVELS - 1) + "a";
        assert_eq!(decode(deep.as_bytes(), false).as_deref(), Ok(&*deep));
        let long = "a".repeat(MAX_BYTES);
        assert_eq!(decode(long.as_bytes(), false).as_deref(), Ok(&*long));
    }

    #[test]
    fn patterns() {
        assert_eq!(decode_pattern(b"", false).as_deref(), Ok(""));
        assert_eq!(decode_pattern(b"inbox/%", false).as_deref(), Ok("inbox/%"));
        assert_eq!(
            decode_pattern(b"*p&AOQA5A-*", false).as_deref(),
            Ok("*pää*")
        );
        assert_eq!(decode_pattern("*ä".as_bytes(), true).as_deref(), Ok("*ä"));
        assert!(decode_pattern(b"&", false).is_err());
        assert!(decode_pattern(b"\xc3", true).is_err());
    }

    #[test]
    fn encodes() {
        for (name, utf8, wire) in [
            ("INBOX", false, &b"INBOX"[..]),
            ("imaptest/pää", false, b"imaptest/p&AOQA5A-"),
            ("imaptest/pää", true, "imaptest/pää".as_bytes()),
            ("a&b", false, b"a&-b"),
            ("a&b", true, b"a&b"),
        ] {
            assert_eq!(encode(name, utf8), wire, "{name}");
            assert_eq!(decode(wire, utf8).as_deref(), Ok(name));
        }
    }

    #[test]
    fn hierarchy() {
        assert_eq!(parent("a/b/c"), Some("a/b"));
        assert_eq!(parent("a/b"), Some("a"));
        assert_eq!(parent("a"), None);
        assert!(is_within("a/b", "a"));
        assert!(is_within("a/b/c", "a"));
        assert!(is_within("a/b/c", "a/b"));
        assert!(!is_within("ab", "a"));
        assert!(!is_within("a", "a"));
        assert!(!is_within("a", "a/b"));
        assert!(!is_within("b/a", "a"));
        assert!(is_within("INBOX/x", "INBOX"));
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
