//! Reading the bounces and complaints that come back to a list.
//!
//! Three shapes, tried in order:
//! - a delivery status notification, RFC 3464: a `message/delivery-status`
//!   part (or `message/global-delivery-status`, RFC 6533) inside a
//!   `multipart/report` (RFC 6522);
//! - a complaint, RFC 5965 (ARF): a `message/feedback-report` part, with
//!   the original message or its headers beside it;
//! - anything else that reads like a bounce: an SMTP reply or enhanced
//!   status code (RFC 3463) next to an address in the text.
//!
//! The report parts are found by their content type alone, whatever the
//! `report-type` parameter says or how deep they sit: some gateways wrap
//! the report, others get the parameter wrong. Their fields are read here
//! from the part's bytes (mail-parser keeps them as an opaque body).
//!
//! Everything is bounded: input size, recipients, field lengths, the text
//! scanned, the original headers returned.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

/// Recipients read from one report.
pub const MAX_RECIPIENTS: usize = 1000;
/// Only this much of a message is parsed; report parts come before the
/// (possibly huge) returned original.
const MAX_INPUT: usize = 4 << 20;
/// Text scanned by the fallback.
const MAX_TEXT: usize = 64 * 1024;
/// Original headers returned with a complaint.
const MAX_HEADERS: usize = 64 * 1024;
/// A field value longer than this is cut (RFC 5322 §2.1.1 allows 998).
const MAX_VALUE: usize = 998;
/// Fields kept from one block of a report part.
const MAX_FIELDS: usize = 64;
/// RFC 5321 §4.5.3.1.1-3: 64 + 1 + 255.
const MAX_ADDRESS: usize = 320;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Permanent: 5.x.x, the address will not work.
    Hard,
    /// Transient: 4.x.x or a delay; may work later.
    Soft,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The failed address as reported (case kept): Original-Recipient when
    /// present (what we sent to), else Final-Recipient.
    pub recipient: Option<String>,
    pub severity: Severity,
    /// An RFC 3463 status `c.s.d`, or a three-digit SMTP reply code when a
    /// text bounce gives nothing better.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// An RFC 3464 DSN; empty when it only reports success (delivered,
    /// relayed, expanded) or its recipients could not be read.
    Dsn(Vec<Failure>),
    /// An RFC 5965 feedback report.
    Complaint {
        /// Feedback-Type, lower case (`abuse`, `fraud`, `other`, …);
        /// `unknown` when missing.
        feedback_type: String,
        /// Original-Rcpt-To: the complaining recipient, if given.
        original_rcpt: Option<String>,
        /// The header section of the reported message, if included: it
        /// names the list (List-Id), the VERP return path and the member.
        original_headers: Option<Vec<u8>>,
    },
    /// A bounce without a report part, read from its text.
    Text(Vec<Failure>),
}

/// Reads `raw` as a bounce or complaint; None when it is neither.
pub fn parse(raw: &[u8]) -> Option<Report> {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let msg = MessageParser::default().parse(raw)?;
    for part in &msg.parts {
        match content_type(part).as_deref() {
            Some("message/delivery-status" | "message/global-delivery-status") => {
                let dsn = dsn(part.contents());
                return Some(match dsn {
                    Some(failures) => Report::Dsn(failures),
                    // Unreadable or truncated: the text part may still say
                    // what failed, and it is a DSN all the same.
                    None => text(&msg).map_or(Report::Dsn(Vec::new()), Report::Text),
                });
            }
            Some("message/feedback-report") => return Some(complaint(&msg, part)),
            _ => {}
        }
    }
    text(&msg).map(Report::Text)
}

fn content_type(part: &MessagePart) -> Option<String> {
    let ct = part.content_type()?;
    Some(format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase())
}

type Block = Vec<(String, String)>;

