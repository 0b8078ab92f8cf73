//! What the server reads from a message's header section at end of DATA
//! (with `mail-parser`): sender addresses for R-OUT-4, trace headers for
//! loop detection (RFC 5321 §6.3), and whether Date and Message-ID are
//! present (RFC 6409 §8 lets a submission server add them).

use mail_parser::{HeaderName, MessageParser};
use mailhost_policy::HeaderFacts;

#[derive(Debug, Default)]
pub struct Scan {
    pub facts: HeaderFacts,
    pub received: usize,
    pub has_date: bool,
    pub has_message_id: bool,
    pub message_id: Option<String>,
    /// Delivered-To values, lower-cased (RFC 9228): a forwarding address
    /// already among them means the message has come round (R-IN-4).
    pub delivered_to: Vec<String>,
}

/// The header section of `msg`, with the blank line that ends it.
pub fn section(msg: &[u8]) -> &[u8] {
    match header_end(msg) {
        Some(e) => &msg[..(e + 2).min(msg.len())],
        None => msg,
    }
}

/// Reads the header section of `msg`. Malformed headers yield what could
/// be read; a message without a header section yields an empty scan.
pub fn scan(msg: &[u8]) -> Scan {
    let Some(m) = MessageParser::default().parse_headers(msg) else {
        return Scan::default();
    };
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut received = 0;
    let mut has_date = false;
    let mut has_message_id = false;
    let mut delivered_to = Vec::new();
    for h in m.headers() {
        match &h.name {
            HeaderName::Received => received += 1,
            HeaderName::Date => has_date = true,
            HeaderName::MessageId => has_message_id = true,
            HeaderName::DeliveredTo => {
                let raw = msg.get(h.offset_start as usize..h.offset_end as usize);
                let v = String::from_utf8_lossy(raw.unwrap_or_default());
                delivered_to.push(v.trim().trim_matches(['<', '>']).to_ascii_lowercase());
            }
            _ => {}
        }
    }
    Scan {
        facts: HeaderFacts {
            from: addrs(m.from()),
            sender: addrs(m.sender()).into_iter().next(),
        },
        received,
        has_date,
        has_message_id,
        message_id: m.message_id().map(|id| format!("<{id}>")),
        delivered_to,
    }
}

/// Removes, from the header section of `msg[start..]`, every
/// Authentication-Results field whose authserv-id is `host` (RFC 8601 §5:
/// a receiver must remove such fields that did not come from itself).
/// Returns how many were removed.
pub fn strip_auth_results(msg: &mut Vec<u8>, start: usize, host: &str) -> usize {
    let end = header_end(&msg[start..]).map_or(msg.len(), |e| start + e);
    let mut removed = 0;
    let mut i = start;
    while i < end {
        let line_end = field_end(&msg[..end], i);
        let field = &msg[i..line_end];
        let is_ours = field.len() > 23
            && field[..23].eq_ignore_ascii_case(b"authentication-results:")
            && authserv_id(&field[23..]).eq_ignore_ascii_case(host.as_bytes());
        if is_ours {
            msg.drain(i..line_end);
            removed += 1;
            return removed + strip_auth_results(msg, start, host);
        }
        i = line_end;
    }
    removed
}

/// Offset of the blank line that ends the header section.
fn header_end(h: &[u8]) -> Option<usize> {
    if h.starts_with(b"\r\n") {
        return Some(0);
    }
    h.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2)
}

/// End of the header field starting at `i`, including folded lines.
fn field_end(h: &[u8], mut i: usize) -> usize {
    loop {
        match h[i..].windows(2).position(|w| w == b"\r\n") {
            None => return h.len(),
            Some(p) => {
                i += p + 2;
                if i >= h.len() || (h[i] != b' ' && h[i] != b'\t') {
                    return i;
                }
            }
        }
    }
}

/// The authserv-id: the first token of the value, before ';'.
fn authserv_id(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii_start();
    let end = v
        .iter()
        .position(|&b| b == b';' || b.is_ascii_whitespace())
        .unwrap_or(v.len());
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_to_values() {
        let h = b"Delivered-To: A@x.example\r\nSubject: s\r\ndelivered-to:<b@y.example>\r\n\r\nDelivered-To: body@z.example\r\n";
        assert_eq!(scan(h).delivered_to, vec!["a@x.example", "b@y.example"]);
    }

    #[test]
    fn reads_senders_and_trace() {
        let s = scan(b"Received: from a\r\nReceived: from b\r\nFrom: \"Me\" <me@h.example>, other@h.example\r\nSender: me@h.example\r\nDate: Sun, 22 Nov 2026 17:07:41 +0000\r\n\r\nbody\r\nFrom: not@header.example\r\n");
        assert_eq!(s.facts.from, ["me@h.example", "other@h.example"]);
        assert_eq!(s.facts.sender.as_deref(), Some("me@h.example"));
        assert_eq!(s.received, 2);
        assert!(s.has_date && !s.has_message_id);
    }

    #[test]
    fn strips_only_our_authentication_results() {
        let mut m = b"Received: x\r\nAuthentication-Results: mx.me.example;\r\n spf=pass\r\nSubject: s\r\nauthentication-results: other.example; dkim=pass\r\nAuthentication-Results:   MX.ME.EXAMPLE; dkim=pass\r\n\r\nAuthentication-Results: mx.me.example; body\r\n".to_vec();
        assert_eq!(strip_auth_results(&mut m, 0, "mx.me.example"), 2);
        assert_eq!(
            m,
            b"Received: x\r\nSubject: s\r\nauthentication-results: other.example; dkim=pass\r\n\r\nAuthentication-Results: mx.me.example; body\r\n"
        );
        let mut none = b"Subject: x\r\n\r\n".to_vec();
        assert_eq!(strip_auth_results(&mut none, 0, "h"), 0);
        let mut unterminated = b"Authentication-Results: h; x".to_vec();
        assert_eq!(strip_auth_results(&mut unterminated, 0, "h"), 1);
        assert!(unterminated.is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        for m in [
            &b""[..],
            b"\r\n\r\n",
            b"From:\r\n\r\n",
            b"From: <<<@@>>>\r\n",
            b"\xff\xfe: \x00\r\n",
        ] {
            let s = scan(m);
            assert!(s.facts.from.iter().all(|a| !a.is_empty()));
        }
    }
}
