//! ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2): date, subject, from,
//! sender, reply-to, to, cc, bcc, in-reply-to, message-id, from the first
//! occurrence of each field, values raw (encoded-words as sent) and
//! unfolded.

use mailhost_imap_proto::write::nstring;

use crate::address;
use crate::header::Header;

/// Writes the parenthesized envelope of the message whose header is `hdr`.
pub(crate) fn write(out: &mut Vec<u8>, msg: &[u8], hdr: &Header) {
    let text =
        |out: &mut Vec<u8>, name: &str| nstring(out, hdr.first_value(msg, name).as_deref(), false);
    let addrs = |name: &str| {
        hdr.first_value(msg, name)
            .map(|v| address::parse(&v))
            .unwrap_or_default()
    };
    out.push(b'(');
    text(out, "date");
    out.push(b' ');
    text(out, "subject");
    let from = addrs("from");
    // RFC 3501 §7.4.2: sender and reply-to default to from when absent
    // (or, as in Dovecot, when they hold no address).
    let mut sender = addrs("sender");
    if sender.is_empty() {
        sender = from.clone();
    }
    let mut reply_to = addrs("reply-to");
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    for list in [
        from,
        sender,
        reply_to,
        addrs("to"),
        addrs("cc"),
        addrs("bcc"),
    ] {
        out.push(b' ');
        address::write(out, &list);
    }
    out.push(b' ');
    text(out, "in-reply-to");
    out.push(b' ');
    text(out, "message-id");
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal() {
        let m = b"Subject: =?utf-8?q?x?=\r\nFrom: a@b\r\n\r\n";
        let (h, _) = crate::header::parse(m, 0, |_| false);
        let mut out = Vec::new();
        write(&mut out, m, &h);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"(NIL "=?utf-8?q?x?=" ((NIL NIL "a" "b")) ((NIL NIL "a" "b")) ((NIL NIL "a" "b")) NIL NIL NIL NIL NIL)"#
        );
    }

    #[test]
    fn eight_bit_subject_is_a_literal() {
        let m = "Subject: caf\u{e9}\r\n\r\n".as_bytes();
        let (h, _) = crate::header::parse(m, 0, |_| false);
        let mut out = Vec::new();
        write(&mut out, m, &h);
        assert!(out.starts_with(b"(NIL {5}\r\ncaf\xc3\xa9 NIL"));
    }
}
