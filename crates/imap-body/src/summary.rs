//! What the server computes once when a message is stored: ENVELOPE, BODY,
//! BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) and the Date: header
//! as a time for SENTBEFORE/SENTON/SENTSINCE and sorting.
//!
//! Names the client compares case-insensitively (types, subtypes,
//! parameter names, encodings, disposition types) are sent uppercase, as
//! in the RFC's examples; values are sent as in the message. Sizes and
//! line counts are of the part's body as it is in the message (still
//! encoded).

use mail_parser::DateTime;
use mailhost_imap_proto::write::{nstring, string};

use crate::ctype::{self, Structured};
use crate::envelope;
use crate::mime::{self, Kind, Part};

/// The stored summary of a message. The three lists are ready to follow
/// `ENVELOPE `, `BODY ` and `BODYSTRUCTURE ` in a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub envelope: Vec<u8>,
    pub body: Vec<u8>,
    pub bodystructure: Vec<u8>,
    /// The Date: header as Unix seconds; None when absent or unreadable.
    pub sent_date: Option<i64>,
}

/// Summarizes any bytes as a message; never fails (RFC 2045 §5.2 defaults
/// stand in for what is missing or broken) and costs time and memory
/// linear in the message (part nesting and count are capped in the
/// part tree parser).
pub fn summarize(message: &[u8]) -> Summary {
    let root = mime::parse(message);
    let mut env = Vec::new();
    envelope::write(&mut env, message, &root.header);
    let mut body = Vec::new();
    write_part(&mut body, message, &root, false);
    let mut bodystructure = Vec::new();
    write_part(&mut bodystructure, message, &root, true);
    Summary {
        envelope: env,
        body,
        bodystructure,
        sent_date: root
            .header
            .first_value(message, "date")
            .and_then(|v| sent_date(&v)),
    }
}

/// An RFC 5322 §3.3 date (with the obsolete forms mail-parser accepts) as
/// Unix seconds.
fn sent_date(value: &[u8]) -> Option<i64> {
    let dt = DateTime::parse_rfc822(&String::from_utf8_lossy(value))?;
    dt.is_valid().then(|| dt.to_timestamp())
}

fn upper(out: &mut Vec<u8>, s: &[u8]) {
    string(out, &s.to_ascii_uppercase(), false);
}

/// body-fld-param: `("NAME" "value" ...)` or NIL.
fn params(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        upper(out, name);
        out.push(b' ');
        string(out, value, false);
    }
    out.push(b')');
}

/// Lines of text in a body: line feeds, plus a last line without one.
fn lines(body: &[u8]) -> usize {
    let n = body.iter().filter(|&&b| b == b'\n').count();
    n + usize::from(body.last().is_some_and(|&b| b != b'\n'))
}

/// The media type as shown: opaque parts as application/octet-stream
/// (without their multipart parameters), text without a charset with the
/// default one (RFC 2045 §5.2, as Dovecot shows it).
fn shown_type(part: &Part) -> Structured {
    if matches!(part.kind, Kind::Opaque) {
        return Structured {
            kind: b"application".to_vec(),
            subtype: b"octet-stream".to_vec(),
            params: Vec::new(),
        };
    }
    let mut t = part.ctype.clone();
    if t.is("text", "") && t.param("charset").is_none() {
        t.params
            .insert(0, (b"charset".to_vec(), b"us-ascii".to_vec()));
    }
    t
}

/// body-fld-dsp, body-fld-lang, body-fld-loc (RFC 9051 §9), shared by
/// single parts and multiparts.
fn dsp_lang_loc(out: &mut Vec<u8>, msg: &[u8], part: &Part) {
    let hdr = &part.header;
    out.push(b' ');
    match hdr
        .first_value(msg, "content-disposition")
        .and_then(|v| ctype::parse(&v, false))
    {
        Some(d) => {
            out.push(b'(');
            upper(out, &d.kind);
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let langs = hdr
        .first_value(msg, "content-language")
        .map(|v| ctype::languages(&v))
        .unwrap_or_default();
    if langs.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, l) in langs.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            string(out, l, false);
        }
        out.push(b')');
    }
    out.push(b' ');
    nstring(
        out,
        hdr.first_value(msg, "content-location").as_deref(),
        false,
    );
}

