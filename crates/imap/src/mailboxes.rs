//! Folder commands — authenticated: CREATE (with RFC 6154 USE), DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (RFC 5258, RFC 5819 STATUS), LSUB
//! and STATUS (RFC 9051 §6.3.4–§6.3.11). Names and the LIST answer are
//! `mailhost-imap-proto`'s (`names`, `list`); this file talks to the store.

use crate::session::{Flow, Session};
use mailhost_imap_proto::list::{self, FolderInfo};
use mailhost_imap_proto::names;
use mailhost_imap_proto::types::{ListCommand, ListReturn, StatusItem};
use mailhost_imap_proto::write;
use mailhost_store::folders::SPECIAL_USES;
use mailhost_store::{Folder, StoreError};

/// The folders as `list` sees them.
fn infos(folders: &[Folder]) -> Vec<FolderInfo<'_>> {
    folders
        .iter()
        .map(|f| FolderInfo {
            name: &f.name,
            special: f.special.as_deref(),
        })
        .collect()
}

impl Session {
    /// The account's folders and subscriptions, for LIST and LSUB.
    async fn folders_and_subscriptions(&self) -> Result<(Vec<Folder>, Vec<String>), StoreError> {
        let account = self.account();
        Ok((
            self.ctx.store.folders(account).await?,
            self.ctx.store.subscriptions(account).await?,
        ))
    }

    /// A client's folder name in our form; Err: why not, for a NO.
    pub fn mailbox_name(&self, raw: &[u8]) -> Result<String, String> {
        names::decode(raw, self.utf8).map_err(|e| format!("[CANNOT] {e}"))
    }

    /// A LIST/LSUB reference or pattern. Leniency: one that is not valid
    /// modified UTF-7 (a stray `&`) is matched as it was written, as
    /// Dovecot does, rather than refused: it then simply matches nothing.
    fn pattern(&self, raw: &[u8]) -> String {
        names::decode_pattern(raw, self.utf8)
            .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
    }

    /// A name as the client reads it, quoted as needed.
    fn wire_name(&self, out: &mut Vec<u8>, name: &str) {
        let wire = names::encode(name, self.utf8);
        write::astring(out, &wire, self.utf8);
    }

