//! Bad input never panics, and what is rendered is always well-formed
//! IMAP: every conformance message cut at every length, LF-only copies,
//! pseudo-random garbage, and hostile nesting, run through every entry
//! point.

mod common;

use std::time::{Duration, Instant};

use mailhost_imap_body::*;
use mailhost_imap_proto::types::{Section, SectionText};

/// Checks that `s` is one parenthesized IMAP list: balanced parentheses,
/// closed quoted strings, literals whose length is right.
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
                let Ok(n) = std::str::from_utf8(&s[i + 1..i + close])
                    .unwrap_or("x")
                    .parse::<usize>()
                else {
                    return false;
                };
                i += close + 1;
                if !s[i..].starts_with(b"\r\n") {
                    return false;
                }
                i += 2 + n;
                if i > s.len() {
                    return false;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

fn sections() -> Vec<Section> {
    let mut out = Vec::new();
    for part in [
        vec![],
        vec![1],
        vec![2],
        vec![1, 1],
        vec![2, 1],
        vec![1, 2, 1],
    ] {
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields {
                not: false,
                fields: vec!["from".into(), "subject".into()],
            }),
            Some(SectionText::HeaderFields {
                not: true,
                fields: vec!["date".into()],
            }),
        ] {
            out.push(Section {
                part: part.clone(),
                text,
            });
        }
    }
    out
}

fn exercise(m: &[u8], secs: &[Section]) {
    let s = summarize(m);
    assert!(
        well_formed(&s.envelope),
        "envelope {:?} of {:?}",
        common::show(&s.envelope),
        common::show(m)
    );
    assert!(
        well_formed(&s.body),
        "body {:?} of {:?}",
        common::show(&s.body),
        common::show(m)
    );
    assert!(
        well_formed(&s.bodystructure),
        "bodystructure {:?}",
        common::show(&s.bodystructure)
    );
    for sec in secs {
        if let Some(b) = section(m, sec) {
            assert!(b.len() <= m.len() + 4, "{sec:?} of {:?}", common::show(m));
        }
    }
    for part in [&[][..], &[1], &[2], &[1, 1], &[2, 2], &[3, 1, 1]] {
        let _ = binary(m, part);
    }
    for f in ["from", "to", "cc", "subject"] {
        let _ = header_matches(m, f, b"a");
        let _ = address_matches(m, f, b"user");
    }
    let _ = body_matches(m, b"hello");
    let _ = text_matches(m, "\u{e9}".as_bytes());
}

fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(common::dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".mbox").map(str::to_owned))
        .collect();
    names.sort();
    for n in names {
        out.extend(common::mbox(&n));
    }
    assert!(
        out.len() > 50,
        "the conformance corpus is there ({} messages)",
        out.len()
    );
    out
}

#[test]
fn every_message_cut_everywhere() {
    let secs = sections();
    for m in corpus() {
        let lf: Vec<u8> = m.iter().copied().filter(|&b| b != b'\r').collect();
        for whole in [&m, &lf] {
            let step = (whole.len() / 200).max(1);
            for cut in (0..=whole.len()).step_by(step) {
                exercise(&whole[..cut], &secs);
            }
        }
    }
}

#[test]
fn garbage() {
    let secs = sections();
    let alphabet: &[u8] = b"-\r\n:;=\"()<>@,.\\ \tabc?\x80\xff\x00/\
        Content-Type: multipart/mixed; boundary=\r\n--\r\nmessage/rfc822\r\n";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut m = Vec::new();
        let len = (seed >> 40) as usize % 300;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pick = (seed % 997) as usize;
            if pick < 20 {
                m.extend_from_slice(
                    b"\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n",
                );
            } else if pick < 30 {
                m.extend_from_slice(b"\r\nContent-Type: message/rfc822\r\n\r\n");
            } else {
                m.push(alphabet[pick % alphabet.len()]);
            }
        }
        exercise(&m, &secs);
    }
}

#[test]
fn hostile_nesting_is_bounded() {
    // 20,000 nested multiparts and as many nested messages: linear time.
    let mut m = Vec::new();
    for i in 0..20_000 {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    for _ in 0..20_000 {
        m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    m.extend_from_slice(b"\r\ntext\r\n");
    let start = Instant::now();
    let s = summarize(&m);
    assert!(well_formed(&s.bodystructure));
    assert!(s.bodystructure.len() < 64 * 200);
    let deep = vec![1u32; 200];
    let _ = section(
        &m,
        &Section {
            part: deep.clone(),
            text: None,
        },
    );
    let _ = binary(&m, &deep);
    let _ = text_matches(&m, b"text");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn many_parts_are_bounded() {
    let mut m = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
    for _ in 0..50_000 {
        m.extend_from_slice(b"--a\r\n\r\nx\r\n");
    }
    m.extend_from_slice(b"--a--\r\n");
    let start = Instant::now();
    let s = summarize(&m);
    assert!(well_formed(&s.bodystructure));
    let parts = s
        .bodystructure
        .windows(6)
        .filter(|w| w == b"\"TEXT\"")
        .count();
    assert!(parts < 10_001, "{parts}");
    assert!(start.elapsed() < Duration::from_secs(5));
}
