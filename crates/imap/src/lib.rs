//! mailhost IMAP server (R-POP-5): IMAP4rev2 (RFC 9051) with IMAP4rev1
//! (RFC 3501) behaviour until a client enables rev2, on the store POP3
//! uses, under the same mailbox rules.
//!
//! Layout, bytes to store (the protocol pieces are I/O-free, in
//! `mailhost-imap-proto`; message views in `mailhost-imap-body`):
//! - `session`: the connection loop — framing, autologout, shutdown, the
//!   mailbox lease (R-POP-4) — the states and the dispatch, written once;
//! - `auth`: CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID,
//!   NAMESPACE, COMPRESS;
//! - `view`: the selected folder as this session sees it, and `sync`,
//!   which tells the client what changed (EXISTS, EXPUNGE, VANISHED,
//!   FETCH FLAGS);
//! - `cache`: this node's copies of large folders' message lists;
//! - `select`: SELECT, EXAMINE (with CONDSTORE, QRESYNC), CLOSE, UNSELECT;
//! - `mailboxes`: CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB, STATUS;
//! - `fetch`, `store_cmd` (STORE), `search`, `append`, `copy` (COPY,
//!   MOVE, EXPUNGE), `idle`, `quota`: one file per command family.
//!
//! Policy lives where it decides: logins go through the shared
//! [`mailhost_policy::AuthGuard`] (R-ABUSE-4, R-POP-3), the lease through
//! the store's `mail_sessions` (R-POP-4), quotas through the store's
//! transactions (R-IN-3).

mod append;
mod auth;
pub mod cache;
mod copy;
mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod idle;
mod mailboxes;
mod quota;
mod search;
mod select;
mod session;
mod store_cmd;
mod view;

pub use session::session;

/// What every IMAP session shares.
pub struct ImapCtx {
    pub store: mailhost_store::Store,
    /// For STARTTLS (port 143). None disables STARTTLS.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub hostname: String,
    /// This node's name; session leases are tagged with it.
    pub node: String,
    pub limits: mailhost_config::Limits,
    /// APPENDLIMIT (RFC 7889): the server's message size limit (R-IN-2).
    pub max_message_size: u64,
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Login limits (R-ABUSE-4 brute force, R-POP-3 logins per hour).
    pub guard: Option<std::sync::Arc<mailhost_policy::AuthGuard>>,
    /// R-POP-3: IMAP logins count with POP3 logins.
    pub count_logins: bool,
    /// R-POP-5: record first reads for `policy.imap_read_retention`.
    pub read_retention: bool,
    /// `policy.imap_plaintext_loopback`.
    pub plaintext_loopback: bool,
    /// This node's copies of large folders' message lists (SELECT).
    pub cache: std::sync::Arc<cache::FolderCache>,
}
