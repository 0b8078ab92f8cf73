//! The MIME part walker: which parts of a message are checked (R-AV-1:
//! attachments and non-text inline parts; all parts with
//! `antivirus.scan_text_parts`), where each lies in the raw bytes, and the
//! facts the notice needs (its file name exactly as it was encoded).
//!
//! `mail-parser` decodes base64 and quoted-printable and keeps byte
//! offsets, so a removed part is cut out of the original bytes and every
//! other byte is copied as it came (no re-encoding).

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// A part the scanner looks at.
pub struct Part<'m> {
    /// Where the part (headers and body) lies in the top-level message.
    pub span: (usize, usize),
    /// The decoded content.
    pub data: std::borrow::Cow<'m, [u8]>,
    /// The file name decoded (RFC 2231, RFC 2047), for the check and logs.
    pub name: String,
    /// The header lines that carry the name, byte for byte as sent.
    pub raw_name: Vec<u8>,
    /// Only its embedded encodings are opened (a text body).
    pub body_text: bool,
    /// Inside multipart/signed: changing it breaks the signature.
    pub signed: bool,
    /// The top-level body itself (not a MIME subpart).
    pub top: bool,
}

/// What the walk found besides parts.
#[derive(Default)]
pub struct Walk<'m> {
    pub parts: Vec<Part<'m>>,
    /// Encrypted content seen (R-AV-4), described.
    pub encrypted: Vec<String>,
    /// The structure itself cannot be trusted (conflicting headers).
    pub unscannable: Option<String>,
    pub signed: bool,
}

/// Messages with more MIME parts than this are not walked part by part.
pub const MAX_PARTS: usize = 10_000;

/// Counts boundary-like lines: a cheap bound before a full parse.
pub fn boundary_lines(raw: &[u8]) -> usize {
    memchr::memmem::find_iter(raw, b"\n--").count()
}

pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

fn header_lines(raw: &[u8], part: &MessagePart, names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for h in &part.headers {
        let n = h.name.as_str();
        if names.iter().any(|w| n.eq_ignore_ascii_case(w)) {
            let (s, e) = (h.offset_field as usize, h.offset_end as usize);
            if let Some(b) = raw.get(s..e) {
                out.extend_from_slice(b);
            }
        }
    }
    out
}

fn has_name(p: &MessagePart) -> bool {
    p.attachment_name().is_some()
}

fn is_attachment_disposition(p: &MessagePart) -> bool {
    p.content_disposition().is_some_and(|d| d.is_attachment())
}

fn ctype(p: &MessagePart) -> String {
    p.content_type()
        .map(|c| {
            let mut s = c.c_type.to_ascii_lowercase();
            if let Some(sub) = &c.c_subtype {
                s.push('/');
                s.push_str(&sub.to_ascii_lowercase());
            }
            s
        })
        .unwrap_or_else(|| "text/plain".into())
}

/// Two different values for a header that decides how the part is read:
/// one client would see another thing than the scanner.
fn conflicting(p: &MessagePart) -> Option<&'static str> {
    for (name, label) in [
        ("content-type", "Content-Type"),
        ("content-transfer-encoding", "Content-Transfer-Encoding"),
        ("content-disposition", "Content-Disposition"),
    ] {
        let vals: Vec<_> = p
            .headers
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| &h.value)
            .collect();
        if vals.len() > 1 && vals.windows(2).any(|w| w[0] != w[1]) {
            return Some(label);
        }
    }
    None
}

/// Walks `msg`, whose offsets are into `raw`; `outer` is the span to cut
/// instead when this message is itself encoded inside another.
pub fn walk<'m>(msg: &'m Message<'m>, scan_text: bool) -> Walk<'m> {
    let mut w = Walk::default();
    visit(msg, msg.raw_message(), None, false, scan_text, 0, &mut w);
    w
}

const MAX_DEPTH: u32 = 64;

