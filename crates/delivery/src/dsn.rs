//! Delivery status notifications (RFC 3464): the bounce a sender gets when
//! a message cannot be delivered, and the warning when it is late.
//!
//! A DSN is a multipart/report; report-type=delivery-status (RFC 6522)
//! with three parts: a text for people (what failed, what the remote server
//! said, what to do), the machine-readable message/delivery-status, and
//! the original headers as text/rfc822-headers. It is sent with the null
//! envelope sender, so that a DSN is never answered by another (RFC 5321
//! §6.1, RFC 3464 §4), and marked Auto-Submitted: auto-replied (RFC 3834
//! §5) so that autoresponders leave it alone.

use crate::outcome::Failure;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use rand::Rng;

/// The original headers shown in a DSN are cut at this size.
const MAX_HEADERS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Given up: the recipients will not get the message.
    Failed,
    /// Still trying, until this time (ms since the epoch).
    Delayed { until_ms: i64 },
}

/// One recipient the report is about.
pub struct Recipient<'a> {
    pub addr: &'a str,
    pub failure: &'a Failure,
}

pub struct Report<'a> {
    /// This server's host name (Reporting-MTA, MAILER-DAEMON@…).
    pub hostname: &'a str,
    /// Who gets the report: the original envelope sender.
    pub to: &'a str,
    pub action: Action,
    /// When the original message was accepted (ms since the epoch).
    pub arrival_ms: i64,
    pub last_attempt_ms: i64,
    pub rcpts: Vec<Recipient<'a>>,
    /// The original message; only its header section is included.
    pub original: &'a [u8],
}

/// The RFC 5322 date for ms since the epoch.
fn date(ms: i64) -> String {
    Date::new(ms.div_euclid(1000)).to_rfc822()
}

/// The header section of a message: everything before the first empty line.
pub fn header_section(msg: &[u8]) -> &[u8] {
    let end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(msg.len());
    &msg[..end.min(MAX_HEADERS)]
}

/// A value for a message/delivery-status field: ASCII without controls
/// (the part is 7-bit, RFC 3464 §2.1), cut to keep lines under the limit
/// of RFC 5322 §2.1.1.
fn field(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    out.truncate(900);
    out
}

/// RFC 3464 §2.3.2 address: "rfc822; a@b", or for a non-ASCII address the
/// utf-8 type with its characters escaped as \x{HEX} (RFC 6533 §3).
fn address(a: &str) -> String {
    if a.is_ascii() {
        return format!("rfc822; {}", field(a));
    }
    let esc: String = a
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c.to_string()
            } else {
                format!("\\x{{{:X}}}", c as u32)
            }
        })
        .collect();
    format!("utf-8; {esc}")
}

/// The message/delivery-status body (RFC 3464 §2.1): the per-message
/// fields, then one block of per-recipient fields for each recipient.
fn status_part(r: &Report<'_>) -> String {
    let mut s = format!(
        "Reporting-MTA: dns; {}\r\nArrival-Date: {}\r\n",
        field(r.hostname),
        date(r.arrival_ms)
    );
    for rc in &r.rcpts {
        let f = rc.failure;
        s.push_str("\r\n");
        s.push_str(&format!("Final-Recipient: {}\r\n", address(rc.addr)));
        s.push_str(match r.action {
            Action::Failed => "Action: failed\r\n",
            Action::Delayed { .. } => "Action: delayed\r\n",
        });
        // An expired message keeps the 4.X.X of its last attempt with
        // Action: failed (RFC 3463 §3.1: a persistent transient failure
        // may end as undeliverable), as Postfix reports it; a list's bounce
        // handler can then tell it from a dead address.
        s.push_str(&format!("Status: {}\r\n", field(&f.status)));
        if let Some(host) = &f.remote {
            s.push_str(&format!("Remote-MTA: dns; {}\r\n", field(host)));
        }
        if let Some(reply) = &f.reply {
            s.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", field(reply)));
        }
        s.push_str(&format!(
            "Last-Attempt-Date: {}\r\n",
            date(r.last_attempt_ms)
        ));
        if let Action::Delayed { until_ms } = r.action {
            s.push_str(&format!("Will-Retry-Until: {}\r\n", date(until_ms)));
        }
    }
    s
}

