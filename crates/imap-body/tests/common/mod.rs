//! Reading the imaptest conformance data (Dovecot imaptest's scripted
//! tests, MIT, kept read-only in ../shared/conformance/imaptest).

#![allow(dead_code)]

use std::path::PathBuf;

use mailhost_imap_proto::types::{Section, SectionText};

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/imaptest/tests")
}

/// The messages of `<name>.mbox` as imaptest appends them: split at the
/// "From " lines, every line sent with CRLF (so a message keeps the blank
/// line before the next "From ").
pub fn mbox(name: &str) -> Vec<Vec<u8>> {
    let path = dir().join(format!("{name}.mbox"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"From ") {
            out.push(Vec::new());
            continue;
        }
        let m = out.last_mut().expect("mbox starts with a From line");
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    assert!(!out.is_empty(), "{name}.mbox holds messages");
    out
}

/// A script's `{{{ ... }}}` literal: the text between the braces, its last
/// line break dropped, line breaks sent as CRLF.
pub fn lit(s: &str) -> Vec<u8> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.replace('\n', "\r\n").into_bytes()
}

/// A script's `~{{{ ... }}}` literal: the text as it is, last line break
/// dropped.
pub fn raw_lit(s: &str) -> Vec<u8> {
    s.strip_suffix('\n').unwrap_or(s).as_bytes().to_vec()
}

/// Parses a section spec as the scripts write it (`2.1.mime`,
/// `header.fields (from subject)`), for the tests only.
pub fn sec(spec: &str) -> Section {
    let (head, fields) = match spec.find(" (") {
        Some(i) => (&spec[..i], Some(&spec[i + 2..spec.len() - 1])),
        None => (spec, None),
    };
    let mut part = Vec::new();
    let mut rest = head;
    while let Some(n) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) {
        part.push(n);
        rest = rest.split_once('.').map_or("", |(_, r)| r);
    }
    let text = match rest.to_ascii_lowercase().as_str() {
        "" => None,
        "header" => Some(SectionText::Header),
        "text" => Some(SectionText::Text),
        "mime" => Some(SectionText::Mime),
        f @ ("header.fields" | "header.fields.not") => Some(SectionText::HeaderFields {
            not: f.ends_with(".not"),
            fields: fields.unwrap().split(' ').map(str::to_owned).collect(),
        }),
        other => panic!("section {other}"),
    };
    Section { part, text }
}

/// Shown for failures.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