/// Header blocks separated by empty lines (RFC 3464 §2.1: the
/// per-message fields, then one block per recipient), with continuation
/// lines joined and names in lower case. Lines that are not fields are
/// skipped; a line of only spaces counts as empty (a leniency for
/// generators that indent their blank lines).
fn blocks(data: &[u8], max_blocks: usize) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut cur: Block = Vec::new();
    let mut joinable = false;
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                if out.len() >= max_blocks {
                    return out;
                }
            }
            joinable = false;
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let (true, Some((_, v))) = (joinable, cur.last_mut()) {
                push_bounded(v, " ");
                push_bounded(v, text.trim());
            }
            continue;
        }
        joinable = false;
        let Some((name, value)) = text.split_once(':') else {
            continue;
        };
        if cur.len() < MAX_FIELDS {
            let mut v = String::new();
            push_bounded(&mut v, value.trim());
            cur.push((name.trim().to_ascii_lowercase(), v));
            joinable = true;
        }
    }
    if !cur.is_empty() && out.len() < max_blocks {
        out.push(cur);
    }
    out
}

fn push_bounded(v: &mut String, s: &str) {
    for c in s.chars() {
        if v.len() + c.len_utf8() > MAX_VALUE {
            return;
        }
        v.push(c);
    }
}

fn field<'a>(block: &'a Block, name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The failures of a delivery-status body; None when it has no
/// recipient block at all.
fn dsn(data: &[u8]) -> Option<Vec<Failure>> {
    let mut seen = false;
    let mut out = Vec::new();
    for b in blocks(data, MAX_RECIPIENTS + 1) {
        let action = field(&b, "action").map(|a| {
            a.split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        });
        let final_rcpt = field(&b, "final-recipient");
        if action.is_none() && final_rcpt.is_none() {
            continue; // the per-message block
        }
        seen = true;
        let status = field(&b, "status")
            .and_then(|s| enhanced(s.split_whitespace().next().unwrap_or(""), 3));
        // RFC 3464 §2.3.3 (Action) and §2.3.4 (Status).
        let severity = match (
            action.as_deref(),
            status.as_deref().and_then(|s| s.bytes().next()),
        ) {
            (Some("delivered" | "relayed" | "expanded"), _) => continue,
            (Some("delayed"), _) | (_, Some(b'4')) => Severity::Soft,
            (Some("failed"), _) | (_, Some(b'5')) => Severity::Hard,
            _ => continue,
        };
        let status = status.filter(|s| !s.starts_with('2')).unwrap_or_else(|| {
            if severity == Severity::Hard {
                "5.0.0"
            } else {
                "4.0.0"
            }
            .to_string()
        });
        let recipient = field(&b, "original-recipient")
            .and_then(address)
            .or_else(|| final_rcpt.and_then(address));
        out.push(Failure {
            recipient,
            severity,
            status,
        });
    }
    seen.then_some(out)
}

/// `rfc822; user@example.com` (RFC 3464 §2.3.1-2) or `utf-8; …` (RFC
/// 6533) to the address; a bare address is tolerated, other address types
/// (x400, unknown) are not addresses we sent to.
fn address(v: &str) -> Option<String> {
    let addr = match v.split_once(';') {
        Some((kind, a)) => {
            let kind = kind.trim();
            if !kind.eq_ignore_ascii_case("rfc822") && !kind.eq_ignore_ascii_case("utf-8") {
                return None;
            }
            a
        }
        None => v,
    };
    let addr = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let ok = addr.len() <= MAX_ADDRESS
        && addr.contains('@')
        && !addr.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| addr.to_string())
}

/// An RFC 3463 status code `class.subject.detail`, class 2, 4 or 5, at
/// most `max` digits in each of the other two.
fn enhanced(s: &str, max: usize) -> Option<String> {
    let mut it = s.split('.');
    let (c, sub, det) = (it.next()?, it.next()?, it.next()?);
    let num = |x: &str| !x.is_empty() && x.len() <= max && x.bytes().all(|b| b.is_ascii_digit());
    let ok = it.next().is_none() && matches!(c, "2" | "4" | "5") && num(sub) && num(det);
    ok.then(|| s.to_string())
}

