//! The selected folder as this session sees it, and `sync`, which brings
//! it up to date with the store and tells the client (RFC 9051 §5.2,
//! §7.4, RFC 7162 §3.2.10).
//!
//! The view is the folder's messages by UID with their flags and MODSEQ;
//! message N is `msgs[N - 1]`. A session learns what changed since the
//! MODSEQ it knows (`Store::folder_changes`). Expunges are only told when
//! the client can take them: not during FETCH, STORE or SEARCH by
//! sequence number (RFC 9051 §7.5.1), since its numbers would shift under
//! it; meanwhile the expunged messages stay in the view, `pending`.

use crate::session::{End, Flow, Session};
use mailhost_imap_proto::seqset::SeqSet;
use mailhost_store::folders::{ANSWERED, DELETED, DRAFT, FIRST_KEYWORD_BIT, FLAGGED, SEEN};
use mailhost_store::MsgState;
use std::collections::HashSet;
use tracing::warn;

pub(crate) struct Selected {
    pub folder: i64,
    pub name: String,
    pub read_only: bool,
    /// Shared with the node's cached copy until this session changes it.
    pub msgs: std::sync::Arc<Vec<MsgState>>,
    /// The highest MODSEQ whose changes are in `msgs`.
    pub modseq: u64,
    /// UIDs expunged in the store, not yet told (still in `msgs`).
    pub pending: HashSet<u32>,
    /// \Recent for this session (IMAP4rev1): UIDs in these runs.
    pub recent: Vec<(u32, u32)>,
}

/// Why a set cannot be resolved.
pub(crate) struct BadSet(pub &'static str);

impl Selected {
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    pub fn recent_count(&self) -> usize {
        // The runs are disjoint (each claim starts past the last one).
        self.recent
            .iter()
            .map(|&(a, b)| {
                let from = self.msgs.partition_point(|m| m.uid < a);
                let to = self.msgs.partition_point(|m| m.uid <= b);
                to.saturating_sub(from)
            })
            .sum()
    }

    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The indices into `msgs` a set names: UIDs (`uid`) or sequence
    /// numbers; `$` is the saved result (RFC 5182). A sequence number
    /// past the last message is an error (RFC 9051 §9 seq-number); a UID
    /// that does not exist simply matches nothing.
    pub fn resolve(
        &self,
        set: &SeqSet,
        uid: bool,
        saved: Option<&[u32]>,
    ) -> Result<Vec<usize>, BadSet> {
        if let SeqSet::Saved = set {
            let Some(saved) = saved else {
                // RFC 5182 §2.1: `$` with no saved result is empty.
                return Ok(Vec::new());
            };
            return Ok(saved.iter().filter_map(|&u| self.index_of(u)).collect());
        }
        let mut out = Vec::new();
        if uid {
            let max = self.msgs.last().map_or(0, |m| m.uid);
            // `*` in a UID set is the highest UID even in an empty folder
            // (then nothing matches).
            for r in set.resolve(max.max(1)) {
                let from = self.msgs.partition_point(|m| m.uid < *r.start());
                let to = self.msgs.partition_point(|m| m.uid <= *r.end());
                out.extend(from..to);
            }
        } else {
            let n = self.msgs.len() as u32;
            let ranges = set.resolve(n);
            if ranges.iter().any(|r| *r.end() > n) {
                return Err(BadSet("no such message (sequence number too high)"));
            }
            for r in ranges {
                out.extend((*r.start() as usize - 1)..(*r.end() as usize));
            }
        }
        Ok(out)
    }
}

/// Sets of UIDs or numbers written compactly: `1:3,7,9:10`.
pub(crate) fn compact(sorted: &[u32]) -> String {
    let mut out = String::new();
    for (a, b) in mailhost_store::uid_runs(sorted) {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&a.to_string());
        } else {
            out.push_str(&format!("{a}:{b}"));
        }
    }
    out
}