/// The part for people, wrapped at 72 columns so that it stays plain 7-bit
/// text that any reader shows as it is.
fn text_part(r: &Report<'_>) -> String {
    let mut paras = vec![format!("This is the mail system at {}.", r.hostname)];
    match r.action {
        Action::Failed => paras.push(
            "Your message could not be delivered to the recipients below. This is \
             a permanent error; the message was not delivered and will not be \
             retried."
                .into(),
        ),
        Action::Delayed { until_ms } => {
            paras
                .push("This is a warning only: you do not need to send your message again.".into());
            paras.push(format!(
                "Your message has not been delivered yet to the recipients below. We \
                 are still trying, until {}; if it cannot be delivered by then you will \
                 get another notice.",
                date(until_ms)
            ));
        }
    }
    let rcpts: Vec<String> = r
        .rcpts
        .iter()
        .map(|rc| wrap(&format!("<{}>: {}", rc.addr, rc.failure.text), "    "))
        .collect();
    paras.push(rcpts.join("\r\n"));
    if r.action == Action::Failed {
        paras.push(
            "What you can do: check the address for typing mistakes. If the remote \
             server's answer above says that the mailbox is full, unknown or that \
             the message was refused, contact the recipient another way or ask their \
             postmaster. The headers of your message are attached."
                .into(),
        );
    }
    let mut s: Vec<String> = paras
        .iter()
        .map(|p| {
            if p.contains("\r\n") {
                p.clone()
            } else {
                wrap(p, "")
            }
        })
        .collect();
    s.push(String::new());
    s.join("\r\n\r\n")
}

