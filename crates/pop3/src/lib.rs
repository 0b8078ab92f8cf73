//! mailhost POP3 server (R-POP-1): RFC 1939 with CAPA (RFC 2449), SASL
//! PLAIN (RFC 5034, RFC 4616), STLS (RFC 2595) and response codes (RFC 2449
//! §8, RFC 3206).
//!
//! Layout, bytes to store:
//! - [`parse`]: command lines → [`parse::Command`]; pure, table-tested,
//!   fuzzed (`fuzz/fuzz_targets/pop3_command.rs`).
//! - [`retr`]: byte-stuffing and the TOP cut for message output; pure.
//! - `session`: the connection loop — line reading with a length cap,
//!   timeouts, shutdown, the mailbox lease (R-POP-4) — and the state enum
//!   with the commands each state allows.
//! - `auth`: AUTHORIZATION-state commands (CAPA, USER/PASS, AUTH, STLS).
//! - `transaction`: TRANSACTION-state commands and QUIT's UPDATE state.
//!
//! The listener (`mailhost-net`) accepts connections, does implicit TLS on
//! port 995 and calls [`session`]; messages, logins and leases come from
//! `mailhost-store`.

pub mod parse;
pub mod retr;

mod auth;
mod session;
mod transaction;

pub use session::session;

/// What every POP3 session shares.
pub struct Pop3Ctx {
    pub store: mailhost_store::Store,
    /// For STLS (port 110). None disables STLS.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub hostname: String,
    /// This node's name; mailbox locks are tagged with it.
    pub node: String,
    pub limits: mailhost_config::Limits,
    pub shutdown: tokio_util::sync::CancellationToken,
    /// R-OUT-2: how long a login lets the client's IP submit mail without
    /// AUTH. Zero disables POP-before-SMTP.
    pub pop_before_smtp: std::time::Duration,
    /// Login limits (R-ABUSE-4 brute force, R-POP-3 logins per hour).
    pub guard: Option<std::sync::Arc<mailhost_policy::AuthGuard>>,
}
