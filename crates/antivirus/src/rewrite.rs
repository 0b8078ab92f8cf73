//! Removal (R-AV-3): an infected or unscannable part is replaced by a
//! `text/plain` part `DELETED<n>.TXT` that says what was removed and why and
//! keeps the file name exactly as it was encoded (the seed: "the file-name
//! field keeps the form used when it was attached"). Every other byte of
//! the message is copied as it came, so the MIME structure, the other
//! parts' encodings and their line wrapping are untouched.

/// One part to replace, by its span in the message.
pub struct Cut {
    pub span: (usize, usize),
    pub top: bool,
    pub n: u32,
    pub notice: Vec<u8>,
}

/// The replacement part's headers and body, without the CRLF that ends
/// the part before its boundary (that CRLF belongs to the boundary).
pub fn part_bytes(n: u32, notice: &[u8]) -> Vec<u8> {
    let cte = if notice.is_ascii() { "7bit" } else { "8bit" };
    let mut out = format!(
        "Content-Type: text/plain; charset=utf-8; name=\"DELETED{n}.TXT\"\r\n\
         Content-Disposition: attachment; filename=\"DELETED{n}.TXT\"\r\n\
         Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(notice);
    out
}

/// The notice's text. `raw_name` is the part's Content-Type and
/// Content-Disposition lines as sent; `name` the decoded file name.
pub fn notice(host: &str, name: &str, raw_name: &[u8], why: &str, inside: &[String]) -> Vec<u8> {
    let mut t = Vec::new();
    let shown = if name.is_empty() { "(no name)" } else { name };
    t.extend_from_slice(
        format!("An attachment was removed from this message by the virus checker of {host} (R-AV-3).\r\n\r\n").as_bytes(),
    );
    t.extend_from_slice(format!("File name: {shown}\r\n").as_bytes());
    if !inside.is_empty() {
        t.extend_from_slice(format!("Found in: {}\r\n", inside.join(" / ")).as_bytes());
    }
    t.extend_from_slice(format!("Reason: {why}\r\n").as_bytes());
    if !raw_name.is_empty() {
        // Byte for byte as the sender encoded it (RFC 2231, RFC 2047 or
        // raw 8-bit): folded lines are indented so they stay in the text.
        t.extend_from_slice(b"File name field as sent:\r\n");
        for line in raw_name.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            t.extend_from_slice(b"  ");
            t.extend_from_slice(line.trim_ascii_start());
            t.extend_from_slice(b"\r\n");
        }
    }
    t.extend_from_slice(
        "\r\nThe removed file was not kept and cannot be recovered.\r\n\
         添付ファイルはウイルスチェックにより削除されました。削除されたファイルは保管されず、復旧できません。\r\n"
            .as_bytes(),
    );
    t
}

/// Rebuilds the message with the cuts applied (spans must not overlap;
/// an inner cut inside an outer one is dropped by the caller).
pub fn apply(raw: &[u8], cuts: &[Cut]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for c in cuts {
        let (s, e) = c.span;
        if s < at || e > raw.len() || s > e {
            continue;
        }
        if c.top {
            // The message body itself is the attachment: its header block
            // stays but for the lines that described the old content.
            let (headers, _) = split_header(raw);
            out.extend_from_slice(&raw[at..s]);
            out.extend_from_slice(&strip_content_headers(headers));
            out.extend_from_slice(b"MIME-Version: 1.0\r\n");
            let part = part_bytes(c.n, &c.notice);
            out.extend_from_slice(&part);
            out.extend_from_slice(b"\r\n");
            at = raw.len();
            continue;
        }
        out.extend_from_slice(&raw[at..s]);
        out.extend_from_slice(&part_bytes(c.n, &c.notice));
        at = e;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// The header block (through its last CRLF, without the blank line) and
/// the rest.
pub fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(raw, b"\r\n\r\n") {
        Some(i) => (&raw[..i + 2], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

/// Header lines without Content-Type, Content-Transfer-Encoding,
/// Content-Disposition and MIME-Version (with their folded lines).
fn strip_content_headers(headers: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len());
    let mut skipping = false;
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !folded {
            let lower = line.to_ascii_lowercase();
            skipping = [
                &b"content-type:"[..],
                b"content-transfer-encoding:",
                b"content-disposition:",
                b"mime-version:",
            ]
            .iter()
            .any(|p| lower.starts_with(p));
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Removes from the message's own header section (after `skip` bytes of
/// our trace) every `X-Virus-Scanned` field that names `host`: only this
/// server writes those, so one that arrives with the message is forged
/// (it would tell the reader a virus-laden message was checked). Returns
/// how many were removed. Fields naming other hosts are kept as trace.
pub fn strip_forged(buf: &mut Vec<u8>, skip: usize, host: &str) -> usize {
    let start = skip.min(buf.len());
    let mut spans = Vec::new();
    let mut i = start;
    while i < buf.len() {
        let end = field_end(buf, i);
        let line = &buf[i..end];
        if line == b"\r\n" || line == b"\n" {
            break; // the header section ends
        }
        if let Some(v) = strip_name(line, b"x-virus-scanned:") {
            let v = v.trim_ascii_start();
            let names_us = v
                .get(..host.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(host.as_bytes()))
                && v.get(host.len())
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'.' && *c != b'-');
            if names_us {
                spans.push((i, end));
            }
        }
        i = end;
    }
    for (a, b) in spans.iter().rev() {
        buf.drain(*a..*b);
    }
    spans.len()
}

/// The end of the header field starting at `i`: its line and any folded
/// continuation lines (RFC 5322 §2.2.3).
fn field_end(buf: &[u8], i: usize) -> usize {
    let mut end = i;
    loop {
        end = match memchr::memchr(b'\n', &buf[end..]) {
            Some(n) => end + n + 1,
            None => return buf.len(),
        };
        let blank = matches!(&buf[i..end], b"\r\n" | b"\n");
        if blank || !matches!(buf.get(end), Some(b' ' | b'\t')) {
            return end;
        }
    }
}

fn strip_name<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..name.len())?;
    head.eq_ignore_ascii_case(name).then(|| &line[name.len()..])
}

#[cfg(test)]
mod forged {
    use super::strip_forged;

    #[test]
    fn only_ours_and_folded_lines_go() {
        let trace = b"Received: from x\r\n";
        let mut m = trace.to_vec();
        m.extend_from_slice(
            b"X-Virus-Scanned: mx.example (mailhost builtin);\r\n clean\r\nSubject: s\r\n\
x-virus-scanned: other.example; clean\r\nX-Virus-Scanned: MX.EXAMPLE; clean\r\n\
X-Virus-Scanned: mx.example.evil; clean\r\n\r\nX-Virus-Scanned: mx.example; body\r\n",
        );
        assert_eq!(strip_forged(&mut m, trace.len(), "mx.example"), 2);
        assert_eq!(
            m,
            b"Received: from x\r\nSubject: s\r\nx-virus-scanned: other.example; clean\r\n\
X-Virus-Scanned: mx.example.evil; clean\r\n\r\nX-Virus-Scanned: mx.example; body\r\n"
        );
    }
}