    /// CREATE — RFC 9051 §6.3.4: levels above that do not exist are made
    /// too; RFC 6154 §3 `USE (\Sent)` gives the new folder a use.
    pub async fn cmd_create(&mut self, tag: &str, mailbox: Vec<u8>, uses: Vec<String>) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        if name == "INBOX" {
            return self.no(tag, "[ALREADYEXISTS] INBOX always exists");
        }
        let special = match uses.as_slice() {
            [] => None,
            [u] => match SPECIAL_USES.iter().find(|s| s.eq_ignore_ascii_case(u)) {
                Some(s) => Some(*s),
                None => return self.no(tag, "[USEATTR] unsupported special use"),
            },
            _ => return self.no(tag, "[USEATTR] one special use per folder"),
        };
        let account = self.account();
        let store = self.ctx.store.clone();
        for parent in names::ancestors(&name) {
            match store.folder(account, parent).await {
                Ok(Some(_)) => {}
                Ok(None) => match store.folder_create(account, parent, None).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return self.tempfail(tag, "create", e),
                },
                Err(e) => return self.tempfail(tag, "create", e),
            }
        }
        match store.folder_create(account, &name, special).await {
            Ok(_) => self.ok(tag, "CREATE completed"),
            Err(StoreError::Conflict(_)) => self.no(tag, "[ALREADYEXISTS] the folder exists"),
            Err(e) => self.tempfail(tag, "create", e),
        }
    }

    /// DELETE — RFC 9051 §6.3.5. Its mail goes; folders below it stay
    /// (their parent is then listed as \NonExistent / \Noselect), and so
    /// do subscriptions (RFC 3501 §6.3.6).
    pub async fn cmd_delete(&mut self, tag: &str, mailbox: Vec<u8>) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        if name == "INBOX" {
            return self.no(tag, "[CANNOT] INBOX cannot be deleted");
        }
        let account = self.account();
        let folder = match self.ctx.store.folder(account, &name).await {
            Ok(Some(f)) => f,
            Ok(None) => return self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => return self.tempfail(tag, "delete", e),
        };
        if self.sel.as_ref().is_some_and(|s| s.folder == folder.id) {
            self.sel = None;
        }
        match self.ctx.store.folder_delete(account, folder.id).await {
            Ok(()) => {
                self.ctx.store.changed(account);
                self.ok(tag, "DELETE completed")
            }
            Err(StoreError::NotFound(_)) => self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => self.tempfail(tag, "delete", e),
        }
    }

    /// RENAME — RFC 9051 §6.3.6: the folder and those below it; INBOX's
    /// mail moves to the new folder and INBOX stays, empty.
    pub async fn cmd_rename(&mut self, tag: &str, from: Vec<u8>, to: Vec<u8>) -> Flow {
        let (from, to) = match (self.mailbox_name(&from), self.mailbox_name(&to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => return self.no(tag, &e),
        };
        if to == "INBOX" {
            return self.no(tag, "[ALREADYEXISTS] INBOX always exists");
        }
        if to == from || names::is_within(&to, &from) {
            return self.no(tag, "[CANNOT] a folder cannot move into itself");
        }
        let account = self.account();
        let store = self.ctx.store.clone();
        let folders = match store.folders(account).await {
            Ok(f) => f,
            Err(e) => return self.tempfail(tag, "rename", e),
        };
        let Some(src) = folders.iter().find(|f| f.name == from) else {
            return self.no(tag, "[NONEXISTENT] no such folder");
        };
        if folders.iter().any(|f| f.name == to) {
            return self.no(tag, "[ALREADYEXISTS] the new name exists");
        }
        for parent in names::ancestors(&to) {
            if !folders.iter().any(|f| f.name == parent) {
                match store.folder_create(account, parent, None).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return self.tempfail(tag, "rename", e),
                }
            }
        }
        let result = if from == "INBOX" {
            store.inbox_rename(account, src.id, &to).await
        } else {
            let renames: Vec<(i64, String)> = folders
                .iter()
                .filter(|f| f.name == from || names::is_within(&f.name, &from))
                .map(|f| (f.id, format!("{to}{}", &f.name[from.len()..])))
                .collect();
            store.folder_rename(account, &renames).await
        };
        match result {
            Ok(()) => {
                store.changed(account);
                if let Some(sel) = &mut self.sel {
                    if sel.name == from || names::is_within(&sel.name, &from) {
                        sel.name = format!("{to}{}", &sel.name[from.len()..]);
                    }
                }
                self.ok(tag, "RENAME completed")
            }
            Err(StoreError::Conflict(_)) => self.no(tag, "[ALREADYEXISTS] the new name exists"),
            Err(StoreError::NotFound(_)) => self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => self.tempfail(tag, "rename", e),
        }
    }

    /// SUBSCRIBE / UNSUBSCRIBE — RFC 9051 §6.3.7, §6.3.8.
    pub async fn cmd_subscribe(&mut self, tag: &str, mailbox: Vec<u8>, on: bool) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        match self.ctx.store.subscribe(self.account(), &name, on).await {
            Ok(()) => self.ok(
                tag,
                if on {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => self.tempfail(tag, "subscribe", e),
        }
    }

    /// LIST — RFC 9051 §6.3.9 with LIST-EXTENDED, SPECIAL-USE and
    /// LIST-STATUS (a STATUS line after each selectable folder listed).
    pub async fn cmd_list(&mut self, tag: &str, cmd: ListCommand) -> Flow {
        let reference = self.pattern(&cmd.reference);
        let patterns: Vec<String> = cmd.patterns.iter().map(|p| self.pattern(p)).collect();
        let (folders, subs) = match self.folders_and_subscriptions().await {
            Ok(x) => x,
            Err(e) => return self.tempfail(tag, "list", e),
        };
        let infos = infos(&folders);
        let entries = list::list(&infos, &subs, &reference, &patterns, &cmd.select, &cmd.ret);
        let status_items = cmd.ret.iter().find_map(|r| match r {
            ListReturn::Status(items) => Some(items.clone()),
            _ => None,
        });
        for e in entries {
            let mut line = format!("LIST ({}) \"/\" ", e.attrs.join(" ")).into_bytes();
            self.wire_name(&mut line, &e.name);
            if e.child_subscribed {
                line.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            self.untagged(&String::from_utf8_lossy(&line));
            if let Some(items) = &status_items {
                let selectable = !e.attrs.iter().any(|a| {
                    a.eq_ignore_ascii_case("\\NonExistent") || a.eq_ignore_ascii_case("\\Noselect")
                });
                if let (true, Some(f)) = (selectable, folders.iter().find(|f| f.name == e.name)) {
                    match self.status_line(f, items).await {
                        Ok(l) => self.untagged(&l),
                        Err(err) => return self.tempfail(tag, "list status", err),
                    }
                }
            }
        }
        self.ok(tag, "LIST completed")
    }

    /// LSUB — IMAP4rev1 (RFC 3501 §6.3.9).
    pub async fn cmd_lsub(&mut self, tag: &str, reference: Vec<u8>, pattern: Vec<u8>) -> Flow {
        let (reference, pattern) = (self.pattern(&reference), self.pattern(&pattern));
        let (folders, subs) = match self.folders_and_subscriptions().await {
            Ok(x) => x,
            Err(e) => return self.tempfail(tag, "lsub", e),
        };
        for e in list::lsub(&infos(&folders), &subs, &reference, &pattern) {
            let mut line = format!("LSUB ({}) \"/\" ", e.attrs.join(" ")).into_bytes();
            self.wire_name(&mut line, &e.name);
            self.untagged(&String::from_utf8_lossy(&line));
        }
        self.ok(tag, "LSUB completed")
    }

    /// STATUS — RFC 9051 §6.3.11, from the folder's counters: no scan.
    pub async fn cmd_status(
        &mut self,
        tag: &str,
        mailbox: Vec<u8>,
        items: Vec<StatusItem>,
    ) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        let folder = match self.ctx.store.folder(self.account(), &name).await {
            Ok(Some(f)) => f,
            Ok(None) => return self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => return self.tempfail(tag, "status", e),
        };
        match self.status_line(&folder, &items).await {
            Ok(l) => {
                self.untagged(&l);
                self.ok(tag, "STATUS completed")
            }
            Err(e) => self.tempfail(tag, "status", e),
        }
    }

    /// `STATUS name (MESSAGES n …)`.
    async fn status_line(&self, f: &Folder, items: &[StatusItem]) -> Result<String, StoreError> {
        let mut parts = Vec::with_capacity(items.len());
        for it in items {
            parts.push(match it {
                StatusItem::Messages => format!("MESSAGES {}", f.messages),
                StatusItem::Recent => {
                    let n = self.ctx.store.count_above(f.id, f.recent_uid).await?;
                    format!("RECENT {n}")
                }
                StatusItem::UidNext => format!("UIDNEXT {}", f.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", f.uidvalidity()),
                StatusItem::Unseen => format!("UNSEEN {}", f.unseen),
                StatusItem::Deleted => format!("DELETED {}", f.deleted),
                StatusItem::Size => format!("SIZE {}", f.size),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", f.modseq),
                StatusItem::AppendLimit => format!("APPENDLIMIT {}", self.ctx.max_message_size),
            });
        }
        let mut line = b"STATUS ".to_vec();
        self.wire_name(&mut line, &f.name);
        line.extend_from_slice(format!(" ({})", parts.join(" ")).as_bytes());
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}
