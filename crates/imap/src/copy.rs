//! COPY, MOVE and EXPUNGE — selected. RFC 9051 §6.4.7, §6.4.3, MOVE (RFC
//! 6851), UIDPLUS (RFC 4315: COPYUID, UID EXPUNGE); quota (R-IN-3).

use crate::session::{Flow, Session};
use crate::view::compact;
use mailhost_imap_proto::seqset::SeqSet;
use mailhost_store::folders::DELETED;
use mailhost_store::StoreError;

impl Session {
    pub async fn cmd_copy(
        &mut self,
        tag: &str,
        uid: bool,
        set: SeqSet,
        mailbox: Vec<u8>,
        is_move: bool,
    ) -> Flow {
        let verb = if is_move { "MOVE" } else { "COPY" };
        let sel = self.sel.as_ref().expect("selected");
        if is_move && sel.read_only {
            return self.no(tag, "[READ-ONLY] the folder is open read-only (EXAMINE)");
        }
        let idx = match sel.resolve(&set, uid, self.saved.as_deref()) {
            Ok(i) => i,
            Err(e) => return self.bad(Some(tag), e.0),
        };
        let mut uids: Vec<u32> = idx
            .iter()
            .map(|&i| sel.msgs[i].uid)
            .filter(|u| !sel.pending.contains(u))
            .collect();
        uids.sort_unstable();
        let src = sel.folder;
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        let account = self.account();
        let dst = match self.ctx.store.folder(account, &name).await {
            Ok(Some(f)) => f,
            Ok(None) => return self.no(tag, "[TRYCREATE] no such folder"),
            Err(e) => return self.tempfail(tag, verb, e),
        };
        if uids.is_empty() {
            if !uid && idx.len() != uids.len() {
                return self.no(tag, "[EXPUNGEISSUED] the messages were expunged");
            }
            return self.ok(tag, &format!("{verb} completed: no messages"));
        }
        let done = match self
            .ctx
            .store
            .copy(account, src, dst.id, &uids, is_move)
            .await
        {
            Ok(d) => d,
            Err(StoreError::OverQuota(m)) => return self.no(tag, &format!("[OVERQUOTA] {m}")),
            Err(StoreError::NotFound(_)) => return self.no(
                tag,
                "[EXPUNGEISSUED] some of the messages were expunged meanwhile; nothing was copied",
            ),
            Err(StoreError::Invalid(m)) => return self.no(tag, &format!("[LIMIT] {m}")),
            Err(e) => return self.tempfail(tag, verb, e),
        };
        self.ctx.store.changed(account);
        let code = format!(
            "COPYUID {} {} {}",
            done.uidvalidity,
            compact(&uids),
            compact(&done.uids)
        );
        if is_move {
            // RFC 6851 §4.3: COPYUID comes untagged, before the expunges.
            self.untagged(&format!("OK [{code}] moved"));
            self.sync_full().await?;
            return self.ok(tag, "MOVE completed");
        }
        self.sync(uid, &[]).await?;
        self.ok(tag, &format!("[{code}] COPY completed"))
    }

    /// EXPUNGE (every \Deleted message) or UID EXPUNGE set (those of the
    /// set, RFC 4315 §2.1).
    pub async fn cmd_expunge(&mut self, tag: &str, set: Option<SeqSet>) -> Flow {
        let sel = self.sel.as_ref().expect("selected");
        if sel.read_only {
            return self.no(tag, "[READ-ONLY] the folder is open read-only (EXAMINE)");
        }
        let folder = sel.folder;
        let runs = match &set {
            // Every \Deleted message, also those this session has not
            // heard of yet.
            None => vec![(1, u32::MAX)],
            Some(s) => {
                let idx = match sel.resolve(s, true, self.saved.as_deref()) {
                    Ok(i) => i,
                    Err(e) => return self.bad(Some(tag), e.0),
                };
                let mut uids: Vec<u32> = idx
                    .iter()
                    .map(|&i| sel.msgs[i])
                    .filter(|m| m.flags & DELETED != 0)
                    .map(|m| m.uid)
                    .collect();
                uids.sort_unstable();
                mailhost_store::uid_runs(&uids)
            }
        };
        let account = self.account();
        if !runs.is_empty() {
            if let Err(e) = self.ctx.store.expunge(account, folder, &runs, true).await {
                return self.tempfail(tag, "expunge", e);
            }
            self.ctx.store.changed(account);
        }
        self.sync_full().await?;
        self.ok(tag, "EXPUNGE completed")
    }
}
