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
}

/// Reads the header section of `msg`. Malformed headers yield what could
/// be read; a message without a header section yields an empty scan.
pub fn scan(msg: &[u8]) -> Scan {
    let Some(m) = MessageParser::default().parse_headers(msg) else {
        return Scan::default();
    };
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|x| x.address().map(str::to_string)).collect()).unwrap_or_default()
    };
    let mut received = 0;
    let mut has_date = false;
    let mut has_message_id = false;
    for h in m.headers() {
        match h.name {
            HeaderName::Received => received += 1,
            HeaderName::Date => has_date = true,
            HeaderName::MessageId => has_message_id = true,
            _ => {}
        }
    }
    Scan {
        facts: HeaderFacts { from: addrs(m.from()), sender: addrs(m.sender()).into_iter().next() },
        received,
        has_date,
        has_message_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_senders_and_trace() {
        let s = scan(b"Received: from a\r\nReceived: from b\r\nFrom: \"Me\" <me@h.example>, other@h.example\r\nSender: me@h.example\r\nDate: Sun, 22 Nov 2026 17:07:41 +0000\r\n\r\nbody\r\nFrom: not@header.example\r\n");
        assert_eq!(s.facts.from, ["me@h.example", "other@h.example"]);
        assert_eq!(s.facts.sender.as_deref(), Some("me@h.example"));
        assert_eq!(s.received, 2);
        assert!(s.has_date && !s.has_message_id);
    }

    #[test]
    fn garbage_does_not_panic() {
        for m in [&b""[..], b"\r\n\r\n", b"From:\r\n\r\n", b"From: <<<@@>>>\r\n", b"\xff\xfe: \x00\r\n"] {
            let s = scan(m);
            assert!(s.facts.from.iter().all(|a| !a.is_empty()));
        }
    }
}
