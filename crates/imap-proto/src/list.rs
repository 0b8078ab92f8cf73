//! The answer to LIST and LSUB, as data: which names, with which
//! attributes. Pure: the session gives the account's folders and
//! subscriptions (our names, [`crate::names`]) and the decoded reference
//! and patterns ([`crate::names::decode_pattern`]), and writes each
//! [`Entry`] as `* LIST (attrs) "/" name` — adding `("CHILDINFO"
//! ("SUBSCRIBED"))` when [`Entry::child_subscribed`], and the STATUS of
//! RFC 5819 for entries that are neither `\NonExistent` nor `\Noselect`.
//!
//! Rules and their sources:
//! - pattern matching, reference joining, the empty pattern and the `%`
//!   hierarchy levels: RFC 9051 §6.3.9, RFC 3501 §6.3.8;
//! - selection and return options, `\NonExistent`, CHILDINFO: RFC 5258
//!   §3 (LIST-EXTENDED), with `\HasChildren`/`\HasNoChildren` (RFC 5258
//!   §4, RFC 3348) always given, since they are cheap and IMAP4rev2 has
//!   the CHILDREN return option in its base LIST (RFC 9051 §6.3.9);
//! - special-use attributes and `SELECT (SPECIAL-USE)`: RFC 6154 §2, §3;
//! - LSUB: RFC 3501 §6.3.9.
//!
//! `\Marked`/`\Unmarked` are never given (RFC 9051 §7.3.1 makes them
//! optional), nor `\NoInferiors` (every folder may have children).
//!
//! Our folders exist or not: there are no stored placeholders, so a
//! missing level above an existing folder ("a" when only "a/b" exists) is
//! reported as `\Noselect` (plain LIST) or `\NonExistent` (LIST-EXTENDED).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::names::{ancestors, DELIMITER};
use crate::types::{ListReturn, ListSelect};

/// One existing folder of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderInfo<'a> {
    /// Our form of the name ([`crate::names::decode`]).
    pub name: &'a str,
    /// Its RFC 6154 special use, as the attribute: `\Sent`, `\Trash`, ….
    pub special: Option<&'a str>,
}

/// One line of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Our form; the caller encodes it ([`crate::names::encode`]).
    pub name: String,
    /// Name attributes, each with its backslash (`\HasChildren`).
    pub attrs: Vec<String>,
    /// RFC 5258 §3.5 RECURSIVEMATCH: the name has a subscribed
    /// descendant that no pattern matches; the caller writes
    /// `("CHILDINFO" ("SUBSCRIBED"))` after the name.
    pub child_subscribed: bool,
}

const NONEXISTENT: &str = "\\NonExistent";
const NOSELECT: &str = "\\Noselect";
const SUBSCRIBED: &str = "\\Subscribed";
const HAS_CHILDREN: &str = "\\HasChildren";
const HAS_NO_CHILDREN: &str = "\\HasNoChildren";

