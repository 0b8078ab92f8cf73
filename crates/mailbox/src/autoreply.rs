//! The autoresponder (R-IN-5) following RFC 3834: when a reply may go
//! (§2, §3.1), and the reply itself (§3.1.5-§3.1.7, §5).

use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mail_parser::Message;

/// Why no reply goes; None when one may.
pub fn refusal(sender: &str, msg: &Message<'_>, names: &[String]) -> Option<&'static str> {
    // §2: never to the null sender; nor to addresses that are mail systems
    // or list machinery.
    if sender.is_empty() {
        return Some("null sender");
    }
    let local = sender
        .rsplit_once('@')
        .map_or(sender, |(l, _)| l)
        .to_ascii_lowercase();
    if matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "listserv" | "majordomo"
    ) || local.starts_with("owner-")
        || local.ends_with("-request")
    {
        return Some("sender is a mail system or list address");
    }
    let raw = msg.raw_message();
    for h in msg.headers() {
        let name = h.name.as_str();
        let value = raw
            .get(h.offset_start as usize..h.offset_end as usize)
            .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
            .unwrap_or_default();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        // §5.1: anything but "no" was sent by a machine.
        if is("Auto-Submitted") && value != "no" {
            return Some("Auto-Submitted");
        }
        if is("Precedence") && matches!(value.as_str(), "bulk" | "list" | "junk") {
            return Some("Precedence bulk, list or junk");
        }
        if (is("X-Spam-Flag") || is("X-Spam") || is("X-Spam-Status")) && value.starts_with("yes") {
            return Some("flagged as spam");
        }
        // §2: list traffic (RFC 2369, RFC 2919).
        // (Bytes: a header name from the world may not be ASCII.)
        if name.len() > 5 && name.as_bytes()[..5].eq_ignore_ascii_case(b"List-") {
            return Some("list message");
        }
    }
    // §2: only when the mailbox is named as a recipient.
    let named = [
        msg.to(),
        msg.cc(),
        msg.bcc(),
        msg.header("Resent-To").and_then(|h| h.as_address()),
        msg.header("Resent-Cc").and_then(|h| h.as_address()),
    ]
    .into_iter()
    .flatten()
    .flat_map(|a| a.iter())
    .filter_map(|a| a.address())
    .any(|a| names.iter().any(|n| n.eq_ignore_ascii_case(a)));
    if !named {
        return Some("the mailbox is not in To or Cc");
    }
    None
}

/// Who a sender is for "once per interval": the address without the
/// tags that change per message or per day — BATV (`prvs=TAG=local@d`)
/// and another forwarder's SRS (`SRS0=H=TT=d=local@f`) — lower-cased.
pub fn sender_key(sender: &str) -> String {
    let s = sender.to_ascii_lowercase();
    let Some((local, domain)) = s.rsplit_once('@') else {
        return s;
    };
    if let Some(rest) = local.strip_prefix("srs0=") {
        // H=TT=domain=local
        let mut it = rest.splitn(4, '=');
        if let (Some(_), Some(_), Some(d), Some(l)) = (it.next(), it.next(), it.next(), it.next()) {
            return format!("{l}@{d}");
        }
    }
    if let Some(rest) = local.strip_prefix("srs1=") {
        // H=first==H=TT=domain=local
        if let Some((_, srs0)) = rest.split_once("==") {
            let mut it = srs0.splitn(4, '=');
            if let (Some(_), Some(_), Some(d), Some(l)) =
                (it.next(), it.next(), it.next(), it.next())
            {
                return format!("{l}@{d}");
            }
        }
    }
    for prefix in ["prvs=", "btv1=", "msprvs1="] {
        if let Some(rest) = local.strip_prefix(prefix) {
            if let Some((_, l)) = rest.split_once('=') {
                return format!("{l}@{domain}");
            }
        }
    }
    s
}

