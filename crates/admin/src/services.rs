//! Mailbox services a user sets for itself, or its domain admin for it:
//! forwarding (R-IN-4) and the autoresponder (R-IN-5).

use crate::caller::{Caller, Error};
use crate::users::address;
use crate::views::{Autoreply, Forwarding};
use crate::{Admin, Result};
use mailhost_store::rfc3339;
use serde_json::json;

/// An autoresponder to set; times in ms since the epoch.
#[derive(Debug, Clone, Default)]
pub struct AutoreplyReq {
    pub subject: Option<String>,
    pub body: String,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

impl Admin {
    pub async fn forward_get(&self, c: &Caller, address_: &str) -> Result<Option<Forwarding>> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "forward.show", &addr).await?;
        Ok(self.store.forward_show(&addr).await?.map(|f| Forwarding {
            destinations: f.destinations,
            keep_copy: f.keep_copy,
            warning: None,
        }))
    }

    /// Replaces the destinations. More than the package's `max_forwards`
    /// (else `policy.max_forwards`) needs `force`, which only the
    /// operator has; then the result carries a warning naming the limit.
    pub async fn forward_set(
        &self,
        c: &Caller,
        address_: &str,
        destinations: &[String],
        keep_copy: bool,
        force: bool,
    ) -> Result<Forwarding> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "forward.set", &addr).await?;
        if force && !c.is_operator() {
            return Err(Error::forbidden(
                "only the operator may forward to more destinations than the package allows",
            )
            .at("destinations"));
        }
        let before = self.forward_get(c, &addr).await?;
        let r = self
            .audited(
                c,
                "forward.set",
                &addr,
                before.as_ref().map(|f| json!(f)),
                Some(json!({"destinations": destinations, "keep_copy": keep_copy})),
                vec![],
                self.store.forward_set(
                    &addr,
                    destinations,
                    keep_copy,
                    force,
                    self.config.policy.max_forwards,
                ),
            )
            .await
            .map_err(|e| e.at("destinations"))?;
        Ok(Forwarding {
            destinations: r.forwarding.destinations,
            keep_copy: r.forwarding.keep_copy,
            warning: r.warning,
        })
    }

    pub async fn forward_clear(&self, c: &Caller, address_: &str) -> Result<()> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "forward.clear", &addr).await?;
        let before = self.forward_get(c, &addr).await?;
        self.audited(
            c,
            "forward.clear",
            &addr,
            before.as_ref().map(|f| json!(f)),
            None,
            vec![],
            self.store.forward_clear(&addr),
        )
        .await
    }

    pub async fn autoreply_get(&self, c: &Caller, address_: &str) -> Result<Option<Autoreply>> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "autoreply.show", &addr).await?;
        Ok(self.store.autoreply_show(&addr).await?.map(|a| Autoreply {
            subject: a.subject,
            body: a.body,
            from: a.from.map(rfc3339),
            until: a.until.map(rfc3339),
        }))
    }

    pub async fn autoreply_set(
        &self,
        c: &Caller,
        address_: &str,
        a: AutoreplyReq,
    ) -> Result<Autoreply> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "autoreply.set", &addr).await?;
        if let (Some(f), Some(u)) = (a.from, a.until) {
            if u <= f {
                return Err(Error::invalid("until", "the end must come after the start"));
            }
        }
        let ar = mailhost_store::Autoreply {
            subject: a.subject,
            body: a.body,
            from: a.from,
            until: a.until,
        };
        self.audited(
            c,
            "autoreply.set",
            &addr,
            None,
            Some(json!({"subject": ar.subject, "from": ar.from.map(rfc3339),
                        "until": ar.until.map(rfc3339)})),
            vec![],
            self.store.autoreply_set(&addr, &ar),
        )
        .await
        .map_err(|e| {
            let m = e.message.to_ascii_lowercase();
            match () {
                _ if m.contains("subject") => e.at("subject"),
                _ if m.contains("body") || m.contains("text") => e.at("body"),
                _ => e,
            }
        })?;
        self.autoreply_get(c, &addr)
            .await?
            .ok_or_else(|| Error::internal("the autoresponder vanished"))
    }

    pub async fn autoreply_clear(&self, c: &Caller, address_: &str) -> Result<()> {
        let addr = address("address", address_)?;
        self.scope_owner(c, "autoreply.clear", &addr).await?;
        self.audited(
            c,
            "autoreply.clear",
            &addr,
            None,
            None,
            vec![],
            self.store.autoreply_clear(&addr),
        )
        .await
    }
}