/// The empty text/plain part shown for a multipart in which no part was
/// found, since body-type-mpart needs at least one (as Dovecot does).
fn empty_part(out: &mut Vec<u8>, extended: bool) {
    out.extend_from_slice(b"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0");
    if extended {
        out.extend_from_slice(b" NIL NIL NIL NIL");
    }
    out.push(b')');
}

/// BODY (`extended` false) or BODYSTRUCTURE of a part.
fn write_part(out: &mut Vec<u8>, msg: &[u8], part: &Part, extended: bool) {
    out.push(b'(');
    if let Kind::Multipart(children) = &part.kind {
        // body-type-mpart: the parts, the subtype, then the extension
        // data: parameters, disposition, language, location.
        if children.is_empty() {
            empty_part(out, extended);
        }
        for c in children {
            write_part(out, msg, c, extended);
        }
        out.push(b' ');
        upper(out, &part.ctype.subtype);
        if extended {
            out.push(b' ');
            params(out, &part.ctype.params);
            dsp_lang_loc(out, msg, part);
        }
        out.push(b')');
        return;
    }
    // body-type-1part: type, subtype, body-fields, then for messages the
    // envelope, body and lines, for text the lines.
    let t = shown_type(part);
    let hdr = &part.header;
    let body = &msg[part.body.clone()];
    upper(out, &t.kind);
    out.push(b' ');
    upper(out, &t.subtype);
    out.push(b' ');
    params(out, &t.params);
    out.push(b' ');
    nstring(out, hdr.first_value(msg, "content-id").as_deref(), false);
    out.push(b' ');
    nstring(
        out,
        hdr.first_value(msg, "content-description").as_deref(),
        false,
    );
    out.push(b' ');
    string(out, &part.cte_name, false);
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    match &part.kind {
        Kind::Message(inner) => {
            out.push(b' ');
            envelope::write(out, msg, &inner.header);
            out.push(b' ');
            write_part(out, msg, inner, extended);
            out.push(b' ');
            out.extend_from_slice(lines(body).to_string().as_bytes());
        }
        _ if t.is("text", "") => {
            out.push(b' ');
            out.extend_from_slice(lines(body).to_string().as_bytes());
        }
        _ => {}
    }
    if extended {
        // body-fld-md5: the Content-MD5 value (RFC 1864) as sent.
        out.push(b' ');
        nstring(out, hdr.first_value(msg, "content-md5").as_deref(), false);
        dsp_lang_loc(out, msg, part);
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bs(m: &str) -> String {
        String::from_utf8(summarize(m.as_bytes()).bodystructure).unwrap()
    }

    #[test]
    fn defaults() {
        assert_eq!(
            bs("\r\nhi\r\n"),
            r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 4 1 NIL NIL NIL NIL)"#
        );
        assert_eq!(
            bs(""),
            r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)"#
        );
        assert_eq!(
            bs("Content-Type: text/html\r\n\r\nx"),
            r#"("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 1 NIL NIL NIL NIL)"#
        );
        assert_eq!(
            bs("Content-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"),
            r#"("IMAGE" "PNG" ("NAME" "a.png") NIL NIL "BASE64" 6 NIL NIL NIL NIL)"#
        );
    }

    #[test]
    fn multipart_without_parts_or_boundary() {
        assert_eq!(
            bs("Content-Type: multipart/mixed; boundary=x\r\n\r\nno parts\r\n"),
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "x") NIL NIL NIL)"#
        );
        assert_eq!(
            bs("Content-Type: multipart/mixed\r\n\r\nx\r\n"),
            r#"("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 3 NIL NIL NIL NIL)"#
        );
    }

    #[test]
    fn dates() {
        let s = summarize(b"Date: Thu, 15 Feb 2007 01:02:03 +0200\r\n\r\n");
        assert_eq!(s.sent_date, Some(1171494123));
        assert_eq!(summarize(b"Date: yesterday\r\n\r\n").sent_date, None);
        assert_eq!(summarize(b"\r\n").sent_date, None);
    }
}