impl Session {
    /// `(\Seen \Answered … keywords)`, with \Recent in IMAP4rev1.
    pub fn flags_list(&self, flags: i64, recent: bool) -> String {
        let mut out = String::from("(");
        for (bit, name) in [
            (SEEN, "\\Seen"),
            (ANSWERED, "\\Answered"),
            (FLAGGED, "\\Flagged"),
            (DELETED, "\\Deleted"),
            (DRAFT, "\\Draft"),
        ] {
            if flags & bit != 0 {
                if out.len() > 1 {
                    out.push(' ');
                }
                out.push_str(name);
            }
        }
        if let Some(u) = &self.user {
            for (bit, name) in &u.keywords {
                if flags & (1i64 << bit) != 0 {
                    if out.len() > 1 {
                        out.push(' ');
                    }
                    out.push_str(name);
                }
            }
        }
        if recent && !self.rev2 {
            if out.len() > 1 {
                out.push(' ');
            }
            out.push_str("\\Recent");
        }
        out.push(')');
        out
    }

    /// Keyword bits this session has no name for (another session added
    /// a keyword): read the account's list again.
    pub async fn refresh_keywords(&mut self, flags: i64) {
        let Some(u) = &self.user else { return };
        let known = u
            .keywords
            .iter()
            .fold(0i64, |acc, (bit, _)| acc | (1i64 << bit));
        let unknown = flags & !known & !((1i64 << FIRST_KEYWORD_BIT) - 1);
        if unknown == 0 {
            return;
        }
        let id = u.account.id;
        match self.ctx.store.keywords(id).await {
            Ok(k) => {
                if let Some(u) = &mut self.user {
                    u.keywords = k;
                }
            }
            Err(e) => warn!("imap: cannot read keywords: {e}"),
        }
    }

    /// Turns CONDSTORE on for a CONDSTORE-enabling command (RFC 7162
    /// §3.1: FETCH MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ);
    /// the first time with a folder selected, the client learns its
    /// HIGHESTMODSEQ.
    pub fn enable_condstore(&mut self) {
        if std::mem::replace(&mut self.condstore, true) {
            return;
        }
        if let Some(sel) = &self.sel {
            let line = format!("OK [HIGHESTMODSEQ {}] CONDSTORE enabled", sel.modseq);
            self.untagged(&line);
        }
    }

    /// Everything: flags, new messages and expunges (NOOP, IDLE, and the
    /// end of commands that do not use sequence numbers).
    pub async fn sync_full(&mut self) -> Flow {
        self.sync(true, &[]).await
    }

