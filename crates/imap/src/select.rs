//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3) with CONDSTORE and
//! QRESYNC (RFC 7162 §3.1.8, §3.2.5), CLOSE (§6.4.1) and UNSELECT
//! (RFC 3691).

use crate::session::{Flow, Session};
use crate::view::{compact, Selected};
use mailhost_imap_proto::types::SelectParams;
use std::collections::HashSet;

impl Session {
    /// SELECT / EXAMINE — authenticated or selected.
    pub async fn cmd_select(
        &mut self,
        tag: &str,
        mailbox: Vec<u8>,
        params: SelectParams,
        read_only: bool,
    ) -> Flow {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        if params.qresync.is_some() && !self.qresync {
            return self.bad(Some(tag), "QRESYNC is not enabled (RFC 7162 §3.2.3)");
        }
        // RFC 9051 §6.3.2: a SELECT first deselects, without expunging.
        if self.sel.take().is_some() {
            self.untagged("OK [CLOSED] previous folder closed");
        }
        self.saved = None;
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        let store = self.ctx.store.clone();
        let folder = match store.folder(self.account(), &name).await {
            Ok(Some(f)) => f,
            Ok(None) => return self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => return self.tempfail(tag, "select", e),
        };
        // The view's MODSEQ is the folder's as read before its messages,
        // so that a change between the two reads is read again later.
        let loaded = match self.ctx.cache.load(&store, &folder).await {
            Ok(m) => m,
            Err(e) => return self.tempfail(tag, "select", e),
        };
        if params.condstore {
            self.condstore = true;
        }
        self.refresh_keywords(loaded.all_flags).await;
        let (msgs, modseq) = (loaded.msgs, loaded.modseq);
        let msgs_at_load = msgs.clone();
        let loaded_first_unseen = loaded.first_unseen;
        self.sel = Some(Selected {
            folder: folder.id,
            name: name.clone(),
            read_only,
            msgs,
            modseq,
            pending: HashSet::new(),
            recent: Vec::new(),
        });
        if !read_only {
            self.claim_recent(folder.id).await;
        } else if let Some(sel) = &mut self.sel {
            // EXAMINE sees what is \Recent without taking it (RFC 3501
            // §6.3.2: the session that selects it next still will).
            let last = sel.msgs.last().map_or(0, |m| m.uid);
            if last > folder.recent_uid {
                sel.recent.push((folder.recent_uid + 1, last));
            }
        }
        let keywords: Vec<String> = self
            .user
            .as_ref()
            .map(|u| u.keywords.iter().map(|(_, n)| n.clone()).collect())
            .unwrap_or_default();
        let mut flags = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
        for k in &keywords {
            flags.push(' ');
            flags.push_str(k);
        }
        let sel = self.sel.as_ref().expect("just selected");
        let exists = sel.msgs.len();
        let recent = sel.recent_count();
        // From the cached copy when the view is still that copy.
        let first_unseen = if std::sync::Arc::ptr_eq(&sel.msgs, &msgs_at_load) {
            loaded_first_unseen
        } else {
            sel.msgs
                .iter()
                .position(|m| m.flags & mailhost_store::folders::SEEN == 0)
        };
        let uidnext = folder.uidnext;
        let can_add_keywords = keywords.len() < mailhost_store::folders::MAX_KEYWORDS as usize;
        self.untagged(&format!("FLAGS ({flags})"));
        let perm = if read_only {
            "OK [PERMANENTFLAGS ()] read-only".to_string()
        } else if can_add_keywords {
            format!("OK [PERMANENTFLAGS ({flags} \\*)] flags permitted")
        } else {
            format!("OK [PERMANENTFLAGS ({flags})] no more keywords can be made")
        };
        self.untagged(&perm);
        self.untagged(&format!("{exists} EXISTS"));
        if !self.rev2 {
            self.untagged(&format!("{recent} RECENT"));
            if let Some(i) = first_unseen {
                self.untagged(&format!("OK [UNSEEN {}] first unseen", i + 1));
            }
        }
        self.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            folder.uidvalidity()
        ));
        self.untagged(&format!("OK [UIDNEXT {uidnext}] predicted next UID"));
        // RFC 7162 §3.1.2.1: every SELECT of a server with persistent
        // MODSEQs gives HIGHESTMODSEQ.
        self.untagged(&format!("OK [HIGHESTMODSEQ {modseq}] highest"));
        if self.rev2 {
            let mut line = b"LIST () \"/\" ".to_vec();
            let wire = mailhost_imap_proto::names::encode(&name, self.utf8);
            mailhost_imap_proto::write::astring(&mut line, &wire, self.utf8);
            self.untagged(&String::from_utf8_lossy(&line));
        }
        if let Some(q) = params.qresync {
            if q.uidvalidity == folder.uidvalidity() {
                self.qresync_catch_up(&q).await?;
            }
        }
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        self.ok(tag, &format!("[{mode}] {verb} completed"))
    }

    /// RFC 7162 §3.2.5.2: what changed since the client's MODSEQ —
    /// VANISHED (EARLIER) for expunged UIDs (among the known ones, if it
    /// said which it knows), then FETCH for messages changed since.
    async fn qresync_catch_up(&mut self, q: &mailhost_imap_proto::types::Qresync) -> Flow {
        let Some(sel) = &self.sel else { return Ok(()) };
        let folder = sel.folder;
        let mut vanished = match self.ctx.store.expunged_since(folder, q.modseq).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("imap: qresync: {e}");
                Vec::new()
            }
        };
        if let Some(known) = &q.known_uids {
            let r = known.resolve(u32::MAX);
            vanished.retain(|u| mailhost_imap_proto::seqset::contains(&r, *u));
        }
        if !vanished.is_empty() {
            self.untagged(&format!("VANISHED (EARLIER) {}", compact(&vanished)));
        }
        let sel = self.sel.as_ref().expect("selected");
        let changed: Vec<usize> = sel
            .msgs
            .iter()
            .enumerate()
            .filter(|(_, m)| m.modseq > q.modseq)
            .map(|(i, _)| i)
            .collect();
        let saved = self.uid_cmd;
        self.uid_cmd = true;
        for i in changed {
            let line = self.flags_fetch_line(i);
            self.untagged(&line);
        }
        self.uid_cmd = saved;
        Ok(())
    }

    /// CLOSE (expunges \Deleted silently when read-write, RFC 9051
    /// §6.4.1) or UNSELECT (RFC 3691: closes without expunging).
    pub async fn cmd_close(&mut self, tag: &str, expunge: bool) -> Flow {
        let Some(sel) = self.sel.take() else {
            return self.bad(Some(tag), "no folder selected");
        };
        self.saved = None;
        if expunge && !sel.read_only {
            let uids: Vec<u32> = sel
                .msgs
                .iter()
                .filter(|m| m.flags & mailhost_store::folders::DELETED != 0)
                .map(|m| m.uid)
                .collect();
            if !uids.is_empty() {
                let runs = mailhost_store::uid_runs(&uids);
                if let Err(e) = self
                    .ctx
                    .store
                    .expunge(self.account(), sel.folder, &runs, true)
                    .await
                {
                    return self.tempfail(tag, "close", e);
                }
                self.ctx.store.changed(self.account());
            }
        }
        let verb = if expunge { "CLOSE" } else { "UNSELECT" };
        self.ok(tag, &format!("{verb} completed"))
    }
}
