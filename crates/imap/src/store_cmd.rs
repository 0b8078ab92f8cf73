//! STORE and UID STORE — selected. RFC 9051 §6.4.6, with CONDSTORE's
//! UNCHANGEDSINCE (RFC 7162 §3.1.3).

use crate::session::{Flow, Session};
use crate::view::compact;
use mailhost_imap_proto::seqset::SeqSet;
use mailhost_imap_proto::types::{Flag, StoreOp};
use mailhost_store::folders::{ANSWERED, DELETED, DRAFT, FLAGGED, SEEN};
use mailhost_store::StoreError;

impl Session {
    /// The bits of `flags`; keywords get bits as needed (`add`), else only
    /// those the account has count. Err: the text of a refusal.
    pub async fn flag_bits(&mut self, flags: &[Flag], add: bool) -> Result<i64, String> {
        let mut bits = 0i64;
        let mut names = Vec::new();
        for f in flags {
            match f {
                Flag::Seen => bits |= SEEN,
                Flag::Answered => bits |= ANSWERED,
                Flag::Flagged => bits |= FLAGGED,
                Flag::Deleted => bits |= DELETED,
                Flag::Draft => bits |= DRAFT,
                // RFC 3501 §2.3.2: \Recent is the server's to set.
                Flag::Recent => {}
                Flag::Extension(x) => return Err(format!("{x} is not a flag this server knows")),
                Flag::Keyword(k) => names.push(k.clone()),
            }
        }
        if names.is_empty() {
            return Ok(bits);
        }
        let account = self.account();
        let keywords = if add {
            match self.ctx.store.keywords_add(account, &names).await {
                Ok(k) => k,
                Err(StoreError::Invalid(m)) => return Err(format!("[LIMIT] {m}")),
                Err(e) => return Err(format!("[UNAVAILABLE] {e}")),
            }
        } else {
            self.user
                .as_ref()
                .map(|u| u.keywords.clone())
                .unwrap_or_default()
        };
        for n in &names {
            if let Some((bit, _)) = keywords.iter().find(|(_, k)| k.eq_ignore_ascii_case(n)) {
                bits |= 1i64 << bit;
            }
        }
        if let Some(u) = &mut self.user {
            u.keywords = keywords;
        }
        Ok(bits)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn cmd_store(
        &mut self,
        tag: &str,
        uid: bool,
        set: SeqSet,
        unchanged_since: Option<u64>,
        op: StoreOp,
        silent: bool,
        flags: Vec<Flag>,
    ) -> Flow {
        let sel = self.sel.as_ref().expect("selected");
        if sel.read_only {
            return self.no(tag, "[READ-ONLY] the folder is open read-only (EXAMINE)");
        }
        let idx = match sel.resolve(&set, uid, self.saved.as_deref()) {
            Ok(i) => i,
            Err(e) => return self.bad(Some(tag), e.0),
        };
        let bits = match self.flag_bits(&flags, op != StoreOp::Remove).await {
            Ok(b) => b,
            Err(text) if text.starts_with('[') => return self.no(tag, &text),
            Err(text) => return self.bad(Some(tag), &text),
        };
        let (keep, setb) = match op {
            StoreOp::Add => (-1i64, bits),
            StoreOp::Remove => (!bits, 0),
            StoreOp::Replace => (0, bits),
        };
        if unchanged_since.is_some() {
            self.enable_condstore();
        }
        let sel = self.sel.as_ref().expect("selected");
        let folder = sel.folder;
        // RFC 7162 §3.1.3: messages changed since UNCHANGEDSINCE are left
        // alone and named in [MODIFIED].
        let mut modified = Vec::new();
        let mut targets = Vec::new();
        for &i in &idx {
            let m = sel.msgs[i];
            if sel.pending.contains(&m.uid) {
                continue;
            }
            if unchanged_since.is_some_and(|n| m.modseq > n) {
                modified.push(if uid { m.uid } else { i as u32 + 1 });
            } else {
                targets.push(m.uid);
            }
        }
        targets.sort_unstable();
        if !targets.is_empty() {
            let runs = mailhost_store::uid_runs(&targets);
            if let Err(e) = self
                .ctx
                .store
                .store_flags(folder, &runs, keep, setb, unchanged_since)
                .await
            {
                return self.tempfail(tag, "store", e);
            }
            self.ctx.store.changed(self.account());
        }
        // The view learns the new flags and MODSEQs; this command answers
        // for its own messages (RFC 9051 §6.4.6), others' changes are told.
        self.sync(uid, &targets).await?;
        if !silent || self.condstore {
            for u in &targets {
                let sel = self.sel.as_ref().expect("selected");
                let Some(i) = sel.index_of(*u) else { continue };
                let line = if silent {
                    // RFC 7162 §3.1.3: .SILENT still reports the new
                    // MODSEQ to a CONDSTORE client.
                    let m = sel.msgs[i];
                    let uid_part = if uid {
                        format!("UID {} ", m.uid)
                    } else {
                        String::new()
                    };
                    format!("{} FETCH ({uid_part}MODSEQ ({}))", i + 1, m.modseq)
                } else {
                    self.flags_fetch_line(i)
                };
                self.untagged(&line);
            }
        }
        if !modified.is_empty() {
            modified.sort_unstable();
            return self.ok(
                tag,
                &format!("[MODIFIED {}] conditional STORE failed", compact(&modified)),
            );
        }
        self.ok(tag, "STORE completed")
    }
}
