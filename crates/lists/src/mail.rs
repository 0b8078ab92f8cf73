//! The mail a list sends about itself: confirmations (R-LIST-1) and
//! notices to owners and posters. Built with mail-builder (RFC 5322,
//! encoded for 7-bit transport); each carries `Auto-Submitted` (RFC 3834)
//! so that autoresponders do not answer it.

use crate::{Lists, Source};
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mailhost_store::MailList;

/// A list's command address: `news+confirm-TOKEN@example.com`.
pub fn command_address(list: &str, command: &str) -> String {
    match list.rsplit_once('@') {
        Some((l, d)) => format!("{l}+{command}@{d}"),
        None => list.to_string(),
    }
}

fn message_id(lists: &Lists, what: &str) -> String {
    let r: u128 = rand::random();
    format!("{r:032x}.{what}@{}", lists.config.server.hostname)
}

/// The confirmation request for `addr` to join `list`, with its token;
/// returns the message and its Message-ID (without brackets).
pub fn confirmation(
    lists: &Lists,
    list: &MailList,
    addr: &str,
    tok: &str,
    expires_secs: i64,
    invited: bool,
    src: &Source,
) -> Result<(Vec<u8>, String), String> {
    let id = message_id(lists, "confirm");
    let reply = command_address(&list.address, &format!("confirm-{tok}"));
    let link = format!("{}/lists/confirm?t={tok}", lists.base_url());
    let until = lists.local_time(expires_secs.saturating_mul(1000));
    let why = if invited {
        format!(
            "The owner of the list {} ({}) invited you to join it.",
            list.address, list.name
        )
    } else {
        format!(
            "Someone asked to subscribe {addr} to the list {} ({}).",
            list.address, list.name
        )
    };
    let origin = match (&src.ip, src.method) {
        (Some(ip), m) => format!("The request came by {m} from {ip}."),
        (None, m) => format!("The request came by {m}."),
    };
    let text = format!(
        "{why}\r\n{origin}\r\n\r\n\
         You will receive nothing from this list unless you confirm.\r\n\
         To confirm, open this link:\r\n\r\n  {link}\r\n\r\n\
         or reply to this message (the reply goes to {reply}).\r\n\r\n\
         The link works once, until {until}.\r\n\
         If you did not ask for this, ignore this message: you will not be added.\r\n"
    );
    let body = MessageBuilder::new()
        .from((
            list.name.as_str(),
            command_address(&list.address, "owner").as_str(),
        ))
        .to(addr)
        .reply_to(reply.as_str())
        .subject(format!("Confirm your subscription to {}", list.address))
        .message_id(id.as_str())
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .header("Precedence", Raw::new("list"))
        .text_body(text)
        .write_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((body, id))
}

/// A short notice from the list to `to` (the owner, a poster).
pub fn notice(
    lists: &Lists,
    list: &MailList,
    to: &str,
    subject: &str,
    text: &str,
) -> Result<Vec<u8>, String> {
    MessageBuilder::new()
        .from((
            list.name.as_str(),
            command_address(&list.address, "owner").as_str(),
        ))
        .to(to)
        .subject(subject)
        .message_id(message_id(lists, "notice"))
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .header("Precedence", Raw::new("list"))
        .text_body(text.replace('\n', "\r\n").replace("\r\r\n", "\r\n"))
        .write_to_vec()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_addresses() {
        assert_eq!(
            command_address("news@a.example", "subscribe"),
            "news+subscribe@a.example"
        );
        assert_eq!(command_address("bad", "x"), "bad");
    }
}