fn complaint(msg: &Message, report: &MessagePart) -> Report {
    let fields: Block = blocks(report.contents(), 4).into_iter().flatten().collect();
    let feedback_type = field(&fields, "feedback-type")
        .and_then(|t| t.split_whitespace().next())
        .map(|t| {
            t.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .take(64)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let original_rcpt = field(&fields, "original-rcpt-to").and_then(address);
    let original_headers = msg.parts.iter().find_map(|p| {
        let ct = content_type(p)?;
        if !matches!(
            ct.as_str(),
            "message/rfc822"
                | "message/global"
                | "text/rfc822-headers"
                | "message/rfc822-headers"
                | "message/global-headers"
        ) {
            return None;
        }
        let section = crate::headers::header_section(p.contents());
        let mut cut = section.len().min(MAX_HEADERS);
        if cut < section.len() {
            // Whole lines only.
            cut = section[..cut]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        }
        (cut > 0).then(|| section[..cut].to_vec())
    });
    Report::Complaint {
        feedback_type,
        original_rcpt,
        original_headers,
    }
}

/// Words that make a message read as a bounce (RFC 3463 codes alone
/// appear in ordinary mail, version numbers and dates too).
const CUES: [&str; 16] = [
    "undeliver",
    "could not be delivered",
    "couldn't be delivered",
    "delivery failed",
    "delivery has failed",
    "delivery status",
    "failure notice",
    "returned mail",
    "returned to sender",
    "mail delivery",
    "permanent error",
    "temporary error",
    "address(es) failed",
    "delivery to the following",
    "not be delivered",
    "delivery incomplete",
];

/// Where the bounce's own text ends and a copy of the original begins.
const ORIGINAL_MARKS: [&str; 4] = [
    "copy of the message",
    "original message",
    "headers of the original",
    "message/rfc822",
];

/// The text fallback: codes next to addresses, if the message reads as a
/// bounce at all.
fn text(msg: &Message) -> Option<Vec<Failure>> {
    let mut body = String::new();
    for p in msg.text_bodies().filter(|p| !p.is_text_html()) {
        if let Some(t) = p.text_contents() {
            for c in t.chars() {
                if body.len() + c.len_utf8() > MAX_TEXT {
                    break;
                }
                body.push(c);
            }
        }
        if body.len() >= MAX_TEXT - 4 {
            break;
        }
        body.push('\n');
    }
    let lower = body.to_ascii_lowercase();
    let subject = msg.subject().unwrap_or("").to_ascii_lowercase();
    let sender = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .unwrap_or("")
        .to_ascii_lowercase();
    let cue = CUES
        .iter()
        .any(|c| lower.contains(c) || subject.contains(c))
        || subject.starts_with("undeliverable")
        || sender.starts_with("mailer-daemon@")
        || sender.starts_with("postmaster@");
    if !cue {
        return None;
    }
    let failures = scan(&body);
    (!failures.is_empty()).then_some(failures)
}

/// How many lines back an address may stand from the code that refers to
/// it: Exim puts the address, then the host, then the reply.
const NEAR_LINES: usize = 6;

fn scan(body: &str) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    let mut last: Option<(String, usize)> = None;
    for (n, line) in body.lines().enumerate() {
        let l = line.to_ascii_lowercase();
        if ORIGINAL_MARKS.iter().any(|m| l.contains(m))
            || l.starts_with("received:")
            || l.starts_with("return-path:")
        {
            break;
        }
        let here = addresses(line);
        if let Some(a) = here.last() {
            last = Some((a.clone(), n));
        }
        let Some((severity, status)) = code(line) else {
            continue;
        };
        let rcpt = here.first().cloned().or_else(|| {
            last.as_ref()
                .filter(|(_, at)| n - at <= NEAR_LINES)
                .map(|(a, _)| a.clone())
        });
        let Some(rcpt) = rcpt else { continue };
        let same = |f: &Failure| {
            f.recipient
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&rcpt))
        };
        if let Some(f) = out.iter_mut().find(|f| same(f)) {
            // A later line may carry the enhanced code the first lacked.
            if !f.status.contains('.') && status.contains('.') {
                f.status = status;
                f.severity = severity;
            }
        } else if out.len() < MAX_RECIPIENTS {
            out.push(Failure {
                recipient: Some(rcpt),
                severity,
                status,
            });
        } else {
            break;
        }
    }
    out
}