/// Greedy word wrap at 72 columns; continuation lines start with `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if col > 0 && col + 1 + word.len() > 72 {
            out.push_str("\r\n");
            out.push_str(indent);
            col = indent.len();
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// Builds the DSN message (CRLF line ends, ready to store or send).
pub fn build(r: &Report<'_>) -> Vec<u8> {
    let subject = match r.action {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed { .. } => "Delayed Mail (still being retried)",
    };
    let headers = String::from_utf8_lossy(header_section(r.original)).into_owned();
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new(
                ContentType::new("text/plain").attribute("charset", "utf-8"),
                text_part(r),
            ),
            // Its fields are plain ASCII already: sent as they are (7bit).
            MimePart::new(
                ContentType::new("message/delivery-status"),
                status_part(r).into_bytes(),
            )
            .transfer_encoding("7bit"),
            MimePart::new(ContentType::new("text/rfc822-headers"), headers),
        ],
    );
    let id: u128 = rand::rng().random();
    MessageBuilder::new()
        .from((
            "Mail Delivery System",
            format!("MAILER-DAEMON@{}", r.hostname).as_str(),
        ))
        .to(r.to)
        .subject(subject)
        .date(Date::new(r.last_attempt_ms.div_euclid(1000)))
        .message_id(format!("{id:032x}.dsn@{}", r.hostname))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    const ORIGINAL: &[u8] =
        b"Received: from a\r\nFrom: Ann <ann@local.example>\r\nTo: bob@remote.example\r\nSubject: Hello\r\nMessage-ID: <1@local.example>\r\n\r\nSecret body\r\n";

    fn report(action: Action, f: &Failure) -> Vec<u8> {
        build(&Report {
            hostname: "mail.local.example",
            to: "ann@local.example",
            action,
            arrival_ms: 1_700_000_000_000,
            last_attempt_ms: 1_700_000_100_000,
            rcpts: vec![
                Recipient {
                    addr: "bob@remote.example",
                    failure: f,
                },
                Recipient {
                    addr: "carol@remote.example",
                    failure: f,
                },
            ],
            original: ORIGINAL,
        })
    }

    fn refused() -> Failure {
        Failure {
            permanent: true,
            status: "5.1.1".into(),
            remote: Some("mx.remote.example".into()),
            reply: Some("550 5.1.1 no such user".into()),
            text: "mx.remote.example said: 550 5.1.1 no such user".into(),
        }
    }

    #[test]
    fn bounce_parses_with_the_three_parts_and_fields() {
        let raw = report(Action::Failed, &refused());
        let m = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
        let from = m.from().and_then(|a| a.first()).unwrap();
        assert_eq!(
            (from.name(), from.address()),
            (
                Some("Mail Delivery System"),
                Some("MAILER-DAEMON@mail.local.example")
            )
        );
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        let ct = m.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype(), ct.attribute("report-type")),
            ("multipart", Some("report"), Some("delivery-status"))
        );

        let kinds: Vec<String> = m.parts[1..]
            .iter()
            .map(|p| {
                p.content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );

        let text = m.body_text(0).unwrap();
        assert!(
            text.contains("<bob@remote.example>: mx.remote.example said: 550 5.1.1 no such user"),
            "{text}"
        );

        let status = String::from_utf8_lossy(m.parts[2].contents()).into_owned();
        for want in [
            "Reporting-MTA: dns; mail.local.example",
            "Arrival-Date: ",
            "Final-Recipient: rfc822; bob@remote.example",
            "Final-Recipient: rfc822; carol@remote.example",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.remote.example",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user",
            "Last-Attempt-Date: ",
        ] {
            assert!(status.contains(want), "missing {want:?} in\n{status}");
        }
        // Per-message block, then one block per recipient.
        assert_eq!(status.split("\r\n\r\n").count(), 3, "{status}");

        let headers = String::from_utf8_lossy(m.parts[3].contents()).into_owned();
        assert!(
            headers.contains("Subject: Hello") && headers.contains("Message-ID: <1@local.example>"),
            "{headers}"
        );
        assert!(!headers.contains("Secret body"), "the body is not returned");
    }

    #[test]
    fn delay_warning_says_until_when() {
        let f = Failure::at(
            "mx.remote.example",
            false,
            "4.4.1",
            "mx.remote.example[127.0.0.1]: cannot connect",
        );
        let raw = report(
            Action::Delayed {
                until_ms: 1_700_400_000_000,
            },
            &f,
        );
        let m = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(m.subject(), Some("Delayed Mail (still being retried)"));
        let status = String::from_utf8_lossy(m.parts[2].contents()).into_owned();
        assert!(
            status.contains("Action: delayed") && status.contains("Status: 4.4.1"),
            "{status}"
        );
        assert!(
            status.contains("Will-Retry-Until: ") && !status.contains("Diagnostic-Code"),
            "{status}"
        );
        let until = date(1_700_400_000_000);
        assert!(m.body_text(0).unwrap().contains(&until));
    }

    #[test]
    fn expired_temporary_failure_keeps_its_status() {
        let f = Failure::at("mx.remote.example", false, "4.4.2", "timed out").expired("5 days");
        let raw = report(Action::Failed, &f);
        let m = MessageParser::default().parse(&raw).unwrap();
        let status = String::from_utf8_lossy(m.parts[2].contents()).into_owned();
        assert!(
            status.contains("Action: failed") && status.contains("Status: 4.4.2"),
            "{status}"
        );
        assert!(m.body_text(0).unwrap().contains("gave up after 5 days"));
    }

    #[test]
    fn non_ascii_recipient_and_reply_stay_7bit() {
        assert_eq!(
            address("jos\u{e9}@example.org"),
            "utf-8; jos\\x{E9}@example.org"
        );
        assert_eq!(field("550 caf\u{e9}\r\nX"), "550 caf???X");
    }

    #[test]
    fn the_text_part_is_wrapped_plain_text() {
        let raw = String::from_utf8(report(Action::Failed, &refused())).unwrap();
        let text = raw
            .split("Content-Type: text/plain")
            .nth(1)
            .unwrap()
            .split("\r\n--")
            .next()
            .unwrap();
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        assert_eq!(wrap("aaa bbb", "  "), "aaa bbb");
        let w = wrap(&"word ".repeat(30), "    ");
        assert!(
            w.lines().skip(1).all(|l| l.starts_with("    word")) && w.lines().count() == 3,
            "{w}"
        );
    }

    #[test]
    fn header_section_stops_at_the_blank_line() {
        assert_eq!(
            header_section(b"A: 1\r\nB: 2\r\n\r\nbody"),
            b"A: 1\r\nB: 2\r\n"
        );
        assert_eq!(header_section(b"A: 1\r\n"), b"A: 1\r\n");
    }
}