fn visit<'m>(
    msg: &'m Message<'m>,
    top_raw: &'m [u8],
    outer: Option<(usize, usize)>,
    signed: bool,
    scan_text: bool,
    depth: u32,
    w: &mut Walk<'m>,
) {
    let raw = msg.raw_message();
    // Which parts lie under multipart/signed or encrypted containers.
    let mut under_signed = vec![false; msg.parts.len()];
    for (i, p) in msg.parts.iter().enumerate() {
        let t = ctype(p);
        if let PartType::Multipart(kids) = &p.body {
            let s = under_signed[i] || t == "multipart/signed";
            for &k in kids {
                if let Some(x) = under_signed.get_mut(k as usize) {
                    *x = s;
                }
            }
            if t == "multipart/signed" {
                w.signed = true;
            }
        }
    }
    for (i, p) in msg.parts.iter().enumerate() {
        if let Some(h) = conflicting(p) {
            w.unscannable
                .get_or_insert_with(|| format!("a MIME part has two different {h} headers"));
        }
        let t = ctype(p);
        let span = outer.unwrap_or((p.offset_header as usize, p.offset_end as usize));
        let top = i == 0 && outer.is_none() && depth == 0;
        let signed = signed || under_signed[i];
        let name = p.attachment_name().unwrap_or("").to_string();
        let raw_name = header_lines(raw, p, &["content-type", "content-disposition"]);
        match &p.body {
            PartType::Multipart(_) => {
                if t == "multipart/encrypted" {
                    w.encrypted.push("PGP/MIME encrypted message".into());
                }
            }
            PartType::Message(m) => {
                if depth >= MAX_DEPTH {
                    w.unscannable
                        .get_or_insert_with(|| "messages nested too deep".into());
                    continue;
                }
                // Inline (7bit/8bit) nested messages share our buffer and
                // offsets; an encoded one is cut out as a whole.
                let same = m.raw_message().as_ptr() == top_raw.as_ptr();
                let inner_outer = if same { outer } else { Some(span) };
                visit(m, top_raw, inner_outer, signed, scan_text, depth + 1, w);
            }
            PartType::Text(text) | PartType::Html(text) => {
                if text.contains("-----BEGIN PGP MESSAGE-----") {
                    w.encrypted.push("inline PGP message".into());
                }
                let attached = is_attachment_disposition(p) || has_name(p);
                let data = std::borrow::Cow::Borrowed(text.as_bytes());
                let only_encodings = !(attached || scan_text);
                if only_encodings && !crate::unpack::text_encoded(text.as_bytes()) {
                    continue;
                }
                w.parts.push(Part {
                    span,
                    data,
                    name,
                    raw_name,
                    body_text: only_encodings,
                    signed,
                    top,
                });
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                if matches!(
                    t.as_str(),
                    "application/pkcs7-mime" | "application/x-pkcs7-mime"
                ) {
                    w.encrypted.push("S/MIME message".into());
                    continue;
                }
                if t == "application/pgp-encrypted"
                    || t == "application/octet-stream" && under_encrypted(msg, i)
                {
                    continue;
                }
                if matches!(
                    t.as_str(),
                    "application/pkcs7-signature"
                        | "application/x-pkcs7-signature"
                        | "application/pgp-signature"
                ) {
                    // The signature itself: no content to check.
                    continue;
                }
                w.parts.push(Part {
                    span,
                    data: std::borrow::Cow::Borrowed(b.as_ref()),
                    name,
                    raw_name,
                    body_text: false,
                    signed,
                    top,
                });
            }
        }
    }
}

/// Whether part `i` is the payload of a multipart/encrypted.
fn under_encrypted(msg: &Message, i: usize) -> bool {
    msg.parts.iter().any(|p| {
        matches!(&p.body, PartType::Multipart(k) if k.contains(&(i as u32)))
            && ctype(p) == "multipart/encrypted"
    })
}
