//! APPEND — authenticated. RFC 9051 §6.3.12, MULTIAPPEND (RFC 3502: all
//! or none), UIDPLUS's APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889), and
//! the mailbox quota (R-IN-3).

use crate::fetch::summary_of;
use crate::session::{Flow, Session};
use crate::view::compact;
use mailhost_imap_proto::types::AppendMessage;
use mailhost_store::{NewAppend, StoreError};

impl Session {
    pub async fn cmd_append(
        &mut self,
        tag: &str,
        mailbox: Vec<u8>,
        messages: Vec<AppendMessage>,
    ) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        let account = self.account();
        let folder = match self.ctx.store.folder(account, &name).await {
            Ok(Some(f)) => f,
            // RFC 9051 §6.3.12: TRYCREATE tells the client CREATE may help.
            Ok(None) => return self.no(tag, "[TRYCREATE] no such folder"),
            Err(e) => return self.tempfail(tag, "append", e),
        };
        let mut new = Vec::with_capacity(messages.len());
        for m in &messages {
            if m.data.len() as u64 > self.ctx.max_message_size {
                return self.no(
                    tag,
                    &format!(
                        "[TOOBIG] the message is larger than this server's limit of {} bytes (R-IN-2)",
                        self.ctx.max_message_size
                    ),
                );
            }
            if m.data.is_empty() {
                return self.no(tag, "an empty message cannot be stored");
            }
            let flags = match self.flag_bits(&m.flags, true).await {
                Ok(b) => b,
                Err(text) if text.starts_with('[') => return self.no(tag, &text),
                Err(text) => return self.bad(Some(tag), &text),
            };
            let date_ms = m
                .date
                .map_or_else(mailhost_store::now_ms, |s| s.saturating_mul(1000));
            new.push(NewAppend {
                summary: Some(summary_of(&m.data)),
                data: m.data.clone(),
                flags,
                date_ms,
            });
        }
        drop(messages);
        // Durable before the OK: the store commits (and syncs) first.
        let done = match self.ctx.store.append(account, folder.id, &new).await {
            Ok(a) => a,
            Err(StoreError::OverQuota(m)) => {
                return self.no(tag, &format!("[OVERQUOTA] {m}"));
            }
            Err(StoreError::NotFound(_)) => return self.no(tag, "[TRYCREATE] no such folder"),
            Err(StoreError::Invalid(m)) => return self.no(tag, &format!("[LIMIT] {m}")),
            Err(e) => return self.tempfail(tag, "append", e),
        };
        self.ctx.store.changed(account);
        if self.sel.as_ref().is_some_and(|s| s.folder == folder.id) {
            self.sync_full().await?;
        }
        self.ok(
            tag,
            &format!(
                "[APPENDUID {} {}] APPEND completed",
                done.uidvalidity,
                compact(&done.uids)
            ),
        )
    }
}
