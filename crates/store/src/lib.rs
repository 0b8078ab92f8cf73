//! mailhost storage.
//!
//! Layout:
//! - [`db`]: the SQL surface both backends implement (values, rows, write
//!   batches), written once in the SQL that SQLite and PostgreSQL share.
//! - `sqlite`, `pg`: the two backends. Each has one writer that applies
//!   waiting batches in **group commit** (one transaction, one fsync, many
//!   deliveries) and a few readers.
//! - `schema`: migrations for both.
//! - [`address`]: address and domain syntax, `local%domain` logins.
//! - `accounts`: domains, mailboxes, aliases, passwords (the service layer
//!   the CLI and, later, the web API call).
//! - `messages`: durable delivery, listing, retrieval, deletion.
//! - `queue`: the outbound queue, claimed by delivery workers with leases.
//! - `policy_state`: evidence log, send log (hourly limits), holds.
//! - `packages`: hosting packages and the sending account's profile.
//! - `bulk`: the bulk-mail window (R-OUT-8): a log of what each message
//!   sent, with its content's signature, which every node indexes in
//!   memory.
//! - `grants`: POP-before-SMTP grants and DKIM keys.
//! - `admins`: admin logins and API tokens; [`audit`]: the audit log,
//!   committed with each admin action, and the notice board.
//! - `factors`: TOTP second factors, recovery codes, app passwords,
//!   and the mail logins a mailbox user sees.
//! - `locks`: named leases with expiry (one POP3 session per mailbox),
//!   shared by every node on one database.
//!
//! Message bodies live in the database itself: a delivery is one write
//! batch (the body and one entry per recipient) that is committed, and so
//! fsynced, before the caller answers 250. A crash leaves all of a message
//! or none of it.

mod accounts;
pub mod address;
mod admins;
pub mod audit;
mod autoreply;
mod bulk;
pub mod db;
mod factors;
mod folder_msgs;
pub mod folders;
mod forwards;
mod grants;
pub mod list_posts;
mod listing;
pub mod lists;
mod locks;
mod mail_sessions;
mod messages;
mod notify;
mod packages;
mod password;
mod pg;
mod policy_state;
mod queue;
pub mod quota;
mod retention;
mod schema;
mod secrets;
mod sessions;
mod space;
mod special;
mod sqlite;

pub use accounts::{Account, AddressInfo, AuthResult, DomainInfo, Resolved};
pub use admins::{normalize_login, random_secret, token_hash, AdminLogin, TokenInfo};
pub use audit::{AuditEntry, AuditQuery, Notice};
pub use autoreply::{Autoreply, AUTOREPLY_MAX_BODY};
pub use bulk::{new_cluster_id, BulkRow, BulkTrack};
pub use factors::{
    app_password_form, new_app_password, random_code, AppPassword, TotpState, MAIL_PROTOCOLS,
    MAX_APP_PASSWORDS,
};
pub use folder_msgs::{
    runs as uid_runs, Appended, BlobSummary, Changes, FetchRow, MsgState, NewAppend,
};
pub use folders::Folder;
pub use forwards::{ForwardSet, Forwarding, MAX_CHAIN};
pub use grants::DkimKey;
pub use list_posts::{post_state, ListPost, MemberCopy, NewPost};
pub use listing::PageQuery;
pub use lists::{Confirmed, ConsentEvent, MailList, Member};
pub use messages::{ForwardCopy, MessageMeta, NewMessage, Outbound};
pub use packages::{Package, SenderProfile};
pub use policy_state::{Evidence, EvidenceQuery, Hold};
pub use queue::{Deferral, QueueItem};
pub use quota::Usage;
pub use retention::Purged;
pub use sessions::Session;
pub use space::{DiskSpace, Low, MinFree};
pub use special::Billing;

use db::{Row, Stmt, Val};
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The mailbox would pass its quota (R-IN-3).
    #[error("{0}")]
    OverQuota(String),
    /// A size limit would be passed (R-LIST-5: list members).
    #[error("{0}")]
    LimitReached(String),
    #[error("storage error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

