//! Every entry point on arbitrary bytes: never panics, and the rendered
//! ENVELOPE / BODY / BODYSTRUCTURE are always one well-formed IMAP list.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_imap_body::*;
use mailhost_imap_proto::types::{Section, SectionText};

/// One parenthesized list: balanced, quoted strings closed and 7-bit,
/// literals of the length they announce.
fn well_formed(s: &[u8]) -> bool {
    let (mut depth, mut i) = (0i64, 0);
    if s.first() != Some(&b'(') {
        return false;
    }
    while i < s.len() {
        match s[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 || (depth == 0 && i + 1 != s.len()) {
                    return false;
                }
            }
            b'"' => {
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    if s[i] == b'\\' {
                        i += 1;
                    }
                    if i < s.len() && (s[i] == b'\r' || s[i] == b'\n' || s[i] >= 0x80) {
                        return false;
                    }
                    i += 1;
                }
                if i >= s.len() {
                    return false;
                }
            }
            b'{' => {
                let Some(close) = s[i..].iter().position(|&b| b == b'}') else {
                    return false;
                };
                let Some(n) = std::str::from_utf8(&s[i + 1..i + close])
                    .ok()
                    .and_then(|t| t.parse::<usize>().ok())
                else {
                    return false;
                };
                i += close + 1;
                if !s[i..].starts_with(b"\r\n") || i + 2 + n > s.len() {
                    return false;
                }
                i += 2 + n;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

fuzz_target!(|data: &[u8]| {
    let s = summarize(data);
    assert!(well_formed(&s.envelope));
    assert!(well_formed(&s.body));
    assert!(well_formed(&s.bodystructure));
    let fields = |not| SectionText::HeaderFields {
        not,
        fields: vec!["from".into(), "subject".into()],
    };
    for part in [vec![], vec![1], vec![2], vec![1, 1], vec![2, 1, 1]] {
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(fields(false)),
            Some(fields(true)),
        ] {
            let sec = Section {
                part: part.clone(),
                text,
            };
            if let Some(b) = section(data, &sec) {
                assert!(b.len() <= data.len() + 4);
            }
        }
        let _ = binary(data, &part);
    }
    let _ = header_matches(data, "subject", b"re");
    let _ = header_matches(data, "x-y", b"");
    let _ = address_matches(data, "from", b"a@b");
    let _ = address_matches(data, "to", "\u{e9}".as_bytes());
    let _ = body_matches(data, b"hello");
    let _ = text_matches(data, b"ab");
});