/// Whether a canonical LIST pattern (reference already joined) matches a
/// name, both in our form (RFC 9051 §6.3.9): `*` matches anything, `%`
/// anything but the delimiter, every other character itself,
/// case-sensitively — except that the letters of a leading INBOX level
/// match in any case, since INBOX is case-insensitive (RFC 9051 §5.1) and
/// a client may write `inbox/%`.
///
/// Time is O(pattern × name), whatever the wildcards: the set of name
/// positions the pattern read so far can reach is kept, one pattern
/// character at a time, instead of backtracking (which is exponential in
/// the number of stars).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let n = name.as_bytes();
    // The bytes of `name` compared without case: INBOX as the first level.
    let fold = if name == "INBOX" || name.starts_with("INBOX/") {
        5
    } else {
        0
    };
    let same = |i: usize, c: u8| {
        if i < fold {
            n[i].eq_ignore_ascii_case(&c)
        } else {
            n[i] == c
        }
    };
    // reach[j]: the pattern read so far matches exactly name[..j]. Bytes
    // are enough: `/`, `%` and `*` are ASCII and never inside a UTF-8
    // sequence, and equal bytes are equal text.
    let mut reach = vec![false; n.len() + 1];
    let mut next = vec![false; n.len() + 1];
    reach[0] = true;
    for &c in pattern.as_bytes() {
        match c {
            b'*' => {
                let mut any = false;
                for (r, x) in reach.iter().zip(next.iter_mut()) {
                    any |= *r;
                    *x = any;
                }
            }
            b'%' => {
                next[0] = reach[0];
                for j in 1..=n.len() {
                    next[j] = reach[j] || (next[j - 1] && n[j - 1] != b'/');
                }
            }
            c => {
                next[0] = false;
                for j in 1..=n.len() {
                    next[j] = reach[j - 1] && same(j - 1, c);
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[n.len()]
}

/// Reference and pattern → the canonical pattern. RFC 9051 §6.3.9 leaves
/// the joining to the implementation; like Dovecot we append the pattern
/// to the reference as they are (`a/` + `b%` → `a/b%`; `a` + `b` → `ab`).
/// RFC 3501 §6.3.8's absolute names (`/usr/doc/foo` ignoring the
/// reference) have no meaning in our namespace, which has no root.
fn join(reference: &str, pattern: &str) -> String {
    format!("{reference}{pattern}")
}

/// The answer to an empty pattern (RFC 3501 §6.3.8, RFC 9051 §6.3.9):
/// the delimiter (the caller writes it) and the root of the reference —
/// its first level with the delimiter (`a/b` → `a/`), or "" when it has
/// none, which the RFC allows for a namespace without roots.
fn root(reference: &str) -> Entry {
    let name = match reference.find(DELIMITER) {
        Some(i) => &reference[..=i],
        None => "",
    };
    Entry {
        name: name.to_owned(),
        attrs: vec![NOSELECT.to_owned()],
        child_subscribed: false,
    }
}

/// The order we answer in: INBOX and its children first (clients show
/// them first anyway), then by name level by level, so that a folder's
/// children follow it ("a", "a/b", "a b").
fn order(a: &str, b: &str) -> Ordering {
    let not_inbox = |s: &str| !(s == "INBOX" || s.starts_with("INBOX/"));
    not_inbox(a)
        .cmp(&not_inbox(b))
        .then_with(|| a.split(DELIMITER).cmp(b.split(DELIMITER)))
}

/// What we know of one name that might be answered.
#[derive(Default)]
struct Node<'a> {
    exists: bool,
    special: Option<&'a str>,
    /// Some existing folder is below it.
    has_children: bool,
    /// A pattern matches it; one with a wildcard does.
    matched: bool,
    matched_wild: bool,
}

/// The answer to LIST (RFC 9051 §6.3.9, RFC 5258, RFC 6154): `reference`
/// and `patterns` decoded ([`crate::names::decode_pattern`]), `select`
/// and `ret` as parsed. `folders` are the existing folders, `subscribed`
/// the subscription list (which may name folders that do not exist).
///
/// - `LIST "" ""` (plain form): one entry, the root of the reference.
/// - No selection option (or only REMOTE, which we have nothing for):
///   the existing folders a pattern matches, and the missing levels above
///   existing folders that a pattern with a wildcard matches (RFC 9051
///   §6.3.9 for `%`; Dovecot gives them for `*` too), as `\Noselect`, or
///   `\NonExistent` in the LIST-EXTENDED form (RFC 5258 §3: it implies
///   `\Noselect`). A pattern without wildcards names one folder: a
///   missing level is not answered for it (imaptest `listext` calls that
///   "non-optimal").
/// - `SUBSCRIBED` (RFC 5258 §3.1): the subscribed names a pattern
///   matches, existing or not (`\NonExistent`), with `\Subscribed`; with
///   `RECURSIVEMATCH` also the names that have a subscribed descendant no
///   pattern matches ([`Entry::child_subscribed`], RFC 5258 §3.5).
/// - `SPECIAL-USE` (RFC 6154 §3): only folders with a special use. With
///   `SUBSCRIBED` too, both must hold.
/// - `RETURN (SUBSCRIBED)` adds `\Subscribed`; `RETURN (CHILDREN)` and
///   `RETURN (SPECIAL-USE)` change nothing, their attributes are always
///   given; `RETURN (STATUS …)` is the caller's.
///
/// The form is LIST-EXTENDED when there are selection or return options
/// or several patterns (RFC 5258 §3); `LIST () "" %` cannot be told from
/// `LIST "" %` here, and is answered as the plain form.
pub fn list(
    folders: &[FolderInfo],
    subscribed: &[String],
    reference: &str,
    patterns: &[String],
    select: &[ListSelect],
    ret: &[ListReturn],
) -> Vec<Entry> {
    let extended = !select.is_empty() || !ret.is_empty() || patterns.len() > 1;
    if !extended && patterns.iter().all(String::is_empty) {
        return vec![root(reference)];
    }
    // The empty pattern is special in the plain form only ("\"\" isn't a
    // special case with LIST-EXTENDED", imaptest `listext`); in the
    // extended form it matches nothing, since no name is empty.
    let patterns: Vec<String> = patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| join(reference, p))
        .collect();
    let sel_subscribed = select.contains(&ListSelect::Subscribed);
    let sel_special = select.contains(&ListSelect::SpecialUse);
    // RFC 5258 §3.5 defines CHILDINFO for SUBSCRIBED only; with
    // SPECIAL-USE alone RECURSIVEMATCH has nothing to report.
    let recursive = sel_subscribed && select.contains(&ListSelect::RecursiveMatch);
    let show_subscribed = sel_subscribed || ret.contains(&ListReturn::Subscribed);
    let subscriptions: HashSet<&str> = subscribed.iter().map(String::as_str).collect();

    // Every name that might be answered: the folders, the levels above
    // them, and with SUBSCRIBED the subscriptions and the levels above.
    let mut nodes: BTreeMap<&str, Node> = BTreeMap::new();
    for f in folders {
        let node = nodes.entry(f.name).or_default();
        node.exists = true;
        node.special = f.special;
        for a in ancestors(f.name) {
            nodes.entry(a).or_default().has_children = true;
        }
    }
    if sel_subscribed {
        for &s in &subscriptions {
            nodes.entry(s).or_default();
            for a in ancestors(s) {
                nodes.entry(a).or_default();
            }
        }
    }
    for (name, node) in nodes.iter_mut() {
        for p in &patterns {
            if pattern_matches(p, name) {
                node.matched = true;
                node.matched_wild |= p.contains(['%', '*']);
            }
        }
    }

    // RFC 5258 §3.1: the selection criteria, all of which must hold.
    let satisfies = |name: &str, node: &Node| {
        (node.exists || sel_subscribed)
            && (!sel_subscribed || subscriptions.contains(name))
            && (!sel_special || (node.exists && node.special.is_some()))
    };
    // RFC 5258 §3.5: the names with a descendant that satisfies the
    // criteria and matches no pattern.
    let mut hidden_below: HashSet<&str> = HashSet::new();
    if recursive {
        for (&name, node) in &nodes {
            if !node.matched && satisfies(name, node) {
                hidden_below.extend(ancestors(name));
            }
        }
    }

    let mut out = Vec::new();
    for (&name, node) in &nodes {
        if !node.matched {
            continue;
        }
        let child_subscribed = hidden_below.contains(name);
        // RFC 9051 §6.3.9: a level of hierarchy that is not a mailbox.
        let missing_level = !node.exists
            && node.has_children
            && !sel_subscribed
            && !sel_special
            && node.matched_wild;
        if !(satisfies(name, node) || child_subscribed || missing_level) {
            continue;
        }
        let mut attrs = Vec::new();
        if !node.exists {
            attrs.push(if extended { NONEXISTENT } else { NOSELECT });
        }
        if show_subscribed && subscriptions.contains(name) {
            attrs.push(SUBSCRIBED);
        }
        // A name that does not exist and has nothing below has no
        // children to speak of (RFC 5258's examples give it none).
        if node.has_children {
            attrs.push(HAS_CHILDREN);
        } else if node.exists {
            attrs.push(HAS_NO_CHILDREN);
        }
        if node.exists {
            attrs.extend(node.special);
        }
        out.push(Entry {
            name: name.to_owned(),
            attrs: attrs.into_iter().map(str::to_owned).collect(),
            child_subscribed,
        });
    }
    out.sort_by(|a, b| order(&a.name, &b.name));
    out
}

/// The answer to LSUB (RFC 3501 §6.3.9): the subscribed names the
/// pattern matches, and — the "%" rule — the names above a subscribed
/// name that the pattern does not match, with `\Noselect` ("foo" for a
/// subscribed "foo/bar" and `LSUB "" %`). That is LIST (SUBSCRIBED
/// RECURSIVEMATCH) in IMAP4rev1 words, as Dovecot does it.
///
/// A subscribed name with no folder is given `\Noselect` too: it cannot
/// be selected (RFC 3501 §7.2.2), and the client learns so without a LIST.
/// No children attributes: LSUB never had them.
pub fn lsub(
    folders: &[FolderInfo],
    subscribed: &[String],
    reference: &str,
    pattern: &str,
) -> Vec<Entry> {
    // RFC 3501 leaves `LSUB "" ""` undefined; answer it as LIST does, as
    // Dovecot does, for clients that ask either for the delimiter.
    if pattern.is_empty() {
        return vec![root(reference)];
    }
    let pattern = join(reference, pattern);
    let exists: HashSet<&str> = folders.iter().map(|f| f.name).collect();
    let subscriptions: BTreeSet<&str> = subscribed.iter().map(String::as_str).collect();
    let mut above: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for &s in &subscriptions {
        if pattern_matches(&pattern, s) {
            let attrs = if exists.contains(s) {
                vec![]
            } else {
                vec![NOSELECT.to_owned()]
            };
            out.push(Entry {
                name: s.to_owned(),
                attrs,
                child_subscribed: false,
            });
        } else {
            above.extend(ancestors(s));
        }
    }
    for a in above {
        if !subscriptions.contains(a) && pattern_matches(&pattern, a) {
            out.push(Entry {
                name: a.to_owned(),
                attrs: vec![NOSELECT.to_owned()],
                child_subscribed: false,
            });
        }
    }
    out.sort_by(|a, b| order(&a.name, &b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;
    use std::time::{Duration, Instant};
    use ListReturn as R;
    use ListSelect as S;

    /// An account as the store would hold it.
    struct Account {
        folders: Vec<(String, Option<&'static str>)>,
        subscribed: Vec<String>,
        /// Whether CREATE also creates the missing levels above (RFC
        /// 9051 §6.3.4 SHOULD); the answers must pass imaptest either way.
        create_parents: bool,
    }

    impl Account {
        /// INBOX and our default folders.
        fn new() -> Self {
            let folders = [
                ("INBOX", None),
                ("Sent", Some("\\Sent")),
                ("Drafts", Some("\\Drafts")),
                ("Trash", Some("\\Trash")),
                ("Junk", Some("\\Junk")),
                ("Archive", Some("\\Archive")),
            ];
            Account {
                folders: folders.map(|(n, s)| (n.to_owned(), s)).to_vec(),
                subscribed: vec![],
                create_parents: false,
            }
        }

        /// Exactly these folders, no special use.
        fn with(names: &[&str]) -> Self {
            Account {
                folders: names.iter().map(|n| (n.to_string(), None)).collect(),
                subscribed: vec![],
                create_parents: false,
            }
        }

        fn name(raw: &str) -> String {
            names::decode(raw.as_bytes(), false).unwrap()
        }

        fn create(&mut self, raw: &str) {
            let name = Self::name(raw);
            let mut new: Vec<&str> = vec![&name];
            if self.create_parents {
                new.extend(names::ancestors(&name));
            }
            for n in new {
                if !self.folders.iter().any(|(f, _)| f == n) {
                    self.folders.push((n.to_owned(), None));
                }
            }
        }

        fn delete(&mut self, raw: &str) {
            let name = Self::name(raw);
            self.folders.retain(|(f, _)| *f != name);
        }

        fn subscribe(&mut self, raw: &str) {
            self.subscribed.push(Self::name(raw));
        }

        fn unsubscribe(&mut self, raw: &str) {
            let name = Self::name(raw);
            self.subscribed.retain(|s| *s != name);
        }

        fn infos(&self) -> Vec<FolderInfo<'_>> {
            self.folders
                .iter()
                .map(|(name, special)| FolderInfo {
                    name,
                    special: *special,
                })
                .collect()
        }

        /// LIST with the wire forms of reference and patterns (mUTF-7).
        fn list(&self, reference: &str, patterns: &[&str], select: &[S], ret: &[R]) -> Vec<Entry> {
            let dec = |p: &str| names::decode_pattern(p.as_bytes(), false).unwrap();
            let patterns: Vec<String> = patterns.iter().map(|p| dec(p)).collect();
            list(
                &self.infos(),
                &self.subscribed,
                &dec(reference),
                &patterns,
                select,
                ret,
            )
        }

        fn lsub(&self, reference: &str, pattern: &str) -> Vec<Entry> {
            lsub(&self.infos(), &self.subscribed, reference, pattern)
        }
    }

    /// Entries as `name (attrs)`, with ` CHILDINFO` when child_subscribed.
    fn show(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                let mut s = format!("{} ({})", e.name, e.attrs.join(" "));
                if e.child_subscribed {
                    s.push_str(" CHILDINFO");
                }
                s
            })
            .collect()
    }

    /// imaptest's way of checking an answer (scripted_test.md): untagged
    /// lines in any order, attribute lists unordered with extras allowed,
    /// case-insensitive. `* name attr… [-banned…] [CHILDINFO]` must be
    /// answered; `! name attr… [CHILDINFO]` must not be (with all those
    /// attributes); `""` is the empty name.
    fn expect(got: &[Entry], lines: &[&str]) {
        let has = |e: &Entry, a: &str| e.attrs.iter().any(|x| x.eq_ignore_ascii_case(a));
        for line in lines {
            let mut words = line.split_whitespace();
            let kind = words.next().unwrap();
            let name = match words.next().unwrap() {
                "\"\"" => "",
                n => n,
            };
            let words: Vec<&str> = words.collect();
            let childinfo = words.contains(&"CHILDINFO");
            let fits = |e: &Entry| {
                e.name == name
                    && (!childinfo || e.child_subscribed)
                    && words.iter().all(|w| match w.strip_prefix('-') {
                        _ if *w == "CHILDINFO" => true,
                        Some(banned) if kind == "*" => !has(e, banned),
                        _ => has(e, w),
                    })
            };
            let found = got.iter().any(fits);
            match kind {
                "*" => assert!(found, "missing {line:?} in {:#?}", show(got)),
                "!" => assert!(!found, "unwanted {line:?} in {:#?}", show(got)),
                _ => panic!("{line}"),
            }
        }
    }

    #[test]
    #[should_panic(expected = "missing")]
    fn expect_wants_the_attributes() {
        let e = Entry {
            name: "a".into(),
            attrs: vec!["\\HasChildren".into()],
            child_subscribed: false,
        };
        expect(
            std::slice::from_ref(&e),
            &["* a \\haschildren", "! a \\Subscribed", "! b"],
        );
        expect(&[e], &["* a CHILDINFO"]);
    }

    #[test]
    #[should_panic(expected = "unwanted")]
    fn expect_refuses_banned_lines() {
        let e = Entry {
            name: "a".into(),
            attrs: vec!["\\HasChildren".into()],
            child_subscribed: false,
        };
        expect(&[e], &["! a"]);
    }

    #[test]
    fn matching() {
        for (pattern, name, want) in [
            ("*", "a/b/c", true),
            ("%", "a", true),
            ("%", "a/b", false),
            ("a/%", "a/b", true),
            ("a/%", "a/b/c", false),
            ("a/%", "a", false),
            ("a/*", "a/b/c", true),
            ("a*", "a", true),
            ("a*", "ab/c", true),
            ("%/%", "a/b", true),
            ("%/%", "a/b/c", false),
            ("*%", "a/b", true),
            ("%*", "a/b", true),
            ("a", "a", true),
            ("a", "A", false), // case-sensitive
            ("sent", "Sent", false),
            ("a", "ab", false),
            ("ab", "a", false),
            ("", "a", false),
            // RFC 9051 §5.1: INBOX in any case, as the first level.
            ("INBOX", "INBOX", true),
            ("inbox", "INBOX", true),
            ("InBox/%", "INBOX/x", true),
            ("inbox/X", "INBOX/x", false),
            ("i%x", "INBOX", true),
            ("inbox*", "INBOXes", false), // not INBOX: case counts
            ("INBOX*", "INBOXes", true),
            ("x/inbox", "x/INBOX", false),
            // imaptest `list`.
            ("imaptest/*test4", "imaptest/test3/test4", true),
            ("imaptest/*test4", "imaptest/test3/test4/test5", false),
            ("imaptest/%3/%4", "imaptest/test3/test4", true),
            ("imaptest/%t*4", "imaptest/test3/test4", true),
            ("imaptest/%t*4", "imaptest/test", false),
            ("imaptest/*2", "imaptest/test4/test52", true),
            ("imaptest*test7", "imaptest/test7", true),
            // Non-ASCII is matched as text.
            ("*ä", "pää", true),
            ("p%", "pää", true),
            ("p_ä", "pää", false),
        ] {
            assert_eq!(pattern_matches(pattern, name), want, "{pattern} {name}");
        }
    }

    #[test]
    fn matching_is_not_exponential() {
        let name = "a".repeat(names::MAX_BYTES);
        let start = Instant::now();
        assert!(!pattern_matches("*a*a*a*a*a*a*a*a*b", &name));
        assert!(!pattern_matches(&format!("{}b", "*a".repeat(500)), &name));
        assert!(!pattern_matches(&"%a".repeat(600), &name[..500]));
        assert!(!pattern_matches(&format!("{}b", "*".repeat(2000)), &name));
        assert!(pattern_matches(&"%a".repeat(1000), &name));
        let folders: Vec<String> = (0..2000)
            .map(|i| format!("{}{i}", "a".repeat(100)))
            .collect();
        let infos: Vec<FolderInfo> = folders
            .iter()
            .map(|name| FolderInfo {
                name,
                special: None,
            })
            .collect();
        let patterns = ["*a*a*a*a*a*a*a*a*b".to_owned()];
        assert!(list(&infos, &[], "", &patterns, &[], &[]).is_empty());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn rfc9051_examples() {
        // RFC 9051 §6.3.9 (and RFC 3501 §6.3.8), with "/" as delimiter.
        let acc = Account::with(&["INBOX", "~/Mail/foo/bar", "~/Mail/meetings"]);
        let root = |reference| show(&acc.list(reference, &[""], &[], &[]));
        assert_eq!(root(""), [" (\\Noselect)"]);
        assert_eq!(root("#news/comp/mail/misc"), ["#news/ (\\Noselect)"]);
        assert_eq!(root("/usr/staff/jones"), ["/ (\\Noselect)"]);
        assert_eq!(root("news"), [" (\\Noselect)"]);
        assert_eq!(
            show(&acc.list("~/Mail/", &["%"], &[], &[])),
            [
                "~/Mail/foo (\\Noselect \\HasChildren)",
                "~/Mail/meetings (\\HasNoChildren)"
            ]
        );
        // LIST "" INBOX, in any case.
        for p in ["INBOX", "inbox", "Inbox"] {
            assert_eq!(
                show(&acc.list("", &[p], &[], &[])),
                ["INBOX (\\HasNoChildren)"]
            );
        }
        // A reference not ending in the delimiter is joined as it is.
        assert_eq!(
            show(&acc.list("~/Mail/m", &["eet*"], &[], &[])),
            ["~/Mail/meetings (\\HasNoChildren)"]
        );
        // A name without wildcards names one folder, never a missing level.
        assert!(acc.list("", &["~/Mail/foo"], &[], &[]).is_empty());
    }

    #[test]
    fn missing_levels() {
        let acc = Account::with(&["INBOX", "a/b/c", "INBOX/x"]);
        let plain = |p| show(&acc.list("", &[p], &[], &[]));
        assert_eq!(
            plain("%"),
            ["INBOX (\\HasChildren)", "a (\\Noselect \\HasChildren)"]
        );
        assert_eq!(plain("a/%"), ["a/b (\\Noselect \\HasChildren)"]);
        assert_eq!(
            plain("*"),
            [
                "INBOX (\\HasChildren)",
                "INBOX/x (\\HasNoChildren)",
                "a (\\Noselect \\HasChildren)",
                "a/b (\\Noselect \\HasChildren)",
                "a/b/c (\\HasNoChildren)"
            ]
        );
        assert_eq!(plain("inbox/%"), ["INBOX/x (\\HasNoChildren)"]);
        // LIST-EXTENDED forms say \NonExistent (RFC 5258 §3).
        let ext = acc.list("", &["%"], &[], &[R::Children]);
        assert_eq!(
            show(&ext),
            ["INBOX (\\HasChildren)", "a (\\NonExistent \\HasChildren)"]
        );
        let ext = acc.list("", &["%"], &[S::Remote], &[]);
        assert_eq!(show(&ext)[1], "a (\\NonExistent \\HasChildren)");
        let ext = acc.list("", &["a", "a/%"], &[], &[]);
        assert_eq!(show(&ext), ["a/b (\\NonExistent \\HasChildren)"]);
        // The empty pattern is special in the plain form only.
        assert!(acc.list("", &[""], &[], &[R::Children]).is_empty());
    }

    #[test]
    fn order_and_duplicates() {
        let acc = Account::with(&["b", "a b", "a/b", "a", "INBOX/z", "INBOX", "Zeta"]);
        let got = acc.list("", &["*", "a*", "INBOX"], &[], &[]);
        let names: Vec<&str> = got.iter().map(|e| &*e.name).collect();
        assert_eq!(names, ["INBOX", "INBOX/z", "Zeta", "a", "a/b", "a b", "b"]);
    }

    /// RFC 5258 §5's mailboxes: Fruit/Peach was subscribed, then deleted.
    fn rfc5258() -> Account {
        let mut acc = Account::with(&[
            "INBOX",
            "Fruit",
            "Fruit/Apple",
            "Fruit/Banana",
            "Tofu",
            "Vegetable",
            "Vegetable/Broccoli",
            "Vegetable/Corn",
        ]);
        for s in [
            "INBOX",
            "Fruit/Banana",
            "Fruit/Peach",
            "Vegetable",
            "Vegetable/Broccoli",
        ] {
            acc.subscribe(s);
        }
        acc
    }

    #[test]
    fn rfc5258_examples() {
        let acc = rfc5258();
        // Example 1.
        assert_eq!(
            show(&acc.list("", &["%"], &[], &[])),
            [
                "INBOX (\\HasNoChildren)",
                "Fruit (\\HasChildren)",
                "Tofu (\\HasNoChildren)",
                "Vegetable (\\HasChildren)"
            ]
        );
        // Example 2: LIST (SUBSCRIBED) "" "*".
        assert_eq!(
            show(&acc.list("", &["*"], &[S::Subscribed], &[])),
            [
                "INBOX (\\Subscribed \\HasNoChildren)",
                "Fruit/Banana (\\Subscribed \\HasNoChildren)",
                "Fruit/Peach (\\NonExistent \\Subscribed)",
                "Vegetable (\\Subscribed \\HasChildren)",
                "Vegetable/Broccoli (\\Subscribed \\HasNoChildren)"
            ]
        );
        // Example 3: LIST () "" "%" RETURN (CHILDREN).
        assert_eq!(
            show(&acc.list("", &["%"], &[], &[R::Children])),
            show(&acc.list("", &["%"], &[], &[]))
        );
        // Example 5: LIST (SUBSCRIBED RECURSIVEMATCH) "" "%": Fruit has
        // subscribed children "%" does not reach, so does Vegetable.
        assert_eq!(
            show(&acc.list(
                "",
                &["%"],
                &[S::Subscribed, S::RecursiveMatch],
                &[R::Children]
            )),
            [
                "INBOX (\\Subscribed \\HasNoChildren)",
                "Fruit (\\HasChildren) CHILDINFO",
                "Vegetable (\\Subscribed \\HasChildren) CHILDINFO"
            ]
        );
        // With "*" every subscribed descendant is matched itself.
        assert_eq!(
            show(&acc.list("", &["*"], &[S::Subscribed, S::RecursiveMatch], &[])),
            show(&acc.list("", &["*"], &[S::Subscribed], &[]))
        );
        // RETURN (SUBSCRIBED) marks, does not select.
        assert_eq!(
            show(&acc.list("", &["Fruit/%"], &[], &[R::Subscribed])),
            [
                "Fruit/Apple (\\HasNoChildren)",
                "Fruit/Banana (\\Subscribed \\HasNoChildren)"
            ]
        );
        // Example 7: several patterns.
        let mut acc = Account::with(&["INBOX", "Drafts", "Sent", "Unlisted", "Unlisted/Foo"]);
        for n in ["Sent/March2004", "Sent/December2003", "Sent/August2004"] {
            acc.create(n);
        }
        assert_eq!(
            show(&acc.list("", &["INBOX", "Drafts", "Sent/%"], &[], &[])),
            [
                "INBOX (\\HasNoChildren)",
                "Drafts (\\HasNoChildren)",
                "Sent/August2004 (\\HasNoChildren)",
                "Sent/December2003 (\\HasNoChildren)",
                "Sent/March2004 (\\HasNoChildren)"
            ]
        );
        // Example 8: children.
        let acc = Account::with(&["INBOX", "Foo", "Foo/Bar", "Foo/Baz", "Moo"]);
        assert_eq!(
            show(&acc.list("", &["%"], &[], &[R::Children])),
            [
                "INBOX (\\HasNoChildren)",
                "Foo (\\HasChildren)",
                "Moo (\\HasNoChildren)"
            ]
        );
        // A missing level with a subscribed name below it that does not
        // exist either: RECURSIVEMATCH still reports it.
        let mut acc = Account::with(&["INBOX"]);
        acc.subscribe("Foo/Bar");
        assert!(acc.list("", &["%"], &[S::Subscribed], &[]).is_empty());
        assert_eq!(
            show(&acc.list("", &["%"], &[S::Subscribed, S::RecursiveMatch], &[])),
            ["Foo (\\NonExistent) CHILDINFO"]
        );
    }

    #[test]
    fn rfc6154_examples() {
        // RFC 6154 §5.1 and §5.2, with our default folders.
        let mut acc = Account::new();
        acc.create("ToDo");
        acc.subscribe("Sent");
        assert_eq!(
            show(&acc.list("", &["%"], &[], &[R::SpecialUse])),
            [
                "INBOX (\\HasNoChildren)",
                "Archive (\\HasNoChildren \\Archive)",
                "Drafts (\\HasNoChildren \\Drafts)",
                "Junk (\\HasNoChildren \\Junk)",
                "Sent (\\HasNoChildren \\Sent)",
                "ToDo (\\HasNoChildren)",
                "Trash (\\HasNoChildren \\Trash)"
            ]
        );
        // RFC 6154 §2: the attributes in plain LIST too.
        assert_eq!(
            show(&acc.list("", &["%"], &[], &[R::SpecialUse])),
            show(&acc.list("", &["%"], &[], &[]))
        );
        let special = acc.list("", &["*"], &[S::SpecialUse], &[]);
        let names: Vec<&str> = special.iter().map(|e| &*e.name).collect();
        assert_eq!(names, ["Archive", "Drafts", "Junk", "Sent", "Trash"]);
        // Both criteria must hold.
        assert_eq!(
            show(&acc.list("", &["*"], &[S::SpecialUse, S::Subscribed], &[])),
            ["Sent (\\Subscribed \\HasNoChildren \\Sent)"]
        );
        // A subscribed name that does not exist has no special use.
        acc.subscribe("Gone");
        assert_eq!(
            acc.list("", &["G*"], &[S::SpecialUse, S::Subscribed], &[]),
            []
        );
    }

    #[test]
    fn rfc3501_lsub() {
        // RFC 3501 §6.3.9, with "/" for ".".
        let mut acc = Account::with(&["INBOX", "#news/comp/mail/mime", "#news/comp/mail/misc"]);
        acc.subscribe("#news/comp/mail/mime");
        acc.subscribe("#news/comp/mail/misc");
        assert_eq!(
            show(&acc.lsub("#news/", "comp/mail/*")),
            ["#news/comp/mail/mime ()", "#news/comp/mail/misc ()"]
        );
        assert_eq!(
            show(&acc.lsub("#news/", "comp/%")),
            ["#news/comp/mail (\\Noselect)"]
        );
        assert_eq!(show(&acc.lsub("", "")), [" (\\Noselect)"]);
        // A subscription to a folder that does not exist.
        acc.subscribe("gone");
        assert_eq!(show(&acc.lsub("", "g%")), ["gone (\\Noselect)"]);
        assert_eq!(show(&acc.lsub("", "inbox")), Vec::<String>::new());
        acc.subscribe("INBOX");
        assert_eq!(show(&acc.lsub("", "inbox")), ["INBOX ()"]);
    }

    /// imaptest `list`, with $mailbox = imaptest and $sep = "/".
    fn imaptest_list(create_parents: bool) {
        let mut acc = Account::new();
        acc.create_parents = create_parents;
        let l = |acc: &Account, r, p| acc.list(r, &[p], &[], &[]);
        expect(&l(&acc, "", ""), &["* \"\" \\Noselect"]);
        acc.create("imaptest/");
        acc.create("imaptest/test");
        expect(&l(&acc, "", "imaptest/%"), &["* imaptest/test"]);
        acc.create("imaptest/test2");
        expect(
            &l(&acc, "", "imaptest/%"),
            &["* imaptest/test", "* imaptest/test2"],
        );
        acc.create("imaptest/test3/");
        acc.create("imaptest/test3/test4/");
        acc.create("imaptest/test3/test4/test5");
        expect(
            &l(&acc, "", "imaptest/%"),
            &[
                "* imaptest/test",
                "* imaptest/test2",
                "* imaptest/test3",
                "! imaptest/test3/test4",
                "! imaptest/test3/test4/test5",
            ],
        );
        expect(
            &l(&acc, "", "imaptest/%/%"),
            &[
                "! imaptest/test",
                "! imaptest/test2",
                "! imaptest/test3",
                "* imaptest/test3/test4",
                "! imaptest/test3/test4/test5",
            ],
        );
        let all = [
            "* imaptest/test",
            "* imaptest/test2",
            "* imaptest/test3",
            "* imaptest/test3/test4/test5",
        ];
        expect(&l(&acc, "", "imaptest/*"), &all);
        expect(&l(&acc, "imaptest/", "*"), &all);
        expect(&l(&acc, "", "imaptest/*test*"), &all);
        expect(
            &l(&acc, "", "imaptest/*test4"),
            &[
                "! imaptest/test",
                "! imaptest/test2",
                "! imaptest/test3",
                "* imaptest/test3/test4",
                "! imaptest/test3/test4/test5",
            ],
        );
        for p in ["imaptest/%3/%", "imaptest/%3/%4", "imaptest/%t*4"] {
            expect(&l(&acc, "", p), &["* imaptest/test3/test4"]);
        }
        acc.delete("imaptest/test2");
        expect(&l(&acc, "", "imaptest/*"), &["! imaptest/test2"]);
        expect(&l(&acc, "", "INBOX"), &["* INBOX"]);
    }

    #[test]
    fn imaptest_list_script() {
        imaptest_list(false);
        imaptest_list(true);
        // And the whole answers, as our store keeps them.
        let mut acc = Account::new();
        for n in ["imaptest/", "imaptest/test", "imaptest/test3/test4/test5"] {
            acc.create(n);
        }
        assert_eq!(
            show(&acc.list("", &["*"], &[], &[])),
            [
                "INBOX (\\HasNoChildren)",
                "Archive (\\HasNoChildren \\Archive)",
                "Drafts (\\HasNoChildren \\Drafts)",
                "Junk (\\HasNoChildren \\Junk)",
                "Sent (\\HasNoChildren \\Sent)",
                "Trash (\\HasNoChildren \\Trash)",
                "imaptest (\\HasChildren)",
                "imaptest/test (\\HasNoChildren)",
                "imaptest/test3 (\\Noselect \\HasChildren)",
                "imaptest/test3/test4 (\\Noselect \\HasChildren)",
                "imaptest/test3/test4/test5 (\\HasNoChildren)"
            ]
        );
        assert_eq!(
            show(&acc.list("imaptest/", &["%"], &[], &[])),
            [
                "imaptest/test (\\HasNoChildren)",
                "imaptest/test3 (\\Noselect \\HasChildren)"
            ]
        );
    }

    /// imaptest `listext`.
    fn imaptest_listext(create_parents: bool) {
        let mut acc = Account::new();
        acc.create_parents = create_parents;
        expect(&acc.list("", &[""], &[], &[]), &["* \"\""]);
        for n in [
            "imaptest/",
            "imaptest/test1",
            "imaptest/test2/",
            "imaptest/test2/test1",
            "imaptest/test3",
            "imaptest/test4/test5",
            "imaptest/test4/test52",
            "imaptest/test6",
            "imaptest/test7/test7",
            "imaptest/test8/test8",
            "imaptest/test8/test9",
        ] {
            acc.create(n);
        }
        for n in [
            "imaptest/test1",
            "imaptest/test2/test1",
            "imaptest/test6",
            "imaptest/test7/test7",
            "imaptest/test8/test8",
            "imaptest/test8/test9",
        ] {
            acc.subscribe(n);
        }
        acc.delete("imaptest/test6");

        expect(
            &acc.list("", &["imaptest/*2", "imaptest/test3"], &[], &[]),
            &[
                "! imaptest/test1",
                "* imaptest/test2",
                "! imaptest/test2/test1",
                "* imaptest/test3",
                "! imaptest/test4",
                "! imaptest/test4/test5",
                "* imaptest/test4/test52",
                "! imaptest/test6",
            ],
        );
        // REMOTE: accepted, nothing to add.
        assert_eq!(
            acc.list("", &["%"], &[S::Remote], &[]),
            acc.list("", &["%"], &[], &[R::Children])
        );
        expect(
            &acc.list("", &["imaptest/*"], &[S::Subscribed], &[]),
            &[
                "* imaptest/test1 \\Subscribed",
                "* imaptest/test2/test1 \\Subscribed",
                "* imaptest/test6 -\\Noselect \\Subscribed \\NonExistent",
                "* imaptest/test7/test7 \\Subscribed",
                "* imaptest/test8/test9 \\Subscribed",
            ],
        );
        let sub_rec = [S::Subscribed, S::RecursiveMatch];
        expect(
            &acc.list("", &["imaptest/test2%"], &sub_rec, &[R::Children]),
            &[
                "* imaptest/test2 \\HasChildren CHILDINFO",
                "! imaptest/test2 \\Subscribed",
                "! imaptest/test2/test1 \\Subscribed",
            ],
        );
        expect(
            &acc.list("", &["imaptest/%"], &[], &[R::Children, R::Subscribed]),
            &[
                "* imaptest/test1 -\\HasChildren \\Subscribed",
                "* imaptest/test2 -\\Subscribed \\HasChildren",
                "* imaptest/test3 -\\Subscribed -\\HasChildren",
                "* imaptest/test4 -\\Subscribed \\HasChildren",
                "* imaptest/test7 -\\Subscribed \\HasChildren",
                "* imaptest/test8 -\\Subscribed \\HasChildren",
            ],
        );
        expect(
            &acc.list("", &["imaptest*test7"], &sub_rec, &[]),
            &["! imaptest/test7", "* imaptest/test7/test7 \\Subscribed"],
        );
        // "?": may be answered; if it is, not as subscribed.
        expect(
            &acc.list("", &["imaptest*test8"], &sub_rec, &[]),
            &[
                "! imaptest/test8 \\Subscribed",
                "* imaptest/test8/test8 \\Subscribed",
            ],
        );
        expect(
            &acc.list("", &["imaptest/test2"], &sub_rec, &[]),
            &["* imaptest/test2 CHILDINFO", "! imaptest/test2/test1"],
        );
        expect(
            &acc.list(
                "",
                &["imaptest/test2", "imaptest/test2/test1"],
                &sub_rec,
                &[],
            ),
            &[
                "! imaptest/test2 CHILDINFO",
                "* imaptest/test2/test1 \\Subscribed",
            ],
        );
        expect(
            &acc.list("", &["imaptest/test7", "imaptest/test7/test7"], &[], &[]),
            &["* imaptest/test7/test7"],
        );
    }

    #[test]
    fn imaptest_listext_script() {
        imaptest_listext(false);
        imaptest_listext(true);
        // The whole answers, as our store keeps them (no levels created).
        let mut acc = Account::new();
        for n in [
            "imaptest",
            "imaptest/test2",
            "imaptest/test2/test1",
            "imaptest/test8/test8",
            "imaptest/test8/test9",
        ] {
            acc.create(n);
        }
        for n in [
            "imaptest/test2/test1",
            "imaptest/test6",
            "imaptest/test8/test8",
            "imaptest/test8/test9",
        ] {
            acc.subscribe(n);
        }
        let sub_rec = [S::Subscribed, S::RecursiveMatch];
        assert_eq!(
            show(&acc.list("", &["imaptest/%"], &[], &[R::Children, R::Subscribed])),
            [
                "imaptest/test2 (\\HasChildren)",
                "imaptest/test8 (\\NonExistent \\HasChildren)"
            ]
        );
        assert_eq!(
            show(&acc.list("", &["imaptest/%"], &sub_rec, &[])),
            [
                "imaptest/test2 (\\HasChildren) CHILDINFO",
                "imaptest/test6 (\\NonExistent \\Subscribed)",
                "imaptest/test8 (\\NonExistent \\HasChildren) CHILDINFO"
            ]
        );
        assert_eq!(
            show(&acc.list("", &["imaptest*test8"], &sub_rec, &[])),
            [
                "imaptest/test8 (\\NonExistent \\HasChildren) CHILDINFO",
                "imaptest/test8/test8 (\\Subscribed \\HasNoChildren)"
            ]
        );
    }

    /// imaptest `subscribe` (LSUB).
    #[test]
    fn imaptest_subscribe_script() {
        let mut acc = Account::new();
        for n in [
            "imaptest/",
            "imaptest/test",
            "imaptest/test2/",
            "imaptest/test3/",
            "imaptest/test2/test",
            "imaptest/test3/test3",
            "imaptest/test2",
        ] {
            acc.create(n);
        }
        for n in [
            "imaptest/test",
            "imaptest/test2/test",
            "imaptest/test3/test3",
        ] {
            acc.subscribe(n);
        }
        let got = acc.lsub("", "imaptest/%");
        expect(
            &got,
            &[
                "* imaptest/test",
                "* imaptest/test2 \\Noselect",
                "* imaptest/test3 \\Noselect",
                "! imaptest/test2/test \\Noselect",
                "! imaptest/test3/test3 \\Noselect",
            ],
        );
        assert_eq!(
            show(&got),
            [
                "imaptest/test ()",
                "imaptest/test2 (\\Noselect)",
                "imaptest/test3 (\\Noselect)"
            ]
        );
        expect(
            &acc.lsub("", "*test"),
            &[
                "* imaptest/test",
                "* imaptest/test2/test",
                "! imaptest/test3/test3",
            ],
        );
        acc.unsubscribe("imaptest/test");
        expect(&acc.lsub("", "imaptest/%"), &["! imaptest/test"]);
        acc.unsubscribe("imaptest/test2/test");
        expect(
            &acc.lsub("", "imaptest/*"),
            &["! imaptest/test", "* imaptest/test3/test3"],
        );
        acc.unsubscribe("imaptest/test3/test3");
        expect(&acc.lsub("", "imaptest/%"), &["! imaptest/test3"]);
        assert_eq!(acc.lsub("", "*"), []);
    }

    /// imaptest `mutf7`: a name sent in modified UTF-7 comes back the same.
    #[test]
    fn imaptest_mutf7_script() {
        let mut acc = Account::new();
        acc.create("imaptest/");
        acc.create("imaptest/p&AOQA5A-");
        let got = acc.list("", &["imaptest/p&AOQA5A-"], &[], &[]);
        assert_eq!(show(&got), ["imaptest/pää (\\HasNoChildren)"]);
        assert_eq!(names::encode(&got[0].name, false), b"imaptest/p&AOQA5A-");
        assert_eq!(names::encode(&got[0].name, true), "imaptest/pää".as_bytes());
        // The same with UTF8=ACCEPT, and a wildcard in the middle.
        let p = names::decode_pattern("imaptest/p%ä".as_bytes(), true).unwrap();
        assert_eq!(list(&acc.infos(), &[], "", &[p], &[], &[]), got);
    }
}
