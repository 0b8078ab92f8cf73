//! The service layer (R-WEB-4): one function per admin operation, which
//! the CLI, the JSON API and the panels all call. Each one
//! 1. checks the caller's role and scope ([`Caller`]): an operator may do
//!    anything; a domain admin only to its domains; a mailbox user only
//!    to itself (SPEC "Roles");
//! 2. validates its input, naming the field at fault;
//! 3. calls the store, with the side effects that belong to it (a DKIM
//!    key for a new domain, the sessions a password change ends);
//! 4. records who did what, before → after, in the audit log, in the
//!    same transaction as the change.
//!
//! Out-of-scope requests are refused before anything is looked up, so
//! the refusal tells nothing about whether the object exists, and they
//! are logged.
//!
//! Layout: `caller` (roles, errors, pages), `domains`, `users` (mailboxes
//! and aliases), `services` (forwarding, autoresponder, quota),
//! `operator` (packages, holds, evidence, queue, notices, audit),
//! `logins` (admin logins, tokens, the first operator), `factors`
//! (TOTP, recovery codes, app passwords), `sessions` (sign-in), `views` (what
//! the operations return).

mod caller;
mod domains;
mod factors;
mod import;
mod lists;
mod logins;
mod operator;
mod services;
mod sessions;
pub mod time;
mod users;
pub mod views;

pub use caller::{Caller, Error, Kind, PageReq, Role, MAX_PAGE};
pub use factors::{TotpSetup, TotpStatus, RECOVERY_CODES};
pub use import::{ImportRow, MAX_IMPORT_ROWS};
pub use lists::MAX_INVITE;
pub use logins::FirstOperator;
pub use operator::EvidenceFilter;
pub use services::AutoreplyReq;
pub use sessions::{SignedIn, STAGE_CHANGE, STAGE_FULL, STAGE_TOTP, STAGE_TOTP_CHANGE};
pub use users::{NewUser, UserPatch};

use mailhost_config::Config;
use mailhost_policy::AuthGuard;
use mailhost_store::{audit::with_extra, db::Stmt, AuditEntry, Store, StoreError};
use std::future::Future;
use std::sync::Arc;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The service layer over one store; cheap to clone.
#[derive(Clone)]
pub struct Admin {
    store: Store,
    config: Arc<Config>,
    /// The brute-force limits sign-ins share with the mail protocols.
    guard: Option<Arc<AuthGuard>>,
    /// The resolver of the domain panel's live DNS check, made at first use.
    dns: Arc<std::sync::OnceLock<Result<mailhost_mailauth::DnsCheck, String>>>,
    /// The mailing-list engine, made at first use.
    lists: Arc<tokio::sync::OnceCell<mailhost_lists::Lists>>,
}

impl Admin {
    pub fn new(store: Store, config: Arc<Config>) -> Self {
        Admin {
            store,
            config,
            guard: None,
            dns: Arc::default(),
            lists: Arc::default(),
        }
    }

    /// Sign-ins count against R-ABUSE-4's limits with POP3 and SMTP AUTH.
    pub fn with_guard(mut self, guard: Arc<AuthGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs a change with its audit record (and `also`, such as the
    /// sessions it ends) in the same transaction as its first write; if
    /// it wrote nothing, the record is written alone. (The arguments are
    /// the audit record's fields.)
    #[allow(clippy::too_many_arguments)]
    async fn audited<T, F>(
        &self,
        c: &Caller,
        action: &str,
        object: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
        also: Vec<Stmt>,
        f: F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let entry = AuditEntry {
            actor: c.login.clone(),
            ip: c.ip.clone(),
            action: action.to_string(),
            object: object.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
            ..Default::default()
        };
        let mut stmts = also;
        stmts.push(entry.stmt());
        let (out, left) = with_extra(stmts, f).await;
        let out = out.map_err(Error::from)?;
        if !left.is_empty() {
            self.store.batch(left).await.map_err(Error::from)?;
        }
        Ok(out)
    }

    /// Refuses an out-of-scope request, and logs the attempt in the
    /// server log and the audit log (SPEC "Roles": trying is refused and
    /// logged).
    async fn denied(&self, c: &Caller, action: &str, object: &str) -> Error {
        tracing::warn!(
            login = c.login,
            ip = c.ip.as_deref().unwrap_or("-"),
            action,
            object,
            "refused: out of the caller's scope"
        );
        let entry = AuditEntry {
            actor: c.login.clone(),
            ip: c.ip.clone(),
            action: format!("denied:{action}"),
            object: object.to_string(),
            ..Default::default()
        };
        if let Err(e) = self.store.batch(vec![entry.stmt()]).await {
            tracing::error!("recording a refusal: {e}");
        }
        Error::forbidden(format!("{object} is outside what {} may manage", c.login))
    }
}
