//! GETQUOTA and GETQUOTAROOT — authenticated. RFC 9208: one quota root,
//! "", for the whole mailbox: its quota (R-IN-3) in units of 1024 octets.

use crate::session::{Flow, Session};

impl Session {
    async fn quota_line(&mut self) -> Result<String, mailhost_store::StoreError> {
        let address = self
            .user
            .as_ref()
            .map(|u| u.account.address.clone())
            .unwrap_or_default();
        let u = self.ctx.store.user_quota(&address).await?;
        let kib = |b: i64| (b.max(0) as u64).div_ceil(1024);
        Ok(format!(
            "QUOTA \"\" (STORAGE {} {})",
            kib(u.used),
            kib(u.quota)
        ))
    }

    pub async fn cmd_getquota(&mut self, tag: &str, root: Vec<u8>) -> Flow {
        if !root.is_empty() {
            return self.no(
                tag,
                "[NONEXISTENT] no such quota root; the mailbox's is \"\"",
            );
        }
        match self.quota_line().await {
            Ok(l) => {
                self.untagged(&l);
                self.ok(tag, "GETQUOTA completed")
            }
            Err(e) => self.tempfail(tag, "getquota", e),
        }
    }

    pub async fn cmd_getquotaroot(&mut self, tag: &str, mailbox: Vec<u8>) -> Flow {
        let name = match self.mailbox_name(&mailbox) {
            Ok(n) => n,
            Err(e) => return self.no(tag, &e),
        };
        match self.ctx.store.folder(self.account(), &name).await {
            Ok(Some(_)) => {}
            Ok(None) => return self.no(tag, "[NONEXISTENT] no such folder"),
            Err(e) => return self.tempfail(tag, "getquotaroot", e),
        }
        let mut line = b"QUOTAROOT ".to_vec();
        let wire = mailhost_imap_proto::names::encode(&name, self.utf8);
        mailhost_imap_proto::write::astring(&mut line, &wire, self.utf8);
        line.extend_from_slice(b" \"\"");
        self.untagged(&String::from_utf8_lossy(&line));
        match self.quota_line().await {
            Ok(l) => {
                self.untagged(&l);
                self.ok(tag, "GETQUOTAROOT completed")
            }
            Err(e) => self.tempfail(tag, "getquotaroot", e),
        }
    }
}