/// The reply from `mailbox` to `to`, answering `msg`.
pub fn build(
    mailbox: &str,
    to: &str,
    subject: Option<&str>,
    body: &str,
    msg: &Message<'_>,
    hostname: &str,
) -> Vec<u8> {
    let subject = match subject {
        Some(s) => s.to_string(),
        None => format!("Re: {}", msg.subject().unwrap_or("").trim()),
    };
    let id: u128 = rand::random();
    let mut b = MessageBuilder::new()
        .from(mailbox)
        .to(to)
        .subject(subject)
        .message_id(format!("{id:032x}.auto@{hostname}"))
        // RFC 3834 §5.
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .text_body(body.replace("\r\n", "\n").replace('\n', "\r\n"));
    // §3.1.5: In-Reply-To and References from the original.
    if let Some(orig) = msg.message_id() {
        let mut refs: Vec<String> = msg
            .references()
            .as_text_list()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        refs.push(orig.to_string());
        b = b.in_reply_to(orig.to_string()).references(refs);
    }
    b.write_to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn parse(h: &str) -> Message<'_> {
        MessageParser::default().parse(h.as_bytes()).unwrap()
    }
    const ME: &str = "me@x.example";

    fn why(sender: &str, headers: &str) -> Option<&'static str> {
        let m = parse(headers);
        refusal(sender, &m, &[ME.to_string()])
    }

    #[test]
    fn replies_only_to_personal_mail() {
        let ok = "From: a@o.example\r\nTo: Me <me@x.example>\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(why("a@o.example", ok), None);
        assert_eq!(why("a@o.example", &ok.replace("To:", "Cc:")), None);
        assert_eq!(why("", ok), Some("null sender"));
        for s in [
            "MAILER-DAEMON@o.example",
            "owner-l@o.example",
            "l-request@o.example",
        ] {
            assert!(why(s, ok).is_some(), "{s}");
        }
        for h in [
            "Auto-Submitted: auto-generated\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            "Precedence: junk\r\n",
            "List-Id: <l.o.example>\r\n",
            "List-Unsubscribe: <mailto:u@o.example>\r\n",
            "X-Spam-Flag: YES\r\n",
            "X-Spam-Status: Yes, score=9\r\n",
        ] {
            assert!(why("a@o.example", &format!("{h}{ok}")).is_some(), "{h}");
        }
        assert_eq!(
            why("a@o.example", &format!("Auto-Submitted: no\r\n{ok}")),
            None
        );
        assert_eq!(
            why("a@o.example", &format!("Precedence: first-class\r\n{ok}")),
            None
        );
        // Found by fuzzing: a non-ASCII header name.
        assert_eq!(why("a@o.example", &format!("Lisé-x: y\r\n{ok}")), None);
        let bcc = ok.replace("To: Me <me@x.example>", "To: other@x.example");
        assert!(why("a@o.example", &bcc).is_some());
    }

    #[test]
    fn sender_keys_drop_changing_tags() {
        assert_eq!(sender_key("Bob@X.example"), "bob@x.example");
        assert_eq!(sender_key("prvs=1234abcd=bob@x.example"), "bob@x.example");
        assert_eq!(
            sender_key("SRS0=HhHh=TT=x.example=bob@fwd.example"),
            "bob@x.example"
        );
        assert_eq!(
            sender_key("SRS1=HHHH=first.example==HhHh=TT=x.example=bob@fwd.example"),
            "bob@x.example"
        );
        assert_eq!(
            sender_key("SRS0=broken@fwd.example"),
            "srs0=broken@fwd.example"
        );
        assert_eq!(sender_key("nodomain"), "nodomain");
    }

    #[test]
    fn reply_threads_and_is_marked() {
        let orig = parse("From: a@o.example\r\nTo: me@x.example\r\nSubject: Plans\r\nMessage-ID: <2@o.example>\r\nReferences: <1@o.example>\r\n\r\nx\r\n");
        let raw = build(
            ME,
            "a@o.example",
            None,
            "Away\nuntil Monday",
            &orig,
            "mx.example",
        );
        let r = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(r.subject(), Some("Re: Plans"));
        assert_eq!(r.in_reply_to().as_text(), Some("2@o.example"));
        let refs = r.references().as_text_list().unwrap();
        assert_eq!(refs, vec!["1@o.example", "2@o.example"]);
        assert_eq!(
            r.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(r.body_text(0).unwrap().trim_end(), "Away\r\nuntil Monday");
        let own = build(ME, "a@o.example", Some("Out"), "x", &orig, "mx.example");
        assert_eq!(
            MessageParser::default().parse(&own).unwrap().subject(),
            Some("Out")
        );
    }
}
