//! SMTP: the shared vocabulary and the server.
//!
//! Layout:
//! - [`reply`]: replies with enhanced status codes; policy refusals become
//!   replies here.
//! - [`data`]: the DATA receiver — end-of-data detection, dot-unstuffing and
//!   the refusal of bare CR/LF (SMTP smuggling), as a pure state machine.
//! - [`date`]: RFC 5322 dates.
//! - `session`: one SMTP session: the state machine, line reading, limits.
//! - `envelope`: EHLO/HELO, STARTTLS, MAIL, RCPT, RSET and the small
//!   commands; `deliver`: DATA, the Received header and the durable
//!   hand-off to the store.
//!
//! Command lines are parsed by `smtp-proto`; this crate owns the socket,
//! the state and the timeouts, and asks the policy engine at MAIL, RCPT and
//! end of DATA.

mod auth;
pub mod data;
pub mod date;
mod deliver;
mod envelope;
pub mod headers;
mod lists;
pub mod reply;
mod services;
mod session;
mod virus;

pub use session::session;

use mailhost_config::Config;
use mailhost_policy::{Engine, Service};
use mailhost_store::Store;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// What every SMTP session of one listener shares.
pub struct SmtpCtx {
    pub store: Store,
    pub policy: Arc<Engine>,
    pub config: Arc<Config>,
    /// For STARTTLS; None disables it.
    pub tls: Option<TlsAcceptor>,
    pub hostname: String,
    pub service: Service,
    pub shutdown: CancellationToken,
    /// Woken when a message is queued for remote delivery.
    pub wake: Option<Arc<tokio::sync::Notify>>,
    /// DKIM signing of submitted mail (R-OUT-9).
    pub signer: Option<Arc<mailhost_mailauth::Signer>>,
    /// SPF/DKIM/DMARC checks of mail from the world (R-IN-6).
    pub verifier: Option<Arc<mailhost_mailauth::Verifier>>,
    /// Free-space headroom: new mail is refused below it.
    pub space: Option<Arc<mailhost_store::DiskSpace>>,
    /// The SRS key for forwarded mail and its bounces (R-IN-4).
    pub srs: Option<Arc<mailhost_mailbox::Srs>>,
    /// Virus checking of every message (R-AV-1); None only in tests.
    pub scanner: Option<mailhost_antivirus::Scanner>,
    /// Mailing lists (R-LIST-1..6); None: list addresses take no mail.
    pub lists: Option<mailhost_lists::Lists>,
}