/// Addresses in a line (at most 8): an `@` with atext on its left and a
/// dotted domain on its right.
fn addresses(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let atext = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&c);
    let mut out = Vec::new();
    for (i, _) in b.iter().enumerate().filter(|(_, &c)| c == b'@') {
        let start = b[..i].iter().rposition(|&c| !atext(c)).map_or(0, |p| p + 1);
        let end = b[i + 1..]
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
            .map_or(b.len(), |p| i + 1 + p);
        let local = line[start..i].trim_start_matches('.');
        let domain = line[i + 1..end].trim_end_matches('.');
        if !local.is_empty() && domain.contains('.') && local.len() + domain.len() < MAX_ADDRESS {
            out.push(format!("{local}@{domain}"));
            if out.len() == 8 {
                break;
            }
        }
    }
    out
}

/// The failure code of a line: an enhanced status 4.x.x / 5.x.x (one-digit
/// subject, which is all RFC 3463 defines, to stay clear of version
/// numbers), else an SMTP reply code 4yz / 5yz standing as a word before a
/// space, a dash or the end of the line (RFC 5321 §4.2).
fn code(line: &str) -> Option<(Severity, String)> {
    let b = line.as_bytes();
    let sev = |c: u8| {
        if c == b'5' {
            Severity::Hard
        } else {
            Severity::Soft
        }
    };
    let boundary = |i: usize| i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
    let mut reply = None;
    for i in 0..b.len() {
        if !matches!(b[i], b'4' | b'5') || !boundary(i) {
            continue;
        }
        // c.s.d: one-digit subject, 1-3 digit detail, not followed by a
        // further digit or dotted digit.
        if b.get(i + 1) == Some(&b'.')
            && b.get(i + 2).is_some_and(|c| (b'0'..=b'7').contains(c))
            && b.get(i + 3) == Some(&b'.')
        {
            let d = b[i + 4..].iter().take_while(|c| c.is_ascii_digit()).count();
            let after = i + 4 + d;
            let dotted_digit =
                b.get(after) == Some(&b'.') && b.get(after + 1).is_some_and(u8::is_ascii_digit);
            let clean_end =
                b.get(after).is_none_or(|c| !c.is_ascii_alphanumeric()) && !dotted_digit;
            if (1..=3).contains(&d) && clean_end {
                return Some((sev(b[i]), line[i..after].to_string()));
            }
        }
        let is_reply = b.get(i + 1).is_some_and(|c| (b'0'..=b'5').contains(c))
            && b.get(i + 2).is_some_and(|c| c.is_ascii_digit())
            && matches!(b.get(i + 3), None | Some(b' ' | b'-'));
        if is_reply && reply.is_none() {
            reply = Some((sev(b[i]), line[i..i + 3].to_string()));
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz seeds double as the golden corpus.
    const POSTFIX: &[u8] = include_bytes!("../fuzz/seeds/bounce/postfix-failed");
    const DELAYED: &[u8] = include_bytes!("../fuzz/seeds/bounce/postfix-delayed");
    const EXIM: &[u8] = include_bytes!("../fuzz/seeds/bounce/exim-text");
    const QMAIL: &[u8] = include_bytes!("../fuzz/seeds/bounce/qmail-text");
    const ARF: &[u8] = include_bytes!("../fuzz/seeds/bounce/arf");

    fn fail(r: &str, severity: Severity, status: &str) -> Failure {
        Failure {
            recipient: Some(r.into()),
            severity,
            status: status.into(),
        }
    }

    fn lf(b: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(b)
            .replace("\r\n", "\n")
            .into_bytes()
    }

    #[test]
    fn corpus_is_not_empty() {
        for m in [POSTFIX, DELAYED, EXIM, QMAIL, ARF] {
            assert!(m.len() > 500 && m.windows(2).any(|w| w == b"\r\n"));
        }
    }

    #[test]
    fn postfix_hard_bounce() {
        let want = Report::Dsn(vec![fail("bob@example.org", Severity::Hard, "5.1.1")]);
        assert_eq!(parse(POSTFIX), Some(want.clone()));
        assert_eq!(parse(&lf(POSTFIX)), Some(want));
    }

    #[test]
    fn delayed_is_soft_and_delivered_is_ignored() {
        let want = Report::Dsn(vec![
            fail("Carol@Example.net", Severity::Soft, "4.4.1"),
            fail("erin@example.net", Severity::Hard, "5.2.2"),
        ]);
        assert_eq!(parse(DELAYED), Some(want.clone()));
        assert_eq!(parse(&lf(DELAYED)), Some(want));
    }

    #[test]
    fn text_bounces() {
        // The 5.1.1 and address in the returned copy are not read.
        let want = Report::Text(vec![fail("carol@example.net", Severity::Hard, "550")]);
        assert_eq!(parse(EXIM), Some(want.clone()));
        assert_eq!(parse(&lf(EXIM)), Some(want));
        assert_eq!(
            parse(QMAIL),
            Some(Report::Text(vec![fail(
                "dave@example.net",
                Severity::Soft,
                "4.2.2"
            )]))
        );
    }

    #[test]
    fn arf_complaint() {
        let Some(Report::Complaint {
            feedback_type,
            original_rcpt,
            original_headers,
        }) = parse(ARF)
        else {
            panic!("not a complaint");
        };
        assert_eq!(feedback_type, "abuse");
        assert_eq!(original_rcpt.as_deref(), Some("erin@example.org"));
        let h = original_headers.unwrap();
        assert!(h.starts_with(b"Return-Path: <news+bounce-abc@example.com>\r\n"));
        assert!(h.ends_with(b"Message-Id: <1@example.com>\r\n"));
        assert_eq!(
            crate::headers::get(&h, "List-Id"),
            ["\"News\" <news.example.com>"]
        );
        // The same with text/rfc822-headers and no Feedback-Type.
        let s = String::from_utf8_lossy(ARF)
            .replace(
                "Content-Type: message/rfc822",
                "Content-Type: text/rfc822-headers",
            )
            .replace("Feedback-Type: Abuse\r\n", "");
        let Some(Report::Complaint {
            feedback_type,
            original_headers,
            ..
        }) = parse(s.as_bytes())
        else {
            panic!("not a complaint");
        };
        assert_eq!(feedback_type, "unknown");
        assert!(original_headers
            .unwrap()
            .ends_with(b"Message-Id: <1@example.com>\r\n"));
    }

    #[test]
    fn not_bounces() {
        for m in [
            &b""[..],
            b"\x00\xff\xfe garbage \r\n\r\n\x80",
            b"From: alice@example.org\r\nSubject: Release\r\n\r\nVersion 5.1.1 is out, mail bob@example.com.\r\n",
            b"From: alice@example.org\r\nSubject: Returned mail\r\n\r\nI returned the parcel. 550 thanks.\r\n",
            b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n",
        ] {
            assert_eq!(parse(m), None, "{}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn truncated_reports() {
        // Cut inside the delivery-status part, before any recipient: the
        // human part still names the failure.
        let cut = POSTFIX
            .windows(16)
            .position(|w| w == b"Final-Recipient:")
            .unwrap();
        assert_eq!(
            parse(&POSTFIX[..cut]),
            Some(Report::Text(vec![fail(
                "bob@example.org",
                Severity::Hard,
                "5.1.1"
            )]))
        );
        // Cut before the report part: a text bounce.
        let cut = POSTFIX
            .windows(14)
            .position(|w| w == b"Reporting-MTA:")
            .unwrap()
            - 60;
        assert!(matches!(parse(&POSTFIX[..cut]), Some(Report::Text(f)) if f.len() == 1));
        // Cut in the middle of a field: what is there is read.
        let cut = POSTFIX
            .windows(11)
            .position(|w| w == b"Status: 5.1")
            .unwrap()
            + 11;
        assert_eq!(
            parse(&POSTFIX[..cut]),
            Some(Report::Dsn(vec![fail(
                "bob@example.org",
                Severity::Hard,
                "5.0.0"
            )]))
        );
        for n in (0..POSTFIX.len()).step_by(7) {
            let _ = parse(&POSTFIX[..n]);
            let _ = parse(&ARF[..n.min(ARF.len())]);
        }
    }

    #[test]
    fn encoded_and_sloppy_delivery_status() {
        let status = "Reporting-MTA: dns; x\r\n\r\nFinal-Recipient: bob@example.org\r\nAction: FAILED (permanent)\r\n   \r\nFinal-Recipient: x400; /C=ZA/\r\nStatus: 4.0.0\r\n";
        let m = format!(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            data_encoding::BASE64.encode(status.as_bytes())
        );
        assert_eq!(
            parse(m.as_bytes()),
            Some(Report::Dsn(vec![
                fail("bob@example.org", Severity::Hard, "5.0.0"),
                Failure {
                    recipient: None,
                    severity: Severity::Soft,
                    status: "4.0.0".into()
                },
            ]))
        );
    }

    #[test]
    fn recipients_are_bounded() {
        let mut status = String::from("Reporting-MTA: dns; x\n");
        for i in 0..3000 {
            status += &format!(
                "\nFinal-Recipient: rfc822; u{i}@example.org\nAction: failed\nStatus: 5.1.1\n"
            );
        }
        let m = format!(
            "Content-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n{status}\n--b--\n"
        );
        let Some(Report::Dsn(f)) = parse(m.as_bytes()) else {
            panic!()
        };
        assert_eq!(f.len(), MAX_RECIPIENTS);
        // Long continuation lines are cut, not accumulated.
        let long = format!(
            "Final-Recipient: rfc822; a@b.c\nAction: failed\nDiagnostic-Code: x\n{}",
            " y\n".repeat(100_000)
        );
        let b = blocks(long.as_bytes(), 10);
        assert!(b[0].iter().all(|(_, v)| v.len() <= MAX_VALUE));
    }

    #[test]
    fn codes_and_addresses() {
        assert_eq!(
            code("said: 550 5.1.1 <a@b.c>"),
            Some((Severity::Hard, "5.1.1".into()))
        );
        assert_eq!(
            code("452-4.2.2 full"),
            Some((Severity::Soft, "4.2.2".into()))
        );
        assert_eq!(
            code("550 No such user"),
            Some((Severity::Hard, "550".into()))
        );
        assert_eq!(code("host 10.4.5.1 and 5.1.1.1 or v4.5.6 or 5.9.1"), None);
        assert_eq!(code("5501 or 550x"), None);
        assert_eq!(
            addresses("RCPT TO:<a.b+c@x.example.org>: x@y z@w.e."),
            ["a.b+c@x.example.org", "z@w.e"]
        );
        assert!(addresses(&"@a.b".repeat(10_000)).len() <= 8);
        assert_eq!(
            address("rfc822; <Bob@Example.org>").as_deref(),
            Some("Bob@Example.org")
        );
        assert_eq!(address("rfc822; not an address"), None);
        assert_eq!(enhanced("5.7.26", 3).as_deref(), Some("5.7.26"));
        assert_eq!(enhanced("5.7.2600", 3), None);
        assert_eq!(enhanced("3.1.1", 3), None);
    }
}
