//! The quota notices of R-IN-3, in the words of the hosting manual (seed
//! 002): English, then Japanese, as UTF-8 text that mail-builder encodes
//! for 7-bit transport.

use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mailhost_store::quota::{FULL, WARNED};

/// `50[MB]` as the manual writes it; other sizes in the largest unit that
/// divides them.
pub fn quota_size(bytes: i64) -> String {
    const MB: i64 = 1 << 20;
    const KB: i64 = 1 << 10;
    if bytes >= MB && bytes % MB == 0 {
        format!("{}[MB]", bytes / MB)
    } else if bytes >= KB && bytes % KB == 0 {
        format!("{}[KB]", bytes / KB)
    } else {
        format!("{bytes}[B]")
    }
}

pub fn subject(level: i64) -> &'static str {
    if level >= FULL {
        "*** Mail quota exceeded ***"
    } else {
        "*** Mail quota warning ***"
    }
}

fn text(level: i64, address: &str, quota: i64, hostname: &str) -> String {
    let (en, ja) = if level >= FULL {
        (
            "Your mailbox on the server is now quota exceeded.",
            "メールBOXの容量が制限値を越えました。\r\n新しいメールが受信できなくなります。",
        )
    } else {
        (
            "Your mailbox on the server is now more than 90% full.",
            "メールBOXの容量が90%を越えました。\r\n容量が制限値を越えた場合は、新しいメールが受信できなくなります。",
        )
    };
    format!(
        "MailAddress: {address}\r\nQuotaSize: {}\r\n\r\n{en}\r\nSo that you can continue to receive mail\r\nyou need to remove some messages from your mailbox.\r\n\r\n{ja}\r\n不要なメールをサーバ上のメールBOXから削除して下さい。\r\n\r\n-- \r\n{hostname}\r\n",
        quota_size(quota)
    )
}

/// The notice for `address` reaching `level` ([`WARNED`] or [`FULL`]) of
/// `quota` bytes, addressed to `to` (the mailbox and the domain's
/// contact).
pub fn build(level: i64, address: &str, quota: i64, to: &[&str], hostname: &str) -> Vec<u8> {
    debug_assert!(level == WARNED || level == FULL);
    let id: u128 = rand::random();
    MessageBuilder::new()
        .from(("Mail System", format!("postmaster@{hostname}").as_str()))
        .to(to.iter().map(|a| ("", *a)).collect::<Vec<_>>())
        .subject(subject(level))
        .message_id(format!("{id:032x}.quota@{hostname}"))
        // RFC 3834 §5: a notice made by the system, never to be answered.
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .text_body(text(level, address, quota, hostname))
        .write_to_vec()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn sizes() {
        assert_eq!(quota_size(50 << 20), "50[MB]");
        assert_eq!(quota_size(20 << 10), "20[KB]");
        assert_eq!(quota_size(1000), "1000[B]");
    }

    #[test]
    fn notices_parse_with_both_languages() {
        for (level, subj, ja) in [
            (
                WARNED,
                "*** Mail quota warning ***",
                "メールBOXの容量が90%を越えました。",
            ),
            (
                FULL,
                "*** Mail quota exceeded ***",
                "メールBOXの容量が制限値を越えました。",
            ),
        ] {
            let raw = build(
                level,
                "a@x.example",
                50 << 20,
                &["a@x.example", "admin@y.example"],
                "mx.example",
            );
            assert!(raw.is_ascii(), "7-bit on the wire");
            let m = MessageParser::default().parse(&raw).unwrap();
            assert_eq!(m.subject(), Some(subj));
            let body = m.body_text(0).unwrap();
            assert!(body.contains("MailAddress: a@x.example"), "{body}");
            assert!(body.contains("QuotaSize: 50[MB]"), "{body}");
            assert!(body.contains(ja), "{body}");
            assert_eq!(m.to().unwrap().iter().count(), 2);
        }
    }
}