    /// Brings the view up to date and tells the client: FETCH FLAGS for
    /// messages changed by others (not for `suppress`, which the command
    /// answers itself), expunges when `expunges` (EXPUNGE, or VANISHED
    /// with QRESYNC), then EXISTS and RECENT for new mail.
    pub async fn sync(&mut self, expunges: bool, suppress: &[u32]) -> Flow {
        let Some(sel) = &self.sel else {
            return Ok(());
        };
        let (folder, since) = (sel.folder, sel.modseq);
        let changes = match self.ctx.store.folder_changes(folder, since).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(End::FolderGone),
            Err(e) => {
                warn!("imap: cannot read changes: {e}");
                return Ok(());
            }
        };
        let all_flags = changes.changed.iter().fold(0i64, |a, c| a | c.flags);
        self.refresh_keywords(all_flags).await;
        let mut told = Vec::new();
        let mut new = Vec::new();
        {
            let sel = self.sel.as_mut().expect("selected");
            sel.modseq = sel.modseq.max(changes.folder.modseq);
            let last = sel.msgs.last().map_or(0, |m| m.uid);
            for c in &changes.changed {
                match sel.index_of(c.uid) {
                    Some(i) => {
                        let m = &mut std::sync::Arc::make_mut(&mut sel.msgs)[i];
                        if m.flags != c.flags || m.modseq != c.modseq {
                            let flags_changed = m.flags != c.flags;
                            *m = *c;
                            if flags_changed
                                && !suppress.contains(&c.uid)
                                && !sel.pending.contains(&c.uid)
                            {
                                told.push(i);
                            }
                        }
                    }
                    None if c.uid > last => new.push(*c),
                    None => {}
                }
            }
            for u in &changes.expunged {
                if sel.index_of(*u).is_some() {
                    sel.pending.insert(*u);
                }
            }
        }
        for i in told {
            let line = self.flags_fetch_line(i);
            self.untagged(&line);
        }
        if expunges {
            self.tell_expunges();
        }
        if !new.is_empty() {
            self.add_new(new).await;
        }
        Ok(())
    }

    /// `N FETCH (FLAGS (…) [UID u] [MODSEQ (m)])` for message index `i`.
    pub fn flags_fetch_line(&self, i: usize) -> String {
        let sel = self.sel.as_ref().expect("selected");
        let m = sel.msgs[i];
        let mut line = format!(
            "{} FETCH (FLAGS {}",
            i + 1,
            self.flags_list(m.flags, sel.is_recent(m.uid))
        );
        if self.uid_cmd || self.qresync {
            line.push_str(&format!(" UID {}", m.uid));
        }
        if self.condstore {
            line.push_str(&format!(" MODSEQ ({})", m.modseq));
        }
        line.push(')');
        line
    }

    /// Tells and drops the pending expunges: `* VANISHED` with QRESYNC
    /// (RFC 7162 §3.2.10), else one `* N EXPUNGE` each, highest first so
    /// that every number is right when it is read.
    pub fn tell_expunges(&mut self) {
        let Some(sel) = self.sel.as_mut() else { return };
        if sel.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut sel.pending);
        if self.qresync {
            let mut uids: Vec<u32> = pending.iter().copied().collect();
            uids.sort_unstable();
            std::sync::Arc::make_mut(&mut sel.msgs).retain(|m| !pending.contains(&m.uid));
            let line = format!("VANISHED {}", compact(&uids));
            self.untagged(&line);
            return;
        }
        let mut lines = Vec::with_capacity(pending.len());
        for (i, m) in sel.msgs.iter().enumerate().rev() {
            if pending.contains(&m.uid) {
                lines.push(format!("{} EXPUNGE", i + 1));
            }
        }
        std::sync::Arc::make_mut(&mut sel.msgs).retain(|m| !pending.contains(&m.uid));
        for l in lines {
            self.untagged(&l);
        }
    }

    /// New messages join the view: `* N EXISTS`, and in IMAP4rev1
    /// `* R RECENT` after claiming \Recent for them if no other session
    /// saw them first.
    async fn add_new(&mut self, new: Vec<MsgState>) {
        let (folder, read_only) = {
            let sel = self.sel.as_mut().expect("selected");
            std::sync::Arc::make_mut(&mut sel.msgs).extend(new);
            (sel.folder, sel.read_only)
        };
        if !read_only {
            self.claim_recent(folder).await;
        }
        let sel = self.sel.as_ref().expect("selected");
        let exists = format!("{} EXISTS", sel.msgs.len());
        let recent = format!("{} RECENT", sel.recent_count());
        self.untagged(&exists);
        if !self.rev2 {
            self.untagged(&recent);
        }
    }

    /// Claims \Recent for the messages no session has seen (IMAP4rev1,
    /// RFC 3501 §2.3.2): the folder's mark moves to the last UID we know.
    pub async fn claim_recent(&mut self, folder: i64) {
        let Some(sel) = &self.sel else { return };
        let last = sel.msgs.last().map_or(0, |m| m.uid);
        for _ in 0..3 {
            let Ok(Some(f)) = self.ctx.store.folder_by_id(folder).await else {
                return;
            };
            if f.recent_uid >= last {
                return;
            }
            match self
                .ctx
                .store
                .claim_recent(folder, f.recent_uid, last)
                .await
            {
                Ok(true) => {
                    if let Some(sel) = self.sel.as_mut() {
                        sel.recent.push((f.recent_uid + 1, last));
                    }
                    return;
                }
                Ok(false) => continue,
                Err(e) => {
                    warn!("imap: cannot claim \\Recent: {e}");
                    return;
                }
            }
        }
    }
}