enum Backend {
    Sqlite(sqlite::Sqlite),
    Pg(pg::Pg),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// Bodies this node queued lately, for its delivery worker.
    recent: Arc<std::sync::Mutex<messages::RecentBodies>>,
    /// `policy.quota`, for mailboxes whose quota no package sets (R-IN-3).
    default_quota: Arc<std::sync::atomic::AtomicI64>,
    /// Wakes this node's IMAP sessions when their mailbox changes.
    notifier: Arc<notify::Notifier>,
}

impl Store {
    /// Opens `sqlite://PATH` or `postgres://…` (also `postgresql://…`) and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            Backend::Sqlite(sqlite::Sqlite::open(std::path::Path::new(path)).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Pg(pg::Pg::open(url).await?)
        } else {
            return Err(StoreError::Invalid(format!(
                "store.url {url:?}: expected sqlite://PATH or postgres://USER@HOST/DB"
            )));
        };
        Ok(Store {
            backend: Arc::new(backend),
            recent: Default::default(),
            default_quota: Arc::new(std::sync::atomic::AtomicI64::new(50 << 20)),
            notifier: Default::default(),
        })
    }

    /// The SQLite database file; None on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &*self.backend {
            Backend::Sqlite(b) => Some(b.path()),
            Backend::Pg(_) => None,
        }
    }

    /// Bytes the database reuses before its files grow: SQLite's free
    /// pages (a deletion frees pages, not disk). 0 on PostgreSQL, whose
    /// disk is not this node's.
    pub async fn reusable_bytes(&self) -> Result<u64> {
        match &*self.backend {
            Backend::Sqlite(b) => {
                let rows = b.lookup(
                    "SELECT f.freelist_count * p.page_size FROM pragma_freelist_count() f, pragma_page_size() p",
                    vec![],
                )?;
                Ok(rows
                    .first()
                    .map(|r| r.i64(0))
                    .transpose()?
                    .unwrap_or(0)
                    .max(0) as u64)
            }
            Backend::Pg(_) => Ok(0),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Pg(_) => "postgresql",
        }
    }

    pub async fn query(&self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>> {
        match &*self.backend {
            Backend::Sqlite(b) => b.query(sql, params).await,
            Backend::Pg(b) => b.query(sql, params).await,
        }
    }

    /// For indexed lookups of a few small rows on the hot path (per
    /// command, per message): on SQLite it runs on the caller's thread;
    /// anything that may read many rows or a message body uses `query`.
    pub async fn lookup(&self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>> {
        match &*self.backend {
            Backend::Sqlite(b) => b.lookup(sql, params),
            Backend::Pg(b) => b.query(sql, params).await,
        }
    }

    /// Like [`Store::batch`] for a batch whose first statement is a guard
    /// that fails with `Conflict` when its condition does not hold: Ok(true)
    /// when it committed, Ok(false) when the guard held it back.
    pub(crate) async fn batch_guarded(&self, stmts: Vec<Stmt>) -> Result<bool> {
        match self.batch(stmts).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Applies the statements atomically and durably; returns the number of
    /// rows each changed.
    /// Inside [`audit::with_extra`], the first batch also applies the
    /// statements held there (the action's audit record).
    pub async fn batch(&self, mut stmts: Vec<Stmt>) -> Result<Vec<u64>> {
        stmts.extend(audit::take_extra());
        match &*self.backend {
            Backend::Sqlite(b) => b.batch(stmts).await,
            Backend::Pg(b) => b.batch(stmts).await,
        }
    }
}

/// `2026-11-22T18:45:35+00:00`: times shown to people carry their UTC
/// offset (R-ABUSE-3).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01, proleptic
/// Gregorian (Howard Hinnant's days-to-civil).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Milliseconds since the Unix epoch: the one time unit of the store.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
