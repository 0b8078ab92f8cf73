//! The SEARCH expectations of imaptest's scripts (search-header,
//! search-body, search-addresses, search-size, nil), checked against the
//! messages of their mbox files. Each case is the script's command and the
//! message numbers its `* SEARCH` reply lists.

mod common;

use common::mbox;
use mailhost_imap_body::{address_matches, body_matches, header_matches, text_matches};

/// The 1-based numbers of the messages `f` matches.
fn hits(msgs: &[Vec<u8>], f: impl Fn(&[u8]) -> bool) -> Vec<usize> {
    msgs.iter()
        .enumerate()
        .filter(|(_, m)| f(m))
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn search_header() {
    let m = mbox("search-header");
    let subject = |n: &str| hits(&m, |msg| header_matches(msg, "subject", n.as_bytes()));
    for n in [
        "hello",
        "beautiful",
        "world",
        "hello beautiful",
        "hello beautiful world",
        "eautiful worl",
    ] {
        assert_eq!(subject(n), [1], "subject {n}");
    }
    // `search subject ""` is only required to succeed.
    let _ = subject("");
    let header = |f: &str, n: &str| hits(&m, |msg| header_matches(msg, f, n.as_bytes()));
    assert_eq!(header("subject", ""), [1]);
    assert_eq!(hits(&m, |msg| !header_matches(msg, "subject", b"")), [2]);
    assert_eq!(header("x-extra", ""), [2]);
    assert_eq!(hits(&m, |msg| !header_matches(msg, "x-extra", b"")), [1]);
    // Every occurrence of the field counts ("another" is in the second).
    for n in ["hello", "hello beautiful", "eautiful head", "another"] {
        assert_eq!(header("x-extra", n), [2], "x-extra {n}");
    }
}

#[test]
fn search_body() {
    let m = mbox("search-body");
    let text = |n: &str| hits(&m, |msg| text_matches(msg, n.as_bytes()));
    let body = |n: &str| hits(&m, |msg| body_matches(msg, n.as_bytes()));
    assert_eq!(text("asdfghjkl"), [1, 2]);
    assert_eq!(text("zxcvbnm"), [1, 3, 4]);
    assert_eq!(text("qwertyuiop"), [2, 3, 4]);
    assert_eq!(body("asdfghjkl"), [1, 2]);
    assert_eq!(body("zxcvbnm"), [1, 3, 4]);
    assert_eq!(body("qwertyuiop"), [4]);
    assert_eq!(text("sdfghjk"), [1, 2]);
    assert_eq!(text("xcvbn"), [1, 3, 4]);
    assert_eq!(text("wertyuio"), [2, 3, 4]);
    assert_eq!(body("sdfghjk"), [1, 2]);
    assert_eq!(body("xcvbn"), [1, 3, 4]);
    assert_eq!(body("wertyuio"), [4]);
}

#[test]
fn search_addresses() {
    let m = mbox("search-addresses");
    let a = |f: &str, n: &str| hits(&m, |msg| address_matches(msg, f, n.as_bytes()));
    let h = |f: &str| hits(&m, |msg| header_matches(msg, f, b""));
    assert_eq!(a("from", "user-from@domain.org"), [1, 2, 3, 4, 6, 7]);
    assert_eq!(a("to", "user-to@domain.org"), [1, 2, 3, 4]);
    assert_eq!(a("cc", "user-cc@domain.org"), [1, 2, 3, 4, 5]);
    assert_eq!(a("bcc", "user-bcc@domain.org"), [1, 2, 3, 4]);

    assert_eq!(a("from", "realfrom"), [2, 4, 6, 7]);
    assert_eq!(a("to", "realto"), [2, 4]);
    assert_eq!(a("cc", "realcc"), [2, 4]);
    assert_eq!(a("bcc", "realbcc"), [2, 4]);

    assert_eq!(h("from"), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(h("to"), [1, 2, 3, 4, 6, 7]);
    assert_eq!(h("cc"), [1, 2, 3, 4, 5]);
    assert_eq!(h("bcc"), [1, 2, 3, 4]);

    assert_eq!(a("from", "ser-fro"), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(a("to", "ser-t"), [1, 2, 3, 4]);
    assert_eq!(a("cc", "ser-c"), [1, 2, 3, 4, 5]);
    assert_eq!(a("bcc", "ser-bc"), [1, 2, 3, 4]);

    assert_eq!(a("from", "ealfro"), [2, 4, 6, 7]);
    assert_eq!(a("to", "ealt"), [2, 4]);
    assert_eq!(a("cc", "ealc"), [2, 4]);
    assert_eq!(a("bcc", "ealbc"), [2, 4]);

    assert_eq!(a("from", "user-from1"), [5]);
    assert_eq!(a("from", "user-from2"), [5]);

    assert_eq!(a("to", "groupname"), [6, 7]);
    assert_eq!(a("to", "groupname2"), [6]);
    assert_eq!(a("to", "groupuser1"), [6]);
    assert_eq!(a("to", "groupuser2"), [6]);
    assert_eq!(a("to", "groupuser3"), [6]);
    assert_eq!(a("to", "groupuser4"), Vec::<usize>::new());
}

#[test]
fn search_size() {
    // SMALLER/LARGER compare RFC822.SIZE, the appended bytes: with CRLF
    // line ends messages 3 and 4 differ (the script's point).
    let m = mbox("search-size");
    let sizes: Vec<usize> = m.iter().map(Vec::len).collect();
    assert!(
        sizes[0] < sizes[2] && sizes[1] < sizes[2] && sizes[3] > sizes[2],
        "{sizes:?}"
    );
}

#[test]
fn nil() {
    // `search subject NIL` / `search body nil`: NIL is an astring here.
    let m = &mbox("nil")[0];
    assert!(header_matches(m, "subject", b"NIL"));
    assert!(body_matches(m, b"nil"));
}
