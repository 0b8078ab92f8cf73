//! Mail to a list's command addresses (R-LIST-1, R-LIST-3): `+subscribe`,
//! `+unsubscribe` (also with a member's token, the mailto of
//! List-Unsubscribe), `+confirm-TOKEN` (the reply to a confirmation) and
//! `+owner` (delivered to the owner). Commands are acted on at the end of
//! DATA, before the reply, so their effect is durable when the client
//! hears 250; a refusal carries its rule.

use crate::reply::Reply;
use crate::session::Session;
use mailhost_lists::{Refusal, Source};
use mailhost_store::Resolved;

/// A list recipient of the transaction.
#[derive(Debug, Clone)]
pub(crate) struct ListRcpt {
    pub list: String,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// A post to the list itself.
    Post,
    Subscribe,
    Unsubscribe,
    UnsubscribeToken(String),
    Confirm(String),
    /// A report to a member's VERP return path.
    Bounce(String),
    /// The owner's decision on a held post.
    Approve(String),
    Reject(String),
}

/// The command in a list's `+` address; None when there is none such.
fn command(c: &str) -> Option<Command> {
    let c = c.to_ascii_lowercase();
    Some(match c.as_str() {
        "subscribe" | "join" => Command::Subscribe,
        "unsubscribe" | "leave" => Command::Unsubscribe,
        _ => match c.split_once('-') {
            Some(("confirm", t)) if !t.is_empty() => Command::Confirm(t.to_string()),
            Some(("unsubscribe", t)) if !t.is_empty() => Command::UnsubscribeToken(t.to_string()),
            Some(("bounce", t)) if !t.is_empty() => Command::Bounce(t.to_string()),
            Some(("approve", t)) if !t.is_empty() => Command::Approve(t.to_string()),
            Some(("reject", t)) if !t.is_empty() => Command::Reject(t.to_string()),
            _ => return None,
        },
    })
}

fn refusal_reply(r: &Refusal) -> Reply {
    let (code, status) = r.smtp();
    Reply::new(code, status, r.text())
}

impl Session {
    /// RCPT to a list address. `Ok(Some(resolved))` hands a recipient that
    /// is delivered like a mailbox (`+owner`) back to the caller.
    pub(crate) async fn rcpt_list(
        &mut self,
        rcpt: &str,
        list: &str,
        cmd: &str,
    ) -> Result<Option<Resolved>, Reply> {
        let Some(lists) = self.ctx.lists.clone() else {
            return Err(Reply::new(550, "5.1.1", "recipient not accepted"));
        };
        if cmd.eq_ignore_ascii_case("owner") {
            let owner = match lists.store().list_get(list).await {
                Ok(Some(l)) => l.owner,
                Ok(None) => return Err(Reply::new(550, "5.1.1", "no such list")),
                Err(e) => {
                    tracing::error!("list {list}: {e}");
                    return Err(Reply::new(
                        451,
                        "4.3.0",
                        "temporary lookup failure; try again later",
                    ));
                }
            };
            return match self.ctx.store.resolve(&owner).await {
                Ok(r @ Resolved::Deliver(_)) => Ok(Some(r)),
                Ok(_) => Err(Reply::new(
                    550,
                    "5.1.1",
                    format!("the owner of {list} takes no mail"),
                )),
                Err(e) => {
                    tracing::error!("list owner {owner}: {e}");
                    Err(Reply::new(
                        451,
                        "4.3.0",
                        "temporary lookup failure; try again later",
                    ))
                }
            };
        }
        let command = if cmd.is_empty() {
            Command::Post
        } else {
            match command(cmd) {
                Some(c) => c,
                None => {
                    return Err(Reply::new(
                        550,
                        "5.1.1",
                        format!(
                            "{rcpt}: no such list command (use +subscribe, +unsubscribe or +owner)"
                        ),
                    ))
                }
            }
        };
        if matches!(command, Command::Subscribe | Command::Unsubscribe)
            && self.env.sender.is_empty()
        {
            return Err(Reply::new(
                550,
                "5.7.1",
                format!("{rcpt}: a subscription request needs a return address, not the null sender (R-LIST-1)"),
            ));
        }
        self.env.lists.push(ListRcpt {
            list: list.to_string(),
            command,
        });
        Ok(None)
    }

    /// Acts on the transaction's list commands (end of DATA); Err is the
    /// reply for the whole message.
    pub(crate) async fn data_lists(
        &mut self,
        rcpts: &[ListRcpt],
        sender: &str,
        message_id: Option<String>,
        body: &[u8],
    ) -> Result<Vec<String>, Reply> {
        let mut notes = Vec::new();
        let Some(lists) = self.ctx.lists.clone() else {
            return Ok(notes);
        };
        let src = Source {
            ip: Some(self.conn.peer.ip().to_string()),
            method: "mail",
            message_id,
            user_agent: None,
        };
        for r in rcpts {
            let list = match lists.store().list_get(&r.list).await {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(Reply::new(
                        550,
                        "5.1.1",
                        format!("no such list: {}", r.list),
                    ))
                }
                Err(e) => {
                    tracing::error!("list {}: {e}", r.list);
                    return Err(Reply::new(
                        451,
                        "4.3.0",
                        "temporary lookup failure; try again later",
                    ));
                }
            };
            let done = match &r.command {
                Command::Post => lists.accept_post(&list, sender, body, &src).await.map(|a| {
                    use mailhost_lists::posts::Accepted;
                    notes.push(match a {
                        Accepted::Queued => format!("posted to {}", list.address),
                        Accepted::Held(when) => {
                            format!("held for {} until {when} (R-LIST-4)", list.address)
                        }
                        Accepted::Moderation => {
                            format!("held for the approval of {}'s owner", list.address)
                        }
                    });
                }),
                Command::Subscribe => lists.request(&list, sender, &src).await.map(|_| ()),
                // Answered the same whether or not the sender was a
                // member: the reply tells nothing about who is on a list.
                Command::Unsubscribe => lists
                    .unsubscribe(&list, sender, &src, false)
                    .await
                    .map(|_| ()),
                Command::UnsubscribeToken(t) => {
                    lists.unsubscribe_by_token(t, &src).await.map(|_| ())
                }
                Command::Confirm(t) => lists.confirm(t, &src).await.map(|_| ()),
                Command::Approve(t) | Command::Reject(t) => lists
                    .moderate(t, matches!(r.command, Command::Approve(_)))
                    .await
                    .map(|what| notes.push(what)),
                Command::Bounce(t) => lists.bounce(t, body, &src).await.map(|b| {
                    notes.push(format!("report taken: {b:?}"));
                }),
            };
            if let Err(refused) = done {
                tracing::info!(peer = %self.conn.peer, list = %list.address, rule = refused.rule, "list command refused: {}", refused.message);
                return Err(refusal_reply(&refused));
            }
            tracing::info!(peer = %self.conn.peer, list = %list.address, command = ?r.command, "list command");
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(command("subscribe"), Some(Command::Subscribe));
        assert_eq!(command("Unsubscribe"), Some(Command::Unsubscribe));
        assert_eq!(command("confirm-abc"), Some(Command::Confirm("abc".into())));
        assert_eq!(
            command("unsubscribe-xyz"),
            Some(Command::UnsubscribeToken("xyz".into()))
        );
        assert_eq!(command("confirm-"), None);
        assert_eq!(command("bogus"), None);
    }
}
